//! Compressed slots through the optimizer (issue 16): every class that supports them, with
//! f32, bfloat16 and 8-bit moments, over a few steps of generated gradients. The results are
//! the reference the JavaScript tests replay through the wasm builds (`tests/slot-dtype.test.ts`):
//! `tests/fixtures/quant/slot_trajectories.json` holds a hash of every weight's bits after each
//! case. `SIMDOPT_WRITE_FIXTURES=1 cargo test -p simdopt-core --test quant_slots` rewrites it.

use simdopt_core::slot::SlotStorage;
use simdopt_core::{build_optimizer, Error, Gradient, Optimizer, Store, Tensor};

/// Elements of the big variable: over 4,096 (compressed), a partial last block of 256, and a
/// scalar tail after the SIMD lanes. The small one keeps f32 slots.
const BIG: usize = 5003;
const SMALL: usize = 37;
const STEPS: u64 = 6;

/// The cases: class and options (momentum, centered, amsgrad variants).
pub const CASES: &[(&str, &[(&str, f32)])] = &[
    ("Adam", &[]),
    ("Adam", &[("amsgrad", 1.0)]),
    ("SGD", &[("momentum", 0.9), ("learning_rate", 0.05)]),
    ("SGD", &[("momentum", 0.9), ("nesterov", 1.0)]),
    ("RMSprop", &[]),
    ("RMSprop", &[("momentum", 0.5), ("centered", 1.0)]),
    ("Adagrad", &[]),
    ("Adamax", &[]),
    ("Nadam", &[]),
    ("Lion", &[]),
];

/// Gradient `i` of step `t`: integers made into f32 the same way in JavaScript (an f64 product
/// rounded once), spread over two decades by element. (Gradients four decades apart in one block
/// put second moments eight decades apart, below the 8-bit map's seven: their moments round to
/// 0 and Adam's step for them grows, as with bitsandbytes; `tests/quant_adam.rs` measures that.)
fn grad(i: usize, t: u64, n: usize) -> f32 {
    let k = ((i as u64) * 7919 + t * 104_729 + n as u64) % 2001;
    let decade = [1.0, 0.5, 1e-1, 5e-2, 1e-2][i % 5];
    ((k as f64 - 1000.0) * 1e-3 * decade) as f32
}

fn start(i: usize) -> f32 {
    (((i * 31) % 97) as f64 * 0.01 - 0.5) as f32
}

/// FNV-1a over the little-endian bytes of f32 values.
fn fnv(x: &[f32]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in x.iter().flat_map(|v| v.to_le_bytes()) {
        h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Runs a case; returns the optimizer and the variables' final values.
fn run(class: &str, options: &[(&str, f32)], storage: SlotStorage) -> (Optimizer, Vec<Vec<f32>>) {
    let mut store = Store::new();
    let big = store.insert(Tensor::new("big", vec![BIG], (0..BIG).map(start).collect()).unwrap());
    let small = store.insert(Tensor::new("small", vec![SMALL], (0..SMALL).map(start).collect()).unwrap());
    let mut opt = build_optimizer(class, options).unwrap();
    opt.set_slot_storage(storage).unwrap();
    for t in 0..STEPS {
        let gb: Vec<f32> = (0..BIG).map(|i| grad(i, t, BIG)).collect();
        let gs: Vec<f32> = (0..SMALL).map(|i| grad(i, t, SMALL)).collect();
        opt.apply_gradients(&mut store, &[(Some(Gradient::Dense(&gb)), big), (Some(Gradient::Dense(&gs)), small)]).unwrap();
    }
    let vars = vec![store.get(big).unwrap().data.clone(), store.get(small).unwrap().data.clone()];
    (opt, vars)
}

fn weights(opt: &mut Optimizer) -> Vec<Vec<f32>> {
    (1..opt.weight_count()).map(|i| opt.weight_view(i).unwrap().to_vec()).collect()
}

/// `{class, options, dtype, vars: [hash], weights: [hash], raw: [hash of codes/absmax]}` per case.
fn reference() -> String {
    let mut rows = Vec::new();
    for (class, options) in CASES {
        for storage in [SlotStorage::Float32, SlotStorage::Bfloat16, SlotStorage::Int8] {
            let (mut opt, vars) = run(class, options, storage);
            let w = weights(&mut opt);
            let opts: Vec<String> = options.iter().map(|(k, v)| format!("[\"{k}\",{v}]")).collect();
            let hashes = |xs: &[Vec<f32>]| xs.iter().map(|x| format!("\"{}\"", fnv(x))).collect::<Vec<_>>().join(",");
            rows.push(format!(
                "{{\"class\":\"{class}\",\"options\":[{}],\"dtype\":\"{}\",\"vars\":[{}],\"weights\":[{}]}}",
                opts.join(","),
                storage.name(),
                hashes(&vars),
                hashes(&w)
            ));
        }
    }
    format!(
        "{{\"generator\":\"crates/simdopt-core/tests/quant_slots.rs\",\"big\":{BIG},\"small\":{SMALL},\"steps\":{STEPS},\"cases\":[\n{}\n]}}\n",
        rows.join(",\n")
    )
}

#[test]
fn trajectories_equal_the_committed_reference() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/quant/slot_trajectories.json");
    let now = reference();
    if std::env::var_os("SIMDOPT_WRITE_FIXTURES").is_some() {
        std::fs::create_dir_all(std::path::Path::new(path).parent().unwrap()).unwrap();
        std::fs::write(path, &now).unwrap();
    }
    let committed = std::fs::read_to_string(path).expect("the fixture (SIMDOPT_WRITE_FIXTURES=1 writes it)");
    assert_eq!(now, committed, "a trajectory changed");
}

#[test]
fn float32_storage_is_the_default_bit_for_bit() {
    for (class, options) in CASES {
        let (mut plain, vars) = {
            let mut store = Store::new();
            let big = store.insert(Tensor::new("big", vec![BIG], (0..BIG).map(start).collect()).unwrap());
            let small = store.insert(Tensor::new("small", vec![SMALL], (0..SMALL).map(start).collect()).unwrap());
            let mut opt = build_optimizer(class, options).unwrap();
            for t in 0..STEPS {
                let gb: Vec<f32> = (0..BIG).map(|i| grad(i, t, BIG)).collect();
                let gs: Vec<f32> = (0..SMALL).map(|i| grad(i, t, SMALL)).collect();
                opt.apply_gradients(&mut store, &[(Some(Gradient::Dense(&gb)), big), (Some(Gradient::Dense(&gs)), small)]).unwrap();
            }
            (opt, vec![store.get(big).unwrap().data.clone(), store.get(small).unwrap().data.clone()])
        };
        let (mut f32_opt, f32_vars) = run(class, options, SlotStorage::Float32);
        let bits = |xs: &[Vec<f32>]| xs.iter().map(|x| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>()).collect::<Vec<_>>();
        assert_eq!(bits(&vars), bits(&f32_vars), "{class}");
        assert_eq!(bits(&weights(&mut plain)), bits(&weights(&mut f32_opt)), "{class}");
    }
}

#[test]
fn compressed_moments_stay_close_to_f32_ones() {
    for (class, options) in CASES {
        let (_, x32) = run(class, options, SlotStorage::Float32);
        let x0: Vec<f32> = (0..BIG).map(start).collect();
        // mean distances: Lion's sign step moves an element by ±lr whatever the moment's size, so
        // a rounded momentum near 0 can flip a few elements by 2 lr
        let mean = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).abs() as f64).sum::<f64>() / a.len() as f64;
        let moved = mean(&x32[0], &x0);
        for (storage, tolerance) in [(SlotStorage::Bfloat16, 0.02), (SlotStorage::Int8, 0.1)] {
            let (opt, x) = run(class, options, storage);
            // The small variable kept f32 slots: the same bits.
            assert_eq!(x[1], x32[1], "{class} {storage:?}: the small variable");
            let off = mean(&x[0], &x32[0]);
            assert!(off <= tolerance * moved, "{class} {storage:?}: {off} vs {moved}");
            // the big variable's slots are stored compressed
            assert!((1..opt.weight_count()).any(|i| opt.raw_weight(i).is_some()), "{class} {storage:?}");
        }
    }
}

