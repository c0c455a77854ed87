//! The fused averages against the formula written out here: every class of the registry runs
//! each case twice, with `use_ema` and without it; the second run's variables get Keras 3's
//! averages computed element by element in plain `f32` (`μ·avg + (1-μ)·var`, μ = 0 at step 0,
//! the overwrite), and both runs must agree bit for bit on every variable, average and slot.
//! The cases cover what takes the fused epilogue and what is left to the pass of its own:
//! several variables (SIMD body and tail), a None gradient, the overwrite, accumulation
//! micro-steps, sparse steps, the other fused stages, compressed slots; on the wide lanes,
//! the scalar lanes (`scalar-hook`) and, in the threads build, the worker pool.

use std::collections::BTreeMap;

use crate::registry::{self, Family};
use crate::slot::SlotStorage;
use crate::step::clip::Clipping;
use crate::step::{Ema, Stages};
use crate::{Gradient, Optimizer, Store, Tensor, TensorId};

/// One step's gradient of one variable.
#[derive(Clone)]
enum Grad {
    None,
    Dense(Vec<f32>),
    Sparse(Vec<i64>, Vec<f32>),
}

struct Case {
    name: &'static str,
    /// Options besides `learning_rate` and the EMA's.
    options: &'static [(&'static str, f32)],
    ema_overwrite: Option<u64>,
    storage: SlotStorage,
    /// Per step, per variable.
    steps: Vec<Vec<Grad>>,
}

/// Deterministic values with zeros, both signs and mixed magnitudes.
fn values(seed: u64, n: usize) -> Vec<f32> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let r = (x >> 33) as u32;
            if r % 7 == 0 {
                0.0
            } else {
                let m = (r % 2001) as f32 / 1000.0 - 1.0;
                m * [1e-3f32, 0.1, 1.0, 10.0][(r / 2001 % 4) as usize]
            }
        })
        .collect()
}

/// The variables: 1-D of 1 and 9 elements, 2-D 5×7 (rows for sparse steps), and with `big`
/// 1-D of 2·CHUNK + 13 (split over the worker pool in the threads build).
fn shapes(big: bool) -> Vec<Vec<usize>> {
    let mut s = vec![vec![1], vec![9], vec![5, 7]];
    if big {
        s.push(vec![2 * 16 * 1024 + 13]);
    }
    s
}

fn dense_steps(shapes: &[Vec<usize>], steps: usize, seed: u64) -> Vec<Vec<Grad>> {
    (0..steps)
        .map(|t| shapes.iter().enumerate().map(|(v, s)| Grad::Dense(values(seed + 31 * t as u64 + v as u64, s.iter().product()))).collect())
        .collect()
}

fn cases(big: bool) -> Vec<Case> {
    let sh = shapes(big);
    let mut with_none = dense_steps(&sh, 4, 1);
    with_none[1][1] = Grad::None;
    with_none[2][0] = Grad::None;
    with_none[2][2] = Grad::None;
    let sparse = |t: u64| Grad::Sparse(vec![3, 0, 3], values(100 + t, 3 * 7));
    let mut with_sparse = dense_steps(&sh, 4, 2);
    for (t, step) in with_sparse.iter_mut().enumerate() {
        step[2] = sparse(t as u64);
    }
    let mut accum_sparse = dense_steps(&sh, 6, 3);
    for (t, step) in accum_sparse.iter_mut().enumerate() {
        if t % 3 != 1 {
            step[2] = sparse(t as u64);
        }
    }
    accum_sparse[4][0] = Grad::None;
    let f32_case = |name, options, ema_overwrite, steps| Case { name, options, ema_overwrite, storage: SlotStorage::Float32, steps };
    vec![
        f32_case("dense", &[], None, dense_steps(&sh, 4, 4)),
        f32_case("none gradients", &[], None, with_none),
        f32_case("overwrite every 2", &[], Some(2), dense_steps(&sh, 5, 5)),
        f32_case("accumulation 2", &[("gradient_accumulation_steps", 2.0)], None, dense_steps(&sh, 6, 6)),
        f32_case("accumulation 3, overwrite", &[("gradient_accumulation_steps", 3.0)], Some(1), dense_steps(&sh, 7, 7)),
        f32_case("sparse", &[], None, with_sparse),
        f32_case("sparse, accumulation 3", &[("gradient_accumulation_steps", 3.0)], None, accum_sparse),
        f32_case("stages", &[("weight_decay", 0.05), ("clipnorm", 0.5), ("loss_scale_factor", 4.0)], None, dense_steps(&sh, 4, 8)),
        f32_case("global clip", &[("global_clipnorm", 1.0), ("gradient_accumulation_steps", 2.0)], None, dense_steps(&sh, 4, 9)),
        Case { name: "bfloat16 slots", options: &[], ema_overwrite: None, storage: SlotStorage::Bfloat16, steps: dense_steps(&sh, 3, 10) },
        Case { name: "int8 slots", options: &[], ema_overwrite: None, storage: SlotStorage::Int8, steps: dense_steps(&sh, 3, 11) },
    ]
}

