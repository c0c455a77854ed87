//! Keras 3's classes (`simdopt/keras3`, pinned to Keras 3.15.1): Keras 3's formulas, slot names,
//! slot order, defaults and checks. The TF 2.4 classes of [`super`] are untouched.
//!
//! What they share:
//! - every kernel is an [`EntryKernel`]: Keras 3 has no sparse kernels, and on its TensorFlow
//!   backend an `IndexedSlices` gradient acts as its densified sum everywhere except in unary ops
//!   (`square`, `abs`), which run entry by entry first. So the sparse path densifies the
//!   gradient and the sum of the entries' unary term and runs the dense kernel over every row
//!   ([`densify`], [`WithEntries`]); with distinct indices that is exactly the dense result.
//! - `1 - β` as Keras computes it: Adam, AdamW, Adamax, RMSprop and Adadelta subtract the Python
//!   float in double and round ([`one_minus_py`]); Nadam and Lion cast β to float32 first.
//! - no `epsilon or 1e-7` substitution (Keras 3 keeps an epsilon of 0).

use crate::drive::LaneKernel;
use crate::lanes::Lanes;
use crate::rules::{SparseRows, SparseStep};
use crate::slot::f32_slots;

pub mod adadelta;
pub mod adafactor;
pub mod adagrad;
pub mod adam;
pub mod adamax;
pub mod ftrl;
pub mod lamb;
pub mod muon;
pub mod nadam;
pub mod passes;
pub mod rmsprop;
pub mod schedule_free;
pub mod sgd;

pub use adadelta::Adadelta;
pub use adafactor::Adafactor;
pub use adagrad::Adagrad;
pub use adam::{Adam, AdamW};
pub use adamax::Adamax;
pub use ftrl::Ftrl;
pub use lamb::Lamb;
pub use muon::Muon;
pub use nadam::Nadam;
pub use rmsprop::RmsProp;
pub use schedule_free::ScheduleFreeAdamW;
pub use sgd::Sgd;

/// `float32(1 - b)` with `b` the Python float Keras was given: the shortest decimal that reads
/// back as the f32 `b` (what a JavaScript number or a config holds), subtracted from 1 in double.
pub fn one_minus_py(b: f32) -> f32 {
    // The decimal is written on the stack: rules call this every step, which allocates nothing.
    let mut text = Decimal { bytes: [0; DECIMAL_BYTES], len: 0 };
    let as_python: f64 = match core::fmt::write(&mut text, format_args!("{b}")) {
        Ok(()) => core::str::from_utf8(&text.bytes[..text.len]).ok().and_then(|s| s.parse().ok()).unwrap_or(b as f64),
        Err(_) => b as f64,
    };
    (1.0 - as_python) as f32
}

/// Room for any f32's `Display` text: the longest is the smallest negative subnormal's, "-0."
/// and 45 digits (48 bytes).
const DECIMAL_BYTES: usize = 64;

struct Decimal {
    bytes: [u8; DECIMAL_BYTES],
    len: usize,
}

impl core::fmt::Write for Decimal {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        self.bytes.get_mut(self.len..end).ok_or(core::fmt::Error)?.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// A Keras 3 kernel: the variable, the gradient, the gradient's unary term (`g²` or `|g|`,
/// summed over an `IndexedSlices`' entries) and `S` slots. `SPARSE` tells whether the term came
/// from entries (for the rare rule whose formula squares something else per entry).
pub trait EntryKernel<const S: usize>: Sync {
    /// The unary op Keras applies to the gradient (`g²` unless the rule says otherwise).
    #[inline(always)]
    fn entry<L: Lanes>(g: L) -> L {
        g * g
    }

    fn lanes<L: Lanes, const SPARSE: bool>(&self, x: L, g: L, entry: L, slots: [L; S]) -> (L, [L; S]);
}

/// A dense pass: the term computed from the gradient's lanes.
pub struct Dense<'a, K>(pub &'a K);

// (By hand: a derive would ask `K: Copy`; the wrapper copies the reference.)
impl<K> Clone for Dense<'_, K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K> Copy for Dense<'_, K> {}

impl<K: EntryKernel<S>, const S: usize> LaneKernel<S> for Dense<'_, K> {
    #[inline(always)]
    fn lanes<L: Lanes>(&self, x: L, g: L, slots: [L; S]) -> (L, [L; S]) {
        self.0.lanes::<L, false>(x, g, K::entry(g), slots)
    }
}

