//! Property: for every optimizer, the native wide lanes (`lanes::Wide`, 8-wide arrays) give the
//! same bits as a pure scalar run (`lanes::force_scalar`, from the `scalar-hook` feature), for
//! random shapes (empty, single element, odd tails), values, dense and sparse gradients.

use proptest::prelude::*;
use simdopt_core::{build_optimizer_in, lanes, registry, Family, Gradient, Store, Tensor};

/// (Keras class, options) of every kernel variant.
/// Option variants besides each registry class with its defaults (and learning rate 0.1).
/// (TF 2.4 classes.)
const VARIANTS: &[(&str, &[(&str, f32)])] = &[
    ("SGD", &[("learning_rate", 0.1)]),
    ("SGD", &[("learning_rate", 0.1), ("momentum", 0.9), ("nesterov", 1.0)]),
    ("SGD", &[("learning_rate", 0.1), ("momentum", 0.5), ("clipnorm", 0.7), ("clipvalue", 0.4)]),
    ("Adam", &[("learning_rate", 0.1)]),
    ("Adam", &[("learning_rate", 0.1), ("amsgrad", 1.0), ("global_clipnorm", 1.0)]),
    ("RMSprop", &[("learning_rate", 0.1)]),
    ("RMSprop", &[("learning_rate", 0.1), ("centered", 1.0)]),
    ("RMSprop", &[("learning_rate", 0.1), ("momentum", 0.9)]),
    ("RMSprop", &[("learning_rate", 0.1), ("momentum", 0.5), ("centered", 1.0), ("epsilon", 1e-3)]),
    ("Adagrad", &[("learning_rate", 0.1)]),
    ("Adagrad", &[("learning_rate", 0.1), ("initial_accumulator_value", 0.0), ("clipvalue", 0.3)]),
    ("Adadelta", &[("learning_rate", 1.0)]),
    ("Adamax", &[("learning_rate", 0.1)]),
    ("Nadam", &[("learning_rate", 0.1)]),
    ("Nadam", &[("learning_rate", 0.1), ("decay", 0.2), ("clipnorm", 1.0)]),
    ("Ftrl", &[("learning_rate", 0.1)]),
    ("Ftrl", &[("learning_rate", 0.1), ("l1_regularization_strength", 0.01), ("l2_regularization_strength", 0.1), ("beta", 0.5)]),
    ("Ftrl", &[("learning_rate", 0.1), ("l2_shrinkage_regularization_strength", 0.05), ("l1_regularization_strength", 0.001)]),
    ("Ftrl", &[("learning_rate", 0.1), ("learning_rate_power", -0.7), ("l2_shrinkage_regularization_strength", 0.01)]),
    ("Ftrl", &[("learning_rate", 0.05), ("learning_rate_power", 0.0), ("decay", 0.3)]),
];

/// (family, class, options).
type Config = (Family, &'static str, &'static [(&'static str, f32)]);

/// Every class of the registry (learning rate 0.1), then [`VARIANTS`].
fn configs() -> Vec<Config> {
    let lr: &'static [(&'static str, f32)] = &[("learning_rate", 0.1)];
    let variants = VARIANTS.iter().map(|&(class, options)| (Family::Tf24, class, options));
    registry::CLASSES.iter().map(|c| (c.family, c.class_name, lr)).chain(variants).collect()
}

/// One step's gradient: dense values, or sparse (row indices, values row-major).
#[derive(Clone, Debug)]
enum Grad {
    Dense(Vec<f32>),
    Sparse(Vec<i64>, Vec<f32>),
}

/// Values with varied magnitudes, exact zeros and both signs.
fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        1 => Just(0.0f32),
        6 => (-1.0f32..1.0, -4i32..2).prop_map(|(m, e)| m * 10f32.powi(e)),
    ]
}

fn grad(rows: usize, row_len: usize) -> impl Strategy<Value = Grad> {
    let dense = prop::collection::vec(value(), rows * row_len).prop_map(Grad::Dense);
    if rows == 0 {
        return dense.boxed();
    }
    let sparse = prop::collection::vec(0..rows as i64, 0..=rows + 3)
        .prop_flat_map(move |idx| {
            let n = idx.len() * row_len;
            (Just(idx), prop::collection::vec(value(), n))
        })
        .prop_map(|(idx, v)| Grad::Sparse(idx, v));
    prop_oneof![dense, sparse].boxed()
}