/// An optimizer of one class over the case's variables.
struct Run {
    opt: Optimizer,
    store: Store,
    ids: Vec<TensorId>,
}

impl Run {
    /// With `use_ema` (momentum 0.9, the case's overwrite) or without; None if the class does
    /// not take the case's options or storage.
    fn new(family: Family, class: &str, case: &Case, vars: &[Vec<usize>], ema: bool) -> Option<Self> {
        let mut options = vec![("learning_rate", 0.05f32)];
        options.extend_from_slice(case.options);
        if ema {
            options.extend_from_slice(&[("use_ema", 1.0), ("ema_momentum", MOMENTUM)]);
            if let Some(f) = case.ema_overwrite {
                options.push(("ema_overwrite_frequency", f as f32));
            }
        }
        let mut opt = match family {
            // With a momentum where the class has one (SGD, RMSprop: more kernels).
            Family::Keras3 => {
                let with_momentum: Vec<_> = options.iter().copied().chain([("momentum", 0.5)]).collect();
                registry::build_optimizer_in(family, class, &with_momentum)
                    .or_else(|_| registry::build_optimizer_in(family, class, &options))
            }
            // TF 2.4's classes take the Keras 3 stages from Rust callers only.
            Family::Tf24 => registry::build_optimizer_in(family, class, &options[..1]).and_then(|mut opt| {
                let get = |key: &str| options.iter().find(|(k, _)| *k == key).map(|&(_, v)| v);
                opt.set_stages(Stages {
                    loss_scale_factor: get("loss_scale_factor"),
                    gradient_accumulation_steps: get("gradient_accumulation_steps").map(|n| n as u32),
                    weight_decay: get("weight_decay"),
                    ema: get("use_ema").map(|_| Ema { momentum: MOMENTUM, overwrite_frequency: case.ema_overwrite }),
                })?;
                opt.set_clipping(Clipping { clipnorm: get("clipnorm"), global_clipnorm: get("global_clipnorm"), ..Clipping::default() })?;
                Ok(opt)
            }),
        }
        .ok()?;
        if case.storage != SlotStorage::Float32 {
            opt.set_slot_storage(case.storage).ok()?;
        }
        let mut store = Store::new();
        let ids = vars
            .iter()
            .enumerate()
            .map(|(v, s)| store.insert(Tensor::new(format!("v{v}"), s.clone(), values(1000 + v as u64, s.iter().product())).unwrap()))
            .collect();
        Some(Run { opt, store, ids })
    }

