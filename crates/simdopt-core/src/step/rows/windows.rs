//! The sparse step on compressed slots (issue 16). The rules' sparse kernels index f32 slots by
//! row, and the state must not exist in f32 whole, so the step runs window by window: a window
//! of whole rows (and of whole blocks, for 8-bit slots) has its slots read as f32 into a reused
//! scratch, takes the rule's sparse step with the rows that fall in it (numbered from the
//! window's first row), and is stored back where the step changed it ([`crate::quant::values`]).
//! A row's update reads only that row, so the windows give the bits of one step over the whole
//! variable, whatever their size.
//!
//! Rules whose sparse update touches only the gradient's rows
//! ([`crate::rules::UpdateRule::sparse_touches_only_rows`]) skip the windows without one: the
//! step costs the rows' blocks, not the variable. The others (Adam and Nadam decay every row)
//! walk every window.

use core::ops::Range;
use std::sync::{Mutex, TryLockError};

use crate::quant::values::SlotParts;
use crate::quant::{bf16, BLOCK};
use crate::rules::{SparseRows, SparseStep};
use crate::slot::{Slot, SlotData};

/// Elements a window aims at: 64 KiB a slot, so a window's slots and rows stay in L2 between
/// the read, the step and the write-back. Windows are whole units (a row, or for 8-bit slots the
/// fewest rows that are whole blocks), so one unit may be more.
pub(crate) const WINDOW: usize = 16 * 1024;

/// Reused buffers of the windows (in the optimizer's scratch space).
pub(crate) struct Windows {
    /// Elements a window aims at; from the variable's length up the variable is one window.
    pub(crate) target: usize,
    /// This step's windows: rows of the variable, and the entries of the gradient's rows in them.
    plan: Vec<(Range<usize>, Range<usize>)>,
    /// One scratch per thread stepping windows at once (the pool's threads take a free one).
    scratch: Vec<Mutex<Scratch>>,
    /// The step's slots as pointers (kept for their buffer's sake).
    parts: Vec<SlotParts>,
}

/// A window's f32 copy of the slots, its shape and its rows (numbered from its first).
#[derive(Default)]
struct Scratch {
    rows: Vec<usize>,
    shape: Vec<usize>,
    /// Absent where the variable's are.
    slots: Vec<Slot>,
    /// The rule's buffer ([`SparseStep::scratch`]).
    rule: Vec<f32>,
    /// The 8-bit slots' values as read, one window each (none for the others): the write-back
    /// compares with them.
    before: Vec<f32>,
}

impl Default for Windows {
    fn default() -> Self {
        Windows { target: WINDOW, plan: Vec::new(), scratch: Vec::new(), parts: Vec::new() }
    }
}

