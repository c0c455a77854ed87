//! Compressed slot storage inside the optimizer step (issue 16): the rule's lane kernel runs
//! unchanged, the driver reads each element's slots from their storage, and writes them back in
//! that storage in the same pass (the state never exists in f32 in memory).
//!
//! - bfloat16: widened exactly on load, rounded stochastically on store, with a dither of the
//!   element's index, the step and the slot ([`super::bf16`]).
//! - int8: block by block ([`BLOCK`] elements), in two passes over the block as bitsandbytes'
//!   8-bit optimizers do: a block's new absmax is the max of its *new* values, so pass 1
//!   dequantizes (`code[q] * absmax`), runs the kernel (the variable moves with the unrounded new
//!   moments) and keeps the block's new moments in a block-sized scratch in cache; pass 2 takes
//!   their absmax and quantizes them ([`super::blockwise`]). Moments that can be negative use the
//!   signed map, the others the unsigned one ([`Moment`]).
//!
//! The threads build splits compressed passes over its pool as it splits f32 ones
//! (`pool::parallel_for`): bfloat16 by elements, 8-bit by whole blocks (a pool chunk is
//! a whole number of blocks), so every block is the same work whichever thread runs it. Sparse
//! gradients (Keras' row-wise paths) run on f32 windows of the slots instead
//! ([`crate::step::rows::windows`], through [`super::values`]).

use super::bf16;
use super::bf16_pass::Dither;
use super::blockwise::{block_absmax, quantize_with_absmax, Quantized};
use super::codebook::Codebook;
use crate::drive::{self, Buffers, GradIn, LaneKernel, SlotIo};
use crate::error::Result;
use crate::lanes::{Lanes, WideBytes, MAX_LANES};
use crate::slot::{f32_slots, Moment, Slot, SlotData, SlotStorage};
use crate::step::clip::Identity;
use crate::step::update::Keras3Prelude;
use crate::step::{DensePrelude, GradPrelude};

/// Elements per block of 8-bit slots (one f32 absmax each): bitsandbytes' optimizer block. The
/// paper's 2048 leaves many more second moments under a block's 7 decades, where they round to
/// 0 (`tests/quant_adam.rs` measures it), and is no faster.
pub const BLOCK: usize = 256;

/// The 8-bit code map of a moment.
pub fn codebook(m: Moment) -> &'static Codebook {
    match m {
        Moment::Signed => Codebook::signed(),
        Moment::NonNegative => Codebook::unsigned(),
    }
}

/// A compressed slot of `len` elements, all `init` (rounded to the storage).
pub(crate) fn filled(storage: SlotStorage, m: Moment, len: usize, init: f32) -> Result<SlotData> {
    Ok(match storage {
        SlotStorage::Float32 => SlotData::F32(crate::slot::filled(len, init)?),
        SlotStorage::Bfloat16 => SlotData::Bf16(crate::slot::filled(len, bf16::from_f32(init))?),
        SlotStorage::Int8 => {
            let blocks = len.div_ceil(BLOCK);
            let mut q = Quantized { codes: crate::slot::filled(len, 0u8)?, absmax: crate::slot::filled(blocks, 0.0)?, block: BLOCK };
            if init != 0.0 {
                let cb = codebook(m);
                q.codes.fill(cb.index_of(init.signum()));
                q.absmax.fill(init.abs());
            }
            SlotData::Int8(q, m)
        }
    })
}

