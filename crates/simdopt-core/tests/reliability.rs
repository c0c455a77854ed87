//! Property: bad input to `apply_gradients`, `apply_gradients_checked`, `set_weights`,
//! `set_hyper`, `set_clipping` and `create_slots_for` returns an `Err` (of the kind that names
//! the problem) and leaves the store and the optimizer (iterations, weights as bits, weight names,
//! hyperparameters, clipping, slot layout) exactly as they were; a guarded step with a non-finite
//! gradient is skipped without changing anything.

use proptest::prelude::*;
use simdopt_core::{build_optimizer_in, registry, Clipping, Error, Family, Gradient, Optimizer, Store, Tensor, TensorId};

/// Option variants besides each registry class with its defaults (and learning rate 0.1).
/// (TF 2.4 classes.)
const VARIANTS: &[(&str, &[(&str, f32)])] = &[
    ("SGD", &[("learning_rate", 0.1)]),
    ("SGD", &[("learning_rate", 0.1), ("momentum", 0.9), ("nesterov", 1.0)]),
    ("RMSprop", &[("learning_rate", 0.1), ("momentum", 0.5), ("centered", 1.0)]),
    ("RMSprop", &[("learning_rate", 0.1)]),
    ("Adam", &[("learning_rate", 0.1), ("amsgrad", 1.0), ("clipnorm", 1.0)]),
    ("Adagrad", &[("learning_rate", 0.1)]),
    ("Adadelta", &[("learning_rate", 1.0)]),
    ("Adamax", &[("learning_rate", 0.1), ("global_clipnorm", 1.0)]),
    ("Nadam", &[("learning_rate", 0.1)]),
    ("Ftrl", &[("learning_rate", 0.1), ("l1_regularization_strength", 0.01), ("l2_shrinkage_regularization_strength", 0.05)]),
];

