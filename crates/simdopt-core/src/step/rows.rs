//! Keras' duplicate handling of a sparse gradient (`_deduplicate_indexed_slices`: unique rows,
//! each the sum of its slices in the order they occur) done by sorting rather than hashing: the
//! slices' positions are sorted by row with a stable radix sort, so repeats sit together in their
//! order of occurrence and the rows are then visited in ascending order (memory order: a large
//! table is walked forwards, not at random). Each row's update is independent of the others', so
//! the order of rows changes no result; the order of the additions within a row is Keras'.
//!
//! A row that occurs once is read where it is (the step frame, or the copy the preludes scaled):
//! only repeated rows are summed into `merged`, as `0 + v1 + v2 + ...` (TF's
//! `unsorted_segment_sum` starts from zeros). When the step has no repeat at all, every row is
//! used as given (what simdopt always did); when it has some, a single row's values get their
//! `0 + x` in the kernel's pass ([`AddZero`], one add per lane: it turns -0 into +0), so the
//! numbers are exactly those of summing every row, without a pass of their own.

use crate::lanes::Lanes;
use crate::step::GradPrelude;

mod pass;
pub mod windows;
pub(crate) use pass::{update_row, update_rows};

/// `0 + g`: the sum of one slice, as TF's `unsorted_segment_sum` makes it.
#[derive(Clone, Copy)]
pub struct AddZero;

impl GradPrelude for AddZero {
    #[inline(always)]
    fn apply<L: Lanes>(&self, g: L) -> L {
        g + L::splat(0.0)
    }
}

/// Reused buffers of the merge (in the optimizer's scratch space).
#[derive(Default)]
pub(crate) struct RowMerge {
    /// Unique rows in ascending order (every slice's row, repeats included, when not summing).
    pub(crate) rows: Vec<usize>,
    /// Per entry of `rows`: where its values start, as an element offset into the values given
    /// to [`RowMerge::merge`], or (at `values.len()` and beyond) into `merged`.
    pub(crate) at: Vec<usize>,
    /// The summed rows.
    pub(crate) merged: Vec<f32>,
    /// Whether the step had a repeated row (then the rows read in place take [`AddZero`]).
    pub(crate) repeats: bool,
    order: Vec<u32>,
    spare: Vec<u32>,
    counts: Vec<u32>,
}

/// Slices at most this many are sorted by insertion (a radix pass clears 2048 counters).
const INSERTION_MAX: usize = 32;
const DIGIT_BITS: u32 = 11;

impl RowMerge {
    /// Sorts and merges the slices of a sparse gradient: `indices` (validated, in
    /// `0..n_rows`), `values` row-major, `row_len` values per slice. `sum`: Keras' summing of
    /// repeats (false: every slice kept, in row order, repeats in their order of occurrence).
    pub(crate) fn merge(&mut self, indices: &[i64], n_rows: usize, row_len: usize, values: &[f32], sum: bool) {
        self.sort(indices, n_rows);
        self.rows.clear();
        self.at.clear();
        self.merged.clear();
        let order = &self.order;
        let row_of = |p: u32| indices[p as usize] as usize;
        self.repeats = false;
        let mut i = 0;
        while i < order.len() {
            let row = row_of(order[i]);
            let mut j = i + 1;
            if sum {
                while j < order.len() && row_of(order[j]) == row {
                    j += 1;
                }
            }
            let first = order[i] as usize * row_len;
            let slice = &values[first..first + row_len];
            self.rows.push(row);
            if j - i == 1 {
                self.at.push(first);
            } else {
                self.repeats = true;
                self.at.push(values.len() + self.merged.len());
                let start = self.merged.len();
                self.merged.extend(slice.iter().map(|&x| 0.0 + x));
                for &p in &order[i + 1..j] {
                    let from = p as usize * row_len;
                    for (d, &s) in self.merged[start..].iter_mut().zip(&values[from..from + row_len]) {
                        *d += s;
                    }
                }
            }
            i = j;
        }
    }