impl Windows {
    /// Runs `step` (the rule's sparse step) window by window over the step `t` on the whole
    /// variable; `rows_only` skips windows without a row. `iteration` seeds the bfloat16
    /// rounding as in the dense passes. The windows are disjoint, so the threads build steps
    /// them on the pool's threads at once (a window's bits do not depend on who steps it).
    /// Returns the number of windows stepped.
    pub(crate) fn step(&mut self, t: SparseStep<'_>, iteration: u64, rows_only: bool, step: impl Fn(SparseStep<'_>) + Sync) -> usize {
        let n = t.var.len();
        if n == 0 {
            return 0;
        }
        // As the dense compressed passes (`quant::storage::update_slots`) require.
        assert!(t.slots.iter().all(|s| matches!(s.data, SlotData::Absent) || s.len() == n), "a variable's slots have its length");
        self.plan_windows(&t, rows_only);
        let threads = threads();
        if self.scratch.len() < threads {
            self.scratch.resize_with(threads, Mutex::default);
        }
        self.parts.clear();
        self.parts.extend(t.slots.iter_mut().map(|s| SlotParts::of(&mut s.data)));
        let g = t.grad;
        let job = Job { shape: t.shape, var: t.var.as_mut_ptr(), g, slots: &self.parts, iteration };
        let (plan, scratch) = (&self.plan, &self.scratch);
        // The pool's size test counts values read: each window's variable and slots, and its
        // fixed cost (its rows and slots read in, stored back, the rule's call: about 1.3 µs,
        // the time a dense pass reads some 4K values in).
        let values = plan.iter().map(|(rows, _)| rows.len() * g.row_len).sum::<usize>() * (1 + self.parts.len());
        for_each_window(plan.len(), values + plan.len() * 4096, |w| {
            let (rows, entries) = plan[w].clone();
            // SAFETY: the plan's windows are disjoint rows (and whole 8-bit blocks), each stepped
            // once; `t` (the variable and its slots) is borrowed for this whole call.
            with_scratch(scratch, |s| unsafe { job.run(s, rows, entries, &step) })
        });
        self.plan.len()
    }

    /// The windows of a step into `plan`: whole units from a unit with a row (or from the first
    /// row, when every row moves), grown up to the target while the next unit has a row (or
    /// always).
    fn plan_windows(&mut self, t: &SparseStep<'_>, rows_only: bool) {
        let (n, w, n_rows, rows) = (t.var.len(), t.grad.row_len, t.grad.n_rows, t.grad.rows);
        let whole = self.target >= n;
        // The fewest rows that are whole 8-bit blocks (bfloat16 elements stand alone).
        let int8 = t.slots.iter().any(|s| matches!(s.data, SlotData::Int8(..)));
        let unit = if whole {
            n_rows
        } else if int8 {
            lcm(w, BLOCK) / w
        } else {
            1
        };
        let most = if whole { n_rows } else { unit * (self.target / (unit * w)).max(1) };
        self.plan.clear();
        let (mut k, mut first) = (0, 0);
        loop {
            if rows_only {
                let Some(&row) = rows.get(k) else { break };
                first = row / unit * unit;
            } else if first >= n_rows {
                break;
            }
            let mut end = (first + unit).min(n_rows);
            let mut next = k + rows[k..].partition_point(|&r| r < end);
            while end < n_rows && end - first < most && (!rows_only || rows.get(next).is_some_and(|&r| r < end + unit)) {
                end = (end + unit).min(n_rows);
                next += rows[next..].partition_point(|&r| r < end);
            }
            self.plan.push((first..end, k..next));
            (k, first) = (next, end);
        }
    }
}

/// What every window of one step shares: the variable and its slots as pointers (each window
/// makes slices of its own rows), and the step's gradient.
struct Job<'a> {
    shape: &'a [usize],
    var: *mut f32,
    g: SparseRows<'a>,
    slots: &'a [SlotParts],
    iteration: u64,
}

// SAFETY: windows of one job touch disjoint elements of `var` and the slots (see `run`).
unsafe impl Sync for Job<'_> {}

impl Job<'_> {
    /// One window: rows `rows` of the variable, entries `entries` of the gradient's.
    ///
    /// # Safety
    /// No other window of rows `rows` (for 8-bit slots, of their blocks) runs meanwhile, and the
    /// variable and slots behind the job's pointers are borrowed for its whole life.
    unsafe fn run(&self, s: &mut Scratch, rows: Range<usize>, entries: Range<usize>, step: &impl Fn(SparseStep<'_>)) {
        let g = &self.g;
        let at = rows.start * g.row_len..rows.end * g.row_len;
        s.shape.clear();
        s.shape.extend_from_slice(self.shape);
        s.shape[0] = rows.len();
        s.rows.clear();
        s.rows.extend(g.rows[entries.clone()].iter().map(|r| r - rows.start));
        s.slots.resize_with(self.slots.len(), Slot::absent);
        // The 8-bit slots' values as read, one window each in slot order.
        let int8 = |p: &SlotParts| matches!(p, SlotParts::Int8 { .. });
        s.before.resize(at.len() * self.slots.iter().filter(|p| int8(p)).count(), 0.0);
        let mut before = s.before.chunks_exact_mut(at.len().max(1));
        for (parts, c) in self.slots.iter().zip(&mut s.slots) {
            if matches!(parts, SlotParts::Absent) {
                c.data = SlotData::Absent;
                continue;
            }
            if !matches!(c.data, SlotData::F32(_)) {
                c.data = SlotData::F32(Vec::new());
            }
            let SlotData::F32(x) = &mut c.data else { unreachable!("made f32 above") };
            x.resize(at.len(), 0.0);
            parts.window(at.clone()).read(x);
            if int8(parts) {
                before.next().expect("a window per 8-bit slot").copy_from_slice(x);
            }
            c.shape.clear();
            c.shape.extend_from_slice(&s.shape);
        }
        let grad = SparseRows { rows: &s.rows, at: &g.at[entries], n_rows: rows.len(), ..*g };
        let var = core::slice::from_raw_parts_mut(self.var.add(at.start), at.len());
        step(SparseStep { shape: &s.shape, var, grad, slots: &mut s.slots, scratch: &mut s.rule });
        let mut before = s.before.chunks_exact(at.len().max(1));
        for (i, (parts, c)) in self.slots.iter().zip(&s.slots).enumerate() {
            if let SlotData::F32(x) = &c.data {
                let before = int8(parts).then(|| before.next().expect("a window per 8-bit slot"));
                parts.window(at.clone()).write(x, before, bf16::step_seed(self.iteration, i));
            }
        }
    }
}

