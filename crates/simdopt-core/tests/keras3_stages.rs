//! The Keras 3 stages (keras3-notes.md, "Order of one apply", "Gradient accumulation", "EMA"),
//! checked against their formulas written out here, on SGD (whose Keras 3 update is TF 2.4's)
//! and Adam.

use simdopt_core::rules::{Adam, Sgd};
use simdopt_core::{Clipping, Ema, Gradient, Optimizer, Stages, Store, Tensor, TensorId};

fn var(store: &mut Store, name: &str, v: &[f32]) -> TensorId {
    store.insert(Tensor::new(name, vec![v.len()], v.to_vec()).unwrap())
}

fn sgd(lr: f32, stages: Stages) -> Optimizer {
    let mut o = Optimizer::new(Sgd::new(0.0, false).unwrap(), lr).unwrap();
    o.set_stages(stages).unwrap();
    o
}

fn values(store: &Store, id: TensorId) -> Vec<f32> {
    store.get(id).unwrap().data.clone()
}

#[test]
fn loss_scale_factor_divides_the_gradient_first() {
    let mut store = Store::new();
    let w = var(&mut store, "w", &[1.0, 2.0]);
    let mut o = sgd(0.1, Stages { loss_scale_factor: Some(8.0), ..Stages::default() });
    let g = [0.3f32, -0.7];
    o.apply_gradients(&mut store, &[(Some(Gradient::Dense(&g)), w)]).unwrap();
    assert_eq!(values(&store, w), vec![1.0 - (0.3f32 / 8.0) * 0.1, 2.0 - (-0.7f32 / 8.0) * 0.1]);
}

#[test]
fn clipnorm_sees_the_unscaled_gradient() {
    let mut store = Store::new();
    let w = var(&mut store, "w", &[0.0, 0.0]);
    let mut o = sgd(1.0, Stages { loss_scale_factor: Some(10.0), ..Stages::default() });
    o.set_clipping(Clipping { clipnorm: Some(1.0), ..Clipping::default() }).unwrap();
    // Unscaled [3, 4], norm 5: clipped to [0.6, 0.8] as (g * 1) / 5.
    o.apply_gradients(&mut store, &[(Some(Gradient::Dense(&[30.0, 40.0])), w)]).unwrap();
    assert_eq!(values(&store, w), vec![-(3.0f32 * 1.0 / 5.0), -(4.0f32 * 1.0 / 5.0)]);
}

#[test]
fn weight_decay_is_decoupled_and_before_the_update_unless_excluded() {
    let mut store = Store::new();
    let (a, b) = (var(&mut store, "a", &[2.0]), var(&mut store, "b", &[2.0]));
    let (lr, wd) = (0.1f32, 0.04f32);
    let mut o = sgd(lr, Stages { weight_decay: Some(wd), ..Stages::default() });
    o.set_weight_decay_exclusions(&[b]);
    let g = [0.5f32];
    o.apply_gradients(&mut store, &[(Some(Gradient::Dense(&g)), a), (Some(Gradient::Dense(&g)), b)]).unwrap();
    let decayed = 2.0f32 - (2.0 * wd) * lr;
    assert_eq!(values(&store, a), vec![decayed - 0.5 * lr]);
    assert_eq!(values(&store, b), vec![2.0 - 0.5 * lr]);
    // Sparse: every row decays, the indexed row also moves.
    let t = store.insert(Tensor::new("t", vec![2, 1], vec![2.0, 2.0]).unwrap());
    let mut o = sgd(lr, Stages { weight_decay: Some(wd), ..Stages::default() });
    o.apply_gradients(&mut store, &[(Some(Gradient::Sparse { indices: &[1], values: &g }), t)]).unwrap();
    assert_eq!(values(&store, t), vec![decayed, decayed + (-0.5) * lr]);
}