/// (family, class, options).
type Config = (Family, &'static str, &'static [(&'static str, f32)]);

/// Every class of the registry (learning rate 0.1), then [`VARIANTS`].
fn configs() -> Vec<Config> {
    let lr: &'static [(&'static str, f32)] = &[("learning_rate", 0.1)];
    let variants = VARIANTS.iter().map(|&(class, options)| (Family::Tf24, class, options));
    registry::CLASSES.iter().map(|c| (c.family, c.class_name, lr)).chain(variants).collect()
}

/// Weight `i` as f32 values (int32 weights, Adafactor's placeholders, converted).
fn weight_values(opt: &Optimizer, i: usize) -> Vec<f32> {
    match opt.weight(i) {
        Some(w) => w.to_vec(),
        None => opt.weight_i32(i).unwrap().iter().map(|&x| x as f32).collect(),
    }
}

struct World {
    store: Store,
    opt: Optimizer,
    /// w [2, 3], b [5], s [] (scalar), table [4, 3].
    vars: [TensorId; 4],
    grad: TensorId,
    /// A handle that was disposed.
    gone: TensorId,
}

fn world(config: usize) -> World {
    let (family, class, options) = configs()[config % configs().len()];
    let mut store = Store::new();
    let mut t = |name: &str, shape: Vec<usize>| {
        let n = shape.iter().product();
        store.insert(Tensor::new(name, shape, (0..n).map(|i| i as f32 * 0.25 - 1.0).collect()).unwrap())
    };
    let vars = [t("w", vec![2, 3]), t("b", vec![5]), t("s", vec![]), t("table", vec![4, 3])];
    let grad = t("grad", vec![2, 3]);
    let gone = t("gone", vec![2, 3]);
    store.remove(gone).unwrap();
    let mut opt = build_optimizer_in(family, class, options).unwrap();
    let g6 = [0.1f32, -0.2, 0.3, -0.4, 0.5, -0.6];
    let rows = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
    opt.apply_gradients(
        &mut store,
        &[
            (Some(Gradient::Tensor(grad)), vars[0]),
            (Some(Gradient::Dense(&[1.0, 2.0, 3.0, 4.0, 5.0])), vars[1]),
            (Some(Gradient::Dense(&[0.5])), vars[2]),
            (Some(Gradient::Sparse { indices: &[3, 0], values: &rows }), vars[3]),
        ],
    )
    .unwrap();
    opt.apply_gradients(&mut store, &[(Some(Gradient::Dense(&g6)), vars[0])]).unwrap();
    World { store, opt, vars, grad, gone }
}

/// Everything observable, bits included.
fn observe(w: &World) -> String {
    let tensors: Vec<String> = w
        .vars
        .iter()
        .chain([&w.grad])
        .map(|id| {
            let t = w.store.get(*id).unwrap();
            format!("{} {:?} {:?}", t.name, t.shape, t.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>())
        })
        .collect();
    let o = &w.opt;
    let bits = |i: usize| match o.weight(i) {
        Some(w) => w.iter().map(|x| x.to_bits()).collect(),
        None => o.weight_i32(i).unwrap().iter().map(|&x| x as u32).collect(),
    };
    let weights: Vec<Vec<u32>> = (1..o.weight_count()).map(bits).collect();
    let hypers: Vec<(String, u32)> = o.hyper_names().iter().map(|n| (n.to_string(), o.hyper(n).unwrap().to_bits())).collect();
    format!(
        "{tensors:?}|{}|{:?}|{weights:?}|{hypers:?}|{:?}|{:?}|{:?}|{}",
        o.iterations(),
        o.weight_names(),
        o.clipping(),
        o.slot_batches(),
        o.slot_variables().collect::<Vec<_>>(),
        w.store.len()
    )
}

/// One bad call.
#[derive(Clone, Debug)]
enum Bad {
    DenseLen { var: usize, len: usize },
    SparseIndex { good: Vec<i64>, bad: i64, at: usize },
    SparseValues { idx: Vec<i64>, len: usize },
    SparseScalar { n: usize },
    Unknown { as_grad: bool, never_existed: bool },
    Duplicate { a: u8, b: u8 },
    AllNone { n: usize },
    SelfGradient,
    WeightCount { n: usize },
    WeightLen { k: usize, len: usize },
    Hyper { k: usize, value: f32 },
    UnknownHyper { name: String },
    Clip { which: usize, value: f32 },
    BothNorms,
    SlotsFor { dup: bool },
    NonFinite { var: usize, value: f32, at: usize },
}

fn special() -> impl Strategy<Value = f32> {
    prop_oneof![Just(f32::NAN), Just(f32::INFINITY), Just(f32::NEG_INFINITY), Just(-f32::NAN)]
}

fn bad() -> impl Strategy<Value = Bad> {
    prop_oneof![
        (0usize..4, 0usize..40).prop_map(|(var, len)| Bad::DenseLen { var, len }),
        (prop::collection::vec(0i64..4, 0..5), prop_oneof![4i64..i64::MAX, i64::MIN..0], 0usize..6)
            .prop_map(|(good, bad, at)| Bad::SparseIndex { good, bad, at }),
        (prop::collection::vec(0i64..4, 0..5), 0usize..20).prop_map(|(idx, len)| Bad::SparseValues { idx, len }),
        (0usize..4).prop_map(|n| Bad::SparseScalar { n }),
        (any::<bool>(), any::<bool>()).prop_map(|(as_grad, never_existed)| Bad::Unknown { as_grad, never_existed }),
        (0u8..4, 0u8..4).prop_map(|(a, b)| Bad::Duplicate { a, b }),
        (1usize..5).prop_map(|n| Bad::AllNone { n }),
        Just(Bad::SelfGradient),
        (0usize..12).prop_map(|n| Bad::WeightCount { n }),
        (0usize..16, 0usize..20).prop_map(|(k, len)| Bad::WeightLen { k, len }),
        (0usize..8, prop_oneof![special(), any::<f32>(), Just(-1.0f32), Just(2.0f32), Just(f32::MAX)])
            .prop_map(|(k, value)| Bad::Hyper { k, value }),
        "[a-z_0-9]{0,12}".prop_map(|name| Bad::UnknownHyper { name }),
        (0usize..3, prop_oneof![Just(f32::NAN), -1e30f32..-1e-30, Just(-0.5f32)]).prop_map(|(which, value)| Bad::Clip { which, value }),
        Just(Bad::BothNorms),
        any::<bool>().prop_map(|dup| Bad::SlotsFor { dup }),
        (0usize..4, special(), 0usize..3).prop_map(|(var, value, at)| Bad::NonFinite { var, value, at }),
    ]
}

/// Runs a bad call; returns `Ok(true)` if it had to fail and did, `Ok(false)` if it was allowed
/// to succeed and did (then the state may have changed).
fn run(w: &mut World, bad: &Bad) -> Result<bool, String> {
    let [wv, b, s, table] = w.vars;
    let ones = vec![0.5f32; 64];
    let row = [1.0f32, 1.0, 1.0];
    // Valid pairs around the bad one, so a partial update would show.
    let b_pair = (Some(Gradient::Dense(&ones[..5])), b);
    let t_pair = (Some(Gradient::Sparse { indices: &[1], values: &row }), table);
    let expect_err = |r: simdopt_core::Result<()>, ok: fn(&Error) -> bool| match r {
        Err(e) if ok(&e) => Ok(true),
        Err(e) => Err(format!("{bad:?}: wrong error {e:?}")),
        Ok(()) => Err(format!("{bad:?}: accepted")),
    };
    let sizes = [6usize, 5, 1, 12];
    match bad {
        Bad::DenseLen { var, len } => {
            let len = if *len == sizes[*var] { len + 1 } else { *len };
            let g = vec![0.25f32; len];
            let pairs = [(Some(Gradient::Dense(&g)), w.vars[*var]), if *var == 1 { t_pair } else { b_pair }];
            expect_err(w.opt.apply_gradients(&mut w.store, &pairs), |e| matches!(e, Error::GradientShape { .. }))
        }
        Bad::SparseIndex { good, bad: ix, at } => {
            let mut idx = good.clone();
            idx.insert(at % (idx.len() + 1), *ix);
            let v = vec![1.0f32; idx.len() * 3];
            let pairs = [b_pair, (Some(Gradient::Sparse { indices: &idx, values: &v }), table)];
            expect_err(w.opt.apply_gradients(&mut w.store, &pairs), |e| matches!(e, Error::IndexOutOfRange { .. }))
        }
        Bad::SparseValues { idx, len } => {
            let len = if *len == idx.len() * 3 { len + 1 } else { *len };
            let v = vec![1.0f32; len];
            let pairs = [(Some(Gradient::Sparse { indices: idx, values: &v }), table), b_pair];
            expect_err(w.opt.apply_gradients(&mut w.store, &pairs), |e| matches!(e, Error::GradientShape { .. }))
        }
        Bad::SparseScalar { n } => {
            let idx = vec![0i64; *n];
            let v = vec![1.0f32; *n];
            expect_err(w.opt.apply_gradients(&mut w.store, &[b_pair, (Some(Gradient::Sparse { indices: &idx, values: &v }), s)]), |e| {
                matches!(e, Error::SparseScalar { .. })
            })
        }
        Bad::Unknown { as_grad, never_existed } => {
            let id = if *never_existed { TensorId::from_parts(9999, 1) } else { w.gone };
            let pairs =
                if *as_grad { [b_pair, (Some(Gradient::Tensor(id)), wv)] } else { [b_pair, (Some(Gradient::Dense(&ones[..6])), id)] };
            expect_err(w.opt.apply_gradients(&mut w.store, &pairs), |e| matches!(e, Error::UnknownTensor { .. }))
        }
        Bad::Duplicate { a, b: bb } => {
            let g = |k: u8| match k {
                0 => None,
                1 => Some(Gradient::Dense(&ones[..6])),
                2 => Some(Gradient::Tensor(w.grad)),
                _ => Some(Gradient::Sparse { indices: &[0], values: &row }),
            };
            let pairs = [(g(*a), wv), b_pair, (g(*bb), wv)];
            expect_err(w.opt.apply_gradients(&mut w.store, &pairs), |e| matches!(e, Error::DuplicateVariable { .. }))
        }
        Bad::AllNone { n } => {
            let pairs: Vec<_> = w.vars.iter().take(*n).map(|v| (None, *v)).collect();
            expect_err(w.opt.apply_gradients(&mut w.store, &pairs), |e| matches!(e, Error::InvalidState { .. }))
        }
        Bad::SelfGradient => expect_err(w.opt.apply_gradients(&mut w.store, &[b_pair, (Some(Gradient::Tensor(wv)), wv)]), |e| {
            matches!(e, Error::InvalidState { .. })
        }),
        Bad::WeightCount { n } => {
            let n = if *n + 1 == w.opt.weight_count() { n + 1 } else { *n };
            let ws: Vec<&[f32]> = (0..n).map(|_| &ones[..1]).collect();
            expect_err(w.opt.set_weights(7, &ws), |e| matches!(e, Error::WeightCount { .. }))
        }
        Bad::WeightLen { k, len } => {
            let count = w.opt.weight_count() - 1;
            if count == 0 {
                return Ok(false);
            }
            let k = k % count;
            let mut ws: Vec<Vec<f32>> = (1..=count).map(|i| weight_values(&w.opt, i).iter().map(|x| x + 1.0).collect()).collect();
            let len = if *len == ws[k].len() { len + 1 } else { *len };
            ws[k] = vec![9.0; len];
            let refs: Vec<&[f32]> = ws.iter().map(Vec::as_slice).collect();
            expect_err(w.opt.set_weights(99, &refs), |e| matches!(e, Error::WeightShape { .. }))
        }
        Bad::Hyper { k, value } => {
            let names = w.opt.hyper_names();
            let name = names[k % names.len()];
            match w.opt.set_hyper(name, *value) {
                Err(Error::InvalidHyperparameter { .. }) => Ok(true),
                Err(e) => Err(format!("{bad:?}: wrong error {e:?}")),
                Ok(()) if value.is_finite() => Ok(false),
                Ok(()) => Err(format!("{bad:?}: non-finite {name} accepted")),
            }
        }
        Bad::UnknownHyper { name } => {
            if w.opt.hyper_names().contains(&name.as_str()) {
                return Ok(false);
            }
            let r = w.opt.set_hyper(name, 0.5);
            expect_err(r, |e| matches!(e, Error::UnknownHyperparameter { .. }))
        }
        Bad::Clip { which, value } => {
            let mut c = w.opt.clipping();
            match which {
                0 => c.clipvalue = Some(*value),
                1 => (c.clipnorm, c.global_clipnorm) = (Some(*value), None),
                _ => (c.global_clipnorm, c.clipnorm) = (Some(*value), None),
            }
            expect_err(w.opt.set_clipping(c), |e| matches!(e, Error::InvalidHyperparameter { .. }))
        }
        Bad::BothNorms => {
            let c = Clipping { clipnorm: Some(1.0), global_clipnorm: Some(1.0), ..w.opt.clipping() };
            expect_err(w.opt.set_clipping(c), |e| matches!(e, Error::InvalidHyperparameter { .. }))
        }
        Bad::SlotsFor { dup } => {
            let fresh = w.store.insert(Tensor::new("fresh", vec![2], vec![1.0, 2.0]).unwrap());
            let r = if *dup {
                w.opt.create_slots_for(&w.store, &[fresh, b, fresh])
            } else {
                w.opt.create_slots_for(&w.store, &[fresh, w.gone])
            };
            w.store.remove(fresh).unwrap();
            expect_err(r, |e| matches!(e, Error::DuplicateVariable { .. } | Error::UnknownTensor { .. }))
        }
        Bad::NonFinite { var, value, at } => {
            let mut g = vec![0.5f32; sizes[*var]];
            let n = g.len();
            g[at % n] = *value;
            let grad = if *var == 3 { Gradient::Sparse { indices: &[2, 1, 2, 0], values: &g } } else { Gradient::Dense(&g) };
            let pairs = if *var == 1 { vec![(Some(grad), b)] } else { vec![b_pair, (Some(grad), w.vars[*var])] };
            let mut out = Vec::new();
            match w.opt.apply_gradients_checked(&mut w.store, &pairs, &mut out) {
                Ok(false) if out == [pairs.len() - 1] => Ok(true),
                r => Err(format!("{bad:?}: {r:?} {out:?}")),
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn bad_input_changes_nothing(config in 0usize..configs().len(), calls in prop::collection::vec(bad(), 1..6)) {
        let mut w = world(config);
        for bad in &calls {
            let before = observe(&w);
            let must_fail = run(&mut w, bad).map_err(TestCaseError::fail)?;
            if must_fail {
                prop_assert_eq!(&observe(&w), &before, "{:?} changed the state", bad);
            }
        }
        // Still usable afterwards.
        let g = [0.5f32; 6];
        let wv = w.vars[0];
        w.opt.apply_gradients(&mut w.store, &[(Some(Gradient::Dense(&g)), wv)]).unwrap();
    }

    /// With only finite gradients, the guarded step is the plain step, bit for bit.
    #[test]
    fn guard_is_transparent_on_finite_gradients(config in 0usize..configs().len(), g in prop::collection::vec(-1e3f32..1e3, 6), rows in prop::collection::vec(0i64..4, 0..6)) {
        let mut a = world(config);
        let mut b = world(config);
        let v = vec![0.25f32; rows.len() * 3];
        for (k, w) in [&mut a, &mut b].into_iter().enumerate() {
            let [wv, _, _, table] = w.vars;
            let pairs = [(Some(Gradient::Dense(&g)), wv), (Some(Gradient::Sparse { indices: &rows, values: &v }), table)];
            if k == 1 {
                let mut out = vec![7];
                prop_assert!(w.opt.apply_gradients_checked(&mut w.store, &pairs, &mut out).unwrap());
                prop_assert!(out.is_empty());
            } else {
                w.opt.apply_gradients(&mut w.store, &pairs).unwrap();
            }
        }
        prop_assert_eq!(observe(&a), observe(&b));
    }
}

/// Restoring as checkpoints do: slots recreated batch by batch, then `set_weights` with every
/// weight. The restored optimizer must hold every weight bit for bit (a weight left unrestored
/// keeps its initial value), and a further step with new gradients must give both the same bits.
#[test]
fn restoring_slot_batches_recreates_the_weight_order() {
    for (config, &(family, class, options)) in configs().iter().enumerate() {
        let mut w = world(config);
        // The same variables, values and handles: `world` is deterministic.
        let mut copy = world(config);
        let mut fresh = build_optimizer_in(family, class, options).unwrap();
        let order: Vec<TensorId> = w.opt.slot_variables().map(|(id, _, _)| id).collect();
        let mut first = 0;
        for &n in w.opt.slot_batches() {
            fresh.create_slots_for(&copy.store, &order[first..first + n]).unwrap();
            first += n;
        }
        assert_eq!(fresh.weight_names(), w.opt.weight_names(), "{config}");
        let owned: Vec<Vec<f32>> = (1..w.opt.weight_count()).map(|i| weight_values(&w.opt, i)).collect();
        let rest: Vec<&[f32]> = owned.iter().map(Vec::as_slice).collect();
        fresh.set_weights(w.opt.iterations(), &rest).unwrap();
        assert_eq!(fresh.slot_batches(), w.opt.slot_batches());
        copy.opt = fresh;
        assert_eq!(observe(&copy), observe(&w), "{config}: restored");

        let [wv, bv, _, table] = w.vars;
        let g6 = [0.7f32, -0.1, 0.05, 2.0, -3.0, 0.25];
        let rows = [-0.5f32, 0.25, 4.0];
        let step = [
            (Some(Gradient::Dense(&g6)), wv),
            (Some(Gradient::Dense(&[-2.0, 0.5, 0.0, 1.0, -0.125])), bv),
            (Some(Gradient::Sparse { indices: &[2], values: &rows }), table),
        ];
        w.opt.apply_gradients(&mut w.store, &step).unwrap();
        copy.opt.apply_gradients(&mut copy.store, &step).unwrap();
        assert_eq!(observe(&copy), observe(&w), "{config}: after a step");
    }
}

/// Found by `fuzz/` (cargo fuzz): at the largest count, a step overflowed `iterations` (a panic
/// in debug builds, a silent wrap to 0 in release). Now it is refused before anything changes.
#[test]
fn a_step_at_the_largest_iteration_count_is_refused() {
    for config in 0..configs().len() {
        let mut w = world(config);
        w.opt.set_iterations(u64::MAX);
        let before = observe(&w);
        let [wv, ..] = w.vars;
        let err = w.opt.apply_gradients(&mut w.store, &[(Some(Gradient::Dense(&[0.5; 6])), wv)]).unwrap_err();
        assert_eq!(err.code(), "InvalidState");
        assert!(err.to_string().contains("no further step can be counted"), "{err}");
        let err = w.opt.apply_gradients_checked(&mut w.store, &[(Some(Gradient::Dense(&[0.5; 6])), wv)], &mut Vec::new()).unwrap_err();
        assert_eq!(err.code(), "InvalidState");
        assert_eq!(observe(&w), before);
    }
}
