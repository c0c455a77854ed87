//! The optimizer step over bfloat16 slots: the rule's lane kernel with its slots widened on
//! load and rounded stochastically on store ([`super::bf16`]), in one pass over the variable.
//!
//! Speed (issue 16: no slower than f32 slots, which move 28 bytes a parameter to bfloat16's 20):
//! - Each pool range runs in [`range`], whose variable and slots are `&mut` arguments: LLVM then
//!   knows that the stores leave the kernel's coefficients alone and loads them once per range,
//!   not after every store (through raw pointers it reloaded and re-splatted them per vector).
//! - Without Keras 3 stages (the common case) the loop is compiled without their per-element
//!   choices ([`Identity`]); with them it takes the run-time [`Keras3Prelude`].
//! - The dither of a vector is one scalar hash ([`bf16::xorshift`] is linear over xor) and the
//!   rounding a add and a shift per lane, with a branch for the rare lanes from the largest
//!   finite bfloat16 up (see the lanes' `store_bf16_dithered`).

use super::bf16;
use super::storage::{block_streams, split};
use crate::drive::{Buffers, GradIn, LaneKernel, SlotIo};
use crate::lanes::{Lanes, Wide, WideBytes, MAX_LANES};
use crate::step::clip::Identity;
use crate::step::update::Keras3Prelude;
use crate::step::GradPrelude;

/// The most bfloat16 slots of a kernel (AMSGrad's three).
const MAX_SLOTS: usize = 3;

/// The pass over a variable whose first `S` slots are the bfloat16 `slots` (of `var`'s length),
/// rounded stochastically by `dither` (from `var`'s first element on). `grad` holds values or an
/// accumulator, not a stream. `meanwhile`: as in [`split`].
pub(super) fn update<K: LaneKernel<S>, const S: usize>(
    pre: Keras3Prelude,
    k: &K,
    var: &mut [f32],
    grad: GradIn<'_>,
    slots: [&mut [u16]; S],
    dither: Dither<S>,
    meanwhile: Option<&mut dyn FnMut()>,
) {
    assert!(S <= MAX_SLOTS, "at most {MAX_SLOTS} bfloat16 slots");
    let n = var.len();
    assert!(slots.iter().all(|s| s.len() == n), "a variable's slots have its length");
    let (grad, acc, steps) = match grad {
        GradIn::Values(g) => (g, None, 1.0),
        GradIn::Accumulated { grad, acc, steps } => (grad, Some(acc), steps),
        GradIn::Streamed { .. } => unreachable!("a streamed gradient comes as values: its chunks, or gathered whole"),
    };
    assert!((!K::READS_GRAD || grad.len() == n) && acc.as_ref().map_or(true, |a| a.len() == n), "kernel buffers of different lengths");
    let parts: Parts<S> = Parts {
        var: var.as_mut_ptr(),
        acc: acc.map_or(core::ptr::null_mut(), |a| a.as_mut_ptr()),
        slots: core::array::from_fn(|s| slots[s].as_mut_ptr()),
    };
    // Without stages (the common case) the loop has none of their per-element choices.
    let plain = pre.is_plain() && parts.acc.is_null();
    let parts = &parts; // (shared whole: its `Sync` is the struct's, not its fields')
    split(n, block_streams::<K, S>(), true, meanwhile, |start, end| {
        let len = end - start;
        let grad = if K::READS_GRAD { &grad[start..end] } else { grad };
        // SAFETY: the pool hands out disjoint ranges of `0..n`, and every buffer holds `n`
        // elements (checked above): each call has its elements alone.
        unsafe {
            let var = core::slice::from_raw_parts_mut(parts.var.add(start), len);
            let slot = |s: usize| if s < S { core::slice::from_raw_parts_mut(parts.slots[s].add(start), len) } else { &mut [] };
            let dither = Dither { start: dither.start + start, ..dither };
            if plain {
                range::<WideBytes, _, _, S>(Identity, k, var, GradIn::Values(grad), slot(0), slot(1), slot(2), dither)
            } else {
                let grad = match parts.acc.is_null() {
                    true => GradIn::Values(grad),
                    false => GradIn::Accumulated { grad, acc: core::slice::from_raw_parts_mut(parts.acc.add(start), len), steps },
                };
                range::<Wide, _, _, S>(pre, k, var, grad, slot(0), slot(1), slot(2), dither)
            }
        }
    })
}

/// The buffers of a pass, for the pool's threads to take their ranges from.
struct Parts<const S: usize> {
    var: *mut f32,
    acc: *mut f32,
    slots: [*mut u16; S],
}

// SAFETY: each thread makes slices of its own range only (see `update`).
unsafe impl<const S: usize> Sync for Parts<S> {}

/// Where a range's dither starts: its first element's index in the slot, and each slot's seed.
#[derive(Clone, Copy)]
pub(super) struct Dither<const S: usize> {
    start: usize,
    seeds: [u32; S],
}

impl<const S: usize> Dither<S> {
    /// The dither of step `iteration` (the optimizer's calls so far) from element `first` (a
    /// multiple of [`MAX_LANES`]: where a streamed chunk starts in the variable) on.
    pub(super) fn at(iteration: u64, first: usize) -> Self {
        Dither { start: first, seeds: core::array::from_fn(|s| bf16::step_seed(iteration, s)) }
    }
}