/// A sparse pass over the densified gradient: the summed entry terms ride as a last, read-only
/// slot.
pub struct WithEntries<'a, K>(pub &'a K);

impl<K> Clone for WithEntries<'_, K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K> Copy for WithEntries<'_, K> {}

macro_rules! with_entries {
    ($s:literal, $s1:literal) => {
        impl<K: EntryKernel<$s>> LaneKernel<$s1> for WithEntries<'_, K> {
            #[inline(always)]
            fn lanes<L: Lanes>(&self, x: L, g: L, slots: [L; $s1]) -> (L, [L; $s1]) {
                let own: [L; $s] = core::array::from_fn(|i| slots[i]);
                let (x, own) = self.0.lanes::<L, true>(x, g, slots[$s], own);
                let mut out = slots;
                out[..$s].copy_from_slice(&own);
                (x, out)
            }
        }
    };
}
with_entries!(1, 2);
with_entries!(2, 3);
with_entries!(3, 4);

/// Values per window of [`densified`]: in L2 with the window's variable and slots where the
/// pass runs on one thread; in the threads build, enough for the pool to split the pass (its
/// threshold counts the values a pass reads: Adam's reads five streams here).
#[cfg(not(feature = "threads"))]
const DENSE_WINDOW: usize = 1 << 14;
#[cfg(feature = "threads")]
const DENSE_WINDOW: usize = 1 << 18;

/// Keras 3's sparse step `t` for an elementwise rule with `S` f32 slots: `f(var, g, e, slots)` on
/// windows of whole rows, with `g` the window's densified gradient (repeated rows summed in order)
/// and `e` the sum of `entry` over its entries, as [`densify`] makes them for the whole variable;
/// `var` and `slots` are the window's elements. Each element's update reads only its own values,
/// so the windows give the bits of one pass, and the densified buffers are a window's, in the
/// step's [`SparseStep::scratch`] (kept between steps).
pub fn densified<const S: usize>(
    t: SparseStep<'_>,
    entry: impl Fn(f32) -> f32,
    mut f: impl FnMut(&mut [f32], &[f32], &mut [f32], [&mut [f32]; S]),
) {
    let (var, grad, scratch, mut slots) = (t.var, &t.grad, t.scratch, f32_slots::<S>(t.slots));
    let w = grad.row_len.max(1);
    let per = (DENSE_WINDOW / w).max(1);
    let len = (per * w).min(var.len());
    // The two windows in the step's scratch (grown, never shrunk: steps allocate nothing).
    if scratch.len() < 2 * len {
        scratch.resize(2 * len, 0.0);
    }
    let (g, e) = scratch.split_at_mut(len);
    let mut k = 0;
    for first in (0..grad.n_rows).step_by(per) {
        let end = (first + per).min(grad.n_rows);
        let at = first * grad.row_len..end * grad.row_len;
        let (g, e) = (&mut g[..at.len()], &mut e[..at.len()]);
        g.fill(0.0);
        e.fill(0.0);
        add_entries(grad, &mut k, first..end, g, e, &entry);
        f(&mut var[at.clone()], g, e, crate::drive::rows(&mut slots, at));
    }
}

/// Adds the entries from the `k`-th on whose rows are in `rows` (ascending, as the step's are)
/// to `g` and `entry` of them to `e`, which hold those rows; `k` moves past them.
fn add_entries(
    grad: &SparseRows<'_>,
    k: &mut usize,
    rows: core::ops::Range<usize>,
    g: &mut [f32],
    e: &mut [f32],
    entry: &impl Fn(f32) -> f32,
) {
    while let Some(&row) = grad.rows.get(*k).filter(|&&r| r < rows.end) {
        let base = (row - rows.start) * grad.row_len;
        for (j, v) in grad.row_gradient(*k).enumerate() {
            g[base + j] += v;
            e[base + j] += entry(v);
        }
        *k += 1;
    }
}

/// The densified gradient of a sparse step (repeated rows summed) and the sum of `entry` over
/// the entries, both of the variable's length: for the rules whose update is not elementwise
/// (elementwise ones take [`densified`]). The step's rows are Keras' raw indices (the Keras 3
/// rules do not ask for duplicates to be combined).
pub fn densify(t: &SparseStep<'_>, entry: impl Fn(f32) -> f32) -> (Vec<f32>, Vec<f32>) {
    let n = t.var.len();
    let (mut g, mut e) = (vec![0.0f32; n], vec![0.0f32; n]);
    add_entries(&t.grad, &mut 0, 0..t.grad.n_rows, &mut g, &mut e, &entry);
    (g, e)
}

