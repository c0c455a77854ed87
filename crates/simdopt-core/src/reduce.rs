//! Reductions (sums, sums of squares, means over an axis) in one fixed order on every build and
//! for any number of threads: the input is cut into blocks of [`BLOCK`] elements; a block is
//! summed by [`REDUCE_WIDTH`] interleaved partial sums (lane `j` takes elements `j, j+8, ...`),
//! combined pairwise `((s0+s4)+(s2+s6))+((s1+s5)+(s3+s7))`, then its tail in order; the block
//! sums are then added in block order. A threaded build may sum blocks on any thread and add
//! them in order: the result does not change.
//!
//! TF 2.4's `clipnorm`/`global_clipnorm` keep their own unblocked order
//! ([`crate::lanes::sum_of_squares`]) so that those classes stay bit for bit as they were.

use crate::lanes::{Array, Lanes, Reduce, REDUCE_WIDTH};

/// Elements per block.
pub const BLOCK: usize = 4096;

/// The per-element value a reduction sums (or sums the squares of), from one input `x` or two
/// (`y` is zero lanes when there is no second input).
pub trait ElementMap: Sync {
    fn map<L: Lanes>(&self, x: L, y: L) -> L;
}

/// `x` itself.
pub struct Plain;

impl ElementMap for Plain {
    #[inline(always)]
    fn map<L: Lanes>(&self, x: L, _y: L) -> L {
        x
    }
}

/// Σ m(x, y)² in the fixed block order. `y`, when given, must have `x`'s length.
pub fn sum_of_squares_by<M: ElementMap>(x: &[f32], y: Option<&[f32]>, m: &M) -> f32 {
    blocked::<Reduce, M, true>(x, y, m)
}

/// Σ x² in the fixed block order.
pub fn sum_of_squares(x: &[f32]) -> f32 {
    sum_of_squares_by(x, None, &Plain)
}

/// Σ x in the fixed block order.
pub fn sum(x: &[f32]) -> f32 {
    blocked::<Reduce, Plain, false>(x, None, &Plain)
}

/// Means over the last axis of a row-major `[rows, cols]` matrix (`out` has `rows` values):
/// each row's [`sum`] divided by `cols`.
pub fn mean_last_axis(x: &[f32], cols: usize, out: &mut [f32]) {
    assert_eq!(x.len(), out.len() * cols, "mean_last_axis: shapes");
    for (r, o) in out.iter_mut().enumerate() {
        *o = sum(&x[r * cols..(r + 1) * cols]) / cols as f32;
    }
}

/// Means over the second-to-last axis of a row-major `[rows, cols]` matrix (`out` has `cols`
/// values): each column summed over the rows in row order, divided by `rows`. Every column is
/// independent, so lanes across columns change nothing in the order.
pub fn mean_second_last_axis(x: &[f32], rows: usize, out: &mut [f32]) {
    let cols = out.len();
    assert_eq!(x.len(), rows * cols, "mean_second_last_axis: shapes");
    out.fill(0.0);
    for r in 0..rows {
        for (o, v) in out.iter_mut().zip(&x[r * cols..(r + 1) * cols]) {
            *o = *o + *v;
        }
    }
    for o in out.iter_mut() {
        *o = *o / rows as f32;
    }
}

fn blocked<L: Lanes, M: ElementMap, const SQUARES: bool>(x: &[f32], y: Option<&[f32]>, m: &M) -> f32 {
    if let Some(y) = y {
        assert_eq!(x.len(), y.len(), "reduction inputs of different lengths");
    }
    #[cfg(feature = "threads")]
    if x.len() > 2 * crate::pool::CHUNK {
        return blocked_on_pool::<L, M, SQUARES>(x, y, m);
    }
    let mut total = 0.0f32;
    for start in (0..x.len()).step_by(BLOCK) {
        let end = (start + BLOCK).min(x.len());
        total = total + block::<L, M, SQUARES>(&x[start..end], y.map(|y| &y[start..end]), m);
    }
    total
}

/// [`blocked`] with the blocks summed on the worker pool (any thread, one chunk of whole blocks
/// each: the pool's chunks are whole blocks), then added in block order here: the same bits.
#[cfg(feature = "threads")]
fn blocked_on_pool<L: Lanes, M: ElementMap, const SQUARES: bool>(x: &[f32], y: Option<&[f32]>, m: &M) -> f32 {
    const _: () = assert!(crate::pool::CHUNK % BLOCK == 0);
    struct Sums(*mut f32);
    // SAFETY: each block's sum is written by the one thread that runs its chunk.
    unsafe impl Sync for Sums {}
    impl Sums {
        fn set(&self, i: usize, v: f32) {
            // SAFETY: `i` is a block index of the input, below the vector's length.
            unsafe { *self.0.add(i) = v }
        }
    }
    let mut sums = vec![0.0f32; x.len().div_ceil(BLOCK)];
    let out = Sums(sums.as_mut_ptr());
    crate::pool::parallel_for(x.len(), 1 + y.is_some() as usize, |start, end| {
        for s in (start..end).step_by(BLOCK) {
            let e = (s + BLOCK).min(end);
            out.set(s / BLOCK, block::<L, M, SQUARES>(&x[s..e], y.map(|y| &y[s..e]), m));
        }
    });
    sums.iter().fold(0.0f32, |total, &s| total + s)
}

