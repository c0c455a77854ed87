//! bitsandbytes' own 8-bit Adam (0.50.2, CPU: `bitsandbytes.optim.Adam8bit`, block size 256)
//! against our building blocks, step by step (fixture: `tests/fixtures/bnb/adam8bit_bnb_0.50.2.json`).
//!
//! Each step is replayed from bitsandbytes' own state before it: our block-wise dequantize, its
//! update formula in f32 (`m = m*b1 + (1-b1)*g`, `v = v*b2 + (1-b2)*g*g`,
//! `p += (-lr/c1) * m / (sqrt(v)/c2 + eps)`), our absmax of the new block, then requantized two ways:
//! with a model of its 65,536-point table (what 0.50.2 does), and with our exact nearest code.

#[path = "quant_support/mod.rs"]
mod quant_support;

use quant_support::{f32s, fixture, hex_u8, lut_0_50, lut_index};
use simdopt_core::quant::blockwise::{absmax, dequantize, quantize, Quantized};
use simdopt_core::quant::Codebook;

struct Step {
    param: Vec<f32>,
    m: Quantized,
    v: Quantized,
}

fn state(step: &serde_json::Value, block: usize) -> Step {
    Step {
        param: f32s(&step["param"]),
        m: Quantized { codes: hex_u8(&step["state1"]), absmax: f32s(&step["absmax1"]), block },
        v: Quantized { codes: hex_u8(&step["state2"]), absmax: f32s(&step["absmax2"]), block },
    }
}

/// The 65,536-point table quantizer of bitsandbytes 0.50 (absmax as ours).
fn quantize_by_table(lut: &[u8], x: &[f32], block: usize) -> Quantized {
    let mut q = Quantized::zeros(x.len(), block);
    for (b, xs) in x.chunks(block).enumerate() {
        let m = absmax(xs);
        q.absmax[b] = m;
        for (k, &a) in xs.iter().enumerate() {
            q.codes[b * block + k] = if m == 0.0 { 0 } else { lut[lut_index(a * (1.0 / m))] };
        }
    }
    q
}

fn count_ne<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    a.iter().zip(b).filter(|(x, y)| x != y).count()
}

#[test]
fn bnb_adam8bit_steps_replayed() {
    let f = fixture("adam8bit_bnb_0.50.2.json");
    let block = f["blocksize"].as_u64().unwrap() as usize;
    assert_eq!(block, 256);
    let (m_map, v_map) = (Codebook::signed(), Codebook::unsigned());
    let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&f32s(&f["qmap1"])), bits(m_map.codes()), "its state maps are create_dynamic_map's");
    assert_eq!(bits(&f32s(&f["qmap2"])), bits(v_map.codes()));
    let (lut_m, lut_v) = (lut_0_50(m_map.codes()), lut_0_50(v_map.codes()));
    let h = &f["hyper"];
    let (lr, b1, b2, eps) =
        (h["lr"].as_f64().unwrap(), h["beta1"].as_f64().unwrap(), h["beta2"].as_f64().unwrap(), h["eps"].as_f64().unwrap());
    let p0 = f32s(&f["initial_param"]);
    let n = p0.len();
    assert_eq!(f["blocks"].as_u64().unwrap() as usize, n.div_ceil(block));
    let mut before = Step { param: p0, m: Quantized::zeros(n, block), v: Quantized::zeros(n, block) };
    let (mut code_diff_table, mut code_diff_exact, mut total) = (0, 0, 0);
    let mut worst_param = 0.0f32;
    let (mut absmax_equal, mut param_equal) = (0, 0);
    for (t, step) in f["steps"].as_array().unwrap().iter().enumerate() {
        let g = f32s(&step["gradient"]);
        let after = state(step, block);
        let (mut m, mut v) = (vec![0.0f32; n], vec![0.0f32; n]);
        dequantize(m_map, &before.m, &mut m);
        dequantize(v_map, &before.v, &mut v);
        let s = (t + 1) as f64;
        let (c1, c2) = (1.0 - b1.powf(s), (1.0 - b2.powf(s)).sqrt());
        let (b1f, b2f, one_b1, one_b2) = (b1 as f32, b2 as f32, (1.0 - b1) as f32, (1.0 - b2) as f32);
        let (c2f, step_size, epsf) = (c2 as f32, (-lr / c1) as f32, eps as f32);
        let mut p = before.param.clone();
        for i in 0..n {
            m[i] = m[i] * b1f + one_b1 * g[i];
            v[i] = v[i] * b2f + one_b2 * g[i] * g[i];
            p[i] += step_size * (m[i] / (v[i].sqrt() / c2f + epsf));
        }
        let (m_table, v_table) = (quantize_by_table(&lut_m, &m, block), quantize_by_table(&lut_v, &v, block));
        // The absmax of the new block is the max of its new values: equal to its own.
        let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-6 * y.abs());
        assert!(close(&m_table.absmax, &after.m.absmax) && close(&v_table.absmax, &after.v.absmax), "step {t}: absmax");
        absmax_equal += (m_table.absmax.len() - count_ne(&m_table.absmax, &after.m.absmax))
            + (v_table.absmax.len() - count_ne(&v_table.absmax, &after.v.absmax));
        param_equal += n - count_ne(&p, &after.param);
        code_diff_table += count_ne(&m_table.codes, &after.m.codes) + count_ne(&v_table.codes, &after.v.codes);
        let (m_exact, v_exact) = (quantize(m_map, &m, block), quantize(v_map, &v, block));
        code_diff_exact += count_ne(&m_exact.codes, &after.m.codes) + count_ne(&v_exact.codes, &after.v.codes);
        total += 2 * n;
        for (a, b) in p.iter().zip(&after.param) {
            worst_param = worst_param.max((a - b).abs() / b.abs().max(1e-3));
        }
        before = after;
    }
    eprintln!(
        "bitsandbytes Adam8bit replay: codes differing with its table model {code_diff_table} of {total}, \
         with our exact nearest code {code_diff_exact}; absmax bit-equal {absmax_equal} of {}; params bit-equal {param_equal} \
         of {}, worst relative difference {worst_param:.2e}",
        total / n * n.div_ceil(block),
        total / 2
    );
    assert_eq!(code_diff_table, 0, "codes of its table model");
    assert!(worst_param < 1e-5, "{worst_param}");
}
