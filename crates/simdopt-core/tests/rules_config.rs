//! Construction of the optimizers through `build_optimizer`: Keras' defaults, validation
//! messages and weight layouts (the numbers themselves are checked against TF in `tf_fixtures`).

use simdopt_core::{build_optimizer, Error, Gradient, Store, Tensor};

fn reason(class: &str, options: &[(&str, f32)]) -> String {
    match build_optimizer(class, options) {
        Err(Error::InvalidHyperparameter { reason, .. }) => reason,
        Err(e) => panic!("{class} {options:?}: unexpected error {e}"),
        Ok(_) => panic!("{class} {options:?}: accepted"),
    }
}

#[test]
fn keras_validation_messages() {
    assert_eq!(reason("Adagrad", &[("initial_accumulator_value", -0.1)]), "initial_accumulator_value must be non-negative: -0.1");
    assert_eq!(reason("Adagrad", &[("initial_accumulator_value", -1.0)]), "initial_accumulator_value must be non-negative: -1.0");
    assert_eq!(reason("Ftrl", &[("initial_accumulator_value", -0.1)]), "initial_accumulator_value -0.100000 needs to be positive or zero");
    assert_eq!(reason("Ftrl", &[("learning_rate_power", 0.5)]), "learning_rate_power 0.500000 needs to be negative or zero");
    assert_eq!(
        reason("Ftrl", &[("l1_regularization_strength", -1.0)]),
        "l1_regularization_strength -1.000000 needs to be positive or zero"
    );
    assert_eq!(
        reason("Ftrl", &[("l2_regularization_strength", -1.0)]),
        "l2_regularization_strength -1.000000 needs to be positive or zero"
    );
    assert_eq!(
        reason("Ftrl", &[("l2_shrinkage_regularization_strength", -1.0)]),
        "l2_shrinkage_regularization_strength -1.000000 needs to be positive or zero"
    );
    assert_eq!(reason("RMSprop", &[("momentum", 1.5)]), "`momentum` must be between [0, 1].");
    assert_eq!(reason("RMSprop", &[("momentum", -0.1)]), "`momentum` must be between [0, 1].");
    // Not validated by Keras.
    for (class, key, v) in [("Ftrl", "beta", -1.0), ("Adadelta", "rho", 2.0), ("Adamax", "beta_1", 1.5), ("Nadam", "beta_2", -1.0)] {
        assert!(build_optimizer(class, &[(key, v)]).is_ok(), "{class} {key}");
    }
    // A failed set_hyper changes nothing.
    let mut opt = build_optimizer("Ftrl", &[]).unwrap();
    assert!(opt.set_hyper("learning_rate_power", 0.1).is_err());
    assert_eq!(opt.hyper("learning_rate_power").unwrap(), -0.5);
}

#[test]
fn keras_defaults() {
    let expect: &[(&str, &[(&str, f32)])] = &[
        ("RMSprop", &[("learning_rate", 0.001), ("decay", 0.0), ("rho", 0.9), ("momentum", 0.0), ("epsilon", 1e-7)]),
        ("Adagrad", &[("learning_rate", 0.001), ("decay", 0.0), ("initial_accumulator_value", 0.1), ("epsilon", 1e-7)]),
        ("Adadelta", &[("learning_rate", 0.001), ("decay", 0.0), ("rho", 0.95), ("epsilon", 1e-7)]),
        ("Adamax", &[("learning_rate", 0.001), ("decay", 0.0), ("beta_1", 0.9), ("beta_2", 0.999), ("epsilon", 1e-7)]),
        ("Nadam", &[("learning_rate", 0.001), ("decay", 0.004), ("beta_1", 0.9), ("beta_2", 0.999), ("epsilon", 1e-7)]),
        (
            "Ftrl",
            &[
                ("learning_rate", 0.001),
                ("decay", 0.0),
                ("initial_accumulator_value", 0.1),
                ("learning_rate_power", -0.5),
                ("l1_regularization_strength", 0.0),
                ("l2_regularization_strength", 0.0),
                ("beta", 0.0),
                ("l2_shrinkage_regularization_strength", 0.0),
            ],
        ),
    ];
    for (class, hypers) in expect {
        let opt = build_optimizer(class, &[]).unwrap();
        assert_eq!(opt.class_name(), *class);
        assert_eq!(opt.hyper_names(), hypers.iter().map(|h| h.0).collect::<Vec<_>>(), "{class}");
        for (k, v) in *hypers {
            assert_eq!(opt.hyper(k).unwrap(), *v, "{class} {k}");
        }
    }
}

#[test]
fn epsilon_zero_becomes_keras_epsilon() {
    for class in ["RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam"] {
        let mut opt = build_optimizer(class, &[("epsilon", 0.0)]).unwrap();
        assert_eq!(opt.hyper("epsilon").unwrap(), 1e-7, "{class}");
        opt.set_hyper("epsilon", 0.5).unwrap();
        opt.set_hyper("epsilon", 0.0).unwrap();
        assert_eq!(opt.hyper("epsilon").unwrap(), 1e-7, "{class}");
    }
}