/// Keras 3's `(beta_1, beta_2, epsilon)` as Adam, AdamW, Adamax, Nadam, Lamb and
/// ScheduleFreeAdamW take them: epsilon kept as given.
pub type Betas = crate::rules::hypers::MomentHypers<true>;

#[cfg(test)]
mod tests {
    use super::{densified, densify, one_minus_py, DENSE_WINDOW};
    use crate::rules::{SparseRows, SparseStep};
    use crate::slot::{Slot, SlotData};

    /// The windows' densified gradient and entry sums are the whole variable's, bit for bit, and
    /// each window gets its own elements of the variable and slots.
    #[test]
    fn densified_windows_hold_the_whole_densified_gradient() {
        for w in [64, 7, 3 * DENSE_WINDOW / 2] {
            let n_rows = 5 * DENSE_WINDOW / w + 3;
            let n = n_rows * w;
            // Ascending with repeats in order of occurrence (as the merge leaves them), the last row too.
            let rows: Vec<usize> = [0, 0, 1, 2, 2, 2, n_rows / 3, n_rows / 2, n_rows / 2, n_rows - 1].to_vec();
            let at: Vec<usize> = (0..rows.len()).map(|k| k * w).collect();
            let values: Vec<f32> = (0..rows.len() * w).map(|i| ((i * 7919 % 2001) as f32 - 1000.0) * 1e-3).collect();
            let grad = SparseRows { rows: &rows, at: &at, values: &values, merged: &[], row_len: w, n_rows, zero_add: true };
            let mut var: Vec<f32> = (0..n).map(|i| i as f32).collect();
            let slot = Slot { shape: vec![n_rows, w], data: SlotData::F32((0..n).map(|i| -(i as f32)).collect()) };
            let (g, e) =
                densify(&SparseStep { shape: &[n_rows, w], var: &mut var.clone(), grad, slots: &mut [], scratch: &mut Vec::new() }, |v| {
                    v * v
                });
            let (mut g2, mut e2) = (vec![f32::NAN; n], vec![f32::NAN; n]);
            let mut next = 0;
            let step = SparseStep { shape: &[n_rows, w], var: &mut var, grad, slots: &mut [slot], scratch: &mut vec![f32::NAN; 7] };
            densified::<1>(
                step,
                |v| v * v,
                |x, g, e, [s]| {
                    assert!(x.len() == g.len() && g.len() == e.len() && e.len() == s.len() && x.len() % w == 0);
                    assert!(
                        x.iter().zip(s.iter()).enumerate().all(|(i, (&x, &s))| x == (next + i) as f32 && s == -x),
                        "the window's own elements"
                    );
                    g2[next..next + g.len()].copy_from_slice(g);
                    e2[next..next + e.len()].copy_from_slice(e);
                    next += g.len();
                },
            );
            assert_eq!(next, n, "every element once");
            let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!((bits(&g2), bits(&e2)), (bits(&g), bits(&e)), "row length {w}");
        }
    }

    #[test]
    fn one_minus_beta_is_computed_from_the_python_float() {
        // Keras: float32(1 - 0.999) = 0.001, while 1 - 0.999f32 = 0.0009999871 in float32.
        assert_eq!(one_minus_py(0.999), 0.001f32);
        assert_ne!(1.0 - 0.999f32, 0.001f32);
        assert_eq!(one_minus_py(0.9), 0.1f32);
        assert_eq!(one_minus_py(0.0), 1.0);
    }

    /// The text written on the stack is `format!`'s, for the extremes of every f32 class.
    #[test]
    fn one_minus_beta_reads_the_same_text_as_format() {
        let from_format = |b: f32| (1.0 - format!("{b}").parse::<f64>().unwrap()) as f32;
        let tiny = f32::from_bits(1);
        for b in [tiny, -tiny, f32::MIN_POSITIVE, f32::MAX, f32::MIN, 0.123_456_79, -0.0, 0.5, 1e-30, 3.4e-38, f32::INFINITY] {
            assert_eq!(one_minus_py(b).to_bits(), from_format(b).to_bits(), "{b}");
        }
        assert!(one_minus_py(f32::NAN).is_nan());
    }
}
