//! The lane driver: it owns every load and store of a kernel's pass and the scalar tail, so
//! that kernels are pure lane functions ([`LaneKernel`]): loaded lanes of the variable, the
//! gradient and the slots in, new values out. Rules never touch a pointer.
//!
//! One pass reads each element of every buffer once and writes it once (wide lanes for the
//! body, `f32` lanes for the tail); `Lanes` operations are IEEE-exact, so a SIMD build, the
//! scalar wasm build and the native build give bit-identical results.

use crate::clip::GradPrelude;
use crate::lanes::{Lanes, Wide};

/// One optimizer kernel as a pure function of lanes: the variable, the gradient (after the
/// step's fused preludes) and `S` slots, all at the same elements.
pub trait LaneKernel<const S: usize> {
    /// Whether the pass reads a gradient. Passes over rows without one set it to false: `grad`
    /// is then zero lanes and the gradient slice may be empty.
    const READS_GRAD: bool = true;
    /// Whether the pass reads and writes the variable. When false, `var` is zero lanes and the
    /// returned variable is dropped (rows whose variable Keras leaves alone).
    const UPDATES_VAR: bool = true;

    /// New values of the variable and of the slots.
    fn lanes<L: Lanes>(&self, var: L, grad: L, slots: [L; S]) -> (L, [L; S]);
}

/// Runs `k` over every element of `var`: loads, `pre` on the gradient, the kernel, stores.
/// `grad` (when read) and every slot must have `var`'s length.
#[inline(always)]
pub fn update<P: GradPrelude, K: LaneKernel<S>, const S: usize>(pre: P, k: &K, var: &mut [f32], grad: &[f32], slots: [&mut [f32]; S]) {
    let n = var.len();
    assert!((!K::READS_GRAD || grad.len() == n) && slots.iter().all(|s| s.len() == n), "kernel buffers of different lengths");
    let buffers = Buffers { var: var.as_mut_ptr(), grad: grad.as_ptr(), slots: slots.map(|s| s.as_mut_ptr()) };
    let mut i = 0;
    // SAFETY: every buffer holds `n` elements (checked above, `grad` only when read), and the
    // loops below touch elements `i..i + L::WIDTH` with `i + L::WIDTH <= n` only. The buffers
    // are distinct: `&mut` slices (and `grad`, a shared slice, cannot alias them).
    unsafe {
        if !scalar_forced() {
            while i + Wide::WIDTH <= n {
                buffers.step::<Wide, P, K>(pre, k, i);
                i += Wide::WIDTH;
            }
        }
        while i < n {
            buffers.step::<f32, P, K>(pre, k, i);
            i += 1;
        }
    }
}

struct Buffers<const S: usize> {
    var: *mut f32,
    grad: *const f32,
    slots: [*mut f32; S],
}

impl<const S: usize> Buffers<S> {
    /// # Safety
    /// Every buffer must be valid for `L::WIDTH` elements from `i`.
    #[inline(always)]
    unsafe fn step<L: Lanes, P: GradPrelude, K: LaneKernel<S>>(&self, pre: P, k: &K, i: usize) {
        let var = if K::UPDATES_VAR { L::load(self.var.add(i)) } else { L::splat(0.0) };
        let grad = if K::READS_GRAD { pre.apply(L::load(self.grad.add(i))) } else { L::splat(0.0) };
        let slots: [L; S] = core::array::from_fn(|j| L::load(self.slots[j].add(i)));
        let (var, slots) = k.lanes(var, grad, slots);
        for (j, s) in slots.into_iter().enumerate() {
            s.store(self.slots[j].add(i));
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
