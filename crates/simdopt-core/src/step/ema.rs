//! Stage "EMA" (Keras 3 `use_ema`): after the update, for every variable the optimizer tracks
//! (those without a gradient in this step too), `avg = μ·avg + (1-μ)·var` with μ = 0 while
//! `iterations` is 0 (so the first average is the variable). When `ema_overwrite_frequency` is
//! set and `(iterations + 1) % frequency == 0`, the variables are set to their averages (the
//! averages stay). One pass per variable: read variable and average, write average (and the
//! variable when overwriting). `iterations` is Keras 3's (divided by the accumulation steps),
//! before this step's increment.

use super::clip::Identity;
use super::count;
use crate::drive::{self, LaneKernel};
use crate::lanes::Lanes;
use crate::optimizer::Optimizer;
use crate::store::Store;

pub(crate) fn run(opt: &mut Optimizer, store: &mut Store) {
    let Some(ema) = opt.stages.ema else { return };
    let t = count::update_iterations(opt);
    let momentum = if t == 0 { 0.0 } else { ema.momentum };
    let k = Average { momentum, one_minus: 1.0 - momentum };
    let overwrite = ema.overwrite_frequency.is_some_and(|f| (t + 1) % f == 0);
    for state in &mut opt.states {
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
struct Average {
    momentum: f32,
    one_minus: f32,
}

impl Average {
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
struct Overwrite(Average);

impl LaneKernel<1> for Overwrite {
    const READS_GRAD: bool = false;
    #[inline(always)]
    fn lanes<L: Lanes>(&self, var: L, _g: L, [avg]: [L; 1]) -> (L, [L; 1]) {
        let avg = self.0.next(avg, var);
        (avg, [avg])
    }
}

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
