//! A step allocates nothing once its slots exist: every class, every gradient kind, the
//! clipping options, the non-finite guard, Keras 3's stages and compressed slots. (An allocation per step is
//! time in the allocator on every call; in the threads build its lock is an atomic too.) Its
//! own test binary: it needs a counting global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use simdopt_core::registry::{Family, CLASSES};
use simdopt_core::slot::SlotStorage;
use simdopt_core::{Clipping, Ema, Gradient, Optimizer, Stages, Store, Tensor, TensorId};

struct Counting;

thread_local! {
    /// Allocations made by this thread while counting (`None`: not counting).
    static COUNT: Cell<Option<usize>> = const { Cell::new(None) };
}

fn note() {
    // (`try_with`: the allocator also runs while thread-locals are torn down.)
    let _ = COUNT.try_with(|c| c.set(c.get().map(|n| n + 1)));
}

// SAFETY: forwards to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note();
        System.alloc(l)
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        note();
        System.alloc_zeroed(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        note();
        System.realloc(p, l, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations `f` makes on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    COUNT.with(|c| c.set(Some(0)));
    f();
    COUNT.with(|c| c.replace(None)).unwrap_or(0)
}

const ROWS: usize = 32;
const COLS: usize = 32;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Tensor,
    Dense,
    Sparse,
    SparseTensor,
}

/// Allocations of the 4th to 8th steps of `opt` on two variables (one without a gradient).
fn step_allocations(opt: Optimizer, kind: Kind, guarded: bool) -> usize {
    step_allocations_on(ROWS, opt, kind, guarded)
}