#[test]
fn unsupported_classes_get_a_typed_error_naming_those_that_support_it() {
    for class in ["Ftrl", "Adadelta"] {
        let mut opt = build_optimizer(class, &[]).unwrap();
        let e = opt.set_slot_storage(SlotStorage::Int8).unwrap_err();
        let Error::UnsupportedSlotDtype { ref supported, .. } = e else { panic!("{e:?}") };
        for c in ["Adam", "SGD", "RMSprop", "Adagrad", "Adamax", "Nadam", "Lion"] {
            assert!(supported.iter().any(|s| s.starts_with(&format!("{c} "))), "{c} in {supported:?}");
        }
        assert!(!supported.iter().any(|s| s.starts_with("Ftrl") || s.starts_with("Adadelta")));
        assert_eq!(opt.slot_storage(), SlotStorage::Float32, "unchanged");
        assert!(e.to_string().contains(class), "{e}");
    }
    // and once an optimizer has slots, the storage is fixed
    let (mut opt, _) = run("Adam", &[], SlotStorage::Float32);
    assert!(matches!(opt.set_slot_storage(SlotStorage::Int8), Err(Error::InvalidState { .. })));
}

#[test]
fn weights_round_trip_through_f32_views_and_raw_storage() {
    let (mut opt, _) = run("Adam", &[], SlotStorage::Int8);
    let (mut fresh, _) = run("Adam", &[("beta_1", 0.5)], SlotStorage::Int8);
    let views = weights(&mut opt);
    let refs: Vec<&[f32]> = views.iter().map(Vec::as_slice).collect();
    fresh.set_weights(opt.iterations(), &refs).unwrap();
    // f32 views requantized: the views read back the same (the block's max element is exact)
    // or within a code step; the raw codes restore exactly.
    let raws: Vec<(usize, _)> = (1..opt.weight_count()).filter_map(|i| opt.raw_weight(i).map(|r| (i, r))).collect();
    assert!(!raws.is_empty());
    let first = raws[0].0;
    fresh.set_raw_weights(&raws).unwrap();
    for i in 1..opt.weight_count() {
        assert_eq!(opt.raw_weight(i), fresh.raw_weight(i), "weight {i}");
    }
    assert_eq!(weights(&mut opt), weights(&mut fresh));
    // a raw slot of the wrong length changes nothing
    let short = simdopt_core::quant::storage::RawSlot::Int8 { codes: &[0; 3], absmax: &[1.0] };
    assert!(fresh.set_raw_weights(&[(first, short)]).is_err());
    assert_eq!(weights(&mut opt), weights(&mut fresh));
}
