//! Streamed steps against whole steps: the same bits for every TF 2.4 class and option, lengths
//! around chunk boundaries, the same errors and skips, nothing changed by a failure.

use super::*;
use crate::registry::CLASSES;
use crate::slot::SlotStorage;
use crate::{build_optimizer, Tensor};

/// Every TF 2.4 class with its defaults (learning rate 0.1), then option variants: every
/// clipping option, every kernel variant.
fn configs() -> Vec<(&'static str, Vec<(&'static str, f32)>)> {
    let mut out: Vec<(&str, Vec<(&str, f32)>)> =
        CLASSES.iter().filter(|c| c.family == Family::Tf24).map(|c| (c.class_name, vec![("learning_rate", 0.1)])).collect();
    let variants: &[(&str, &[(&str, f32)])] = &[
        ("SGD", &[("momentum", 0.9), ("nesterov", 1.0), ("clipnorm", 0.05)]),
        ("SGD", &[("momentum", 0.5), ("global_clipnorm", 0.1)]),
        ("Adam", &[("amsgrad", 1.0), ("clipvalue", 0.3), ("clipnorm", 0.2)]),
        ("Adam", &[("global_clipnorm", 0.5), ("decay", 0.01)]),
        ("RMSprop", &[("centered", 1.0), ("momentum", 0.5), ("clipvalue", 0.2)]),
        ("RMSprop", &[("momentum", 0.9), ("global_clipnorm", 0.3)]),
        ("Adagrad", &[("clipnorm", 0.1)]),
        ("Adadelta", &[("learning_rate", 1.0), ("global_clipnorm", 0.2)]),
        ("Adamax", &[("clipvalue", 0.1), ("global_clipnorm", 0.2)]),
        ("Nadam", &[("clipnorm", 0.3)]),
        ("Ftrl", &[("l1_regularization_strength", 0.01), ("l2_shrinkage_regularization_strength", 0.05), ("clipnorm", 0.2)]),
        ("Ftrl", &[("learning_rate_power", -0.7), ("global_clipnorm", 0.4)]),
    ];
    let lr: &[(&str, f32)] = &[("learning_rate", 0.1)];
    out.extend(
        variants.iter().map(|(c, o)| (*c, if o.iter().any(|(k, _)| *k == "learning_rate") { o.to_vec() } else { [lr, o].concat() })),
    );
    out
}

/// Values with mixed magnitudes and signs (so a different summation order gives other bits).
fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| ((i as u32 ^ seed).wrapping_mul(0x9e37_79b1) >> 8) as f32 / (1 << 24) as f32 - 0.5)
        .map(|x| if x > 0.3 { x * 40.0 } else { x * 0.01 })
        .collect()
}

/// Copies from vectors; fails at `fail` (pair, offset) if given.
struct Source<'a> {
    grads: Vec<Option<&'a [f32]>>,
    fail: Option<(usize, usize)>,
    calls: usize,
}

impl ChunkSource for Source<'_> {
    fn fill(&mut self, pair: usize, offset: usize, dst: &mut [f32]) -> bool {
        self.calls += 1;
        if self.fail == Some((pair, offset)) {
            return false;
        }
        dst.copy_from_slice(&self.grads[pair].expect("a streamed pair")[offset..offset + dst.len()]);
        true
    }
}

/// Everything a step may change, as bits.
fn state(store: &Store, opt: &Optimizer, vars: &[TensorId]) -> (u64, Vec<Vec<u32>>) {
    use crate::quant::RawSlot;
    let mut out: Vec<Vec<u32>> = vars.iter().map(|v| store.get(*v).unwrap().data.iter().map(|x| x.to_bits()).collect()).collect();
    out.extend((1..opt.weight_count()).map(|k| match (opt.weight(k), opt.raw_weight(k)) {
        (Some(w), _) => w.iter().map(|x| x.to_bits()).collect(),
        // compressed slots: their raw storage
        (None, Some(RawSlot::Bf16(h))) => h.iter().map(|&x| x as u32).collect(),
        (None, Some(RawSlot::Int8 { codes, absmax })) => {
            codes.iter().map(|&c| c as u32).chain(absmax.iter().map(|x| x.to_bits())).collect()
        }
        (None, None) => unreachable!("a weight is f32 or stored compressed"),
    }));
    (opt.iterations(), out)
}

/// A world of four variables: `big` (streamed, `n` values), `small` (whole, in the frame), `held`
/// (a tensor gradient), `idle` (no gradient).
struct World {
    store: Store,
    opt: Optimizer,
    vars: [TensorId; 4],
    grad_tensor: TensorId,
}