#[test]
fn nadam_decay_is_its_schedule_decay() {
    let opt = build_optimizer("Nadam", &[("decay", 0.2)]).unwrap();
    assert_eq!(opt.hyper("decay").unwrap(), 0.2);
    let opt = build_optimizer("Nadam", &[("schedule_decay", 0.3), ("decay", 0.2)]).unwrap();
    assert_eq!(opt.hyper("decay").unwrap(), 0.3);
}

/// Slot names and weight order, e.g. Keras' test: RMSprop with 2 variables has 3, 5 or 7 weights.
#[test]
fn weight_layouts() {
    type Layout = (&'static str, &'static [(&'static str, f32)], &'static [&'static str]);
    let layouts: &[Layout] = &[
        ("RMSprop", &[], &["iter", "a/rms", "b/rms"]),
        ("RMSprop", &[("momentum", 0.5)], &["iter", "a/rms", "b/rms", "a/momentum", "b/momentum"]),
        ("RMSprop", &[("momentum", 0.5), ("centered", 1.0)], &["iter", "a/rms", "b/rms", "a/momentum", "b/momentum", "a/mg", "b/mg"]),
        ("RMSprop", &[("centered", 1.0)], &["iter", "a/rms", "b/rms", "a/mg", "b/mg"]),
        ("Adagrad", &[], &["iter", "a/accumulator", "b/accumulator"]),
        ("Adadelta", &[], &["iter", "a/accum_grad", "b/accum_grad", "a/accum_var", "b/accum_var"]),
        ("Adamax", &[], &["iter", "a/m", "b/m", "a/v", "b/v"]),
        ("Nadam", &[], &["iter", "momentum_cache", "a/m", "b/m", "a/v", "b/v"]),
        ("Ftrl", &[], &["iter", "a/accumulator", "a/linear", "b/accumulator", "b/linear"]),
    ];
    for (class, options, names) in layouts {
        let mut store = Store::new();
        let a = store.insert(Tensor::new("a", vec![3], vec![1.0, 2.0, 3.0]).unwrap());
        let b = store.insert(Tensor::new("b", vec![2, 2], vec![1.0; 4]).unwrap());
        let mut opt = build_optimizer(class, options).unwrap();
        let (ga, gb) = ([0.1f32, 0.2, 0.3], [0.5f32; 2]);
        opt.apply_gradients(&mut store, &[(Some(Gradient::Dense(&ga)), a), (Some(Gradient::Sparse { indices: &[1], values: &gb }), b)])
            .unwrap();
        let expected: Vec<String> = names.iter().map(|n| format!("{class}/{n}:0")).collect();
        assert_eq!(opt.weight_names(), expected, "{class} {options:?}");
    }
}

/// Adagrad's and Ftrl's initial accumulator value applies to slots created after it is set.
#[test]
fn initial_accumulator_value_applies_to_new_slots() {
    for class in ["Adagrad", "Ftrl"] {
        let mut store = Store::new();
        let a = store.insert(Tensor::new("a", vec![2], vec![1.0, 2.0]).unwrap());
        let b = store.insert(Tensor::new("b", vec![2], vec![1.0, 2.0]).unwrap());
        let mut opt = build_optimizer(class, &[("initial_accumulator_value", 0.5)]).unwrap();
        let zero = [0.0f32; 2];
        opt.apply_gradients(&mut store, &[(Some(Gradient::Dense(&zero)), a)]).unwrap();
        opt.set_hyper("initial_accumulator_value", 2.0).unwrap();
        opt.apply_gradients(&mut store, &[(Some(Gradient::Dense(&zero)), b)]).unwrap();
        assert_eq!(opt.slot(a, "accumulator").unwrap(), [0.5, 0.5], "{class}");
        assert_eq!(opt.slot(b, "accumulator").unwrap(), [2.0, 2.0], "{class}");
    }
}

/// Nadam ignores the legacy learning-rate decay: its `decay` only shapes the momentum schedule.
#[test]
fn nadam_momentum_cache_advances() {
    let mut store = Store::new();
    let a = store.insert(Tensor::new("a", vec![1], vec![10.0]).unwrap());
    let mut opt = build_optimizer("Nadam", &[("learning_rate", 0.2)]).unwrap();
    opt.apply_gradients(&mut store, &[(Some(Gradient::Dense(&[10.0])), a)]).unwrap();
    // Keras' docstring: Nadam(0.2) moves 10 to "9.8" (exactly 9.78871).
    assert!((store.get(a).unwrap().data[0] - 9.78871).abs() < 1e-5);
    let mu_1 = 0.9f32 * (1.0 - 0.5 * 0.96f32.powf(0.004));
    assert_eq!(opt.weight(1).unwrap(), [mu_1]);
}