/// One range of the pass: elements `start..start + var.len()` of the variable's slots `s0..`
/// (the first `S`; the others are empty). Out of line, with each buffer its own `&mut`
/// argument: see the module's notes.
#[inline(never)]
#[allow(clippy::too_many_arguments)] // references as separate arguments are the point
fn range<W: Lanes, P: GradPrelude, K: LaneKernel<S>, const S: usize>(
    pre: P,
    k: &K,
    var: &mut [f32],
    grad: GradIn<'_>,
    s0: &mut [u16],
    s1: &mut [u16],
    s2: &mut [u16],
    dither: Dither<S>,
) {
    let n = var.len();
    // The lanes' dithers are one hash per vector at an aligned index (see `Lanes::store_bf16_dithered`).
    assert!(dither.start % MAX_LANES == 0, "a range starts at a multiple of the lane width");
    let all = [s0.as_mut_ptr(), s1.as_mut_ptr(), s2.as_mut_ptr()];
    let io = Bf16Io { slots: core::array::from_fn(|s| all[s]), start: dither.start, seeds: dither.seeds };
    Buffers::new(var, grad, K::READS_GRAD, io).run_range_in::<W, P, K, S>(pre, k, n)
}

/// The bfloat16 slots from element `start` on, with their dither seeds for this step.
#[derive(Clone, Copy)]
struct Bf16Io<const S: usize> {
    slots: [*mut u16; S],
    start: usize,
    seeds: [u32; S],
}

// SAFETY: a range's slots are its own (see `update`).
unsafe impl<const S: usize> Sync for Bf16Io<S> {}

impl<const S: usize> SlotIo<S> for Bf16Io<S> {
    const FUSES_AVERAGE: bool = false;

    #[inline(always)]
    fn from(self, start: usize) -> Self {
        Bf16Io { slots: self.slots.map(|p| p.wrapping_add(start)), start: self.start + start, ..self }
    }
    #[inline(always)]
    unsafe fn load<L: Lanes>(&self, i: usize) -> [L; S] {
        core::array::from_fn(|s| L::load_bf16(self.slots[s].add(i)))
    }
    #[inline(always)]
    unsafe fn store<L: Lanes>(&self, i: usize, slots: [L; S]) {
        // The absolute index: the same dither however the pool splits the pass.
        let index = (self.start + i) as u32;
        for s in 0..S {
            bf16::store_dithered(slots[s], self.slots[s].add(i), index, self.seeds[s]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::storage::tests::Decay;
    use crate::step::DensePrelude;

    /// The f32 results rounded stochastically with element `i`'s dither after `iteration` calls.
    fn dithered(x: impl Iterator<Item = f32>, iteration: u64) -> Vec<u16> {
        let seed = bf16::step_seed(iteration, 0);
        x.enumerate().map(|(i, x)| bf16::from_f32_dithered(x, bf16::dither(i as u32, seed))).collect()
    }

    /// Slot values near and beyond the largest finite bfloat16, NaN and infinities among
    /// ordinary ones, so that wide lanes take both the plain rounding and the rare branch.
    fn slot_values(n: usize) -> Vec<u16> {
        let special = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 3.3e38, -3.39e38, f32::MAX, 1e-40];
        (0..n)
            .map(|i| match i % 37 {
                5 | 17 => bf16::from_f32(special[i / 37 % special.len()]),
                _ => bf16::from_f32(((i * 13 % 29) as f32 - 14.0) * 1e-1),
            })
            .collect()
    }

    /// The dither depends on the element's absolute index: a pass split in ranges (as the
    /// threads build's pool splits it, at multiples of the lane width) stores the same bits as
    /// one pass, and those are the scalar rounding's.
    #[test]
    fn split_passes_store_the_scalar_bits() {
        let n = 1000;
        let g: Vec<f32> = (0..n).map(|i| ((i * 37 % 101) as f32 - 50.0) * 1e-3 * if i % 41 == 3 { 1e38 } else { 1.0 }).collect();
        let s0 = slot_values(n);
        let expect = dithered(s0.iter().zip(&g).map(|(&h, &gi)| bf16::to_f32(h) * 0.5 + gi), 9);
        let whole = {
            let mut s = s0.clone();
            update(Identity.as_keras3(), &Decay, &mut vec![0.0; n], GradIn::Values(&g), [&mut s], Dither::at(9, 0), None);
            s
        };
        assert_eq!(whole, expect);
        // and in passes over parts of the variable (a streamed gradient's chunks), each told where
        // it starts
        for cuts in [[0, 8, 520, n], [0, 512, 1000, n]] {
            let mut s = s0.clone();
            for w in cuts.windows(2) {
                let (a, b) = (w[0], w[1]);
                update(
                    Identity.as_keras3(),
                    &Decay,
                    &mut vec![0.0; b - a],
                    GradIn::Values(&g[a..b]),
                    [&mut s[a..b]],
                    Dither::at(9, a),
                    None,
                );
            }
            assert_eq!(s, expect, "parts {cuts:?}");
        }
        for cuts in [[0, 8, 520, n], [0, 8, 16, n], [0, 16, 992, n], [0, 0, 1000, n]] {
            let mut s = s0.clone();
            let mut var = vec![0.0; n];
            for w in cuts.windows(2) {
                let (a, b) = (w[0], w[1]);
                let dither = Dither { start: a, seeds: [bf16::step_seed(9, 0)] };
                range::<WideBytes, _, _, 1>(
                    Identity,
                    &Decay,
                    &mut var[a..b],
                    GradIn::Values(&g[a..b]),
                    &mut s[a..b],
                    &mut [],
                    &mut [],
                    dither,
                );
            }
            assert_eq!(s, expect, "cuts {cuts:?}");
        }
    }
}