fn world(class: &str, options: &[(&str, f32)], n: usize) -> World {
    let mut store = Store::new();
    let mut t = |name: &str, len: usize, seed: u32| store.insert(Tensor::new(name, vec![len], values(len, seed)).unwrap());
    let vars = [t("big", n, 1), t("small", 13, 2), t("held", 9, 3), t("idle", 4, 4)];
    let grad_tensor = t("g", 9, 5);
    World { store, opt: build_optimizer(class, options).unwrap(), vars, grad_tensor }
}

/// [`world`] with its optimizer's slots in `storage` (f32 if none).
fn world_in(class: &str, options: &[(&str, f32)], n: usize, storage: Option<SlotStorage>) -> World {
    let mut w = world(class, options, n);
    if let Some(storage) = storage {
        w.opt.set_slot_storage(storage).unwrap();
    }
    w
}

/// `iterations`, the bits of the variables and weights, the skipped positions.
type AfterStep = (u64, Vec<Vec<u32>>, Vec<usize>);

/// Three steps, whole and streamed; returns the states after each.
fn run(class: &str, options: &[(&str, f32)], n: usize, chunk: usize, guard: bool, big: &[Vec<f32>]) -> [Vec<AfterStep>; 2] {
    run_in(class, options, n, || StreamBuffers::with_chunk(chunk), guard, big, None)
}

/// [`run`] with the streamed steps' buffers from `buffers`.
fn run_in(
    class: &str,
    options: &[(&str, f32)],
    n: usize,
    buffers: impl Fn() -> StreamBuffers,
    guard: bool,
    big: &[Vec<f32>],
    storage: Option<SlotStorage>,
) -> [Vec<AfterStep>; 2] {
    let small = values(13, 7);
    let mut out = [Vec::new(), Vec::new()];
    for (way, out) in out.iter_mut().enumerate() {
        let mut w = world_in(class, options, n, storage);
        let mut buffers = buffers();
        for g in big {
            let mut skipped = Vec::new();
            if way == 0 {
                let pairs = [
                    (Some(Gradient::Dense(g)), w.vars[0]),
                    (Some(Gradient::Dense(&small)), w.vars[1]),
                    (Some(Gradient::Tensor(w.grad_tensor)), w.vars[2]),
                    (None, w.vars[3]),
                ];
                if guard {
                    w.opt.apply_gradients_checked(&mut w.store, &pairs, &mut skipped).unwrap();
                } else {
                    w.opt.apply_gradients(&mut w.store, &pairs).unwrap();
                }
            } else {
                let pairs = [
                    (None, w.vars[0]),
                    (Some(Gradient::Dense(&small)), w.vars[1]),
                    (Some(Gradient::Tensor(w.grad_tensor)), w.vars[2]),
                    (None, w.vars[3]),
                ];
                let mut source = Source { grads: vec![Some(g), None, None, None], fail: None, calls: 0 };
                let streamed = [Some(n), None, None, None];
                let r = w
                    .opt
                    .apply_streamed(&mut w.store, &pairs, &streamed, &mut source, &mut buffers, guard.then_some(&mut skipped))
                    .unwrap();
                assert_ne!(r, Streamed::WholePath);
                assert_eq!(r == Streamed::Skipped, !skipped.is_empty());
            }
            let (it, bits) = state(&w.store, &w.opt, &w.vars);
            out.push((it, bits, skipped));
        }
    }
    out
}

#[test]
fn every_tf24_class_and_option_gives_the_same_bits_streamed_at_lengths_around_chunk_boundaries() {
    for (class, options) in configs() {
        for (chunk, n) in [(8, 1), (8, 7), (8, 8), (8, 9), (24, 23), (24, 24), (24, 25), (24, 47), (24, 48), (24, 49), (24, 100), (16, 0)] {
            let steps: Vec<Vec<f32>> = (0..3).map(|s| values(n, 11 + s)).collect();
            for guard in [false, true] {
                let [whole, streamed] = run(class, &options, n, chunk, guard, &steps);
                assert_eq!(whole, streamed, "{class} {options:?}: {n} values in chunks of {chunk}, guard {guard}");
            }
        }
    }
}

