//! Arbitrary call sequences on the core: nothing panics, and a call that fails changes nothing.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use simdopt_core::{registry, Clipping, Gradient, Optimizer, Store, Tensor, TensorId};

/// Option keys to draw from: every config key of the registry's classes, the base options
/// and the aliases.
fn keys() -> Vec<&'static str> {
    let mut k: Vec<&'static str> = registry::CLASSES.iter().flat_map(|c| c.defaults()).map(|h| h.name).collect();
    k.extend(["clipnorm", "clipvalue", "global_clipnorm", "lr", "schedule_decay"]);
    k.sort_unstable();
    k.dedup();
    k
}
/// Variables: a matrix, a vector with an odd tail, a scalar, a table with rows, an empty one.
const SHAPES: [&[usize]; 5] = [&[2, 3], &[13], &[], &[6, 4], &[0, 3]];

#[derive(Arbitrary, Debug)]
enum Grad {
    None,
    Dense {
        len: u8,
        values: Vec<f32>,
    },
    /// The gradient tensor (or, past the end, a variable, or a disposed handle).
    Tensor(u8),
    Sparse {
        indices: Vec<i64>,
        values: Vec<f32>,
    },
}

#[derive(Arbitrary, Debug)]
enum Op {
    Step { pairs: Vec<(Grad, u8)>, checked: bool },
    Prepare { pairs: Vec<(Grad, u8)>, guard: bool },
    SetWeights { iterations: u64, lens: Vec<u8>, fill: f32 },
    SetHyper { key: u8, value: f32 },
    SetClipping { clipvalue: Option<f32>, clipnorm: Option<f32>, global_clipnorm: Option<f32> },
    SetIterations(u64),
    CreateSlots(Vec<u8>),
    Dispose(u8),
}

#[derive(Arbitrary, Debug)]
struct Input {
    class: u8,
    options: Vec<(u8, f32)>,
    ops: Vec<Op>,
}

struct World {
    store: Store,
    opt: Optimizer,
    ids: Vec<TensorId>,
}

/// Everything observable, as bits.
fn observe(w: &World) -> String {
    let tensors: Vec<Option<Vec<u32>>> =
        w.ids.iter().map(|id| w.store.get(*id).ok().map(|t| t.data.iter().map(|x| x.to_bits()).collect())).collect();
    let o = &w.opt;
    let weights: Vec<Option<Vec<u32>>> =
        (1..o.weight_count()).map(|i| o.weight(i).map(|x| x.iter().map(|v| v.to_bits()).collect())).collect();
    let hypers: Vec<(&str, Option<u32>)> = o.hyper_names().into_iter().map(|n| (n, o.hyper(n).ok().map(f32::to_bits))).collect();
    format!(
        "{tensors:?}|{}|{:?}|{weights:?}|{hypers:?}|{:?}|{:?}|{:?}|{}|{}",
        o.iterations(),
        o.weight_names(),
        o.clipping(),
        o.slot_batches(),
        o.slot_variables().collect::<Vec<_>>(),
        o.current_lr().to_bits(),
        w.store.len()
    )
}

fn id(w: &World, k: u8) -> TensorId {
    w.ids[k as usize % w.ids.len()]
}

/// The values of a gradient, `len` long, from the fuzzer's values (cycled) or zeros.
fn values(v: &[f32], len: usize) -> Vec<f32> {
    (0..len).map(|i| if v.is_empty() { 0.0 } else { v[i % v.len()] }).collect()
}

/// A gradient's values, held while a step borrows them.
enum Owned {
    None,
    Dense(Vec<f32>),
    Tensor(TensorId),
    Sparse(Vec<i64>, Vec<f32>),
}

impl Owned {
    fn gradient(&self) -> Option<Gradient<'_>> {
        match self {
            Owned::None => None,
            Owned::Dense(v) => Some(Gradient::Dense(v)),
            Owned::Tensor(t) => Some(Gradient::Tensor(*t)),
            Owned::Sparse(i, v) => Some(Gradient::Sparse { indices: i, values: v }),
        }
    }
}