/// Threads that may step windows at once.
fn threads() -> usize {
    #[cfg(feature = "threads")]
    return crate::pool::workers() as usize + 1;
    #[cfg(not(feature = "threads"))]
    1
}

/// Runs `f` with a scratch no other thread holds: one of `scratch` (one per thread, so one is
/// free) or, should none be, a new one. `try_lock` never waits (a browser's main thread may not).
fn with_scratch(scratch: &[Mutex<Scratch>], f: impl FnOnce(&mut Scratch)) {
    for m in scratch {
        match m.try_lock() {
            Ok(mut s) => return f(&mut s),
            // A window that panicked left its scratch half-written; every window rewrites it.
            Err(TryLockError::Poisoned(e)) => return f(&mut e.into_inner()),
            Err(TryLockError::WouldBlock) => {}
        }
    }
    f(&mut Scratch::default())
}

/// `f(w)` for every window `w` of `count`: on the pool's threads when the windows' `values`
/// read make a pass it would split (a pool chunk of windows each), in order otherwise.
fn for_each_window(count: usize, values: usize, f: impl Fn(usize) + Sync) {
    #[cfg(feature = "threads")]
    if count >= 2 && crate::pool::splits(values, 1) {
        use crate::pool::CHUNK;
        // One window a chunk; more only where `count` chunks would overflow `usize`.
        let per = count.div_ceil(usize::MAX / CHUNK / 2).max(1);
        let chunks = count.div_ceil(per);
        let run = |start: usize, _| (start / CHUNK * per..((start / CHUNK + 1) * per).min(count)).for_each(&f);
        return crate::pool::parallel_for_meanwhile(chunks * CHUNK, run, &mut || {});
    }
    let _ = values;
    (0..count).for_each(f)
}

