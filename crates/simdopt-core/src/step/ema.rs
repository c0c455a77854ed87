//! Stage "EMA" (Keras 3 `use_ema`): after the update, for every variable the optimizer tracks
//! (those without a gradient in this step too), `avg = μ·avg + (1-μ)·var` with μ = 0 while
//! `iterations` is 0 (so the first average is the variable). When `ema_overwrite_frequency` is
//! set and `(iterations + 1) % frequency == 0`, the variables are set to their averages (the
//! averages stay). `iterations` is Keras 3's (divided by the accumulation steps), before this
//! step's increment.
//!
//! The average of a variable the rule's pass just updated is fused into that pass as its
//! epilogue ([`FusedAverage`]: the driver takes the new variable from registers, so the average
//! costs one read and one write of itself). `run` is the pass of its own for the rest: the
//! variables without a gradient, sparse steps, micro-steps of accumulation that do not update,
//! rules whose last pass is not the prelude's (Lamb, Adafactor, Muon's Newton–Schulz) and the
//! overwrite steps. One formula for both: `Average::next`.

use core::sync::atomic::{AtomicBool, Ordering::Relaxed};

use super::clip::Identity;
use super::count;
use crate::drive::{self, LaneKernel};
use crate::lanes::Lanes;
use crate::optimizer::Optimizer;
use crate::store::Store;

/// This step's averaging, if the optimizer has `use_ema`.
#[derive(Clone, Copy)]
pub(crate) struct EmaStep {
    pub(crate) average: Average,
    /// The variables are set to their averages this step.
    pub(crate) overwrite: bool,
}

pub(crate) fn this_step(opt: &Optimizer) -> Option<EmaStep> {
    let ema = opt.stages.ema?;
    let t = count::update_iterations(opt);
    let momentum = if t == 0 { 0.0 } else { ema.momentum };
    let overwrite = ema.overwrite_frequency.is_some_and(|f| (t + 1) % f == 0);
    Some(EmaStep { average: Average { momentum, one_minus: 1.0 - momentum }, overwrite })
}

/// The averages the update did not fuse (`scratch.averaged[i]` tells whether state `i`'s was;
/// states beyond its length were not).
pub(crate) fn run(opt: &mut Optimizer, store: &mut Store) {
    let Some(EmaStep { average: k, overwrite }) = this_step(opt) else { return };
    let averaged = &opt.scratch.averaged;
    for (i, state) in opt.states.iter_mut().enumerate() {
        if averaged.get(i) == Some(&true) {
            continue;
        }
        let (Ok(var), Some(avg)) = (store.get_mut(state.var), state.average.as_deref_mut()) else { continue };
        if overwrite {
            drive::update(Identity, &Overwrite(k), &mut var.data, &[], [avg]);
        } else {
            // The variable is read as the pass's "gradient" and not written.
            drive::update(Identity, &k, avg, var.data.as_slice(), []);
        }
    }
}

/// `momentum * avg + (1 - momentum) * var` (Keras' op order), with the average as the pass's
/// variable and the model variable as its input.
#[derive(Clone, Copy)]
pub(crate) struct Average {
    momentum: f32,
    one_minus: f32,
}

impl Average {
    /// The formula, for the pass of its own and the fused epilogue alike.
    #[inline(always)]
    fn next<L: Lanes>(&self, avg: L, var: L) -> L {
        L::splat(self.momentum) * avg + L::splat(self.one_minus) * var
    }
}

impl LaneKernel<0> for Average {
    #[inline(always)]
    fn lanes<L: Lanes>(&self, avg: L, var: L, s: [L; 0]) -> (L, [L; 0]) {
        (self.next(avg, var), s)
    }
}

/// The average's update, then the variable set to it.
#[derive(Clone, Copy)]
struct Overwrite(Average);

impl LaneKernel<1> for Overwrite {
    const READS_GRAD: bool = false;
    #[inline(always)]
    fn lanes<L: Lanes>(&self, var: L, _g: L, [avg]: [L; 1]) -> (L, [L; 1]) {
        let avg = self.0.next(avg, var);
        (avg, [avg])
    }
}

/// One variable's average as the epilogue of the rule's pass: after the kernel, the driver
/// loads the average at the same elements, applies `Average::next` with the variable's new
/// lanes and stores it. It rides in the Keras 3 prelude (see [`super::GradPrelude::average`]);
/// the driver applies it only after a pass that writes the step's new variable, and records
/// that it did in `ran`.
#[derive(Clone, Copy)]
pub struct FusedAverage {
    avg: *mut f32,
    len: usize,
    k: Average,
    ran: *const AtomicBool,
}

// SAFETY: the pool hands disjoint element ranges of the average to its threads (as for the
// driver's other buffers); `ran` is an atomic.
unsafe impl Send for FusedAverage {}
unsafe impl Sync for FusedAverage {}

impl FusedAverage {
    /// # Safety
    /// `avg` and `ran` must outlive every pass given this value, and nothing else may touch
    /// `avg` during those passes.
    pub(crate) unsafe fn new(avg: &mut [f32], k: Average, ran: &AtomicBool) -> Self {
        FusedAverage { avg: avg.as_mut_ptr(), len: avg.len(), k, ran }
    }

    /// The average from element `at`, checked to hold `n` elements from there; notes that the
    /// epilogue ran.
    #[inline(always)]
    pub(crate) fn range(self, at: usize, n: usize) -> Self {
        assert!(at.checked_add(n).is_some_and(|end| end <= self.len), "the average is shorter than the variable");
        // SAFETY: `new`'s contract keeps `ran` alive.
        unsafe { (*self.ran).store(true, Relaxed) };
        FusedAverage { avg: self.avg.wrapping_add(at), len: self.len - at, ..self }
    }

    /// Loads the average at `i`, applies [`Average::next`] with the new variable, stores it.
    ///
    /// # Safety
    /// The average must be valid for `L::WIDTH` elements from `i` (see [`FusedAverage::range`]).
    #[inline(always)]
    pub(crate) unsafe fn store_next<L: Lanes>(&self, i: usize, var: L) {
        self.k.next(L::load(self.avg.add(i)), var).store(self.avg.add(i))
    }
}

#[cfg(test)]
mod fused;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_and_overwrite_follow_keras_formula() {
        let k = Average { momentum: 0.9, one_minus: 1.0 - 0.9f32 };
        let mut avg = [2.0f32, -1.0, 0.5];
        let var = [1.0f32, 3.0, 0.5];
        drive::update(Identity, &k, &mut avg, &var, []);
        let want: Vec<f32> = [2.0f32, -1.0, 0.5].iter().zip(var).map(|(a, v)| 0.9f32 * a + (1.0 - 0.9f32) * v).collect();
        assert_eq!(avg.to_vec(), want);
        let mut var2 = var;
        let mut avg2 = [2.0f32, -1.0, 0.5];
        drive::update(Identity, &Overwrite(k), &mut var2, &[], [&mut avg2]);
        assert_eq!((var2.to_vec(), avg2.to_vec()), (want.clone(), want));
    }
}