fn owned(w: &World, g: &Grad, var: TensorId) -> Owned {
    match g {
        Grad::None => Owned::None,
        Grad::Dense { len, values: vs } => Owned::Dense(values(vs, *len as usize)),
        Grad::Tensor(k) => Owned::Tensor(id(w, *k)),
        Grad::Sparse { indices, values: vs } => {
            let idx: Vec<i64> = indices.iter().take(16).copied().collect();
            // Mostly the right number of values for the rows (3 or 4 per row), sometimes not.
            let row = w.store.get(var).ok().and_then(|t| t.shape.get(1).copied()).unwrap_or(1);
            let n = if vs.len() % 7 == 3 { vs.len() } else { idx.len() * row };
            Owned::Sparse(idx, values(vs, n))
        }
    }
}

fuzz_target!(|input: Input| {
    let classes = &registry::CLASSES;
    let class = &classes[input.class as usize % classes.len()];
    let keys = keys();
    let options: Vec<(&str, f32)> = input.options.iter().map(|(k, v)| (keys[*k as usize % keys.len()], *v)).collect();
    let Ok(opt) = class.build(&options) else { return };
    let mut store = Store::new();
    let mut ids: Vec<TensorId> = SHAPES
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let n = s.iter().product();
            store.insert(Tensor::new(format!("v{i}"), s.to_vec(), (0..n).map(|j| j as f32 * 0.3 - 1.0).collect()).unwrap())
        })
        .collect();
    ids.push(store.insert(Tensor::new("grad", vec![2, 3], vec![0.5, -0.25, 1.0, 2.0, -3.0, 0.125]).unwrap()));
    let mut w = World { store, opt, ids };

    for op in input.ops.iter().take(64) {
        let before = observe(&w);
        let failed = match op {
            Op::Step { pairs, checked } | Op::Prepare { pairs, guard: checked } => {
                let owned: Vec<(Owned, TensorId)> = pairs.iter().take(8).map(|(g, v)| (owned(&w, g, id(&w, *v)), id(&w, *v))).collect();
                let grads: Vec<(Option<Gradient<'_>>, TensorId)> = owned.iter().map(|(g, var)| (g.gradient(), *var)).collect();
                match op {
                    Op::Step { checked: true, .. } => w.opt.apply_gradients_checked(&mut w.store, &grads, &mut Vec::new()).is_err(),
                    Op::Step { .. } => w.opt.apply_gradients(&mut w.store, &grads).is_err(),
                    _ => {
                        let mut positions = Vec::new();
                        let r = w.opt.prepare_external(&w.store, &grads, checked.then_some(&mut positions));
                        // Preparing never changes anything, whether it succeeds or not.
                        assert_eq!(before, observe(&w), "prepare_external changed the state");
                        r.is_err()
                    }
                }
            }
            Op::SetWeights { iterations, lens, fill } => {
                let arrays: Vec<Vec<f32>> = lens.iter().take(20).map(|n| vec![*fill; *n as usize]).collect();
                let refs: Vec<&[f32]> = arrays.iter().map(|a| a.as_slice()).collect();
                w.opt.set_weights(*iterations, &refs).is_err()
            }
            Op::SetHyper { key, value } => w.opt.set_hyper(keys[*key as usize % keys.len()], *value).is_err(),
            Op::SetClipping { clipvalue, clipnorm, global_clipnorm } => {
                w.opt.set_clipping(Clipping { clipvalue: *clipvalue, clipnorm: *clipnorm, global_clipnorm: *global_clipnorm }).is_err()
            }
            Op::SetIterations(it) => {
                w.opt.set_iterations(*it);
                false
            }
            Op::CreateSlots(vars) => {
                let vs: Vec<TensorId> = vars.iter().take(8).map(|k| id(&w, *k)).collect();
                w.opt.create_slots_for(&w.store, &vs).is_err()
            }
            Op::Dispose(k) => {
                let t = id(&w, *k);
                w.store.remove(t).is_err()
            }
        };
        if failed {
            assert_eq!(before, observe(&w), "a failed call changed the state: {op:?}");
        }
    }
});
