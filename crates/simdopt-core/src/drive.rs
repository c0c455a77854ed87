//! The lane driver: it owns every load and store of a kernel's pass and the scalar tail, so
//! that kernels are pure lane functions ([`LaneKernel`]): loaded lanes of the variable, the
//! gradient and the slots in, new values out. Rules never touch a pointer.
//!
//! One pass reads each element of every buffer once and writes it once (wide lanes for the
//! body, `f32` lanes for the tail); `Lanes` operations are IEEE-exact, so a SIMD build, the
//! scalar wasm build and the native build give bit-identical results.

use crate::lanes::{Lanes, Wide};
use crate::step::clip::Identity;
use crate::step::ema::FusedAverage;
use crate::step::weight_decay::DecayOnly;
use crate::step::GradPrelude;

/// One optimizer kernel as a pure function of lanes: the variable, the gradient (after the
/// step's fused preludes) and `S` slots, all at the same elements. A kernel is a plain value
/// (`Copy`: the threads build runs each range of a pass on a copy of it, `local_copy`; state
/// a kernel records goes behind a reference).
pub trait LaneKernel<const S: usize>: Sync + Copy {
    /// Whether the pass reads a gradient. Passes over rows without one set it to false: `grad`
    /// is then zero lanes and the gradient slice may be empty.
    const READS_GRAD: bool = true;
    /// Whether the pass reads and writes the variable. When false, `var` is zero lanes and the
    /// returned variable is dropped (rows whose variable Keras leaves alone).
    const UPDATES_VAR: bool = true;
    /// Whether the variable this pass writes is the step's new value, so that the prelude's
    /// epilogue (the fused moving average, [`GradPrelude::average`]) may follow the kernel.
    /// False for a pass that only prepares the variable for later ones.
    const NEW_VARIABLE: bool = true;

    /// New values of the variable and of the slots.
    fn lanes<L: Lanes>(&self, var: L, grad: L, slots: [L; S]) -> (L, [L; S]);
}

/// The gradient of a pass: values as given, or (Keras 3 gradient accumulation, update step)
/// the step's values plus the accumulator, divided by the number of steps, with the
/// accumulator reset to zero in the same pass.
pub enum GradIn<'a> {
    Values(&'a [f32]),
    Accumulated {
        grad: &'a [f32],
        acc: &'a mut [f32],
        steps: f32,
    },
    /// A gradient streamed a chunk at a time ([`crate::step::stream`]): before the pass runs over
    /// elements `offset..offset + chunk.len()`, `fill(offset, chunk)` copies their values into
    /// `chunk`, a prefix of `staging` (of one of its halves when `split`: the threads build
    /// splits the pass over its pool, see `streamed`), so the kernel reads them from cache. A
    /// `false` from `fill` stops the pass there (the caller reports it). `split` is decided where
    /// `staging` is sized, once. (A shared `Fn`, so that `GradIn` stays covariant in its lifetime.)
    Streamed {
        staging: &'a mut [f32],
        fill: &'a dyn Fn(usize, &mut [f32]) -> bool,
        split: bool,
    },
}

impl GradIn<'_> {
    /// The values, when they are given as they are. A rule that reads the gradient in several
    /// passes uses them; on an accumulation update step the combined gradient exists only inside
    /// the pass that consumes the accumulator, so such a rule keeps from its first pass what the
    /// later ones need (Lamb, Adafactor and Muon of the Keras 3 family have to).
    pub fn values(&self) -> Option<&[f32]> {
        match self {
            GradIn::Values(g) => Some(g),
            GradIn::Accumulated { .. } | GradIn::Streamed { .. } => None,
        }
    }
}

impl<'a> From<&'a [f32]> for GradIn<'a> {
    fn from(g: &'a [f32]) -> Self {
        GradIn::Values(g)
    }
}

