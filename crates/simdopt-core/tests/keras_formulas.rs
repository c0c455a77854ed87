//! Each update rule against Keras 2.4's formulas written out here in f64, independently of the
//! kernels and of the TF fixtures: three steps with gradients that change size and sign, on a
//! variable of 19 elements (a SIMD tail for any lane width), with hyperparameters chosen so that
//! every term matters (a large epsilon, so where it is added shows; gradients of one sign, so
//! the centered mean shows; l1 large enough to zero some weights). Sparse steps repeat a row
//! (Keras sums duplicates first); clipping bounds sit on both sides of the norms.
//! Tolerance: `|ours - keras| <= 2e-5 * max(1, |keras|)` (f32 against f64, three steps).

// The formulas run over several arrays at once: indexed loops read as the formulas do.
#![allow(clippy::needless_range_loop)]

use simdopt_core::{build_optimizer, Gradient, Optimizer, Store, Tensor, TensorId};

const N: usize = 19;
const STEPS: usize = 3;
const TOLERANCE: f64 = 2e-5;

fn initial() -> Vec<f64> {
    (0..N).map(|i| ((i as f64) * 0.37).sin() * 2.0).collect()
}

/// Step `t`'s gradient: mostly positive, changing size and sign.
fn gradient(t: usize) -> Vec<f64> {
    (0..N).map(|i| 0.2 + 0.5 * (((i * 7 + t * 3) as f64) * 0.61).cos() * (1.0 + t as f64)).collect()
}

fn f32s(x: &[f64]) -> Vec<f32> {
    x.iter().map(|&v| v as f32).collect()
}

fn assert_close(ours: &[f32], keras: &[f64], what: &str) {
    for (i, (&a, &b)) in ours.iter().zip(keras).enumerate() {
        let scale = b.abs().max(1.0);
        assert!(((a as f64) - b).abs() <= TOLERANCE * scale, "{what}[{i}]: ours {a}, Keras {b}");
    }
}

/// Runs `STEPS` dense steps of `class` with `options` and compares the variable after each with
/// `reference(t, var, g)` (which updates `var` and its own slots in place).
fn check_dense(class: &str, options: &[(&str, f32)], mut reference: impl FnMut(usize, &mut [f64], &[f64])) {
    let mut store = Store::new();
    let x = store.insert(Tensor::new("x", vec![N], f32s(&initial())).unwrap());
    let mut opt = build_optimizer(class, options).unwrap();
    // The reference starts from the f32 values the core starts from.
    let mut var: Vec<f64> = f32s(&initial()).iter().map(|&v| v as f64).collect();
    for t in 0..STEPS {
        let g: Vec<f64> = f32s(&gradient(t)).iter().map(|&v| v as f64).collect();
        opt.apply_gradients(&mut store, &[(Some(Gradient::Dense(&f32s(&g))), x)]).unwrap();
        reference(t, &mut var, &g);
        assert_close(&store.get(x).unwrap().data, &var, &format!("{class} {options:?} step {t}"));
    }
}

#[test]
fn sgd_with_momentum() {
    let (lr, mu): (f64, f64) = (0.1, 0.9);
    let mut v: Vec<f64> = vec![0.0; N];
    check_dense("SGD", &[("learning_rate", lr as f32), ("momentum", mu as f32)], |_, var, g| {
        for i in 0..N {
            v[i] = mu * v[i] - lr * g[i];
            var[i] += v[i];
        }
    });
}

#[test]
fn rmsprop_centered_with_and_without_momentum() {
    let (lr, rho, eps): (f64, f64, f64) = (0.01, 0.9, 0.1);
    // With momentum, TF's training op: epsilon inside the square root.
    let (mut ms, mut mg, mut mom): (Vec<f64>, Vec<f64>, Vec<f64>) = (vec![0.0; N], vec![0.0; N], vec![0.0; N]);
    let options = [("learning_rate", lr as f32), ("rho", rho as f32), ("epsilon", eps as f32), ("momentum", 0.5), ("centered", 1.0)];
    check_dense("RMSprop", &options, |_, var, g| {
        for i in 0..N {
            ms[i] += (g[i] * g[i] - ms[i]) * (1.0 - rho);
            mg[i] += (g[i] - mg[i]) * (1.0 - rho);
            mom[i] = mom[i] * 0.5 + lr * g[i] / (ms[i] - mg[i] * mg[i] + eps).sqrt();
            var[i] -= mom[i];
        }
    });
    // Without momentum, Keras' Python ops: epsilon outside.
    let (mut ms, mut mg): (Vec<f64>, Vec<f64>) = (vec![0.0; N], vec![0.0; N]);
    let options = [("learning_rate", lr as f32), ("rho", rho as f32), ("epsilon", eps as f32), ("centered", 1.0)];
    check_dense("RMSprop", &options, |_, var, g| {
        for i in 0..N {
            ms[i] = rho * ms[i] + (1.0 - rho) * g[i] * g[i];
            mg[i] = rho * mg[i] + (1.0 - rho) * g[i];
            var[i] -= lr * g[i] / ((ms[i] - mg[i] * mg[i]).sqrt() + eps);
        }
    });
}

