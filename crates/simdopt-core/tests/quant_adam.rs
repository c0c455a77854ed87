//! The prototype compressed-state Adam kernels (`quant::adam`): the f32 storage path is the Adam
//! rule's kernel bit for bit, wide lanes equal scalar lanes for every storage, and the drift of
//! bfloat16 and 8-bit state from f32 state over a trajectory stays small (figures printed).

use simdopt_core::lanes::force_scalar;
use simdopt_core::quant::adam::{step_bf16, step_f32, step_int8, AdamHyper};
use simdopt_core::quant::{bf16, Quantized};
use simdopt_core::{build_optimizer, Gradient, Store, Tensor};

/// Deterministic pseudo-random values in [-1, 1).
fn noise(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Gradients of a noisy quadratic `0.5 * s_i * (x - 0.25)^2`, the scale `s_i` going up and down
/// 4 decades a decade per run of 1,000 elements. (A block that holds gradients 4 decades apart
/// is what 8-bit state cannot hold: a second moment more than 7 decades below its block's
/// absmax rounds to 0, and Adam's step for it grows up to `sqrt(1 / (1 - beta_2))` times.)
fn grad_of(x: &[f32], step: u64) -> Vec<f32> {
    const DECADE: [i32; 8] = [-3, -2, -1, 0, 1, 0, -1, -2];
    let jitter = noise(1000 + step, x.len());
    x.iter().enumerate().map(|(i, &xi)| 10f32.powi(DECADE[(i / 1000) % 8]) * ((xi - 0.25) + 0.05 * jitter[i])).collect()
}

#[test]
fn f32_storage_is_the_adam_rules_kernel_bit_for_bit() {
    let h = AdamHyper { learning_rate: 0.01, ..AdamHyper::default() };
    let n = 1037;
    let mut x = noise(1, n);
    let (mut m, mut v) = (vec![0.0; n], vec![0.0; n]);
    let mut store = Store::new();
    let w = store.insert(Tensor::new("w", vec![n], x.clone()).unwrap());
    let mut opt = build_optimizer("Adam", &[("learning_rate", 0.01)]).unwrap();
    for t in 0..20 {
        let g = grad_of(&x, t);
        step_f32(&h, t, &mut x, &g, &mut m, &mut v);
        opt.apply_gradients(&mut store, &[(Some(Gradient::Dense(&g)), w)]).unwrap();
        let theirs: Vec<u32> = store.get(w).unwrap().data.iter().map(|v| v.to_bits()).collect();
        assert_eq!(x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), theirs, "step {t}");
    }
}

/// (variable, m codes, m absmax, v codes, v absmax) after 5 int8 steps, and (variable, m, v) after 5 bf16 steps.
fn run_both(n: usize, block: usize) -> (Vec<u32>, Quantized, Quantized, Vec<u32>, Vec<u16>, Vec<u16>) {
    let h = AdamHyper { learning_rate: 0.01, ..AdamHyper::default() };
    let (mut x8, mut xb) = (noise(2, n), noise(2, n));
    let (mut m8, mut v8) = (Quantized::zeros(n, block), Quantized::zeros(n, block));
    let (mut mb, mut vb) = (vec![0u16; n], vec![0u16; n]);
    for t in 0..5 {
        let g = grad_of(&x8, t);
        step_int8(&h, t, &mut x8, &g, &mut m8, &mut v8);
        let g = grad_of(&xb, t);
        step_bf16(&h, t, &mut xb, &g, &mut mb, &mut vb);
    }
    let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    (bits(&x8), m8, v8, bits(&xb), mb, vb)
}

#[test]
fn wide_lanes_equal_scalar_lanes_for_compressed_state() {
    for (n, block) in [(1, 256), (7, 4), (300, 256), (4099, 256), (5000, 2048)] {
        let wide = run_both(n, block);
        force_scalar(true);
        let scalar = run_both(n, block);
        force_scalar(false);
        assert!(wide == scalar, "n {n} block {block}");
    }
}