impl<'a, const N: usize> From<&'a [f32; N]> for GradIn<'a> {
    fn from(g: &'a [f32; N]) -> Self {
        GradIn::Values(g)
    }
}

/// Runs `k` over every element of `var`: loads, the fused preludes (`pre.unscale`, then the
/// accumulator if any, then `pre.apply` on the gradient; `pre.decay` on the variable), the
/// kernel, stores, then the epilogue if the prelude has one (`pre.average()`: the moving
/// average of the new variable, loaded and stored at the same elements). The gradient (when
/// read), the accumulator and every slot must have `var`'s length.
#[inline(always)]
pub fn update<'g, P: GradPrelude, K: LaneKernel<S>, const S: usize>(
    pre: P,
    k: &K,
    var: &mut [f32],
    grad: impl Into<GradIn<'g>>,
    slots: [&mut [f32]; S],
) {
    let grad = match grad.into() {
        GradIn::Streamed { staging, fill, split } => return streamed(pre, k, var, staging, fill, split, slots),
        g => g,
    };
    assert!(slots.iter().all(|s| s.len() == var.len()), "kernel buffers of different lengths");
    let buffers = Buffers::new(var, grad, K::READS_GRAD, F32Slots(slots.map(|s| s.as_mut_ptr())));
    // Element-wise: any split into ranges gives the same bits.
    #[cfg(feature = "threads")]
    crate::pool::parallel_for(
        var.len(),
        K::UPDATES_VAR as usize + K::READS_GRAD as usize + !buffers.acc.is_null() as usize + pre.average().is_some() as usize + S,
        |start, end| buffers.from(start).run_range(pre, &local_copy(k), end - start),
    );
    #[cfg(not(feature = "threads"))]
    buffers.run_range(pre, k, var.len());
}

/// The kernel copied onto the stack of the call that runs a range of a pass. Reached through
/// the pool's job pointer, the kernel might be memory the pass stores into as far as the
/// compiler can tell, so its coefficients were loaded again for every vector (plain SGD 1.2x
/// slower at 1K than in the single-threaded build, where the kernel is a local); a local copy
/// stays in registers.
#[cfg(feature = "threads")]
#[inline(always)]
fn local_copy<K: Copy>(k: &K) -> K {
    // SAFETY: `k` is a valid, aligned reference, and `K: Copy`, so a bitwise copy is a copy
    // (a `Copy` type has no drop glue and no interior mutability of its own).
    // Volatile: a plain copy is elided (the copy's reads then go to the original again).
    unsafe { core::ptr::read_volatile(k) }
}

/// Where a pass reads and writes `S` slots: f32 buffers ([`F32Slots`]), or the compressed
/// storages of [`crate::quant::storage`], which convert in the same pass.
pub trait SlotIo<const S: usize>: Copy + Sync {
    /// Whether passes over these slots take the EMA epilogue. The compressed storages do not:
    /// their passes are compute-bound, and the variant would double their code; their averages
    /// take EMA's own pass (the same bits).
    const FUSES_AVERAGE: bool = true;
    /// The same slots from element `start` on.
    fn from(self, start: usize) -> Self;
    /// # Safety
    /// Every buffer must be valid for `L::WIDTH` elements from `i`.
    unsafe fn load<L: Lanes>(&self, i: usize) -> [L; S];
    /// # Safety
    /// As [`SlotIo::load`].
    unsafe fn store<L: Lanes>(&self, i: usize, slots: [L; S]);
}