#[test]
fn adam_and_amsgrad() {
    let (lr, b1, b2, eps): (f64, f64, f64, f64) = (0.01, 0.9, 0.999, 0.1);
    for amsgrad in [false, true] {
        let (mut m, mut v, mut vhat): (Vec<f64>, Vec<f64>, Vec<f64>) = (vec![0.0; N], vec![0.0; N], vec![0.0; N]);
        let options = [("learning_rate", lr as f32), ("epsilon", eps as f32), ("amsgrad", if amsgrad { 1.0 } else { 0.0 })];
        check_dense("Adam", &options, |t, var, g| {
            let step = (t + 1) as f64;
            let lr_t = lr * (1.0 - b2.powf(step)).sqrt() / (1.0 - b1.powf(step));
            for i in 0..N {
                m[i] = b1 * m[i] + (1.0 - b1) * g[i];
                v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
                vhat[i] = vhat[i].max(v[i]);
                let denom = if amsgrad { vhat[i] } else { v[i] };
                var[i] -= lr_t * m[i] / (denom.sqrt() + eps);
            }
        });
    }
}

#[test]
fn adagrad_adadelta_adamax() {
    let eps: f64 = 0.1;
    let mut acc: Vec<f64> = vec![0.1; N];
    check_dense("Adagrad", &[("learning_rate", 0.1), ("epsilon", eps as f32)], |_, var, g| {
        for i in 0..N {
            acc[i] += g[i] * g[i];
            var[i] -= 0.1 * g[i] / (acc[i].sqrt() + eps);
        }
    });
    let (mut acc, mut upd): (Vec<f64>, Vec<f64>) = (vec![0.0; N], vec![0.0; N]);
    check_dense("Adadelta", &[("learning_rate", 1.0), ("rho", 0.9), ("epsilon", eps as f32)], |_, var, g| {
        for i in 0..N {
            acc[i] = 0.9 * acc[i] + 0.1 * g[i] * g[i];
            let u = (upd[i] + eps).sqrt() / (acc[i] + eps).sqrt() * g[i];
            upd[i] = 0.9 * upd[i] + 0.1 * u * u;
            var[i] -= u;
        }
    });
    let (mut m, mut u): (Vec<f64>, Vec<f64>) = (vec![0.0; N], vec![0.0; N]);
    check_dense("Adamax", &[("learning_rate", 0.01), ("epsilon", eps as f32)], |t, var, g| {
        let step = (t + 1) as f64;
        for i in 0..N {
            m[i] = 0.9 * m[i] + 0.1 * g[i];
            u[i] = (0.999 * u[i]).max(g[i].abs());
            var[i] -= 0.01 / (1.0 - 0.9f64.powf(step)) * m[i] / (u[i] + eps);
        }
    });
}

#[test]
fn ftrl_with_l1_and_l2() {
    let (lr, l1, l2): (f64, f64, f64) = (0.1, 0.05, 0.02);
    let (mut acc, mut linear): (Vec<f64>, Vec<f64>) = (vec![0.1; N], vec![0.0; N]);
    let options = [("learning_rate", lr as f32), ("l1_regularization_strength", l1 as f32), ("l2_regularization_strength", l2 as f32)];
    let mut zeroed = 0;
    check_dense("Ftrl", &options, |_, var, g| {
        for i in 0..N {
            let acc_new = acc[i] + g[i] * g[i];
            linear[i] += g[i] - (acc_new.sqrt() - acc[i].sqrt()) / lr * var[i];
            let quadratic = acc_new.sqrt() / lr + 2.0 * l2;
            var[i] = if linear[i].abs() > l1 { (l1 * linear[i].signum() - linear[i]) / quadratic } else { 0.0 };
            zeroed += usize::from(var[i] == 0.0);
            acc[i] = acc_new;
        }
    });
    assert!(zeroed < N * STEPS, "l1 must leave some weights non-zero for its sign to matter");
}

