//! The lane loop of a sparse step: one tight loop over the step's sorted rows, each row's
//! elements unrolled four wide vectors at a time (a row of 64 values is four iterations).
//!
//! Why not [`crate::drive::update`] per row: its per-call set-up (length checks, the
//! accumulator and epilogue arms, the buffers' pointers) ran once per row, and its loop kept one
//! induction variable per buffer. Scattered rows are bound by cache misses, and the processor
//! overlaps the misses of consecutive rows only while the instructions between them fit in its
//! reorder window: fewer instructions per row is more rows in flight (C's AVX2 loop is 9
//! instructions per 8 values). The arithmetic per element is the driver's, in the same order,
//! so the numbers are the same bits.

use super::AddZero;
use crate::drive::{scalar_forced, LaneKernel};
use crate::lanes::{Lanes, Wide};
use crate::rules::SparseRows;
use crate::step::clip::Identity;
use crate::step::GradPrelude;

/// Wide vectors per unrolled iteration of a row (a 64-byte cache line of `f32x4`).
const UNROLL: usize = 4;

/// Runs `k` on the rows of `var` (and of every slot) that `g` lists, in its order, each with its
/// gradient row (as `0 + g` where the merge leaves that to the kernel, see [`super`]).
pub(crate) fn update_rows<K: LaneKernel<S>, const S: usize>(k: &K, var: &mut [f32], g: &SparseRows<'_>, slots: [&mut [f32]; S]) {
    let w = g.row_len;
    assert!(slots.iter().all(|s| s.len() == var.len()) && g.rows.len() == g.at.len(), "sparse rows of different lengths");
    if w == 0 {
        return;
    }
    let rows_in_var = var.len() / w;
    let x = var.as_mut_ptr();
    let s = slots.map(|s| s.as_mut_ptr());
    for (&r, &at) in g.rows.iter().zip(g.at) {
        assert!(r < rows_in_var, "row {r} out of range");
        // The gradient row (bounds-checked by the slicing).
        let (grad, add_zero) = match at.checked_sub(g.values.len()) {
            None => (g.values[at..at + w].as_ptr(), g.zero_add),
            Some(m) => (g.merged[m..m + w].as_ptr(), false),
        };
        let o = r * w;
        // SAFETY: row `r` is in range of `var` and of every slot (same length, checked above),
        // so `o..o + w` is valid in each; `grad` is `w` values; the gradient is a shared slice
        // and cannot alias the `&mut` buffers.
        unsafe {
            let (x, s) = (x.add(o), s.map(|p| p.add(o)));
            if add_zero {
                row(AddZero, k, x, grad, s, w)
            } else {
                row(Identity, k, x, grad, s, w)
            }
        }
    }
}

/// Runs `k` on one row: `var` and the `slots` are that row's elements, `grad` its gradient
/// (`add_zero`: as `0 + g`).
pub(crate) fn update_row<K: LaneKernel<S>, const S: usize>(k: &K, var: &mut [f32], grad: &[f32], add_zero: bool, slots: [&mut [f32]; S]) {
    let w = var.len();
    assert!(slots.iter().all(|s| s.len() == w) && (!K::READS_GRAD || grad.len() == w), "sparse rows of different lengths");
    let (x, g, s) = (var.as_mut_ptr(), grad.as_ptr(), slots.map(|s| s.as_mut_ptr()));
    // SAFETY: every buffer holds `w` elements (the gradient when read); `&mut` slices are distinct
    // and the gradient, shared, cannot alias them.
    unsafe {
        if add_zero {
            row(AddZero, k, x, g, s, w)
        } else {
            row(Identity, k, x, g, s, w)
        }
    }
}

/// One row: `UNROLL` wide vectors per iteration (offsets from one index), then single wide
/// vectors, then the scalar tail (as the driver: the same element-wise steps).
///
/// # Safety
/// `x`, `g` and every `s` must be valid for `w` elements; `g` must not alias the others.
#[inline(always)]
unsafe fn row<P: GradPrelude, K: LaneKernel<S>, const S: usize>(pre: P, k: &K, x: *mut f32, g: *const f32, s: [*mut f32; S], w: usize) {
    let mut i = 0;
    if !scalar_forced() {
        let unrolled = w - w % (UNROLL * Wide::WIDTH);
        while i < unrolled {
            for u in 0..UNROLL {
                lanes::<Wide, P, K, S>(pre, k, x, g, s, i + u * Wide::WIDTH);
            }
            i += UNROLL * Wide::WIDTH;
        }
        let body = w - w % Wide::WIDTH;
        while i < body {
            lanes::<Wide, P, K, S>(pre, k, x, g, s, i);
            i += Wide::WIDTH;
        }
    }
    while i < w {
        lanes::<f32, P, K, S>(pre, k, x, g, s, i);
        i += 1;
    }
}