/// Runs a rule's lane kernel over a variable whose first `S` slots may be stored compressed
/// (all in the same storage: a variable's moments are compressed together). With f32 slots it
/// is [`drive::update`] exactly, compiled for the prelude `P`; the compressed passes are
/// compiled per kernel for the prelude's run-time form ([`DensePrelude::as_keras3`]) only (one
/// copy per prelude tripled the wasm binary), and the 8-bit pass also for `Identity`, which its
/// common case runs. `iteration` (the optimizer's calls so far) seeds the stochastic rounding
/// of bfloat16 slots.
pub fn update_slots<P: DensePrelude, K: LaneKernel<S>, const S: usize>(
    pre: P,
    k: &K,
    var: &mut [f32],
    grad: GradIn<'_>,
    slots: &mut [Slot],
    iteration: u64,
) {
    let slots = &mut slots[..S];
    let storage = slots.first().map_or(SlotStorage::Float32, Slot::storage);
    assert!(slots.iter().all(|s| s.storage() == storage && s.len() == var.len()), "a variable's moments share one storage and its length");
    if storage == SlotStorage::Float32 {
        return drive::update(pre, k, var, grad, f32_slots::<S>(slots));
    }
    update_compressed(pre.as_keras3(), k, var, grad, slots, storage, iteration)
}

/// [`update_slots`] over compressed slots, out of line: one copy per kernel.
#[inline(never)]
fn update_compressed<K: LaneKernel<S>, const S: usize>(
    pre: Keras3Prelude,
    k: &K,
    var: &mut [f32],
    grad: GradIn<'_>,
    slots: &mut [Slot],
    storage: SlotStorage,
    iteration: u64,
) {
    let n = var.len();
    match storage {
        SlotStorage::Float32 => unreachable!("handled above"),
        SlotStorage::Bfloat16 => {
            let mut it = slots.iter_mut();
            let mut slots: [&mut [u16]; S] = core::array::from_fn(|_| match &mut it.next().expect("S slots").data {
                SlotData::Bf16(v) => &mut v[..],
                _ => unreachable!("checked above"),
            });
            // chunks of whole vectors: each dither is its element's, wherever the chunk starts
            by_chunks(n, MAX_LANES, grad, &mut |start, end, grad, meanwhile| {
                let part = slots.each_mut().map(|s| &mut s[start..end]);
                super::bf16_pass::update(pre, k, &mut var[start..end], grad, part, Dither::at(iteration, start), meanwhile)
            })
        }
        SlotStorage::Int8 => {
            let mut slots8 =
                Int8Slots { codes: [core::ptr::null_mut(); S], absmax: [core::ptr::null_mut(); S], maps: [Codebook::signed(); S] };
            let mut block = BLOCK;
            for (s, slot) in slots.iter_mut().enumerate() {
                let SlotData::Int8(q, m) = &mut slot.data else { unreachable!("checked above") };
                assert!((s == 0 || q.block == block) && q.codes.len() == n, "the slots of a variable share a block size");
                (block, slots8.codes[s], slots8.absmax[s], slots8.maps[s]) =
                    (q.block, q.codes.as_mut_ptr(), q.absmax.as_mut_ptr(), codebook(*m));
            }
            let slots = slots8;
            by_chunks(n, block, grad, &mut |start, end, grad, meanwhile| {
                // SAFETY: `start` is 0 or a chunk's, a multiple of `block`, within the slots.
                let slots = unsafe { slots.from(start, block) };
                int8_pass(pre, k, &mut var[start..end], grad, &slots, block, meanwhile)
            })
        }
    }
}

/// Runs a compressed pass, `pass(start, end, grad, meanwhile)` over elements `start..end`, for a
/// gradient of `n` values. A streamed gradient goes chunk by chunk of a multiple of `unit` values
/// through the staging buffer, each updated while it is in cache (where `fill` stops, so does the
/// pass); where the threads build splits the pass over its pool, each chunk is split, and
/// `meanwhile` (which the pass runs once, see [`split`]) copies the next chunk into the staging
/// buffer's other half. A staging buffer shorter than `unit` (tests) takes the gradient whole
/// first; any other gradient runs whole.
///
/// Not generic (`pass` is `dyn`): one copy for every kernel.
#[inline(never)]
fn by_chunks(n: usize, unit: usize, grad: GradIn<'_>, pass: &mut RangePass<'_>) {
    match grad {
        #[cfg(feature = "threads")]
        GradIn::Streamed { staging, fill, split: true } if staging.len() >= 2 * unit => {
            let chunk = staging.len() / 2 / unit * unit;
            drive::chunks_meanwhile(n, chunk, staging, fill, |start, values, meanwhile| {
                pass(start, start + values.len(), GradIn::Values(values), Some(meanwhile))
            })
        }
        GradIn::Streamed { staging, fill, .. } if staging.len() >= unit => {
            let chunk = staging.len() / unit * unit;
            drive::chunks(n, chunk, staging, fill, |start, values| pass(start, start + values.len(), GradIn::Values(values), None))
        }
        GradIn::Streamed { staging, fill, .. } => {
            if let Some(all) = gather(n, staging.len(), fill) {
                pass(0, n, GradIn::Values(&all), None)
            }
        }
        grad => pass(0, n, grad, None),
    }
}