/// Max |x - x_f32| / max |x_f32 - x_0| over the variable after `steps` steps: the state
/// rounding's effect relative to how far training moved.
fn drift(steps: u64, block: usize) -> (f32, f32) {
    let h = AdamHyper { learning_rate: 0.01, ..AdamHyper::default() };
    let n = 8192;
    let x0 = noise(3, n);
    let (mut xf, mut x8, mut xb) = (x0.clone(), x0.clone(), x0.clone());
    let (mut mf, mut vf) = (vec![0.0; n], vec![0.0; n]);
    let (mut m8, mut v8) = (Quantized::zeros(n, block), Quantized::zeros(n, block));
    let (mut mb, mut vb) = (vec![0u16; n], vec![0u16; n]);
    for t in 0..steps {
        let g = grad_of(&xf, t);
        step_f32(&h, t, &mut xf, &g, &mut mf, &mut vf);
        let g = grad_of(&x8, t);
        step_int8(&h, t, &mut x8, &g, &mut m8, &mut v8);
        let g = grad_of(&xb, t);
        step_bf16(&h, t, &mut xb, &g, &mut mb, &mut vb);
    }
    let moved = xf.iter().zip(&x0).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    let rel = |x: &[f32]| x.iter().zip(&xf).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max) / moved;
    (rel(&x8), rel(&xb))
}

#[test]
fn compressed_state_drift_from_f32_state_is_small() {
    let (int8, bf) = drift(300, 256);
    let (int8_2048, _) = drift(300, 2048);
    eprintln!(
        "after 300 steps, max |x - x_f32| / max |x_f32 - x_0|: int8 {int8:.3e} (blocks of 256), {int8_2048:.3e} (2048), bfloat16 {bf:.3e}"
    );
    assert!(bf > 0.0 && bf < 0.01, "{bf}");
    assert!(int8 > 0.0 && int8 < 0.1, "{int8}");
    // Why blocks of 256 (bitsandbytes' optimizer block size) and not the paper's 2048: a bigger
    // block's absmax leaves more second moments below the map's 7 decades, where they round to 0.
    assert!(int8_2048 > 10.0 * int8, "{int8_2048} vs {int8}");
}

#[test]
fn bf16_slots_hold_rounded_moments() {
    let h = AdamHyper::default();
    let (mut x, g) = (vec![1.0f32, -2.0, 3.0], vec![0.3f32, -0.7, 1e-3]);
    let (mut m, mut v) = (vec![0u16; 3], vec![0u16; 3]);
    step_bf16(&h, 0, &mut x, &g, &mut m, &mut v);
    // rounded stochastically: the dither of element i of slot 0 (m) and 1 (v) in step 0
    let round = |x: f32, i: usize, slot: usize| bf16::from_f32_dithered(x, bf16::dither(i as u32, bf16::step_seed(0, slot)));
    for i in 0..3 {
        assert_eq!(m[i], round(0.0 + (g[i] - 0.0) * (1.0 - 0.9), i, 0));
        assert_eq!(v[i], round(0.0 + (g[i] * g[i] - 0.0) * (1.0 - 0.999), i, 1));
    }
}

/// A second moment without gradient decays by `beta_2 = 0.999` a step; rounded to nearest,
/// `0.999 * v` is `v` again in bfloat16 (8 mantissa bits) and `v` never decays (1.0000x after
/// 200 steps instead of 0.999^200 = 0.8187x). Rounded stochastically it decays as in f32 on average.
#[test]
fn bf16_second_moment_decays_as_f32_without_gradient() {
    let (h, n) = (AdamHyper::default(), 16 * 1024);
    let mut x32 = vec![0.5f32; n];
    let (mut m32, mut v32) = (vec![0.0f32; n], vec![0.0f32; n]);
    let mut xb = x32.clone();
    let (mut mb, mut vb) = (vec![0u16; n], vec![0u16; n]);
    for t in 0..201 {
        let g = vec![if t == 0 { 1.0f32 } else { 0.0 }; n];
        step_f32(&h, t, &mut x32, &g, &mut m32, &mut v32);
        step_bf16(&h, t, &mut xb, &g, &mut mb, &mut vb);
    }
    let mean = |v: &mut dyn Iterator<Item = f32>| v.map(f64::from).sum::<f64>() / n as f64;
    let (v_f32, v_bf16) = (mean(&mut v32.iter().copied()), mean(&mut vb.iter().map(|&b| bf16::to_f32(b))));
    let after_first = 1.0 - 0.999f64;
    eprintln!("mean v after 200 steps without gradient: f32 {:.4}x, bfloat16 {:.4}x", v_f32 / after_first, v_bf16 / after_first);
    assert!((v_f32 / after_first - 0.999f64.powi(200)).abs() < 1e-3, "f32 decays: {v_f32}");
    assert!((v_bf16 / v_f32 - 1.0).abs() < 0.01, "bfloat16 mean v {v_bf16} vs f32 {v_f32}");
}