/// [`update`] over a [`GradIn::Streamed`] gradient: each chunk is copied into the staging buffer,
/// then the pass runs over its elements while they are in cache. Element-wise, so the same bits
/// as one pass over the whole gradient. In the threads build, when `split` (the whole pass would
/// be split over the pool), so is each chunk, and `staging` is two buffers: the calling thread
/// copies the next chunk into one while the workers update the chunk in the other (`fill` runs
/// on the calling thread only), then joins them.
#[inline(always)]
fn streamed<P: GradPrelude, K: LaneKernel<S>, const S: usize>(
    pre: P,
    k: &K,
    var: &mut [f32],
    staging: &mut [f32],
    fill: &dyn Fn(usize, &mut [f32]) -> bool,
    split: bool,
    slots: [&mut [f32]; S],
) {
    let n = var.len();
    assert!(!staging.is_empty() && slots.iter().all(|s| s.len() == n), "kernel buffers of different lengths");
    assert!(pre.average().is_none(), "only the TF 2.4 order streams: a streamed pass has no epilogue");
    let whole = Buffers {
        var: var.as_mut_ptr(),
        grad: core::ptr::null(),
        acc: core::ptr::null_mut(),
        steps: 1.0,
        at: 0,
        io: F32Slots(slots.map(|s| s.as_mut_ptr())),
    };
    #[cfg(feature = "threads")]
    if split && staging.len() >= 2 {
        return streamed_split(pre, k, whole, n, staging, fill);
    }
    #[cfg(not(feature = "threads"))]
    let _ = split;
    let chunk = staging.len();
    chunks(n, chunk, staging, fill, |start, grad| {
        // The variable and slots from `start`; the gradient from the start of the staging buffer.
        let chunk = Buffers { grad: grad.as_ptr(), ..whole.from(start) };
        chunk.run::<Wide, P, K, S, false, false>(pre, k, grad.len(), None);
    })
}

/// Runs `pass(start, values)` over a streamed gradient of `n` values, chunk after chunk: each
/// chunk of `chunk` values (the last one shorter) copied by `fill` into `staging` first. Where
/// `fill` fails, the pass stops before that chunk.
#[inline(always)]
pub(crate) fn chunks(
    n: usize,
    chunk: usize,
    staging: &mut [f32],
    fill: &dyn Fn(usize, &mut [f32]) -> bool,
    mut pass: impl FnMut(usize, &[f32]),
) {
    assert!(chunk > 0 && chunk <= staging.len(), "a chunk fits the staging buffer");
    for start in (0..n).step_by(chunk) {
        let len = chunk.min(n - start);
        if !fill(start, &mut staging[..len]) {
            return;
        }
        pass(start, &staging[..len]);
    }
}

/// [`chunks`] with the copy of the next chunk overlapping the pass over this one: `staging` holds
/// two chunks, and `pass(start, values, meanwhile)` must run `meanwhile()` once, which copies the
/// next chunk into the other half (a split pool job runs it while the workers update this one:
/// `pool::parallel_for_meanwhile`). Where `fill` fails, the pass stops before that chunk, as in
/// [`chunks`].
#[cfg(feature = "threads")]
#[inline(always)]
pub(crate) fn chunks_meanwhile(
    n: usize,
    chunk: usize,
    staging: &mut [f32],
    fill: &dyn Fn(usize, &mut [f32]) -> bool,
    mut pass: impl FnMut(usize, &[f32], &mut dyn FnMut()),
) {
    assert!(chunk > 0 && 2 * chunk <= staging.len(), "two chunks fit the staging buffer");
    let (mut this, mut next) = staging[..2 * chunk].split_at_mut(chunk);
    let (mut start, mut len) = (0, n.min(chunk));
    if !fill(0, &mut this[..len]) {
        return;
    }
    loop {
        let after = start + len;
        let next_len = (n - after).min(chunk);
        let mut read = true;
        pass(start, &this[..len], &mut || {
            if next_len > 0 {
                read = fill(after, &mut next[..next_len]);
            }
        });
        if next_len == 0 || !read {
            return;
        }
        core::mem::swap(&mut this, &mut next);
        (start, len) = (after, next_len);
    }
}