/// A compressed pass over elements `start..end`, given their gradient and `meanwhile` (see
/// [`split`]).
type RangePass<'p> = dyn FnMut(usize, usize, GradIn<'_>, Option<&mut dyn FnMut()>) + 'p;

/// A streamed gradient copied whole, `chunk` values at a time (`None` where `fill` stopped).
fn gather(n: usize, chunk: usize, fill: &dyn Fn(usize, &mut [f32]) -> bool) -> Option<Vec<f32>> {
    let mut all = vec![0.0f32; n];
    for start in (0..n).step_by(chunk.max(1)) {
        let end = (start + chunk).min(n);
        if !fill(start, &mut all[start..end]) {
            return None;
        }
    }
    Some(all)
}

/// The 8-bit pass over `var` and its slots (`slots` from `var`'s first element on).
fn int8_pass<K: LaneKernel<S>, const S: usize>(
    pre: Keras3Prelude,
    k: &K,
    var: &mut [f32],
    grad: GradIn<'_>,
    slots: &Int8Slots<'_, S>,
    block: usize,
    meanwhile: Option<&mut dyn FnMut()>,
) {
    let n = var.len();
    // Without unscale, clip, decay and accumulation (the common case) the pass runs
    // `Identity`'s loop, which makes no choice per vector (Adam 1M: ×0.91–0.96 in the SIMD
    // build).
    let plain = matches!(grad, GradIn::Values(_)) && matches!(pre.fixed_stages(), Some(None));
    let base = Buffers::new(var, grad, K::READS_GRAD, ());
    // SAFETY: the pointers come from the slots' `&mut` borrows, unused until the pass ends; the
    // ranges are whole blocks (`CHUNK` is), so they touch disjoint codes and absmax.
    let run = |start: usize, end: usize| unsafe {
        if plain {
            update_int8(Identity, k, base, slots, start, end, block)
        } else {
            update_int8(pre, k, base, slots, start, end, block)
        }
    };
    // (A pool chunk must be whole blocks.)
    split(n, block_streams::<K, S>(), CHUNK % block == 0, meanwhile, run)
}

/// The element ranges of a compressed pass: split over the pool in the threads build (chunks
/// of [`CHUNK`] elements, the last one shorter) where `splittable`, one range otherwise. Then
/// `meanwhile`, if any, runs once on this thread: while the workers run the ranges, and the pass is
/// split whatever its size (a streamed chunk of a pass that splits, see [`by_chunks`]); after
/// the pass where it does not split.
#[inline(always)]
pub(super) fn split(n: usize, streams: usize, splittable: bool, meanwhile: Option<&mut dyn FnMut()>, f: impl Fn(usize, usize) + Sync) {
    #[cfg(feature = "threads")]
    match meanwhile {
        _ if !splittable => {}
        Some(meanwhile) => return crate::pool::parallel_for_meanwhile(n, f, meanwhile),
        None => return crate::pool::parallel_for(n, streams, f),
    }
    let _ = (streams, splittable);
    f(0, n);
    if let Some(meanwhile) = meanwhile {
        meanwhile()
    }
}

