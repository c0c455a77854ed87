//! The lane driver: it owns every load and store of a kernel's pass and the scalar tail, so
//! that kernels are pure lane functions ([`LaneKernel`]): loaded lanes of the variable, the
//! gradient and the slots in, new values out. Rules never touch a pointer.
//!
//! One pass reads each element of every buffer once and writes it once (wide lanes for the
//! body, `f32` lanes for the tail); `Lanes` operations are IEEE-exact, so a SIMD build, the
//! scalar wasm build and the native build give bit-identical results.

use crate::lanes::{Lanes, Wide};
use crate::step::GradPrelude;

/// One optimizer kernel as a pure function of lanes: the variable, the gradient (after the
/// step's fused preludes) and `S` slots, all at the same elements.
pub trait LaneKernel<const S: usize>: Sync {
    /// Whether the pass reads a gradient. Passes over rows without one set it to false: `grad`
    /// is then zero lanes and the gradient slice may be empty.
    const READS_GRAD: bool = true;
    /// Whether the pass reads and writes the variable. When false, `var` is zero lanes and the
    /// returned variable is dropped (rows whose variable Keras leaves alone).
    const UPDATES_VAR: bool = true;

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
    /// `chunk`, a prefix of `staging`, so the kernel reads them from cache. A `false` from `fill`
    /// stops the pass there (the caller reports it). (A shared `Fn`, so that `GradIn` stays covariant
    /// in its lifetime.)
    Streamed {
        staging: &'a mut [f32],
        fill: &'a dyn Fn(usize, &mut [f32]) -> bool,
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
/// kernel, stores. The gradient (when read), the accumulator and every slot must have `var`'s
/// length.
#[inline(always)]
pub fn update<'g, P: GradPrelude, K: LaneKernel<S>, const S: usize>(
    pre: P,
    k: &K,
    var: &mut [f32],
    grad: impl Into<GradIn<'g>>,
    slots: [&mut [f32]; S],
) {
    let n = var.len();
    let (grad, acc, steps) = match grad.into() {
        GradIn::Values(g) => (g, None, 1.0),
        GradIn::Streamed { staging, fill } => return streamed(pre, k, var, staging, fill, slots),
        // Only preludes that fuse accumulation take this arm (`ACCUMULATES` is a constant, so
        // the other preludes' loops stay as they were).
        GradIn::Accumulated { grad, acc, steps } if P::ACCUMULATES => (grad, Some(acc), steps),
        GradIn::Accumulated { .. } => unreachable!("this prelude does not fuse gradient accumulation"),
    };
    let acc_ok = acc.as_ref().map_or(true, |a| a.len() == n);
    assert!((!K::READS_GRAD || grad.len() == n) && acc_ok && slots.iter().all(|s| s.len() == n), "kernel buffers of different lengths");
    let buffers = Buffers {
        var: var.as_mut_ptr(),
        grad: grad.as_ptr(),
        acc: acc.map_or(core::ptr::null_mut(), |a| a.as_mut_ptr()),
        steps,
        slots: slots.map(|s| s.as_mut_ptr()),
    };
    let range = |start: usize, end: usize| {
        let b = buffers.from(start);
        if P::ACCUMULATES && !b.acc.is_null() {
            b.run::<P, K, true>(pre, k, end - start)
        } else {
            b.run::<P, K, false>(pre, k, end - start)
        }
    };
    // Element-wise: any split into ranges gives the same bits.
    #[cfg(feature = "threads")]
    crate::pool::parallel_for(n, range);
    #[cfg(not(feature = "threads"))]
    range(0, n);
}

/// [`update`] over a [`GradIn::Streamed`] gradient: each chunk is copied into the staging buffer,
/// then the pass runs over its elements while they are in cache. Element-wise, so the same bits
/// as one pass over the whole gradient.
#[inline(always)]
fn streamed<P: GradPrelude, K: LaneKernel<S>, const S: usize>(
    pre: P,
    k: &K,
    var: &mut [f32],
    staging: &mut [f32],
    fill: &dyn Fn(usize, &mut [f32]) -> bool,
    slots: [&mut [f32]; S],
) {
    let n = var.len();
    assert!(!staging.is_empty() && slots.iter().all(|s| s.len() == n), "kernel buffers of different lengths");
    let whole = Buffers {
        var: var.as_mut_ptr(),
        grad: core::ptr::null(),
        acc: core::ptr::null_mut(),
        steps: 1.0,
        slots: slots.map(|s| s.as_mut_ptr()),
    };
    let mut start = 0;
    while start < n {
        let len = (n - start).min(staging.len());
        if !fill(start, &mut staging[..len]) {
            return;
        }
        // The variable and slots from `start`; the gradient from the start of the staging buffer.
        let chunk = Buffers { grad: staging.as_ptr(), ..whole.from(start) };
        let range = |s: usize, e: usize| chunk.from(s).run::<P, K, false>(pre, k, e - s);
        #[cfg(feature = "threads")]
        crate::pool::parallel_for(len, range);
        #[cfg(not(feature = "threads"))]
        range(0, len);
        start += len;
    }
}

#[derive(Clone, Copy)]
struct Buffers<const S: usize> {
    var: *mut f32,
    grad: *const f32,
    /// Null unless the pass consumes an accumulator.
    acc: *mut f32,
    steps: f32,
    slots: [*mut f32; S],
}

// SAFETY: the pool hands disjoint element ranges to its threads (`from`, then `run`).
unsafe impl<const S: usize> Sync for Buffers<S> {}

impl<const S: usize> Buffers<S> {
    /// The same buffers from element `start` on (wrapping: `grad` may be an empty slice's
    /// pointer, `acc` null).
    #[inline(always)]
    fn from(self, start: usize) -> Self {
        Buffers {
            var: self.var.wrapping_add(start),
            grad: self.grad.wrapping_add(start),
            acc: if self.acc.is_null() { self.acc } else { self.acc.wrapping_add(start) },
            steps: self.steps,
            slots: self.slots.map(|s| s.wrapping_add(start)),
        }
    }