/// [`streamed`] split over the pool: chunks of half of `staging`, each copied while the pool
/// updates the one before.
#[cfg(feature = "threads")]
#[inline(always)]
fn streamed_split<P: GradPrelude, K: LaneKernel<S>, const S: usize>(
    pre: P,
    k: &K,
    whole: Buffers<F32Slots<S>>,
    n: usize,
    staging: &mut [f32],
    fill: &dyn Fn(usize, &mut [f32]) -> bool,
) {
    let half = staging.len() / 2;
    chunks_meanwhile(n, half, staging, fill, |start, grad, meanwhile| {
        let chunk = Buffers { grad: grad.as_ptr(), ..whole.from(start) };
        let range = |s: usize, e: usize| chunk.from(s).run::<Wide, P, K, S, false, false>(pre, &local_copy(k), e - s, None);
        crate::pool::parallel_for_meanwhile(grad.len(), range, meanwhile);
    })
}

/// f32 slots.
#[derive(Clone, Copy)]
pub struct F32Slots<const S: usize>(pub [*mut f32; S]);

// SAFETY: the pool hands disjoint element ranges to its threads.
unsafe impl<const S: usize> Sync for F32Slots<S> {}

impl<const S: usize> SlotIo<S> for F32Slots<S> {
    #[inline(always)]
    fn from(self, start: usize) -> Self {
        F32Slots(self.0.map(|s| s.wrapping_add(start)))
    }
    #[inline(always)]
    unsafe fn load<L: Lanes>(&self, i: usize) -> [L; S] {
        core::array::from_fn(|j| L::load(self.0[j].add(i)))
    }
    #[inline(always)]
    unsafe fn store<L: Lanes>(&self, i: usize, slots: [L; S]) {
        for j in 0..S {
            slots[j].store(self.0[j].add(i));
        }
    }
}

/// The variable, gradient and accumulator of a pass, and its slots behind `IO`.
#[derive(Clone, Copy)]
pub struct Buffers<IO> {
    var: *mut f32,
    grad: *const f32,
    /// Null unless the pass consumes an accumulator.
    acc: *mut f32,
    steps: f32,
    /// The element of the whole pass these buffers start at (for the epilogue's average).
    at: usize,
    pub io: IO,
}

// SAFETY: the pool hands disjoint element ranges to its threads (`from`, then `run`).
unsafe impl<IO: Sync> Sync for Buffers<IO> {}

impl<IO> Buffers<IO> {
    /// Checks the lengths (the gradient when `reads_grad`, the accumulator) against `var`'s;
    /// the caller checks its slots.
    #[inline(always)]
    pub fn new(var: &mut [f32], grad: GradIn<'_>, reads_grad: bool, io: IO) -> Self {
        let n = var.len();
        let (grad, acc, steps) = match grad {
            GradIn::Values(g) => (g, None, 1.0),
            GradIn::Accumulated { grad, acc, steps } => (grad, Some(acc), steps),
            GradIn::Streamed { .. } => unreachable!("a streamed gradient goes through `update` or `update_slots`"),
        };
        assert!(acc.as_ref().map_or(true, |a| a.len() == n) && (!reads_grad || grad.len() == n), "kernel buffers of different lengths");
        let acc = acc.map_or(core::ptr::null_mut(), |a| a.as_mut_ptr());
        Buffers { var: var.as_mut_ptr(), grad: grad.as_ptr(), acc, steps, at: 0, io }
    }

    /// The same buffers from element `start` on (wrapping: `grad` may be an empty slice's
    /// pointer, `acc` null); the slots as `io` says.
    #[inline(always)]
    pub fn with_io<J>(self, start: usize, io: J) -> Buffers<J> {
        Buffers {
            var: self.var.wrapping_add(start),
            grad: self.grad.wrapping_add(start),
            acc: if self.acc.is_null() { self.acc } else { self.acc.wrapping_add(start) },
            steps: self.steps,
            at: self.at + start,
            io,
        }
    }

