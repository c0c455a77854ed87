//! `prepare_external`, the front half of a step for optimizers whose update runs outside the
//! core (custom optimizers in JavaScript): it must clip exactly as a built-in step does, refuse
//! what a step refuses, report non-finite gradients under the guard, and change nothing.

use simdopt_core::clip::Clip;
use simdopt_core::{build_optimizer, Error, Gradient, Optimizer, Store, Tensor, TensorId};

const LR: f32 = 0.1;

/// Variables w [2, 3], b [5], table [4, 3], and a gradient tensor for w.
fn world() -> (Store, [TensorId; 3], TensorId) {
    let mut store = Store::new();
    let mut t = |name: &str, shape: Vec<usize>| {
        let n = shape.iter().product();
        store.insert(Tensor::new(name, shape, (0..n).map(|i| i as f32 * 0.37 - 1.1).collect()).unwrap())
    };
    let vars = [t("w", vec![2, 3]), t("b", vec![5]), t("table", vec![4, 3])];
    let grad = t("grad", vec![2, 3]);
    (store, vars, grad)
}

fn sgd(clip: &[(&str, f32)]) -> Optimizer {
    let mut options = vec![("learning_rate", LR)];
    options.extend_from_slice(clip);
    build_optimizer("SGD", &options).unwrap()
}

const G_W: [f32; 6] = [3.0, -4.0, 0.5, 12.0, -0.25, 2.0];
const G_B: [f32; 5] = [0.1, -0.2, 0.3, -0.4, 0.5];
const ROWS: [f32; 6] = [1.0, -2.0, 3.0, 0.5, 0.5, -7.0];

fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

fn option(clip: &[(&str, f32)], key: &str) -> Option<f32> {
    clip.iter().find(|(k, _)| *k == key).map(|&(_, v)| v)
}

/// Sum of squares. The test values are chosen so that every sum is exact in f32 (multiples of
/// 1/16 of moderate size), so the order of the additions cannot matter.
fn sum_sq(x: &[f32]) -> f32 {
    let s: f64 = x.iter().map(|&v| (v as f64) * (v as f64)).sum();
    assert_eq!(s as f32 as f64, s, "test values must have exact sums");
    s as f32
}

/// Keras 2.4's clipping of the step's gradients, written here from TF's definitions and not from
/// the code under test: `clip_by_value` (`maximum(minimum(t, v), -v)`), then `clip_by_norm`
/// (`(t * c) / maximum(l2norm, c)`, `l2norm = sqrt(sum(t²))`, 0 for a zero gradient), then
/// `clip_by_global_norm` (`t * (c * minimum(1 / global_norm, 1 / c))`), each op in f32.
fn tf_clipped(clip: &[(&str, f32)], grads: &[&[f32]]) -> Vec<Vec<f32>> {
    let mut out: Vec<Vec<f32>> = grads.iter().map(|g| g.to_vec()).collect();
    if let Some(v) = option(clip, "clipvalue") {
        out.iter_mut().flatten().for_each(|x| *x = x.min(v).max(-v));
    }
    if let Some(c) = option(clip, "clipnorm") {
        for g in &mut out {
            let l2sum = sum_sq(g);
            let l2norm = if l2sum > 0.0 { l2sum.sqrt() } else { l2sum };
            g.iter_mut().for_each(|x| *x = (*x * c) / l2norm.max(c));
        }
    }
    if let Some(c) = option(clip, "global_clipnorm") {
        let norm = out.iter().map(|g| sum_sq(g)).sum::<f32>().sqrt();
        let scale = c * (1.0 / norm).min(1.0 / c);
        out.iter_mut().flatten().for_each(|x| *x *= scale);
    }
    out
}