#[test]
fn at_the_real_chunk_size_the_same_bits() {
    for (class, options) in
        [("Adam", vec![("clipnorm", 0.5)]), ("SGD", vec![("momentum", 0.9), ("global_clipnorm", 1.0)]), ("RMSprop", vec![])]
    {
        for n in [CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 9] {
            let steps: Vec<Vec<f32>> = (0..2).map(|s| values(n, 3 + s)).collect();
            let [whole, streamed] = run(class, &options, n, CHUNK, true, &steps);
            assert_eq!(whole, streamed, "{class} {n}");
        }
    }
}

/// Compressed slots: the 8-bit pass streams whole blocks through the staging buffer (a
/// multiple of the block, or not; a staging buffer shorter than a block takes the gradient
/// gathered whole), the bfloat16 pass whole vectors (each element's dither wherever its chunk
/// starts), with the same bits and raw storage as the whole path.
#[test]
fn compressed_slots_give_the_same_bits_streamed() {
    for storage in [SlotStorage::Int8, SlotStorage::Bfloat16] {
        for (class, options) in
            [("Adam", vec![("learning_rate", 0.1)]), ("SGD", vec![("momentum", 0.9)]), ("RMSprop", vec![("clipnorm", 0.5)])]
        {
            for (chunk, n) in [(512, 4096), (520, 5003), (128, 4100), (16384, 9000)] {
                let steps: Vec<Vec<f32>> = (0..3).map(|s| values(n, 5 + s)).collect();
                for guard in [false, true] {
                    let [whole, streamed] = run_in(class, &options, n, || StreamBuffers::with_chunk(chunk), guard, &steps, Some(storage));
                    assert_eq!(whole, streamed, "{class} {options:?} {storage:?}: {n} values in chunks of {chunk}, guard {guard}");
                }
            }
        }
    }
}

#[test]
fn the_guard_skips_a_non_finite_streamed_gradient_at_any_position_and_changes_nothing() {
    for at in [0, 23, 24, 40] {
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut steps = vec![values(41, 1), values(41, 2)];
            steps[1][at] = bad;
            let [whole, streamed] = run("Adam", &[("clipnorm", 1.0)], 41, 24, true, &steps);
            assert_eq!(whole, streamed, "{bad} at {at}");
            assert_eq!(streamed[1].2, vec![0], "the streamed pair is reported");
            assert_eq!((streamed[1].0, &streamed[1].1), (streamed[0].0, &streamed[0].1), "nothing changed");
        }
    }
}

#[test]
fn a_source_that_fails_before_the_update_changes_nothing() {
    // With a read pass (guard or norms), a failure at any chunk of it; without one, the step
    // fails at its first chunk, before the first update.
    for (options, guard, offsets) in
        [(vec![("clipnorm", 1.0)], false, vec![0, 24, 48]), (vec![], true, vec![0, 24, 48]), (vec![], false, vec![0])]
    {
        for fail in offsets {
            let mut w = world("Adam", &options, 50);
            let g = values(50, 9);
            let small = values(13, 7);
            let pairs = [(None, w.vars[0]), (Some(Gradient::Dense(&small)), w.vars[1])];
            let mut source = Source { grads: vec![Some(&g), None], fail: None, calls: 0 };
            let mut buffers = StreamBuffers::with_chunk(24);
            let mut skipped = Vec::new();
            w.opt.apply_streamed(&mut w.store, &pairs, &[Some(50), None], &mut source, &mut buffers, None).unwrap();
            let before = state(&w.store, &w.opt, &w.vars);
            source.fail = Some((0, fail));
            let err = w
                .opt
                .apply_streamed(&mut w.store, &pairs, &[Some(50), None], &mut source, &mut buffers, guard.then_some(&mut skipped))
                .unwrap_err();
            assert_eq!(err.code(), "InvalidState", "{err}");
            assert!(err.to_string().contains("could not be read"), "{err}");
            assert_eq!(state(&w.store, &w.opt, &w.vars), before, "{options:?} guard {guard}, fail at {fail}");
        }
    }
}