/// A case: a config, a `[rows, row_len]` variable, its initial values and three steps.
fn case() -> impl Strategy<Value = (usize, usize, usize, Vec<f32>, Vec<Grad>)> {
    (0..configs().len(), 0usize..7, prop_oneof![Just(1usize), 1usize..20, Just(8), Just(16), Just(9)]).prop_flat_map(
        |(c, rows, row_len)| {
            (
                Just(c),
                Just(rows),
                Just(row_len),
                prop::collection::vec(value(), rows * row_len),
                prop::collection::vec(grad(rows, row_len), 3),
            )
        },
    )
}

/// Bits of the variable and every weight after each step.
fn run(config: usize, rows: usize, row_len: usize, initial: &[f32], grads: &[Grad], scalar: bool) -> Vec<Vec<u32>> {
    lanes::force_scalar(scalar);
    let (family, class, options) = configs()[config];
    let mut opt = build_optimizer_in(family, class, options).unwrap();
    let mut store = Store::new();
    let v = store.insert(Tensor::new("v", vec![rows, row_len], initial.to_vec()).unwrap());
    let mut out = Vec::new();
    for g in grads {
        let g = match g {
            Grad::Dense(d) => Gradient::Dense(d),
            Grad::Sparse(indices, values) => Gradient::Sparse { indices, values },
        };
        opt.apply_gradients(&mut store, &[(Some(g), v)]).unwrap();
        out.push(store.get(v).unwrap().data.iter().map(|x| x.to_bits()).collect());
        for k in 1..opt.weight_count() {
            out.push(opt.weight(k).unwrap().iter().map(|x| x.to_bits()).collect());
        }
    }
    lanes::force_scalar(false);
    out
}

/// NaN payloads aside, the bits must be equal.
fn same(a: &[Vec<u32>], b: &[Vec<u32>]) -> bool {
    let nan = |x: u32| f32::from_bits(x).is_nan();
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.len() == y.len() && x.iter().zip(y).all(|(&p, &q)| p == q || (nan(p) && nan(q))))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn wide_lanes_equal_scalar((config, rows, row_len, initial, grads) in case()) {
        let wide = run(config, rows, row_len, &initial, &grads, false);
        let scalar = run(config, rows, row_len, &initial, &grads, true);
        prop_assert!(same(&wide, &scalar), "{:?}: wide and scalar lanes differ", configs()[config]);
    }
}

/// Every configuration at least once on a shape with a wide body and a tail, dense and sparse.
#[test]
fn every_config_wide_equals_scalar() {
    let (rows, row_len) = (5, 11);
    let initial: Vec<f32> = (0..rows * row_len).map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.13).collect();
    let dense: Vec<f32> = (0..rows * row_len).map(|i| ((i * 29 % 17) as f32 - 8.0) * 0.07).collect();
    let sparse = Grad::Sparse(vec![3, 0, 3], dense[..3 * row_len].to_vec());
    let grads = [Grad::Dense(dense.clone()), sparse, Grad::Dense(dense)];
    for (config, c) in configs().iter().enumerate() {
        let wide = run(config, rows, row_len, &initial, &grads, false);
        let scalar = run(config, rows, row_len, &initial, &grads, true);
        assert!(same(&wide, &scalar), "{:?}", c);
        // The steps did move the variable.
        assert_ne!(wide[0], initial.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), "{:?}", c);
    }
}

/// The hook does what it says: with it, the driver steps one element at a time.
#[test]
fn force_scalar_makes_the_driver_scalar() {
    use simdopt_core::clip::Identity;
    use simdopt_core::drive::{self, LaneKernel};
    use std::sync::Mutex;
    // A Mutex, not a RefCell: kernels are `Sync` (the threads build shares them with workers);
    // behind a reference: kernels are `Copy` (the threads build runs each range on a copy).
    #[derive(Clone, Copy)]
    struct Widths<'a>(&'a Mutex<Vec<usize>>);
    impl LaneKernel<0> for Widths<'_> {
        fn lanes<L: lanes::Lanes>(&self, x: L, _g: L, s: [L; 0]) -> (L, [L; 0]) {
            self.0.lock().unwrap().push(L::WIDTH);
            (x, s)
        }
    }
    let widths = Mutex::new(Vec::new());
    let k = Widths(&widths);
    let (mut var, grad) = ([0.0f32; 19], [0.0f32; 19]);
    drive::update(Identity, &k, &mut var, &grad, []);
    assert_eq!(*k.0.lock().unwrap(), [8, 8, 1, 1, 1]);
    k.0.lock().unwrap().clear();
    lanes::force_scalar(true);
    drive::update(Identity, &k, &mut var, &grad, []);
    lanes::force_scalar(false);
    assert_eq!(*k.0.lock().unwrap(), [1; 19]);
}
