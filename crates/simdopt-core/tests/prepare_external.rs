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

#[test]
fn preludes_clip_as_a_built_in_step_does_and_nothing_changes() {
    let clippings: &[&[(&str, f32)]] = &[
        &[],
        &[("clipvalue", 1.5)],
        &[("clipnorm", 2.0)],
        &[("clipvalue", 2.5), ("clipnorm", 1.0)],
        &[("global_clipnorm", 3.0)],
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
        } else {
            assert!(preludes.iter().any(|p| !p.is_identity()), "{clip:?}: these gradients are clipped");
        }
        // Nothing changed: no variable, no slot, no iteration.
        let after: Vec<Vec<u32>> = vars.iter().map(|v| bits(&store.get(*v).unwrap().data)).collect();
        assert_eq!(before, after);
        assert_eq!((opt.iterations(), opt.weight_count()), (0, 1));

        // The preludes, applied by hand, then SGD's `var - lr * g`: the built-in step's bits.
        let mut dense = G_W;
        preludes[0].apply_slice(&mut dense);
        let mut rows = ROWS;
        preludes[1].apply_slice(&mut rows);
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
