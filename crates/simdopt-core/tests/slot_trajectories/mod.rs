//! Shared by `quant_slots.rs` (TF 2.4 classes) and `quant_slots_keras3.rs` (Keras 3 forms): a
//! few steps of generated gradients on a compressed-size variable and a small one, the hashes the
//! JavaScript tests compare with, and the committed-fixture check. `tests/helpers/slot-trajectories.mjs`
//! computes the same gradients and hashes.
#![allow(dead_code)]

use simdopt_core::slot::SlotStorage;
use simdopt_core::{Gradient, Optimizer, Store, Tensor};

/// Elements of the big variable: over 4,096 (compressed), a partial last block of 256, and a
/// scalar tail after the SIMD lanes. The small one keeps f32 slots.
pub const BIG: usize = 5003;
pub const SMALL: usize = 37;
pub const STEPS: u64 = 6;

/// Gradient `i` of step `t`: integers made into f32 the same way in JavaScript (an f64 product
/// rounded once), spread over two decades by element. (Gradients four decades apart in one block
/// put second moments eight decades apart, below the 8-bit map's seven: their moments round to
/// 0 and Adam's step for them grows, as with bitsandbytes; `tests/quant_adam.rs` measures that.)
pub fn grad(i: usize, t: u64, n: usize) -> f32 {
    let k = ((i as u64) * 7919 + t * 104_729 + n as u64) % 2001;
    let decade = [1.0, 0.5, 1e-1, 5e-2, 1e-2][i % 5];
    ((k as f64 - 1000.0) * 1e-3 * decade) as f32
}

pub fn start(i: usize) -> f32 {
    (((i * 31) % 97) as f64 * 0.01 - 0.5) as f32
}

/// FNV-1a over bytes.
pub fn fnv(bytes: impl Iterator<Item = u8>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// FNV-1a over the little-endian bytes of f32 values.
pub fn fnv_f32(x: &[f32]) -> String {
    fnv(x.iter().flat_map(|v| v.to_le_bytes()))
}

/// `STEPS` steps of `opt` (its slot storage set to `storage` unless None) on the two variables;
/// returns the optimizer and the variables' final values.
pub fn run(mut opt: Optimizer, storage: Option<SlotStorage>) -> (Optimizer, Vec<Vec<f32>>) {
    let mut store = Store::new();
    let big = store.insert(Tensor::new("big", vec![BIG], (0..BIG).map(start).collect()).unwrap());
    let small = store.insert(Tensor::new("small", vec![SMALL], (0..SMALL).map(start).collect()).unwrap());
    if let Some(storage) = storage {
        opt.set_slot_storage(storage).unwrap();
    }
    for t in 0..STEPS {
        let gb: Vec<f32> = (0..BIG).map(|i| grad(i, t, BIG)).collect();
        let gs: Vec<f32> = (0..SMALL).map(|i| grad(i, t, SMALL)).collect();
        opt.apply_gradients(&mut store, &[(Some(Gradient::Dense(&gb)), big), (Some(Gradient::Dense(&gs)), small)]).unwrap();
    }
    let vars = vec![store.get(big).unwrap().data.clone(), store.get(small).unwrap().data.clone()];
    (opt, vars)
}

/// Every weight after iterations as f32 values (compressed slots widened or dequantized).
pub fn weights(opt: &mut Optimizer) -> Vec<Vec<f32>> {
    (1..opt.weight_count()).map(|i| opt.weight_view(i).unwrap().to_vec()).collect()
}

/// Bit patterns, for exact comparisons.
pub fn bits(xs: &[Vec<f32>]) -> Vec<Vec<u32>> {
    xs.iter().map(|x| x.iter().map(|v| v.to_bits()).collect()).collect()
}

/// The cases' options as JSON: `[["key",value],...]`.
pub fn options_json(options: &[(&str, f32)]) -> String {
    let opts: Vec<String> = options.iter().map(|(k, v)| format!("[\"{k}\",{v}]")).collect();
    format!("[{}]", opts.join(","))
}

/// Compares `now` with the committed fixture `tests/fixtures/quant/<name>`
/// (`SIMDOPT_WRITE_FIXTURES=1` rewrites it first).
pub fn check_fixture(name: &str, now: &str) {
    let path = format!("{}/../../tests/fixtures/quant/{name}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("SIMDOPT_WRITE_FIXTURES").is_some() {
        std::fs::create_dir_all(std::path::Path::new(&path).parent().unwrap()).unwrap();
        std::fs::write(&path, now).unwrap();
    }
    let committed = std::fs::read_to_string(&path).expect("the fixture (SIMDOPT_WRITE_FIXTURES=1 writes it)");
    assert_eq!(now, committed, "a trajectory changed");
}

/// Runs `run` with f32, bfloat16 and 8-bit slots and checks the compressed runs stay close to
/// the f32 one: the small variable (f32 slots) the same bits, the big one within a mean distance
/// of 2% (bfloat16) or 10% (int8) of how far the f32 run moved it. Mean distances: Lion's sign
/// step moves an element by ±lr whatever the moment's size, so a rounded momentum near 0 can
/// flip a few elements by 2 lr. Returns the compressed runs' optimizers.
pub fn compressed_runs_stay_close(label: &str, run: impl Fn(SlotStorage) -> (Optimizer, Vec<Vec<f32>>)) -> Vec<(SlotStorage, Optimizer)> {
    let (_, x32) = run(SlotStorage::Float32);
    let x0: Vec<f32> = (0..BIG).map(start).collect();
    let mean = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).abs() as f64).sum::<f64>() / a.len() as f64;
    let moved = mean(&x32[0], &x0);
    let mut out = Vec::new();
    for (storage, tolerance) in [(SlotStorage::Bfloat16, 0.02), (SlotStorage::Int8, 0.1)] {
        let (opt, x) = run(storage);
        assert_eq!(x[1], x32[1], "{label} {storage:?}: the small variable");
        let off = mean(&x[0], &x32[0]);
        assert!(off <= tolerance * moved, "{label} {storage:?}: {off} vs {moved}");
        out.push((storage, opt));
    }
    out
}