#[test]
fn accumulation_updates_every_nth_call_with_the_mean() {
    let mut store = Store::new();
    let w = var(&mut store, "w", &[1.0, -1.0]);
    let n = 3;
    let mut o = sgd(0.5, Stages { gradient_accumulation_steps: Some(n), ..Stages::default() });
    let gs = [[0.2f32, 0.4], [-0.6, 0.1], [0.9, 0.3]];
    for (i, g) in gs.iter().enumerate() {
        o.apply_gradients(&mut store, &[(Some(Gradient::Dense(g)), w)]).unwrap();
        if i < 2 {
            assert_eq!(values(&store, w), vec![1.0, -1.0], "no update on micro-step {i}");
        }
    }
    // acc = g0 + g1, then the update uses (g2 + acc) / 3, and the accumulator resets.
    let mean = |j: usize| (gs[2][j] + (gs[0][j] + gs[1][j])) / 3.0;
    assert_eq!(values(&store, w), vec![1.0 - mean(0) * 0.5, -1.0 - mean(1) * 0.5]);
    assert_eq!((o.iterations(), o.update_iterations()), (3, 1));
    let names = o.weight_names();
    assert_eq!(names, ["SGD/iter:0", "SGD/w/gradient_accumulator:0"]);
    assert_eq!(o.weight(1).unwrap(), &[0.0, 0.0]);
}

#[test]
fn accumulated_adam_is_adam_on_the_mean_gradient_with_keras_step_count() {
    let gs = [[0.2f32, 0.4, -3.0], [-0.6, 0.1, 0.0], [1.5, -0.2, 2.0], [0.3, 0.3, 0.3]];
    let mut store = Store::new();
    let (w, plain) = (var(&mut store, "w", &[1.0, 2.0, 3.0]), var(&mut store, "p", &[1.0, 2.0, 3.0]));
    let mut acc = Optimizer::new(Adam::default(), 0.01).unwrap();
    acc.set_stages(Stages { gradient_accumulation_steps: Some(2), ..Stages::default() }).unwrap();
    let mut reference = Optimizer::new(Adam::default(), 0.01).unwrap();
    for pair in gs.chunks(2) {
        for g in pair {
            acc.apply_gradients(&mut store, &[(Some(Gradient::Dense(g)), w)]).unwrap();
        }
        let mean: Vec<f32> = (0..3).map(|j| (pair[1][j] + pair[0][j]) / 2.0).collect();
        reference.apply_gradients(&mut store, &[(Some(Gradient::Dense(&mean)), plain)]).unwrap();
        // Bias corrections count updates (iterations // 2), not calls.
        assert_eq!(values(&store, w), values(&store, plain));
        assert_eq!(acc.slot(w, "v").unwrap(), reference.slot(plain, "v").unwrap());
    }
}

#[test]
fn sparse_gradients_accumulate_as_their_dense_form() {
    let mut store = Store::new();
    let (s, d) = (
        store.insert(Tensor::new("s", vec![3, 2], vec![1.0; 6]).unwrap()),
        store.insert(Tensor::new("d", vec![3, 2], vec![1.0; 6]).unwrap()),
    );
    let stages = Stages { gradient_accumulation_steps: Some(2), loss_scale_factor: Some(4.0), ..Stages::default() };
    let (mut os, mut od) = (sgd(0.1, stages.clone()), sgd(0.1, stages));
    // Rows 2 and 0 (row 2 twice: summed first, as Keras densifies IndexedSlices).
    let steps: [(&[i64], [f32; 6]); 2] = [(&[2, 0, 2], [0.5, 1.0, 2.0, 3.0, 0.25, 0.125]), (&[1], [4.0, 8.0, 0.0, 0.0, 0.0, 0.0])];
    for (indices, v) in steps {
        let values = &v[..indices.len() * 2];
        os.apply_gradients(&mut store, &[(Some(Gradient::Sparse { indices, values }), s)]).unwrap();
        let mut dense = [0.0f32; 6];
        for (k, &r) in indices.iter().enumerate() {
            for j in 0..2 {
                dense[r as usize * 2 + j] += values[k * 2 + j] / 4.0;
            }
        }
        // The dense twin gets the unscaled sum times the scale (exact: powers of two).
        let scaled: Vec<f32> = dense.iter().map(|x| x * 4.0).collect();
        od.apply_gradients(&mut store, &[(Some(Gradient::Dense(&scaled)), d)]).unwrap();
    }
    assert_eq!(values(&store, s), values(&store, d));
    assert_ne!(values(&store, s), vec![1.0; 6]);
}