    /// Runs the kernel over elements `0..n` of these buffers (`n` at most the length given to
    /// `new`, less the offsets taken since).
    #[inline(always)]
    pub fn run_range<P: GradPrelude, K: LaneKernel<S>, const S: usize>(self, pre: P, k: &K, n: usize)
    where
        IO: SlotIo<S>,
    {
        self.run_range_in::<Wide, P, K, S>(pre, k, n)
    }

    /// [`Buffers::run_range`] with `W` lanes for the body (the bfloat16 passes take eight).
    #[inline(always)]
    pub fn run_range_in<W: Lanes, P: GradPrelude, K: LaneKernel<S>, const S: usize>(self, pre: P, k: &K, n: usize)
    where
        IO: SlotIo<S>,
    {
        // Only preludes that fuse accumulation or an average take those arms (`ACCUMULATES` and
        // `AVERAGES` are constants, so the other preludes' loops stay as they were).
        let acc = P::ACCUMULATES && !self.acc.is_null();
        assert!(acc || self.acc.is_null(), "this prelude does not fuse gradient accumulation");
        let avg = if P::AVERAGES && IO::FUSES_AVERAGE && K::UPDATES_VAR && K::NEW_VARIABLE { pre.average() } else { None };
        let avg = avg.map(|a| a.range(self.at, n));
        // A Keras 3 pass without loss scale or clip (the common case) runs `Identity`'s loop, or
        // with weight decay on (AdamW) `DecayOnly`'s, which compute nothing for the stages that
        // are off; the prelude's own loop pays for its run-time choices on every vector (without
        // the unscale, Keras 3 Adam ran 13% faster at 64K in the SIMD wasm build). Only over f32
        // slots: the compressed storages' passes are compute-bound, and a variant would double
        // their code (as for `FUSES_AVERAGE`); decay with the EMA epilogue keeps the prelude's.
        if IO::FUSES_AVERAGE && !acc {
            match (pre.fixed_stages(), avg) {
                (Some(None), None) => return self.run::<W, Identity, K, S, false, false>(Identity, k, n, None),
                (Some(None), avg) => return self.run::<W, Identity, K, S, false, true>(Identity, k, n, avg),
                (Some(Some(d)), None) => return self.run::<W, DecayOnly, K, S, false, false>(d, k, n, None),
                _ => {}
            }
        }
        match (acc, avg) {
            (false, None) => self.run::<W, P, K, S, false, false>(pre, k, n, None),
            (true, None) => self.run::<W, P, K, S, true, false>(pre, k, n, None),
            (false, avg) => self.run::<W, P, K, S, false, true>(pre, k, n, avg),
            (true, avg) => self.run::<W, P, K, S, true, true>(pre, k, n, avg),
        }
    }

    #[inline(always)]
    fn run<W: Lanes, P: GradPrelude, K: LaneKernel<S>, const S: usize, const ACC: bool, const AVG: bool>(
        self,
        pre: P,
        k: &K,
        n: usize,
        avg: Option<FusedAverage>,
    ) where
        IO: SlotIo<S>,
    {
        let mut i = 0;
        // SAFETY: every buffer holds `n` elements (checked by `new` and the callers; `grad` only
        // when read, `acc` only when `ACC`, the average by `FusedAverage::range`), and the loops
        // touch elements `i..i + L::WIDTH` with `i + L::WIDTH <= n` only. The buffers are
        // distinct: `&mut` slices, and `grad`, a shared slice, cannot alias them.
        unsafe {
            if !scalar_forced() {
                // The body's end computed once: with `i + WIDTH <= n` tested each iteration,
                // plain SGD's simd128 loop had six more instructions per vector than before the
                // staged core (1.2x at 64K).
                let body = n - n % W::WIDTH;
                while i < body {
                    self.step::<W, P, K, S, ACC, AVG>(pre, k, i, avg);
                    i += W::WIDTH;
                }
            }
            while i < n {
                self.step::<f32, P, K, S, ACC, AVG>(pre, k, i, avg);
                i += 1;
            }
        }
    }

