//! Compressed slots on the Keras 3 classes (issue 16, "and their Keras 3 forms"): every Keras 3
//! class with moment slots, with f32, bfloat16 and 8-bit moments, alone and with Keras 3's stages
//! (EMA, gradient accumulation, weight decay), over a few steps of generated gradients. The
//! results are the reference `tests/slot-dtype-keras3.test.ts` replays through the wasm builds:
//! `tests/fixtures/quant/keras3_slot_trajectories.json` holds a hash of the variables, of every
//! weight's f32 view and of every compressed weight's raw storage after each case.
//! `SIMDOPT_WRITE_FIXTURES=1 cargo test -p simdopt-core --test quant_slots_keras3` rewrites it.

#[path = "slot_trajectories/mod.rs"]
mod slot_trajectories;

use simdopt_core::quant::RawSlot;
use simdopt_core::registry::{build_optimizer_in, Family};
use simdopt_core::slot::SlotStorage;
use simdopt_core::{Error, Optimizer};
use slot_trajectories::{bits, check_fixture, compressed_runs_stay_close, fnv, fnv_f32, options_json, weights, BIG, SMALL, STEPS};

/// The cases: Keras 3 class and options (Keras' snake_case keys; flags as 0/1).
const CASES: &[(&str, &[(&str, f32)])] = &[
    ("SGD", &[("momentum", 0.9), ("learning_rate", 0.05)]),
    ("SGD", &[("momentum", 0.9), ("nesterov", 1.0)]),
    ("RMSprop", &[]),
    ("RMSprop", &[("momentum", 0.5), ("centered", 1.0)]),
    ("Adam", &[]),
    ("Adam", &[("amsgrad", 1.0)]),
    ("AdamW", &[]),
    ("Adagrad", &[]),
    ("Adamax", &[]),
    ("Nadam", &[]),
    ("Lion", &[]),
    // Keras 3's stages: the EMA averages and the accumulators stay f32 whatever the slots are.
    ("Adam", &[("use_ema", 1.0), ("ema_momentum", 0.9)]),
    ("Adam", &[("use_ema", 1.0), ("ema_momentum", 0.5), ("ema_overwrite_frequency", 4.0)]),
    ("AdamW", &[("gradient_accumulation_steps", 2.0), ("weight_decay", 0.01)]),
    ("Lion", &[("weight_decay", 0.05), ("use_ema", 1.0)]),
    ("Nadam", &[("gradient_accumulation_steps", 3.0)]),
];

/// The raw storage's bytes: bfloat16 bits (little-endian), or the codes then the absmax.
fn fnv_raw(r: RawSlot<'_>) -> String {
    match r {
        RawSlot::Bf16(h) => fnv(h.iter().flat_map(|v| v.to_le_bytes())),
        RawSlot::Int8 { codes, absmax } => fnv(codes.iter().copied().chain(absmax.iter().flat_map(|v| v.to_le_bytes()))),
    }
}

fn run(class: &str, options: &[(&str, f32)], storage: SlotStorage) -> (Optimizer, Vec<Vec<f32>>) {
    slot_trajectories::run(build_optimizer_in(Family::Keras3, class, options).unwrap(), Some(storage))
}

fn quoted(xs: impl Iterator<Item = String>) -> String {
    xs.map(|x| format!("\"{x}\"")).collect::<Vec<_>>().join(",")
}

/// `{class, options, dtype, vars, weights, raw}` per case (`raw`: "" for an f32 weight).
fn reference() -> String {
    let mut rows = Vec::new();
    for (class, options) in CASES {
        for storage in [SlotStorage::Float32, SlotStorage::Bfloat16, SlotStorage::Int8] {
            let (mut opt, vars) = run(class, options, storage);
            let views: Vec<String> = (1..opt.weight_count()).map(|i| fnv_f32(opt.weight_view(i).unwrap())).collect();
            let raws = (1..opt.weight_count()).map(|i| opt.raw_weight(i).map(fnv_raw).unwrap_or_default());
            rows.push(format!(
                "{{\"class\":\"{class}\",\"options\":{},\"dtype\":\"{}\",\"iterations\":{},\"vars\":[{}],\"weights\":[{}],\"raw\":[{}]}}",
                options_json(options),
                storage.name(),
                opt.iterations(),
                quoted(vars.iter().map(|v| fnv_f32(v))),
                quoted(views.into_iter()),
                quoted(raws)
            ));
        }
    }
    format!(
        "{{\"generator\":\"crates/simdopt-core/tests/quant_slots_keras3.rs\",\"big\":{BIG},\"small\":{SMALL},\"steps\":{STEPS},\"cases\":[\n{}\n]}}\n",
        rows.join(",\n")
    )
}

#[test]
fn keras3_trajectories_equal_the_committed_reference() {
    check_fixture("keras3_slot_trajectories.json", &reference());
}

#[test]
fn keras3_float32_storage_is_the_default_bit_for_bit() {
    for (class, options) in CASES {
        let (mut plain, vars) = slot_trajectories::run(build_optimizer_in(Family::Keras3, class, options).unwrap(), None);
        let (mut f32_opt, f32_vars) = run(class, options, SlotStorage::Float32);
        assert_eq!(bits(&vars), bits(&f32_vars), "{class} {options:?}");
        assert_eq!(bits(&weights(&mut plain)), bits(&weights(&mut f32_opt)), "{class} {options:?}");
    }
}

#[test]
fn keras3_compressed_moments_stay_close_and_stage_buffers_stay_f32() {
    for (class, options) in CASES {
        let label = format!("{class} {options:?}");
        for (storage, opt) in compressed_runs_stay_close(&label, |storage| run(class, options, storage)) {
            for (i, name) in opt.weight_names().iter().enumerate().skip(1) {
                let compressed = opt.raw_weight(i).is_some();
                // EMA averages, accumulators and Nadam's u_product are never compressed; the big
                // variable's moments always are.
                let stage = name.ends_with("/average:0") || name.ends_with("/gradient_accumulator:0");
                let big_moment = name.contains("/big/") && !stage;
                assert_eq!(compressed, big_moment, "{label} {storage:?}: {name}");
            }
        }
    }
}

#[test]
fn keras3_classes_without_moment_slots_name_those_that_have_them() {
    for class in ["Ftrl", "Adadelta", "Lamb", "Adafactor", "Muon", "ScheduleFreeAdamW"] {
        let mut opt = build_optimizer_in(Family::Keras3, class, &[]).unwrap();
        let e = opt.set_slot_storage(SlotStorage::Int8).unwrap_err();
        let Error::UnsupportedSlotDtype { ref supported, .. } = e else { panic!("{class}: {e:?}") };
        for c in ["SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Adamax", "Nadam", "Lion"] {
            assert!(supported.contains(&format!("{c} (keras3)")), "{c} in {supported:?}");
        }
        assert!(!supported.iter().any(|s| s.starts_with(&format!("{class} "))), "{class} in {supported:?}");
        assert_eq!(opt.slot_storage(), SlotStorage::Float32, "unchanged");
    }
}