/// One block: `REDUCE_WIDTH` interleaved partial sums over the body, combined pairwise, then
/// the tail in order.
#[inline(always)]
fn block<L: Lanes, M: ElementMap, const SQUARES: bool>(x: &[f32], y: Option<&[f32]>, m: &M) -> f32 {
    const W: usize = REDUCE_WIDTH;
    let term = |v: L| if SQUARES { v * v } else { v };
    let body = x.len() - x.len() % W;
    let mut acc = L::splat(0.0);
    let mut i = 0;
    while i < body {
        // SAFETY: `i + W <= body <= x.len()`, and `y` has `x`'s length (checked in `blocked`).
        let (xv, yv) = unsafe { (L::load(x.as_ptr().add(i)), y.map_or(L::splat(0.0), |y| L::load(y.as_ptr().add(i)))) };
        acc = acc + term(m.map(xv, yv));
        i += W;
    }
    let mut a = [0.0f32; W];
    // SAFETY: `a` holds `W == L::WIDTH` values.
    unsafe { acc.store(a.as_mut_ptr()) };
    let mut s = ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
    for j in body..x.len() {
        let v = m.map(x[j], y.map_or(0.0, |y| y[j]));
        s = s + if SQUARES { v * v } else { v };
    }
    s
}

/// The same reduction on plain 8-lane arrays (no SIMD type), for the tests.
#[doc(hidden)]
pub fn sum_of_squares_on_arrays(x: &[f32]) -> f32 {
    blocked::<Array<REDUCE_WIDTH>, Plain, true>(x, None, &Plain)
}

const _: () = assert!(<Reduce as Lanes>::WIDTH == REDUCE_WIDTH && REDUCE_WIDTH == 8);

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented order, written out with plain scalars.
    fn reference(x: &[f32], squares: bool) -> f32 {
        let f = |v: f32| if squares { v * v } else { v };
        let mut total = 0.0f32;
        for b in x.chunks(BLOCK) {
            let body = b.len() - b.len() % 8;
            let mut p = [0.0f32; 8];
            for (i, &v) in b[..body].iter().enumerate() {
                p[i % 8] = p[i % 8] + f(v);
            }
            let mut s = ((p[0] + p[4]) + (p[2] + p[6])) + ((p[1] + p[5]) + (p[3] + p[7]));
            for &v in &b[body..] {
                s = s + f(v);
            }
            total = total + s;
        }
        total
    }

    fn data(n: usize) -> Vec<f32> {
        // Mixed magnitudes, so a different order gives different bits.
        (0..n).map(|i| ((i * 7919 % 1009) as f32 - 500.0) * if i % 3 == 0 { 1e3 } else { 1e-3 }).collect()
    }

    #[test]
    fn sums_follow_the_documented_block_order_on_every_lane_type() {
        for n in [0, 1, 7, 8, 9, 4095, 4096, 4097, 3 * 4096 + 13, 20_000] {
            let x = data(n);
            let want = reference(&x, true).to_bits();
            assert_eq!(sum_of_squares(&x).to_bits(), want, "n = {n}");
            assert_eq!(sum_of_squares_on_arrays(&x).to_bits(), want, "n = {n}");
            assert_eq!(sum(&x).to_bits(), reference(&x, false).to_bits(), "n = {n}");
        }
        // The order matters at all: a plain left-to-right sum differs for this data.
        let x = data(20_000);
        let naive = x.iter().fold(0.0f32, |s, v| s + v * v);
        assert_ne!(naive.to_bits(), sum_of_squares(&x).to_bits());
    }

    #[test]
    fn means_over_either_of_the_last_two_axes() {
        let x: Vec<f32> = (0..12).map(|i| i as f32).collect(); // [[0..4], [4..8], [8..12]]
        let mut rows = [0.0f32; 3];
        mean_last_axis(&x, 4, &mut rows);
        assert_eq!(rows, [1.5, 5.5, 9.5]);
        let mut cols = [0.0f32; 4];
        mean_second_last_axis(&x, 3, &mut cols);
        assert_eq!(cols, [4.0, 5.0, 6.0, 7.0]);
    }

    /// Summed on the pool (two native workers, threshold 0), the blocks give the same bits as
    /// the documented order.
    #[cfg(feature = "threads")]
    #[test]
    fn on_the_pool_the_same_bits() {
        let x: Vec<f32> = (0..(1 << 20) + 37).map(|i| ((i as u32).wrapping_mul(0x9e37_79b1) as f32 / 4.0e9) - 0.5).collect();
        let (squares, plain) = crate::pool::with_test_workers(2, || {
            let chunks = crate::pool::worker_chunks();
            let mut out = (sum_of_squares(&x), sum(&x));
            // Until a worker has taken part (a late wake-up leaves every chunk to this thread).
            while crate::pool::worker_chunks() == chunks {
                out = (sum_of_squares(&x), sum(&x));
            }
            out
        });
        assert_eq!(squares.to_bits(), reference(&x, true).to_bits());
        assert_eq!(plain.to_bits(), reference(&x, false).to_bits());
    }
}