#[test]
fn errors_are_the_whole_paths_and_change_nothing() {
    let mut w = world("SGD", &[("momentum", 0.9)], 30);
    let g = values(30, 1);
    let before = state(&w.store, &w.opt, &w.vars);
    let mut buffers = StreamBuffers::with_chunk(8);
    let rows = [1.0f32; 2];
    // A repeated variable, a gradient of the wrong size, a sparse index out of range (after the
    // streamed pair: the whole path would check the streamed gradient first and pass it).
    let bad: [Vec<(Option<Gradient<'_>>, TensorId)>; 3] = [
        vec![(None, w.vars[0]), (Some(Gradient::Dense(&rows)), w.vars[0])],
        vec![(None, w.vars[0]), (Some(Gradient::Dense(&rows)), w.vars[1])],
        vec![(None, w.vars[0]), (Some(Gradient::Sparse { indices: &[70, 0], values: &rows }), w.vars[1])],
    ];
    for pairs in bad {
        let mut whole: Vec<_> = pairs.clone();
        whole[0].0 = Some(Gradient::Dense(&g));
        let expected = w.opt.apply_gradients(&mut w.store, &whole).unwrap_err();
        let mut streamed = vec![None; pairs.len()];
        streamed[0] = Some(30);
        let mut source = Source { grads: vec![Some(&g), None], fail: None, calls: 0 };
        let err = w.opt.apply_streamed(&mut w.store, &pairs, &streamed, &mut source, &mut buffers, None).unwrap_err();
        assert_eq!(err.to_string(), expected.to_string());
        assert_eq!(source.calls, 0, "nothing was read");
        assert_eq!(state(&w.store, &w.opt, &w.vars), before);
    }
}

#[test]
fn what_does_not_stream_takes_the_whole_path_untouched() {
    let g = values(30, 1);
    let mut buffers = StreamBuffers::with_chunk(8);
    // Keras 3 classes (also those named as TF 2.4's); a streamed length that is not the
    // variable's (the whole path reports it).
    let keras3 = |name: &str| crate::registry::build_optimizer_in(Family::Keras3, name, &[]).unwrap();
    for (opt, len) in [(keras3("Lion"), 30), (keras3("Adam"), 30), (keras3("SGD"), 30), (build_optimizer("Adam", &[]).unwrap(), 29)] {
        let mut w = world("SGD", &[], 30);
        w.opt = opt;
        let before = state(&w.store, &w.opt, &w.vars);
        let mut source = Source { grads: vec![Some(&g)], fail: None, calls: 0 };
        let r = w.opt.apply_streamed(&mut w.store, &[(None, w.vars[0])], &[Some(len)], &mut source, &mut buffers, None).unwrap();
        assert_eq!((r, source.calls), (Streamed::WholePath, 0));
        assert_eq!(state(&w.store, &w.opt, &w.vars), before);
    }
    let mut w = world("Adam", &[], 30);
    w.opt.set_stages(crate::Stages { weight_decay: Some(0.1), ..Default::default() }).unwrap();
    assert!(!w.opt.streams());
}

#[test]
fn variables_update_in_pair_order_when_a_tensor_gradient_is_another_variable() {
    // `held`'s gradient is the variable `big`, updated (streamed) before it: `held` must see
    // `big`'s new values, as in the whole path.
    let n = 9;
    let g = values(n, 4);
    let mut results = Vec::new();
    for streamed in [false, true] {
        let mut w = world("SGD", &[("learning_rate", 0.5)], n);
        let (big, held) = (w.vars[0], w.vars[2]);
        if streamed {
            let mut source = Source { grads: vec![Some(&g), None], fail: None, calls: 0 };
            let pairs = [(None, big), (Some(Gradient::Tensor(big)), held)];
            w.opt.apply_streamed(&mut w.store, &pairs, &[Some(n), None], &mut source, &mut StreamBuffers::with_chunk(8), None).unwrap();
        } else {
            w.opt.apply_gradients(&mut w.store, &[(Some(Gradient::Dense(&g)), big), (Some(Gradient::Tensor(big)), held)]).unwrap();
        }
        results.push(state(&w.store, &w.opt, &w.vars));
    }
    assert_eq!(results[0], results[1]);
}

/// A Keras 3 class named as a TF 2.4 one (`Adam`) is not streamed even without stage options:
/// it has the Keras 3 order (its None-gradient variables get state, its clipping formulas).
#[test]
fn keras3_classes_of_tf24_names_take_the_whole_path() {
    for class in ["SGD", "Adam", "RMSprop", "Ftrl"] {
        assert!(build_optimizer(class, &[]).unwrap().streams(), "{class}");
        let k3 = crate::build_optimizer_in(crate::Family::Keras3, class, &[]).unwrap();
        assert!(k3.keras3_order() && !k3.streams(), "keras3 {class}");
    }
}

/// The threads build: a streamed pass whose variable is large enough to split copies chunks of
/// `split_chunk` (one `fill` each) and splits each over the pool; the bits are the whole path's
/// (which splits too), with the read pass (guard, norms) in the small chunks as before.
#[cfg(feature = "threads")]
#[test]
fn the_threads_build_splits_large_streamed_passes_over_the_pool_with_the_same_bits() {
    use crate::pool::{self, with_test_workers};
    let split = 2 * pool::CHUNK + 24;
    let n = 5 * pool::CHUNK + 37;
    with_test_workers(2, || {
        let before = pool::worker_chunks();
        for (class, options) in [
            ("Adam", vec![("clipnorm", 0.5)]),
            ("SGD", vec![("momentum", 0.9), ("global_clipnorm", 1.0)]),
            ("RMSprop", vec![("centered", 1.0), ("momentum", 0.5)]),
            ("Ftrl", vec![]),
        ] {
            let steps: Vec<Vec<f32>> = (0..2).map(|s| values(n, 5 + s)).collect();
            for guard in [false, true] {
                let [whole, streamed] = run_in(class, &options, n, || StreamBuffers::with_chunks(CHUNK, split), guard, &steps, None);
                assert_eq!(whole, streamed, "{class} {options:?} guard {guard}");
            }
        }
        assert!(pool::worker_chunks() > before, "the workers never ran a chunk");

        // Compressed slots too: each split chunk whole blocks (int8) or vectors (bfloat16).
        for storage in [SlotStorage::Int8, SlotStorage::Bfloat16] {
            for (class, options) in [("Adam", vec![("clipnorm", 0.5)]), ("SGD", vec![("momentum", 0.9)]), ("RMSprop", vec![])] {
                let before = pool::worker_chunks();
                let steps: Vec<Vec<f32>> = (0..2).map(|s| values(n, 5 + s)).collect();
                let [whole, streamed] =
                    run_in(class, &options, n, || StreamBuffers::with_chunks(CHUNK, split), false, &steps, Some(storage));
                assert_eq!(whole, streamed, "{class} {options:?} {storage:?}");
                assert!(pool::worker_chunks() > before, "{storage:?}: the workers never ran a chunk");
            }
        }

        // One `fill` per chunk of the update pass: split chunks above the threshold, the small
        // ones below it (no read pass: no guard, no norm).
        // Compressed slots: chunks of whole blocks (int8) or vectors (bfloat16), none gathered.
        let blocks = split / crate::quant::storage::BLOCK * crate::quant::storage::BLOCK;
        for (storage, threshold, chunk) in [
            (None, 0, split),
            (None, usize::MAX, CHUNK),
            (Some(SlotStorage::Int8), 0, blocks),
            (Some(SlotStorage::Int8), usize::MAX, CHUNK),
            (Some(SlotStorage::Bfloat16), 0, split),
            (Some(SlotStorage::Bfloat16), usize::MAX, CHUNK),
        ] {
            pool::set_threshold(threshold);
            let mut w = world_in("Adam", &[], n, storage);
            let g = values(n, 3);
            let mut source = Source { grads: vec![Some(&g)], fail: None, calls: 0 };
            let mut buffers = StreamBuffers::with_chunks(CHUNK, split);
            w.opt.apply_streamed(&mut w.store, &[(None, w.vars[0])], &[Some(n)], &mut source, &mut buffers, None).unwrap();
            assert_eq!(source.calls, n.div_ceil(chunk), "{storage:?}, threshold {threshold}");
        }
        pool::set_threshold(0);

        // A copy that fails (made while the pool updates the chunk before) stops the pass there:
        // the chunks before it are updated, the rest not, as in the sequential loop.
        for (storage, chunk) in [(None, split), (Some(SlotStorage::Int8), blocks), (Some(SlotStorage::Bfloat16), split)] {
            for fail in [0, chunk, 2 * chunk] {
                let mut w = world_in("SGD", &[("momentum", 0.5)], n, storage);
                let before = w.store.get(w.vars[0]).unwrap().data.clone();
                let g = values(n, 3);
                let mut source = Source { grads: vec![Some(&g)], fail: Some((0, fail)), calls: 0 };
                let mut buffers = StreamBuffers::with_chunks(CHUNK, split);
                let err =
                    w.opt.apply_streamed(&mut w.store, &[(None, w.vars[0])], &[Some(n)], &mut source, &mut buffers, None).unwrap_err();
                assert!(err.to_string().contains("could not be read"), "{err}");
                let after = &w.store.get(w.vars[0]).unwrap().data;
                let changed: Vec<bool> = after.iter().zip(&before).map(|(a, b)| a.to_bits() != b.to_bits()).collect();
                assert!(changed[..fail].iter().all(|&c| c) && !changed[fail..].iter().any(|&c| c), "{storage:?}: fail at {fail}");
            }
        }
    });
}