    fn step(&mut self, grads: &[Grad]) {
        let pairs: Vec<(Option<Gradient<'_>>, TensorId)> = grads
            .iter()
            .zip(&self.ids)
            .map(|(g, &id)| {
                let g = match g {
                    Grad::None => None,
                    Grad::Dense(v) => Some(Gradient::Dense(v)),
                    Grad::Sparse(indices, values) => Some(Gradient::Sparse { indices, values }),
                };
                (g, id)
            })
            .collect();
        self.opt.apply_gradients(&mut self.store, &pairs).unwrap();
    }

    fn var(&mut self, v: usize) -> &mut Vec<f32> {
        &mut self.store.get_mut(self.ids[v]).unwrap().data
    }

    /// The weights by name, the averages apart.
    fn weights(&self) -> (BTreeMap<String, Vec<f32>>, Vec<Vec<f32>>) {
        let (mut slots, mut averages) = (BTreeMap::new(), Vec::new());
        for (i, name) in self.opt.weight_names().into_iter().enumerate() {
            let w = self.opt.weight(i).map(<[f32]>::to_vec).unwrap_or_default();
            if name.ends_with("/average:0") {
                averages.push(w);
            } else {
                slots.insert(name, w);
            }
        }
        (slots, averages)
    }
}

const MOMENTUM: f32 = 0.9;

fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

/// Runs every case on every class; returns how many (class, case) pairs ran.
fn fused_equals_formula(big: bool) -> usize {
    let vars = shapes(big);
    let (mut ran, mut skipped) = (0, Vec::new());
    for class in registry::CLASSES.iter() {
        for case in cases(big) {
            let what = format!("{} ({}), {}", class.class_name, class.family.name(), case.name);
            let (Some(mut fused), Some(mut plain)) = (
                Run::new(class.family, class.class_name, &case, &vars, true),
                Run::new(class.family, class.class_name, &case, &vars, false),
            ) else {
                skipped.push(what);
                continue;
            };
            let n = plain.opt.stages().gradient_accumulation_steps.unwrap_or(1) as usize;
            let mut averages: Vec<Vec<f32>> = vars.iter().map(|s| vec![0.0; s.iter().product()]).collect();
            for (call, grads) in case.steps.iter().enumerate() {
                fused.step(grads);
                plain.step(grads);
                // Keras 3: every variable, μ = 0 at step 0, then the overwrite test.
                let t = (call / n) as u64;
                let mu = if t == 0 { 0.0 } else { MOMENTUM };
                let one_minus = 1.0 - mu;
                for (v, avg) in averages.iter_mut().enumerate() {
                    for (a, &x) in avg.iter_mut().zip(plain.var(v).iter()) {
                        *a = mu * *a + one_minus * x;
                    }
                    if case.ema_overwrite.is_some_and(|f| (t + 1) % f == 0) {
                        plain.var(v).copy_from_slice(avg);
                    }
                }
                for v in 0..vars.len() {
                    assert_eq!(bits(fused.var(v)), bits(plain.var(v)), "{what}: variable {v} after call {call}");
                }
                let ((fused_slots, fused_avg), (plain_slots, none)) = (fused.weights(), plain.weights());
                assert!(none.is_empty(), "{what}: averages without use_ema");
                assert_eq!(fused_avg.len(), vars.len(), "{what}: one average per variable");
                for (v, (got, want)) in fused_avg.iter().zip(&averages).enumerate() {
                    assert_eq!(bits(got), bits(want), "{what}: average {v} after call {call}");
                }
                assert_eq!(fused_slots, plain_slots, "{what}: slots after call {call}");
            }
            ran += 1;
        }
    }
    // The classes whose slots cannot be stored compressed skip those cases.
    assert!(skipped.iter().all(|w| w.ends_with(" slots")), "skipped: {skipped:?}");
    ran
}

#[test]
fn fused_averages_equal_keras_formula_on_every_class() {
    assert!(fused_equals_formula(false) > 200, "most (class, case) pairs run");
}

#[cfg(feature = "scalar-hook")]
#[test]
fn fused_averages_equal_keras_formula_on_scalar_lanes() {
    crate::drive::force_scalar(true);
    let ran = fused_equals_formula(false);
    crate::drive::force_scalar(false);
    assert!(ran > 200);
}

#[cfg(feature = "threads")]
#[test]
fn fused_averages_equal_keras_formula_over_the_worker_pool() {
    let before = crate::pool::worker_chunks();
    assert!(crate::pool::with_test_workers(2, || fused_equals_formula(true)) > 200);
    assert!(crate::pool::worker_chunks() > before, "the workers ran chunks");
}

/// Which averages the update fuses (and which it leaves to the pass of its own), so that the
/// cases above cover both.
#[test]
fn the_update_fuses_the_averages_of_single_pass_dense_steps() {
    let vars = shapes(false);
    let case = |name| cases(false).into_iter().find(|c| c.name == name).unwrap();
    let fused_after = |class: &str, case: &Case, calls: usize| {
        let mut r = Run::new(Family::Keras3, class, case, &vars, true).unwrap();
        for grads in &case.steps[..calls] {
            r.step(grads);
        }
        r.opt.scratch.averaged.clone()
    };
    let all = [true, true, true];
    assert_eq!(fused_after("Adam", &case("dense"), 2), all);
    assert_eq!(fused_after("Lion", &case("dense"), 2), all);
    assert_eq!(fused_after("Adam", &case("stages"), 2), all);
    // Variables 1 and 2 had no gradient in call 2 (0-based), variable 2 a sparse one throughout.
    assert_eq!(fused_after("Adam", &case("none gradients"), 3), [false, true, false]);
    assert_eq!(fused_after("Adam", &case("sparse"), 2), [true, true, false]);
    // Accumulation: the micro-step does not update; the update step fuses, a sparse gradient
    // densified into the accumulator too.
    assert_eq!(fused_after("Adam", &case("accumulation 2"), 1), [false; 0]);
    assert_eq!(fused_after("Adam", &case("accumulation 2"), 2), all);
    assert_eq!(fused_after("Adam", &case("sparse, accumulation 3"), 3), all);
    // Overwrite steps (every step here) take the pass of their own.
    assert_eq!(fused_after("Adam", &case("accumulation 3, overwrite"), 3), [false; 3]);
    // Multi-pass rules: their last pass is not the prelude's.
    assert_eq!(fused_after("Lamb", &case("dense"), 2), [false; 3]);
    // Muon: AdamW for the 1-D variables, Newton–Schulz for the 2-D one.
    assert_eq!(fused_after("Muon", &case("dense"), 2), [true, true, false]);
    assert_eq!(fused_after("Adam", &case("int8 slots"), 2), all);
}