#[cfg(feature = "threads")]
use crate::pool::CHUNK;
/// Without a pool every pass is one range (any block size divides it).
#[cfg(not(feature = "threads"))]
const CHUNK: usize = BLOCK;
const _: () = assert!(CHUNK % BLOCK == 0, "a pool chunk is whole 8-bit blocks");

/// Buffers a compressed pass reads, for the pool's threshold: as an f32 pass of the same kernel.
pub(super) const fn block_streams<K: LaneKernel<S>, const S: usize>() -> usize {
    K::UPDATES_VAR as usize + K::READS_GRAD as usize + S
}

/// A variable's 8-bit slots, shared by the threads that run its blocks.
struct Int8Slots<'a, const S: usize> {
    codes: [*mut u8; S],
    absmax: [*mut f32; S],
    maps: [&'a Codebook; S],
}

// SAFETY: the threads run disjoint ranges of whole blocks (see `update_int8`).
unsafe impl<const S: usize> Sync for Int8Slots<'_, S> {}

impl<const S: usize> Int8Slots<'_, S> {
    /// The same slots from element `start` on.
    ///
    /// # Safety
    /// `start` is a multiple of `block` and at most the slots' length.
    unsafe fn from(&self, start: usize, block: usize) -> Self {
        Int8Slots { codes: self.codes.map(|p| p.add(start)), absmax: self.absmax.map(|p| p.add(start / block)), maps: self.maps }
    }
}

/// Elements `start..end` (whole blocks of `block` elements, but for a last partial block at
/// the end of the variable) of a variable's 8-bit slots.
///
/// # Safety
/// `start` is a multiple of `block`, `end` is too or is the slots' length; no other thread
/// touches these blocks meanwhile.
unsafe fn update_int8<P: GradPrelude, K: LaneKernel<S>, const S: usize>(
    pre: P,
    k: &K,
    base: Buffers<()>,
    slots: &Int8Slots<'_, S>,
    start: usize,
    end: usize,
    block: usize,
) {
    // The block's new moments: on the stack for the optimizer's block size.
    let (mut stack, mut heap) = ([0.0f32; 3 * BLOCK], Vec::new());
    let scratch: &mut [f32] = if S * block <= stack.len() {
        &mut stack[..S * block]
    } else {
        heap.resize(S * block, 0.0);
        &mut heap
    };
    for start in (start..end).step_by(block) {
        let (b, len) = (start / block, block.min(end - start));
        let io = Int8Pass1 {
            codes: core::array::from_fn(|s| slots.codes[s].add(start) as *const u8),
            tables: core::array::from_fn(|s| slots.maps[s].codes()),
            absmax: core::array::from_fn(|s| *slots.absmax[s].add(b)),
            scratch: core::array::from_fn(|s| scratch[s * block..].as_mut_ptr()),
        };
        base.with_io(start, io).run_range_in::<WideBytes, _, _, S>(pre, k, len);
        for s in 0..S {
            let new = &scratch[s * block..s * block + len];
            let m = block_absmax(new);
            *slots.absmax[s].add(b) = m;
            quantize_with_absmax(slots.maps[s], new, m, core::slice::from_raw_parts_mut(slots.codes[s].add(start), len));
        }
    }
}

/// Pass 1 over one block: codes in, the new f32 moments out to the scratch.
#[derive(Clone, Copy)]
struct Int8Pass1<'a, const S: usize> {
    codes: [*const u8; S],
    tables: [&'a [f32; 256]; S],
    absmax: [f32; S],
    scratch: [*mut f32; S],
}

// SAFETY: a pass over one block runs on one thread (its scratch is that thread's).
unsafe impl<const S: usize> Sync for Int8Pass1<'_, S> {}