fn lcm(a: usize, b: usize) -> usize {
    let (mut x, mut y) = (a, b);
    while y != 0 {
        (x, y) = (y, x % y);
    }
    a / x * b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::{values, RawSlot};
    use crate::registry::{build_optimizer_in, Family};
    use crate::slot::{Moment, SlotSpec, SlotStorage};
    use crate::{Gradient, Optimizer, Store, Tensor};

    /// Every class with moment slots, in both families, with the options that change its sparse
    /// path.
    type Case = (Family, &'static str, &'static [(&'static str, f32)]);

    const CASES: &[Case] = &[
        (Family::Tf24, "Adam", &[]),
        (Family::Tf24, "Adam", &[("amsgrad", 1.0)]),
        (Family::Tf24, "SGD", &[("momentum", 0.9)]),
        (Family::Tf24, "SGD", &[("momentum", 0.9), ("nesterov", 1.0)]),
        (Family::Tf24, "RMSprop", &[]),
        (Family::Tf24, "RMSprop", &[("momentum", 0.5), ("centered", 1.0)]),
        (Family::Tf24, "Adagrad", &[]),
        (Family::Tf24, "Adamax", &[]),
        (Family::Tf24, "Nadam", &[]),
        (Family::Keras3, "SGD", &[("momentum", 0.9)]),
        (Family::Keras3, "RMSprop", &[("momentum", 0.5), ("centered", 1.0)]),
        (Family::Keras3, "Adam", &[("amsgrad", 1.0)]),
        (Family::Keras3, "AdamW", &[("weight_decay", 0.01)]),
        (Family::Keras3, "Adagrad", &[]),
        (Family::Keras3, "Adamax", &[]),
        (Family::Keras3, "Nadam", &[]),
        (Family::Keras3, "Lion", &[("use_ema", 1.0)]),
    ];

    /// Steps of sparse gradients on a `shape` table with `storage` slots, windows aiming at
    /// `target` elements; the table and every raw weight's bits after them.
    fn run(family: Family, class: &str, options: &[(&str, f32)], storage: SlotStorage, shape: &[usize], target: usize) -> Vec<Vec<u32>> {
        let mut opt: Optimizer = build_optimizer_in(family, class, options).unwrap();
        opt.set_slot_storage(storage).unwrap();
        opt.scratch.windows.target = target;
        let (n_rows, w) = (shape[0], shape[1..].iter().product::<usize>());
        let n = n_rows * w;
        let mut store = Store::new();
        let start = (0..n).map(|i| ((i * 31 % 97) as f32 - 48.0) * 0.01).collect();
        let table = store.insert(Tensor::new("table", shape.to_vec(), start).unwrap());
        // Repeats, the first and last rows, neighbours, rows far apart; the last step has one.
        let last = n_rows - 1;
        let steps: [Vec<usize>; 4] =
            [vec![0, 3, 3, 4, 200, last], vec![last, 1, 2, 1, 57, 58, 59], vec![5, 5, 5, 130, 131, 400], vec![n_rows / 2]];
        for (t, rows) in steps.iter().enumerate() {
            let indices: Vec<i64> = rows.iter().map(|&r| (r % n_rows) as i64).collect();
            let indices = &indices[..];
            let values: Vec<f32> = (0..indices.len() * w).map(|i| ((i * 7919 + t * 104_729) % 2001) as f32 * 1e-3 - 1.0).collect();
            opt.apply_gradients(&mut store, &[(Some(Gradient::Sparse { indices, values: &values }), table)]).unwrap();
        }
        let mut out = vec![store.get(table).unwrap().data.iter().map(|x| x.to_bits()).collect()];
        for i in 1..opt.weight_count() {
            out.push(match opt.raw_weight(i) {
                Some(RawSlot::Bf16(h)) => h.iter().map(|&h| h as u32).collect(),
                Some(RawSlot::Int8 { codes, absmax }) => {
                    codes.iter().map(|&c| c as u32).chain(absmax.iter().map(|a| a.to_bits())).collect()
                }
                None => opt.weight(i).unwrap().iter().map(|x| x.to_bits()).collect(),
            });
        }
        out
    }

    /// Windows of one unit, of the default target and the whole variable give the same bits,
    /// for every class, storage and row length (dividing a block, not dividing it, one row
    /// wider than a window, and 1-D). A rule that says it touches only its rows but changes
    /// others fails here: its skipped windows keep what the whole window changes.
    #[test]
    fn windows_give_the_bits_of_one_window() {
        for &(family, class, options) in CASES {
            for storage in [SlotStorage::Bfloat16, SlotStorage::Int8] {
                for shape in [&[2000, 64][..], &[700, 13], &[9, 5000], &[6000]] {
                    let whole = run(family, class, options, storage, shape, usize::MAX);
                    for target in [1, WINDOW] {
                        let windowed = run(family, class, options, storage, shape, target);
                        assert!(windowed == whole, "{family:?} {class} {options:?} {storage:?} {shape:?}: target {target}");
                    }
                }
            }
        }
    }

    /// The threads build steps windows on the pool's threads at once: the same bits as one
    /// window on one thread, and the workers did step some.
    #[cfg(feature = "threads")]
    #[test]
    fn windows_on_the_pool_give_the_bits_of_one_window() {
        use crate::pool::{self, with_test_workers};
        // TF 2.4 Adam (every row), SGD-momentum and Adagrad (rows only); Keras 3 AdamW and Lion.
        let cases = [CASES[0], CASES[2], CASES[6], CASES[12], CASES[16]];
        with_test_workers(2, || {
            // The workers step every window of a split job (so that they surely step some).
            pool::set_caller_runs_chunks(false);
            let before = pool::worker_chunks();
            for &(family, class, options) in &cases {
                for storage in [SlotStorage::Int8, SlotStorage::Bfloat16] {
                    // One window is never split.
                    let whole = run(family, class, options, storage, &[2000, 64], usize::MAX);
                    let windowed = run(family, class, options, storage, &[2000, 64], 256);
                    assert!(windowed == whole, "{family:?} {class} {options:?} {storage:?}");
                }
            }
            pool::set_caller_runs_chunks(true);
            // Over all cases: a job runs on the calling thread while another test's pass holds
            // the pool (the tests of this crate share it), so no single case is sure to split.
            assert!(pool::worker_chunks() > before, "the workers stepped no window");
        });
    }

    /// The window walk on its own: rows renumbered from their window's first, windows without
    /// a row skipped when the rule touches only its rows, every block visited otherwise.
    #[test]
    fn windows_walk_the_rows_in_whole_blocks() {
        let (w, n_rows) = (64, 400); // 4 rows a block
        let n = w * n_rows;
        let spec = SlotSpec::moment("m", 0.0, Moment::Signed);
        let start: Vec<f32> = (0..n).map(|i| ((i * 13 % 29) as f32 - 14.0) * 0.1).collect();
        let rows = [0usize, 0, 5, 6, 7, 8, 301, 399];
        let at: Vec<usize> = (0..rows.len()).map(|k| k * w).collect();
        let values: Vec<f32> = (0..rows.len() * w).map(|i| i as f32).collect();
        let g = SparseRows { rows: &rows, at: &at, values: &values, merged: &[], row_len: w, n_rows, zero_add: false };
        for (rows_only, target, want) in [(true, 1, 5), (true, 8 * w, 4), (true, usize::MAX, 1), (false, 1, 100), (false, 8 * w, 50)] {
            let mut slots = vec![Slot::stored(&spec, &[n_rows, w], SlotStorage::Int8).unwrap()];
            values::write_f32(&mut slots[0].data, &start);
            let before = slots[0].clone();
            let mut var = vec![0.0; n];
            let mut windows = Windows { target, ..Windows::default() };
            let mut seen = vec![false; n_rows];
            let whole = SparseStep { shape: &[n_rows, w], var: &mut var, grad: g, slots: &mut slots, scratch: &mut Vec::new() };
            let count = windows.step(whole, 1, rows_only, |t| {
                // The step adds each row's values to the variable and halves every slot value.
                for (k, &r) in t.grad.rows.iter().enumerate() {
                    t.var[r * w..(r + 1) * w].iter_mut().zip(t.grad.row_values(k)).for_each(|(x, g)| *x += g);
                }
                let SlotData::F32(m) = &mut t.slots[0].data else { panic!("f32 windows") };
                assert_eq!(m.len(), t.var.len());
                m.iter_mut().for_each(|x| *x *= 0.5);
            });
            assert_eq!(count, want, "{rows_only} {target}");
            // The variable got every row's values where the rows are.
            let mut expect = vec![0.0; n];
            for (k, &r) in rows.iter().enumerate() {
                seen[r] = true;
                expect[r * w..(r + 1) * w].iter_mut().zip(g.row_values(k)).for_each(|(x, g)| *x += g);
            }
            assert_eq!(var, expect, "{rows_only} {target}");
            // Blocks stepped (halved) and the others kept.
            let (SlotData::Int8(q, _), SlotData::Int8(q0, _)) = (&slots[0].data, &before.data) else { panic!("int8") };
            for b in 0..q.absmax.len() {
                let block_rows = b * BLOCK / w..(b + 1) * BLOCK / w;
                let stepped = !rows_only || block_rows.clone().any(|r| seen[r]);
                let halved = target == usize::MAX || stepped;
                assert_eq!(q.absmax[b] == q0.absmax[b] * 0.5, halved, "{rows_only} {target} block {b}");
            }
        }
    }
}