    #[inline(always)]
    fn run<P: GradPrelude, K: LaneKernel<S>, const ACC: bool>(self, pre: P, k: &K, n: usize) {
        let mut i = 0;
        // SAFETY: every buffer holds `n` elements (checked by `update`; `grad` only when read,
        // `acc` only when `ACC`), and the loops touch elements `i..i + L::WIDTH` with
        // `i + L::WIDTH <= n` only. The buffers are distinct: `&mut` slices, and `grad`, a
        // shared slice, cannot alias them.
        unsafe {
            if !scalar_forced() {
                while i + Wide::WIDTH <= n {
                    self.step::<Wide, P, K, ACC>(pre, k, i);
                    i += Wide::WIDTH;
                }
            }
            while i < n {
                self.step::<f32, P, K, ACC>(pre, k, i);
                i += 1;
            }
        }
    }

    /// # Safety
    /// Every buffer must be valid for `L::WIDTH` elements from `i`.
    #[inline(always)]
    unsafe fn step<L: Lanes, P: GradPrelude, K: LaneKernel<S>, const ACC: bool>(self, pre: P, k: &K, i: usize) {
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
        let slots: [L; S] = core::array::from_fn(|j| L::load(self.slots[j].add(i)));
        let (var, slots) = k.lanes(var, grad, slots);
        for j in 0..S {
            slots[j].store(self.slots[j].add(i));
        }
        if K::UPDATES_VAR {
            var.store(self.var.add(i));
        }
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
    let mut i = 0;
    // SAFETY: the caller's kernel holds buffers of `n` elements; see `ElementKernel::step`.
    unsafe {
        if !scalar_forced() {
            while i + Wide::WIDTH <= n {
                k.step::<Wide>(i);
                i += Wide::WIDTH;
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