    /// # Safety
    /// Every buffer must be valid for `L::WIDTH` elements from `i`.
    #[inline(always)]
    unsafe fn step<L: Lanes, P: GradPrelude, K: LaneKernel<S>, const S: usize, const ACC: bool, const AVG: bool>(
        self,
        pre: P,
        k: &K,
        i: usize,
        avg: Option<FusedAverage>,
    ) where
        IO: SlotIo<S>,
    {
        let var = if K::UPDATES_VAR { pre.decay(L::load(self.var.add(i))) } else { L::splat(0.0) };
        let grad = if !K::READS_GRAD {
            L::splat(0.0)
        } else if ACC {
            let g = (pre.unscale(L::load(self.grad.add(i))) + L::load(self.acc.add(i))) / L::splat(self.steps);
            L::splat(0.0).store(self.acc.add(i));
            pre.apply(g)
        } else {
            pre.apply(pre.unscale(L::load(self.grad.add(i))))
        };
        let (var, slots) = k.lanes(var, grad, self.io.load::<L>(i));
        self.io.store(i, slots);
        if K::UPDATES_VAR {
            var.store(self.var.add(i));
        }
        if let (true, Some(avg)) = (AVG, avg) {
            avg.store_next(i, var);
        }
    }
}

impl<IO: Copy> Buffers<IO> {
    /// The same buffers from element `start` on.
    #[inline(always)]
    pub fn from<const S: usize>(self, start: usize) -> Self
    where
        IO: SlotIo<S>,
    {
        let io = self.io.from(start);
        self.with_io(start, io)
    }
}

/// The same `range` of every slice (a row or run of rows of a variable's slots).
#[inline(always)]
pub fn rows<'a, const S: usize>(slots: &'a mut [&mut [f32]; S], range: core::ops::Range<usize>) -> [&'a mut [f32]; S] {
    slots.each_mut().map(|s| &mut s[range.clone()])
}

/// A raw element-wise step over `L::WIDTH` elements from `i`, for the core's own passes that
/// are not optimizer kernels (the replica sum of [`crate::aggregate`]).
pub(crate) trait ElementKernel {
    /// # Safety
    /// Every buffer the kernel holds must be valid for `L::WIDTH` elements from `i`.
    unsafe fn step<L: Lanes>(&self, i: usize);
}

/// Runs `k` over `0..n`: wide lanes for the body, scalar for the tail.
#[inline(always)]
pub(crate) fn for_each<K: ElementKernel>(k: &K, n: usize) {
    for_each_in::<Wide, K>(k, n)
}

/// [`for_each`] with `W` lanes for the body.
#[inline(always)]
pub(crate) fn for_each_in<W: Lanes, K: ElementKernel>(k: &K, n: usize) {
    let mut i = 0;
    // SAFETY: the caller's kernel holds buffers of `n` elements; see `ElementKernel::step`.
    unsafe {
        if !scalar_forced() {
            while i + W::WIDTH <= n {
                k.step::<W>(i);
                i += W::WIDTH;
            }
        }
        while i < n {
            k.step::<f32>(i);
            i += 1;
        }
    }
}

#[cfg(feature = "scalar-hook")]
std::thread_local! {
    static FORCE_SCALAR: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
}

/// Test hook (cargo feature `scalar-hook`): makes the driver run every element through the
/// scalar `f32` lanes on this thread, as a reference for the wide lanes.
#[cfg(feature = "scalar-hook")]
#[doc(hidden)]
pub fn force_scalar(on: bool) {
    FORCE_SCALAR.with(|f| f.set(on))
}

#[inline(always)]
pub(crate) fn scalar_forced() -> bool {
    #[cfg(feature = "scalar-hook")]
    {
        FORCE_SCALAR.with(|f| f.get())
    }
    #[cfg(not(feature = "scalar-hook"))]
    {
        false
    }
}