#[test]
fn preludes_clip_as_a_built_in_step_does_and_nothing_changes() {
    // Each bound both below the gradients' norm (they are scaled) and above it (they are not).
    let clippings: &[&[(&str, f32)]] = &[
        &[],
        &[("clipvalue", 1.5)],
        &[("clipvalue", 100.0)],
        &[("clipnorm", 2.0)],
        &[("clipnorm", 64.0)],
        &[("clipvalue", 2.5), ("clipnorm", 1.0)],
        &[("global_clipnorm", 3.0)],
        &[("global_clipnorm", 64.0)],
        &[("clipvalue", 0.75), ("global_clipnorm", 0.5)],
    ];
    for clip in clippings {
        let (mut store, vars, _) = world();
        let pairs = [
            (Some(Gradient::Dense(&G_W)), vars[0]),
            (None, vars[1]),
            (Some(Gradient::Sparse { indices: &[3, 1], values: &ROWS }), vars[2]),
        ];
        let mut opt = sgd(clip);
        let before: Vec<Vec<u32>> = vars.iter().map(|v| bits(&store.get(*v).unwrap().data)).collect();
        let preludes = opt.prepare_external(&store, &pairs, None).unwrap().unwrap();
        assert_eq!(preludes.len(), 2, "{clip:?}: one prelude per gradient");
        if clip.is_empty() {
            assert!(preludes.iter().all(Clip::is_identity));
        }
        // Nothing changed: no variable, no slot, no iteration.
        let after: Vec<Vec<u32>> = vars.iter().map(|v| bits(&store.get(*v).unwrap().data)).collect();
        assert_eq!(before, after);
        assert_eq!((opt.iterations(), opt.weight_count()), (0, 1));

        // The preludes clip as TF does.
        let mut dense = G_W;
        preludes[0].apply_slice(&mut dense);
        let mut rows = ROWS;
        preludes[1].apply_slice(&mut rows);
        let expected = tf_clipped(clip, &[&G_W, &ROWS]);
        assert_eq!([bits(&dense), bits(&rows)], [bits(&expected[0]), bits(&expected[1])], "{clip:?}: preludes");
        let bound_below_norm = |k: &str, norm: f32| option(clip, k).is_some_and(|c| c < norm);
        let max_abs = G_W.iter().chain(&ROWS).fold(0.0f32, |m, x| m.max(x.abs()));
        let scaled =
            bound_below_norm("clipvalue", max_abs) || bound_below_norm("clipnorm", 13.0) || bound_below_norm("global_clipnorm", 15.0);
        assert_eq!(bits(&expected[0]) != bits(&G_W) || bits(&expected[1]) != bits(&ROWS), scaled, "{clip:?}: clipped iff a bound is below");

        // Then SGD's `var - lr * g` with TF's clipped gradients: the built-in step's bits.
        let (dense, rows) = (&expected[0], &expected[1]);
        let mut w = store.get(vars[0]).unwrap().data.clone();
        for (x, g) in w.iter_mut().zip(dense) {
            *x -= LR * g;
        }
        let mut table = store.get(vars[2]).unwrap().data.clone();
        for (k, row) in [3usize, 1].into_iter().enumerate() {
            for j in 0..3 {
                table[row * 3 + j] -= LR * rows[k * 3 + j];
            }
        }
        opt.apply_gradients(&mut store, &pairs).unwrap();
        assert_eq!(bits(&store.get(vars[0]).unwrap().data), bits(&w), "{clip:?}: dense");
        assert_eq!(bits(&store.get(vars[2]).unwrap().data), bits(&table), "{clip:?}: sparse");
    }
}

#[test]
fn a_gradient_tensor_gets_the_prelude_of_the_same_values() {
    let (mut store, vars, grad) = world();
    store.get_mut(grad).unwrap().data.copy_from_slice(&G_W);
    let mut opt = sgd(&[("clipnorm", 2.0)]);
    let from_tensor = opt.prepare_external(&store, &[(Some(Gradient::Tensor(grad)), vars[0])], None).unwrap().unwrap();
    let from_slice = opt.prepare_external(&store, &[(Some(Gradient::Dense(&G_W)), vars[0])], None).unwrap().unwrap();
    assert_eq!(from_tensor, from_slice);
    assert_eq!(from_tensor[0].mul, 2.0);
}

#[test]
fn refuses_what_a_step_refuses() {
    let (store, vars, _) = world();
    let mut opt = sgd(&[("clipnorm", 1.0)]);
    let err = opt.prepare_external(&store, &[(Some(Gradient::Dense(&G_W[..5])), vars[0])], None).unwrap_err();
    assert!(matches!(err, Error::GradientShape { expected: 6, got: 5, .. }), "{err:?}");
    let err = opt.prepare_external(&store, &[(Some(Gradient::Sparse { indices: &[4], values: &ROWS[..3] }), vars[2])], None).unwrap_err();
    assert!(matches!(err, Error::IndexOutOfRange { index: 4, rows: 4, .. }), "{err:?}");
    let err = opt.prepare_external(&store, &[(None, vars[0]), (None, vars[1])], None).unwrap_err();
    assert!(err.to_string().starts_with("No gradients provided for any variable"), "{err}");
    let err =
        opt.prepare_external(&store, &[(Some(Gradient::Dense(&G_W)), vars[0]), (Some(Gradient::Dense(&G_W)), vars[0])], None).unwrap_err();
    assert_eq!(err.code(), "DuplicateVariable");
    // An empty call is no step: no preludes, no error (the caller applies nothing).
    assert_eq!(opt.prepare_external(&store, &[], None).unwrap(), Some(Vec::new()));
    assert_eq!(opt.iterations(), 0);
}

#[test]
fn the_guard_reports_non_finite_gradients_by_position() {
    let (store, vars, _) = world();
    let mut opt = sgd(&[]);
    let mut bad_b = G_B;
    bad_b[3] = f32::NAN;
    let mut bad_rows = ROWS;
    bad_rows[5] = f32::NEG_INFINITY;
    let pairs = [
        (Some(Gradient::Dense(&G_W)), vars[0]),
        (Some(Gradient::Dense(&bad_b)), vars[1]),
        (Some(Gradient::Sparse { indices: &[0, 2], values: &bad_rows }), vars[2]),
    ];
    let mut guard = vec![99];
    assert_eq!(opt.prepare_external(&store, &pairs, Some(&mut guard)).unwrap(), None);
    assert_eq!(guard, vec![1, 2]);
    // Finite gradients pass the guard, which is left empty.
    let fine = [(Some(Gradient::Dense(&G_W)), vars[0])];
    assert_eq!(opt.prepare_external(&store, &fine, Some(&mut guard)).unwrap().map(|p| p.len()), Some(1));
    assert!(guard.is_empty());
    // Without the guard, non-finite values go through (Keras propagates them).
    assert!(opt.prepare_external(&store, &pairs, None).unwrap().is_some());
}