    /// `order` = the positions `0..indices.len()` sorted by row, stable.
    fn sort(&mut self, indices: &[i64], n_rows: usize) {
        let k = indices.len();
        self.order.clear();
        self.order.extend(0..k as u32);
        if k <= INSERTION_MAX {
            for i in 1..k {
                let p = self.order[i];
                let mut j = i;
                while j > 0 && indices[self.order[j - 1] as usize] > indices[p as usize] {
                    self.order[j] = self.order[j - 1];
                    j -= 1;
                }
                self.order[j] = p;
            }
            return;
        }
        // LSD radix sort on the row, DIGIT_BITS at a time, over as many bits as `n_rows` needs.
        let bits = usize::BITS - n_rows.saturating_sub(1).leading_zeros();
        self.spare.clear();
        self.spare.resize(k, 0);
        self.counts.resize(1 << DIGIT_BITS, 0);
        let mask = (1usize << DIGIT_BITS) - 1;
        let mut shift = 0;
        while shift < bits {
            let digit = |p: u32| (indices[p as usize] as usize >> shift) & mask;
            self.counts.fill(0);
            for &p in &self.order {
                self.counts[digit(p)] += 1;
            }
            let mut sum = 0;
            for c in self.counts.iter_mut() {
                let n = *c;
                *c = sum;
                sum += n;
            }
            for &p in &self.order {
                let d = digit(p);
                self.spare[self.counts[d] as usize] = p;
                self.counts[d] += 1;
            }
            core::mem::swap(&mut self.order, &mut self.spare);
            shift += DIGIT_BITS;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RowMerge;

    /// The slices merged the way Keras describes it, by a map in first-occurrence order: row ->
    /// `0 + v1 + v2 + ...` (or the slices as given when nothing repeats).
    fn reference(indices: &[i64], w: usize, values: &[f32]) -> Vec<(usize, Vec<f32>)> {
        let mut out: Vec<(usize, Vec<f32>)> = Vec::new();
        let repeats = (0..indices.len()).any(|i| indices[..i].contains(&indices[i]));
        for (k, &r) in indices.iter().enumerate() {
            let v = &values[k * w..(k + 1) * w];
            match out.iter_mut().find(|(row, _)| *row == r as usize) {
                Some((_, sum)) => sum.iter_mut().zip(v).for_each(|(d, &s)| *d += s),
                None => out.push((r as usize, if repeats { v.iter().map(|&x| 0.0 + x).collect() } else { v.to_vec() })),
            }
        }
        out.sort_by_key(|(r, _)| *r);
        out
    }

    /// What the kernels see: a row read in place takes `0 + x` when the step has repeats.
    fn merged(m: &RowMerge, w: usize, values: &[f32]) -> Vec<(usize, Vec<f32>)> {
        let in_place = |a: usize| values[a..a + w].iter().map(|&x| if m.repeats { 0.0 + x } else { x }).collect();
        m.rows
            .iter()
            .zip(&m.at)
            .map(|(&r, &a)| (r, if a < values.len() { in_place(a) } else { m.merged[a - values.len()..][..w].to_vec() }))
            .collect()
    }

    fn bits(x: &[(usize, Vec<f32>)]) -> Vec<(usize, Vec<u32>)> {
        x.iter().map(|(r, v)| (*r, v.iter().map(|f| f.to_bits()).collect())).collect()
    }

    #[test]
    fn repeats_are_summed_in_their_order_and_rows_come_out_ascending() {
        let mut m = RowMerge::default();
        let mut seed = 7u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            seed
        };
        // Both sorts (insertion below 33 slices, radix above), one row (no pass), one and several radix passes.
        for &(k, n_rows) in
            &[(1, 1), (50, 1), (5, 3), (32, 10), (33, 10), (300, 50), (100, 2048), (100, 2049), (2000, 1 << 23), (40, 3_000_000)]
        {
            let w = 3;
            let indices: Vec<i64> = (0..k).map(|_| (next() as usize % n_rows) as i64).collect();
            let values: Vec<f32> = (0..k * w).map(|i| [1e8, 1.0, -1e8, -0.0, 0.5][(next() as usize + i) % 5]).collect();
            m.merge(&indices, n_rows, w, &values, true);
            let got = merged(&m, w, &values);
            assert_eq!(bits(&got), bits(&reference(&indices, w, &values)), "k = {k}, rows = {n_rows}");
            assert!(m.rows.windows(2).all(|r| r[0] < r[1]));
        }
    }

    #[test]
    fn only_repeated_rows_are_copied_and_a_negative_zero_waits_for_the_kernel() {
        let mut m = RowMerge::default();
        let values = [-0.0, 1.0, 2.0, 3.0];
        m.merge(&[3, 1], 4, 2, &values, true);
        assert_eq!((m.rows.as_slice(), m.at.as_slice(), m.repeats), (&[1, 3][..], &[2, 0][..], false));
        assert!(m.merged.is_empty());
        // With a repeat in the step, row 3 (holding -0) is still read in place: the kernel adds 0.
        m.merge(&[3, 1, 2, 2], 4, 2, &[-0.0, 1.0, 2.0, 3.0, 1.0, 1.0, 2.0, 2.0], true);
        assert_eq!((m.rows.as_slice(), m.at.as_slice(), m.repeats), (&[1, 2, 3][..], &[2, 8, 0][..], true));
        assert_eq!(m.merged, [3.0, 3.0]);
    }

    #[test]
    fn kernels_see_zero_plus_a_single_row_only_in_a_step_with_repeats() {
        use crate::drive::LaneKernel;
        use crate::lanes::Lanes;
        use crate::rules::SparseRows;
        /// `var = g`: shows the gradient the kernel received.
        #[derive(Clone, Copy)]
        struct Take;
        impl LaneKernel<0> for Take {
            fn lanes<L: Lanes>(&self, _x: L, g: L, s: [L; 0]) -> (L, [L; 0]) {
                (g, s)
            }
        }
        let mut m = RowMerge::default();
        for (indices, values, want) in
            [(&[0i64][..], &[-0.0f32, 5.0][..], [-0.0f32, 5.0]), (&[0, 1, 1][..], &[-0.0, 5.0, 1.0, 1.0, 2.0, 2.0][..], [0.0, 5.0])]
        {
            m.merge(indices, 2, 2, values, true);
            let g = SparseRows { rows: &m.rows, at: &m.at, values, merged: &m.merged, row_len: 2, n_rows: 2, zero_add: m.repeats };
            let mut var = [9.0f32; 2];
            g.update_row(0, &Take, &mut var, []);
            assert_eq!(var.map(f32::to_bits), want.map(f32::to_bits));
        }
    }

    #[test]
    fn not_summing_keeps_every_slice_in_row_order_and_occurrence_order() {
        let mut m = RowMerge::default();
        m.merge(&[2, 0, 2, 1, 0], 3, 1, &[10.0, 20.0, 30.0, 40.0, 50.0], false);
        assert_eq!(m.rows, [0, 0, 1, 2, 2]);
        assert_eq!(m.at, [1, 4, 3, 0, 2]);
        assert!(m.merged.is_empty());
    }
}