#[test]
fn ema_starts_at_the_variable_covers_every_variable_and_overwrites() {
    let mut store = Store::new();
    let (w, idle) = (var(&mut store, "w", &[1.0, 2.0]), var(&mut store, "idle", &[5.0]));
    let ema = Ema { momentum: 0.9, overwrite_frequency: Some(2) };
    let mut o = sgd(0.5, Stages { ema: Some(ema), ..Stages::default() });
    let g = [1.0f32, -1.0];
    o.apply_gradients(&mut store, &[(Some(Gradient::Dense(&g)), w), (None, idle)]).unwrap();
    // Step 1: μ = 0 while iterations == 0, so the averages are the variables.
    let w1 = [1.0f32 - 0.5, 2.0 + 0.5];
    assert_eq!(values(&store, w), w1.to_vec());
    assert_eq!(o.weight_names(), ["SGD/iter:0", "SGD/w/average:0", "SGD/idle/average:0"]);
    assert_eq!(o.weight(1).unwrap(), &w1);
    assert_eq!(o.weight(2).unwrap(), &[5.0]);
    // Step 2: avg = 0.9 avg + 0.1 var; (iterations + 1) % 2 == 0, so the variables take the
    // averages (which stay).
    o.apply_gradients(&mut store, &[(Some(Gradient::Dense(&g)), w), (None, idle)]).unwrap();
    let w2 = [w1[0] - 0.5, w1[1] + 0.5];
    let avg: Vec<f32> = (0..2).map(|j| 0.9f32 * w1[j] + (1.0 - 0.9f32) * w2[j]).collect();
    assert_eq!(o.weight(1).unwrap(), avg.as_slice());
    assert_eq!(values(&store, w), avg);
    assert_eq!(values(&store, idle), vec![0.9f32 * 5.0 + (1.0 - 0.9f32) * 5.0]);
}

#[test]
fn stage_options_are_checked() {
    let mut o = sgd(0.1, Stages::default());
    for bad in [
        Stages { gradient_accumulation_steps: Some(1), ..Stages::default() },
        Stages { loss_scale_factor: Some(f32::INFINITY), ..Stages::default() },
        Stages { weight_decay: Some(f32::NAN), ..Stages::default() },
        Stages { ema: Some(Ema { momentum: 1.5, overwrite_frequency: None }), ..Stages::default() },
        Stages { ema: Some(Ema { momentum: 0.5, overwrite_frequency: Some(0) }), ..Stages::default() },
    ] {
        assert!(o.set_stages(bad.clone()).is_err(), "{bad:?}");
        assert_eq!(o.stages(), &Stages::default());
    }
    // Once variables have slots the options are fixed.
    let mut store = Store::new();
    let w = var(&mut store, "w", &[1.0]);
    o.apply_gradients(&mut store, &[(Some(Gradient::Dense(&[1.0])), w)]).unwrap();
    assert!(o.set_stages(Stages { weight_decay: Some(0.1), ..Stages::default() }).is_err());
}

/// A weight decay schedule (simdopt extension) changes the value between steps, after slots.
#[test]
fn weight_decay_value_can_change_between_steps() {
    let mut store = Store::new();
    let w = var(&mut store, "w", &[1.0, -2.0]);
    let mut o = sgd(0.5, Stages { weight_decay: Some(0.1), ..Stages::default() });
    o.apply_gradients(&mut store, &[(Some(Gradient::Dense(&[0.0, 0.0])), w)]).unwrap();
    assert_eq!(values(&store, w), vec![1.0 - 0.1 * 0.5, -2.0 + 2.0 * 0.1 * 0.5]);
    o.set_weight_decay(Some(0.2)).unwrap();
    let before = values(&store, w);
    o.apply_gradients(&mut store, &[(Some(Gradient::Dense(&[0.0, 0.0])), w)]).unwrap();
    let want: Vec<f32> = before.iter().map(|&x| x - (x * 0.2f32) * 0.5f32).collect();
    assert_eq!(values(&store, w), want);
    // Not finite: refused, nothing changes.
    assert!(o.set_weight_decay(Some(f32::INFINITY)).is_err());
    assert_eq!(o.stages().weight_decay, Some(0.2));
    o.set_weight_decay(None).unwrap();
    assert_eq!(o.stages().weight_decay, None);
}