impl<const S: usize> SlotIo<S> for Int8Pass1<'_, S> {
    const FUSES_AVERAGE: bool = false;

    #[inline(always)]
    fn from(self, start: usize) -> Self {
        Int8Pass1 { codes: self.codes.map(|p| p.wrapping_add(start)), scratch: self.scratch.map(|p| p.wrapping_add(start)), ..self }
    }
    #[inline(always)]
    unsafe fn load<L: Lanes>(&self, i: usize) -> [L; S] {
        core::array::from_fn(|s| L::gather_u8(self.tables[s], self.codes[s].add(i)) * L::splat(self.absmax[s]))
    }
    #[inline(always)]
    unsafe fn store<L: Lanes>(&self, i: usize, slots: [L; S]) {
        for s in 0..S {
            slots[s].store(self.scratch[s].add(i));
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::quant::blockwise::{dequantize, quantize};
    use crate::quant::values::read_f32;
    use crate::step::clip::Identity;

    /// `s = 0.5 * s + g` for one slot; the variable gets `s` (also `bf16_pass`'s test kernel).
    #[derive(Clone, Copy)]
    pub(in crate::quant) struct Decay;

    impl LaneKernel<1> for Decay {
        fn lanes<L: Lanes>(&self, _x: L, g: L, [s]: [L; 1]) -> (L, [L; 1]) {
            let s = s * L::splat(0.5) + g;
            (s, [s])
        }
    }

    fn slot(data: SlotData, n: usize) -> Slot {
        Slot { shape: vec![n], data }
    }

    #[test]
    fn int8_update_equals_dequantize_update_quantize() {
        let cb = Codebook::signed();
        let n = 1000;
        let g: Vec<f32> = (0..n).map(|i| ((i * 37 % 101) as f32 - 50.0) * 1e-2).collect();
        let start: Vec<f32> = (0..n).map(|i| ((i * 13 % 29) as f32 - 14.0) * 1e-1).collect();
        let q = quantize(cb, &start, BLOCK);
        let mut f = vec![0.0; n];
        dequantize(cb, &q, &mut f);
        for (x, gi) in f.iter_mut().zip(&g) {
            *x = *x * 0.5 + gi;
        }
        let mut slots = [slot(SlotData::Int8(q, Moment::Signed), n)];
        let mut var = vec![0.0; n];
        update_slots::<_, _, 1>(Identity, &Decay, &mut var, GradIn::Values(&g), &mut slots, 0);
        assert_eq!(var, f, "the variable moves with the unrounded moments");
        assert_eq!(slots[0].data, SlotData::Int8(quantize(cb, &f, BLOCK), Moment::Signed));
    }

    /// The f32 result rounded stochastically (`bf16::from_f32_dithered`) with element `i`'s
    /// dither in the step after `iteration` calls.
    fn dithered(x: impl Iterator<Item = f32>, iteration: u64) -> Vec<u16> {
        let seed = bf16::step_seed(iteration, 0);
        x.enumerate().map(|(i, x)| bf16::from_f32_dithered(x, bf16::dither(i as u32, seed))).collect()
    }

    #[test]
    fn bf16_update_rounds_the_f32_result() {
        // The lanes (8 on x86_64) and the scalar tail, non-finite values and overflow included.
        let g = [1.0f32, -3.0, 1e-3, 7.5, 0.1, f32::NAN, 3.0e38, -1e-40, 2.0, 3.395e38, 0.01, -0.02, -3.4e38];
        let s0 = bf16::from_slice(&[0.3, 0.7, -1.1, 2.0, 1e-8, 1.0, 3.0e38, 0.0, f32::INFINITY, 0.0, 0.3, 0.7, 0.0]);
        let f32_result = || s0.iter().zip(&g).map(|(&h, &gi)| bf16::to_f32(h) * 0.5 + gi);
        let nearest: Vec<u16> = f32_result().map(bf16::from_f32).collect();
        for iteration in [0, 1, 12345] {
            let expect = dithered(f32_result(), iteration);
            let mut slots = [slot(SlotData::Bf16(s0.clone()), g.len())];
            let mut var = vec![0.0; g.len()];
            update_slots::<_, _, 1>(Identity, &Decay, &mut var, GradIn::Values(&g), &mut slots, iteration);
            assert_eq!(slots[0].data, SlotData::Bf16(expect.clone()));
            for (k, (&e, &n)) in expect.iter().zip(&nearest).enumerate() {
                assert!(e == n || e.abs_diff(n) == 1, "element {k}: one of the two neighbours");
            }
            // overflow to ±inf exactly where round-to-nearest overflows; NaN stays NaN
            assert_eq!([expect[5], expect[6], expect[8], expect[9], expect[12]], [0x7fc0, 0x7f80, 0x7f80, 0x7f7f, 0xff80]);
        }
        assert_eq!([nearest[6], nearest[9], nearest[12]], [0x7f80, 0x7f7f, 0xff80]);
    }

    /// The compressed passes run every dense prelude through its Keras 3 form (or for the 8-bit
    /// pass without stages, `Identity`'s loop): the gradient the kernel sees is the prelude's own.
    #[test]
    fn compressed_passes_apply_the_prelude() {
        use crate::step::clip::{Clip, Scale};
        use crate::step::DensePrelude;
        fn check<P: DensePrelude>(pre: P) {
            let g: Vec<f32> = (0..23).map(|i| (i as f32 - 11.0) * 0.37).collect();
            let s0: Vec<u16> = (0..23).map(|i| bf16::from_f32(i as f32 * 0.1 - 1.0)).collect();
            let expect = dithered(s0.iter().zip(&g).map(|(&h, &gi)| bf16::to_f32(h) * 0.5 + pre.apply(pre.unscale(gi))), 3);
            let mut slots = [slot(SlotData::Bf16(s0.clone()), g.len())];
            let mut var = vec![0.0; g.len()];
            update_slots::<_, _, 1>(pre, &Decay, &mut var, GradIn::Values(&g), &mut slots, 3);
            assert_eq!(slots[0].data, SlotData::Bf16(expect));
            // 8-bit slots: `Identity`'s own loop, or the prelude's when a stage is on
            let cb = Codebook::signed();
            let q = quantize(cb, &s0.iter().map(|&h| bf16::to_f32(h)).collect::<Vec<_>>(), BLOCK);
            let mut f = vec![0.0; g.len()];
            dequantize(cb, &q, &mut f);
            let f: Vec<f32> = f.iter().zip(&g).map(|(&x, &gi)| x * 0.5 + pre.apply(pre.unscale(gi))).collect();
            let mut slots = [slot(SlotData::Int8(q, Moment::Signed), g.len())];
            update_slots::<_, _, 1>(pre, &Decay, &mut var, GradIn::Values(&g), &mut slots, 3);
            assert_eq!((&var, &slots[0].data), (&f, &SlotData::Int8(quantize(cb, &f, BLOCK), Moment::Signed)));
        }
        let clip = Clip { value: 2.0, mul: 3.0, div: 7.0, scale: 0.5 };
        check(Identity);
        check(Scale(0.25));
        check(clip);
        check(Keras3Prelude::new(Some(4.0), clip, None));
    }

    #[test]
    fn small_variables_and_other_slots_stay_f32() {
        let m = crate::slot::SlotSpec::moment("v", 0.1, Moment::NonNegative);
        assert_eq!(Slot::stored(&m, &[4095], SlotStorage::Int8).unwrap().storage(), SlotStorage::Float32);
        let big = Slot::stored(&m, &[64, 64], SlotStorage::Int8).unwrap();
        assert_eq!(big.storage(), SlotStorage::Int8);
        let mut y = vec![0.0; 4096];
        read_f32(&big.data, &mut y);
        assert!(y.iter().all(|&v| v == 0.1f32), "a constant initial value is exact: absmax 0.1, code 1.0");
        let plain = crate::slot::SlotSpec::like_var("linear", 0.0);
        assert_eq!(Slot::stored(&plain, &[8192], SlotStorage::Int8).unwrap().storage(), SlotStorage::Float32);
    }
}
