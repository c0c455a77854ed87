//! Compressed slots through the optimizer (issue 16): every class that supports them, with
//! f32, bfloat16 and 8-bit moments, over a few steps of generated gradients. The results are
//! the reference the JavaScript tests replay through the wasm builds (`tests/slot-dtype.test.ts`):
//! `tests/fixtures/quant/slot_trajectories.json` holds a hash of every weight's bits after each
//! case. `SIMDOPT_WRITE_FIXTURES=1 cargo test -p simdopt-core --test quant_slots` rewrites it.

#[path = "slot_trajectories/mod.rs"]
mod slot_trajectories;

use simdopt_core::slot::SlotStorage;
use simdopt_core::{build_optimizer, Error, Optimizer};
use slot_trajectories::{bits, check_fixture, compressed_runs_stay_close, fnv_f32, options_json, weights, BIG, SMALL, STEPS};

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

/// Runs a case with slots stored as `storage`.
fn run(class: &str, options: &[(&str, f32)], storage: SlotStorage) -> (Optimizer, Vec<Vec<f32>>) {
    slot_trajectories::run(build_optimizer(class, options).unwrap(), Some(storage))
}

/// `{class, options, dtype, vars: [hash], weights: [hash]}` per case.
fn reference() -> String {
    let mut rows = Vec::new();
    for (class, options) in CASES {
        for storage in [SlotStorage::Float32, SlotStorage::Bfloat16, SlotStorage::Int8] {
            let (mut opt, vars) = run(class, options, storage);
            let w = weights(&mut opt);
            let hashes = |xs: &[Vec<f32>]| xs.iter().map(|x| format!("\"{}\"", fnv_f32(x))).collect::<Vec<_>>().join(",");
            rows.push(format!(
                "{{\"class\":\"{class}\",\"options\":{},\"dtype\":\"{}\",\"vars\":[{}],\"weights\":[{}]}}",
                options_json(options),
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
    check_fixture("slot_trajectories.json", &reference());
}

#[test]
fn float32_storage_is_the_default_bit_for_bit() {
    for (class, options) in CASES {
        let (mut plain, vars) = slot_trajectories::run(build_optimizer(class, options).unwrap(), None);
        let (mut f32_opt, f32_vars) = run(class, options, SlotStorage::Float32);
        assert_eq!(bits(&vars), bits(&f32_vars), "{class}");
        assert_eq!(bits(&weights(&mut plain)), bits(&weights(&mut f32_opt)), "{class}");
    }
}

#[test]
fn compressed_moments_stay_close_to_f32_ones() {
    for (class, options) in CASES {
        for (storage, opt) in compressed_runs_stay_close(class, |storage| run(class, options, storage)) {
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
    let short = simdopt_core::quant::RawSlot::Int8 { codes: &[0; 3], absmax: &[1.0] };
    assert!(fresh.set_raw_weights(&[(first, short)]).is_err());
    assert_eq!(weights(&mut opt), weights(&mut fresh));
}