/// [`step_allocations`] with a variable of `rows` rows.
fn step_allocations_on(rows: usize, mut opt: Optimizer, kind: Kind, guarded: bool) -> usize {
    let mut store = Store::new();
    let n = rows * COLS;
    let init: Vec<f32> = (0..n).map(|i| (i % 13) as f32 * 0.05 - 0.3).collect();
    let grad: Vec<f32> = (0..n).map(|i| ((i % 17) as f32 - 8.0) * 1e-3).collect();
    let var = store.insert(Tensor::new("w", vec![rows, COLS], init.clone()).unwrap());
    let idle = store.insert(Tensor::new("b", vec![COLS], vec![0.5; COLS]).unwrap());
    let held = store.insert(Tensor::new("g", vec![rows, COLS], grad.clone()).unwrap());
    let indices: Vec<i64> = vec![3, 7, 3, 30];
    let rows: Vec<f32> = grad[..indices.len() * COLS].to_vec();
    let held_rows = store.insert(Tensor::new("rows", vec![indices.len(), COLS], rows.clone()).unwrap());
    let mut non_finite = Vec::new();
    let mut step = |store: &mut Store| {
        let g = match kind {
            Kind::Tensor => Gradient::Tensor(held),
            Kind::Dense => Gradient::Dense(&grad),
            Kind::Sparse => Gradient::Sparse { values: &rows, indices: &indices },
            Kind::SparseTensor => Gradient::SparseTensor { values: held_rows, indices: &indices },
        };
        let pairs: [(Option<Gradient<'_>>, TensorId); 2] = [(Some(g), var), (None, idle)];
        if guarded {
            assert!(opt.apply_gradients_checked(store, &pairs, &mut non_finite).unwrap());
        } else {
            opt.apply_gradients(store, &pairs).unwrap();
        }
    };
    for _ in 0..3 {
        step(&mut store);
    }
    allocations(|| {
        for _ in 0..5 {
            step(&mut store);
        }
    })
}

fn clippings() -> [(&'static str, Clipping); 4] {
    let none = Clipping::default();
    [
        ("no clipping", none),
        ("clipvalue", Clipping { clipvalue: Some(0.01), ..none }),
        ("clipnorm", Clipping { clipnorm: Some(0.01), ..none }),
        ("global_clipnorm", Clipping { global_clipnorm: Some(0.01), ..none }),
    ]
}

/// The classes with their kernel variants (momentum, Nesterov, AMSGrad, centered): a name and
/// a builder of a fresh optimizer.
fn variants(family: Family) -> Vec<(String, impl Fn() -> Optimizer)> {
    let mut out = Vec::new();
    for class in CLASSES.iter().filter(|c| c.family == family) {
        let extra: &'static [&'static [(&'static str, f32)]] = match class.class_name {
            "SGD" => &[&[], &[("momentum", 0.9)], &[("momentum", 0.9), ("nesterov", 1.0)]],
            "Adam" => &[&[], &[("amsgrad", 1.0)]],
            "RMSprop" => &[&[], &[("centered", 1.0), ("momentum", 0.5)]],
            _ => &[&[]],
        };
        for &options in extra {
            out.push((format!("{} {options:?}", class.class_name), move || class.build(options).unwrap()));
        }
    }
    out
}

#[test]
fn tf24_steps_allocate_nothing() {
    let mut failures = Vec::new();
    for (name, build) in variants(Family::Tf24) {
        for (clip_name, clip) in clippings() {
            for kind in [Kind::Tensor, Kind::Dense, Kind::Sparse, Kind::SparseTensor] {
                for guarded in [false, true] {
                    let mut opt = build();
                    opt.set_clipping(clip).unwrap();
                    let n = step_allocations(opt, kind, guarded);
                    if n != 0 {
                        failures.push(format!("{name}, {clip_name}, {kind:?}, guarded {guarded}: {n} allocations in 5 steps"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Compressed slots (a variable of 8,192 values: over the 4,096 that keep f32 slots), dense
/// and sparse: the 8-bit code tables are built once, the sparse step's f32 windows are kept.
#[test]
fn tf24_steps_on_compressed_slots_allocate_nothing() {
    let mut failures = Vec::new();
    for (name, build) in variants(Family::Tf24) {
        for storage in [SlotStorage::Bfloat16, SlotStorage::Int8] {
            for kind in [Kind::Tensor, Kind::Dense, Kind::Sparse, Kind::SparseTensor] {
                let mut opt = build();
                if opt.set_slot_storage(storage).is_err() {
                    continue; // no moment slots
                }
                let n = step_allocations_on(256, opt, kind, false);
                if n != 0 {
                    failures.push(format!("{name}, {storage:?}, {kind:?}: {n} allocations in 5 steps"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn stage_sets() -> [(&'static str, Stages); 5] {
    [
        ("no stages", Stages::default()),
        ("loss_scale_factor", Stages { loss_scale_factor: Some(128.0), ..Stages::default() }),
        ("gradient_accumulation_steps", Stages { gradient_accumulation_steps: Some(2), ..Stages::default() }),
        ("weight_decay", Stages { weight_decay: Some(0.004), ..Stages::default() }),
        ("use_ema", Stages { ema: Some(Ema { momentum: 0.99, overwrite_frequency: Some(3) }), ..Stages::default() }),
    ]
}

/// Keras 3 rules whose passes need temporaries of the variable's size (not yet kept between
/// steps).
const KERAS3_TEMPORARIES: [&str; 3] = ["Lamb", "Adafactor", "Muon"];

/// The Keras 3 variants but [`KERAS3_TEMPORARIES`].
fn keras3_single_pass() -> impl Iterator<Item = (String, impl Fn() -> Optimizer)> {
    variants(Family::Keras3).into_iter().filter(|(n, _)| !KERAS3_TEMPORARIES.iter().any(|t| n.starts_with(&format!("{t} "))))
}

#[test]
fn keras3_dense_steps_allocate_nothing() {
    let mut failures = Vec::new();
    for (name, build) in keras3_single_pass() {
        for (stage_name, stages) in stage_sets() {
            for (clip_name, clip) in clippings() {
                for kind in [Kind::Tensor, Kind::Dense] {
                    let mut opt = build();
                    opt.set_clipping(clip).unwrap();
                    opt.set_stages(stages.clone()).unwrap();
                    let n = step_allocations(opt, kind, false);
                    if n != 0 {
                        failures.push(format!("{name}, {stage_name}, {clip_name}, {kind:?}: {n} allocations in 5 steps"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Keras 3's sparse steps densify the gradient a window at a time into buffers kept between
/// steps, on float32 and on compressed slots (whose windows keep their f32 copies too).
#[test]
fn keras3_sparse_steps_allocate_nothing() {
    let mut failures = Vec::new();
    for (name, build) in keras3_single_pass() {
        for (stage_name, stages) in stage_sets() {
            for (clip_name, clip) in clippings() {
                for storage in [SlotStorage::Float32, SlotStorage::Bfloat16, SlotStorage::Int8] {
                    for kind in [Kind::Sparse, Kind::SparseTensor] {
                        let mut opt = build();
                        if opt.set_slot_storage(storage).is_err() {
                            continue; // no moment slots
                        }
                        opt.set_clipping(clip).unwrap();
                        opt.set_stages(stages.clone()).unwrap();
                        let n = step_allocations_on(256, opt, kind, false);
                        if n != 0 {
                            failures.push(format!("{name}, {stage_name}, {clip_name}, {storage:?}, {kind:?}: {n} allocations in 5 steps"));
                        }
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
