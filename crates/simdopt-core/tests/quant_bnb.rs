//! Our dynamic maps and block-wise quantization against bitsandbytes' own (CPU, from PyPI), on the
//! fixtures of `tests/fixtures/bnb/` (generator: `tools/fixtures/bnb/`).
//!
//! - bitsandbytes 0.49.2 quantizes with the exact nearest-code rule (binary search + float32
//!   distances, ties to the lower code) after overwriting `code[0]` of the map it is given with -1
//!   (in place; dequantization then uses that map too). With that map our codes, absmax and
//!   dequantized values equal its own bit for bit.
//! - bitsandbytes 0.50.2 (June 2026 on) snaps `x / absmax` to a grid of 65,536 points on [-1, 1]
//!   and takes that point's nearest code (a look-up table), with the map as built. Its codes equal
//!   a model of that table bit for bit, and wherever they differ from our exact codes ours is
//!   the nearer code: the table cannot tell apart codes closer than one grid step (3.05e-5), so
//!   it maps every normalised value below about 1.5e-5, zero included, to one small code.

#[path = "quant_support/mod.rs"]
mod quant_support;

use quant_support::{f32s, fixture, hex_u8, lut_0_50, lut_index, map_of};
use simdopt_core::quant::blockwise::{dequantize, quantize, Quantized};
use simdopt_core::quant::codebook::nearest_code_by_search;
use simdopt_core::quant::dynamic_map::{build, Linspace};
use simdopt_core::quant::Codebook;

fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn maps_equal_torch_built_ones_under_each_cpu_kernel() {
    let maps = fixture("dynamic_maps_bnb_0.50.2.json");
    for (cap, linspace) in [("avx2", Linspace::Avx), ("avx512", Linspace::Avx), ("default", Linspace::Plain)] {
        for signed in [true, false] {
            let theirs = f32s(&maps["maps"][cap][if signed { "signed" } else { "unsigned" }]);
            assert_eq!(bits(&build(signed, linspace)), bits(&theirs), "{cap} signed={signed}");
        }
    }
    // The two kernels' maps differ in the last bit of some codes.
    assert_ne!(bits(&build(true, Linspace::Avx)), bits(&build(true, Linspace::Plain)));
    for file in ["quantize_bnb_0.49.2.json", "quantize_bnb_0.50.2.json"] {
        let f = fixture(file);
        assert_eq!(bits(Codebook::signed().codes()), bits(&f32s(&f["maps"]["signed"])), "{file}");
        assert_eq!(bits(Codebook::unsigned().codes()), bits(&f32s(&f["maps"]["unsigned"])), "{file}");
    }
}

#[test]
fn bnb_0_49_codes_absmax_and_values_equal_ours() {
    let f = fixture("quantize_bnb_0.49.2.json");
    let cases = f["cases"].as_array().unwrap();
    assert!(cases.len() >= 30);
    let mut elements = 0;
    for case in cases {
        let signed = case["map"] == "signed";
        let what = format!("{} {} block {}", case["map"], case["name"], case["blocksize"]);
        // It overwrote code[0] of the map it was given with -1 and dequantizes with that map.
        let used = f32s(&case["code_after"]);
        let mut expect_used = *map_of(signed).codes();
        expect_used[0] = -1.0;
        assert_eq!(bits(&used), bits(&expect_used), "{what}");
        assert_eq!(bits(&f32s(&case["state_code"])), bits(&expect_used), "{what}");
        let cb = Codebook::dynamic(signed, expect_used);

        let x = f32s(&case["input"]);
        let block = case["blocksize"].as_u64().unwrap() as usize;
        let q = quantize(&cb, &x, block);
        assert_eq!(q.codes, hex_u8(&case["codes"]), "{what}");
        assert_eq!(bits(&q.absmax), bits(&f32s(&case["absmax"])), "{what}");
        let mut y = vec![0.0; x.len()];
        dequantize(&cb, &q, &mut y);
        assert_eq!(bits(&y), bits(&f32s(&case["dequantized"])), "{what}");
        elements += x.len();
    }
    assert!(elements > 50_000, "{elements}");
}

#[test]
fn bnb_0_50_codes_equal_its_table_and_ours_are_never_farther() {
    let f = fixture("quantize_bnb_0.50.2.json");
    let (mut differ, mut total) = (0, 0);
    for case in f["cases"].as_array().unwrap() {
        let signed = case["map"] == "signed";
        let what = format!("{} {} block {}", case["map"], case["name"], case["blocksize"]);
        let cb = map_of(signed);
        assert_eq!(bits(&f32s(&case["code_after"])), bits(cb.codes()), "0.50 leaves the map alone: {what}");
        let lut = lut_0_50(cb.codes());
        let x = f32s(&case["input"]);
        let block = case["blocksize"].as_u64().unwrap() as usize;
        let theirs = hex_u8(&case["codes"]);
        let ours = quantize(cb, &x, block);
        assert_eq!(bits(&ours.absmax), bits(&f32s(&case["absmax"])), "{what}");
        for (b, xs) in x.chunks(block).enumerate() {
            let m = ours.absmax[b];
            for (k, &a) in xs.iter().enumerate() {
                let i = b * block + k;
                let model = if m == 0.0 { 0 } else { lut[lut_index(a * (1.0 / m))] };
                assert_eq!(theirs[i], model, "{what} element {i}: {a:e}");
                if ours.codes[i] != theirs[i] {
                    differ += 1;
                    let v = (a * (1.0 / m)).clamp(-1.0, 1.0);
                    let d = |q: u8| (cb.code(q) - v).abs();
                    assert!(d(ours.codes[i]) <= d(theirs[i]), "{what} element {i}: ours {} theirs {}", ours.codes[i], theirs[i]);
                    assert_eq!(ours.codes[i], nearest_code_by_search(cb.codes(), v));
                }
                total += 1;
            }
        }
        let y_theirs = f32s(&case["dequantized"]);
        let mut y = vec![0.0; x.len()];
        dequantize(cb, &Quantized { codes: theirs, absmax: ours.absmax.clone(), block }, &mut y);
        assert_eq!(bits(&y), bits(&y_theirs), "{what}");
    }
    // The differences are real and not rare on these arrays (mixed scales above all).
    assert!(differ > 1000 && differ < total / 2, "{differ} of {total}");
    eprintln!("bitsandbytes 0.50.2 vs exact nearest code: {differ} of {total} codes differ");
}