/// Plain SGD with the given clipping over two variables of 19 and 11 elements; the reference
/// clips as Keras 2.4 does: clip_by_value, clip_by_norm per gradient, clip_by_global_norm.
fn check_clipped(clip: &[(&str, f32)]) {
    let lr = 0.1;
    let get = |k: &str| clip.iter().find(|(n, _)| *n == k).map(|&(_, v)| v as f64);
    let mut store = Store::new();
    let a = store.insert(Tensor::new("a", vec![N], f32s(&initial())).unwrap());
    let b = store.insert(Tensor::new("b", vec![11], vec![0.5; 11]).unwrap());
    let mut options = vec![("learning_rate", lr as f32)];
    options.extend_from_slice(clip);
    let mut opt: Optimizer = build_optimizer("SGD", &options).unwrap();
    let mut vars: Vec<Vec<f64>> = [a, b].iter().map(|&id| store.get(id).unwrap().data.iter().map(|&v| v as f64).collect()).collect();
    for t in 0..STEPS {
        let ga = f32s(&gradient(t));
        let gb: Vec<f32> = (0..11).map(|i| (i as f32 - 5.0) * 0.3 * (t as f32 + 1.0)).collect();
        let ids: [TensorId; 2] = [a, b];
        opt.apply_gradients(&mut store, &[(Some(Gradient::Dense(&ga)), ids[0]), (Some(Gradient::Dense(&gb)), ids[1])]).unwrap();
        let mut gs: Vec<Vec<f64>> = [&ga, &gb].iter().map(|g| g.iter().map(|&v| v as f64).collect()).collect();
        if let Some(v) = get("clipvalue") {
            gs.iter_mut().flatten().for_each(|x| *x = x.clamp(-v, v));
        }
        if let Some(c) = get("clipnorm") {
            for g in &mut gs {
                let norm = g.iter().map(|x| x * x).sum::<f64>().sqrt();
                g.iter_mut().for_each(|x| *x = *x * c / norm.max(c));
            }
        }
        if let Some(c) = get("global_clipnorm") {
            let norm = gs.iter().flatten().map(|x| x * x).sum::<f64>().sqrt();
            gs.iter_mut().flatten().for_each(|x| *x *= c / norm.max(c));
        }
        for (k, id) in ids.iter().enumerate() {
            vars[k].iter_mut().zip(&gs[k]).for_each(|(x, g)| *x -= lr * g);
            assert_close(&store.get(*id).unwrap().data, &vars[k], &format!("SGD {clip:?} step {t} variable {k}"));
        }
    }
}

#[test]
fn clipping_on_both_sides_of_the_bounds() {
    // The gradients' norms are about 1.3-3.4 (a) and 1.8-5.4 (b); the global norm 2.3-6.4.
    for clip in [
        &[("clipnorm", 0.5)][..],
        &[("clipnorm", 100.0)],
        &[("clipnorm", 2.5)],
        &[("global_clipnorm", 1.0)],
        &[("global_clipnorm", 100.0)],
        &[("clipvalue", 0.3)],
        &[("clipvalue", 0.3), ("clipnorm", 0.7)],
    ] {
        check_clipped(clip);
    }
}

#[test]
fn sparse_rows_with_a_repeated_index_are_summed_first() {
    // Adagrad on a [5, 3] table: rows 1, 3, 1 (row 1 twice). Keras sums duplicates, then
    // updates the rows that have a gradient.
    let mut store = Store::new();
    let table = store.insert(Tensor::new("table", vec![5, 3], (0..15).map(|i| i as f32 * 0.1).collect()).unwrap());
    let mut opt = build_optimizer("Adagrad", &[("learning_rate", 0.1), ("epsilon", 0.1)]).unwrap();
    let mut var: Vec<f64> = store.get(table).unwrap().data.iter().map(|&v| v as f64).collect();
    let mut acc: Vec<f64> = vec![0.1; 15];
    for t in 0..STEPS {
        let values: Vec<f32> = (0..9).map(|k| (k as f32 - 4.0) * 0.25 + t as f32 * 0.5).collect();
        opt.apply_gradients(&mut store, &[(Some(Gradient::Sparse { indices: &[1, 3, 1], values: &values }), table)]).unwrap();
        let mut summed = [[0.0f64; 3]; 5];
        for (k, row) in [1usize, 3, 1].into_iter().enumerate() {
            for j in 0..3 {
                summed[row][j] += values[k * 3 + j] as f64;
            }
        }
        for row in [1usize, 3] {
            for j in 0..3 {
                let (g, e) = (summed[row][j], row * 3 + j);
                acc[e] += g * g;
                var[e] -= 0.1 * g / (acc[e].sqrt() + 0.1);
            }
        }
        assert_close(&store.get(table).unwrap().data, &var, &format!("Adagrad sparse step {t}"));
    }
}