/// The driver's step (`drive::Buffers::step` without accumulator and epilogue, which sparse
/// steps do not fuse) at element `i`.
///
/// # Safety
/// Every pointer must be valid for `L::WIDTH` elements from `i`.
#[inline(always)]
unsafe fn lanes<L: Lanes, P: GradPrelude, K: LaneKernel<S>, const S: usize>(
    pre: P,
    k: &K,
    x: *mut f32,
    g: *const f32,
    s: [*mut f32; S],
    i: usize,
) {
    let var = if K::UPDATES_VAR { pre.decay(L::load(x.add(i))) } else { L::splat(0.0) };
    let grad = if K::READS_GRAD { pre.apply(pre.unscale(L::load(g.add(i)))) } else { L::splat(0.0) };
    let (var, slots) = k.lanes(var, grad, s.map(|p| L::load(p.add(i))));
    for j in 0..S {
        slots[j].store(s[j].add(i));
    }
    if K::UPDATES_VAR {
        var.store(x.add(i));
    }
}

#[cfg(test)]
mod tests {
    use super::update_rows;
    use crate::drive::{self, LaneKernel};
    use crate::lanes::Lanes;
    use crate::rules::SparseRows;
    use crate::step::clip::Identity;
    use crate::step::rows::{AddZero, RowMerge};

    /// Two slots: a momentum-like update, and the gradient as the kernel received it (so a
    /// `0 + g` missing or added shows in a -0).
    #[derive(Clone, Copy)]
    struct Probe;
    impl LaneKernel<2> for Probe {
        fn lanes<L: Lanes>(&self, x: L, g: L, [a, _]: [L; 2]) -> (L, [L; 2]) {
            let a = a * L::splat(0.9) - g * L::splat(0.01);
            (x + a / (a.sqrt() + L::splat(1e-7)), [a, g])
        }
    }

    /// The pass gives the bits of the lane driver run row by row (the path before it), for rows
    /// shorter than a vector, with tails, and unrolled, in steps with and without repeats.
    #[test]
    fn the_row_pass_gives_the_drivers_bits() {
        let mut seed = 11u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            seed
        };
        let specials = [-0.0, 0.0, f32::NAN, -1.5, 3.25e-3, 7.0];
        for &w in &[1usize, 3, 4, 7, 16, 19, 64, 67] {
            for &(k, n_rows) in &[(5usize, 40usize), (40, 12)] {
                let indices: Vec<i64> = (0..k).map(|_| (next() as usize % n_rows) as i64).collect();
                let values: Vec<f32> = (0..k * w).map(|_| specials[next() as usize % specials.len()]).collect();
                let mut m = RowMerge::default();
                m.merge(&indices, n_rows, w, &values, true);
                let g =
                    SparseRows { rows: &m.rows, at: &m.at, values: &values, merged: &m.merged, row_len: w, n_rows, zero_add: m.repeats };
                let init: Vec<f32> = (0..n_rows * w).map(|_| specials[next() as usize % specials.len()] + 0.5).collect();
                let (mut x, mut a, mut b) = (init.clone(), vec![0.25f32; init.len()], init.clone());
                update_rows(&Probe, &mut x, &g, [&mut a, &mut b]);
                let (mut rx, mut ra, mut rb) = (init.clone(), vec![0.25f32; init.len()], init.clone());
                for (i, &r) in g.rows.iter().enumerate() {
                    let span = r * w..(r + 1) * w;
                    let slots = [&mut ra[span.clone()], &mut rb[span.clone()]];
                    if g.zero_add && g.at[i] < values.len() {
                        drive::update(AddZero, &Probe, &mut rx[span.clone()], g.row_values(i), slots)
                    } else {
                        drive::update(Identity, &Probe, &mut rx[span.clone()], g.row_values(i), slots)
                    }
                }
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!((bits(&x), bits(&a), bits(&b)), (bits(&rx), bits(&ra), bits(&rb)), "w = {w}, k = {k}");
            }
        }
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn a_row_past_the_variable_is_refused() {
        let g = SparseRows { rows: &[2], at: &[0], values: &[1.0, 2.0], merged: &[], row_len: 2, n_rows: 3, zero_add: false };
        update_rows(&Probe, &mut [0.0; 4], &g, [&mut [0.0; 4], &mut [0.0; 4]]);
    }
}
