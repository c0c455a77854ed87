//! Stage "weight decay" (Keras 3, decoupled): `var -= var * wd * lr` with this step's learning
//! rate, before the update, for every updated variable not excluded. Fused into the update
//! pass as [`super::GradPrelude::decay`]; a sparse update decays the whole variable in a pass
//! of its own first (Keras decays every row).

use super::GradPrelude;
use crate::lanes::Lanes;

/// `x - (x * wd) * lr`, Keras' op order.
#[inline(always)]
pub fn decay<L: Lanes>(x: L, wd: f32, lr: f32) -> L {
    x - (x * L::splat(wd)) * L::splat(lr)
}

/// The decay of a whole variable, as its own pass.
pub fn decay_all(var: &mut [f32], wd: f32, lr: f32) {
    for x in var {
        *x = decay(*x, wd, lr);
    }
}

/// Weight decay as the only stage of a pass (a Keras 3 pass without loss scale or clip, see
/// [`GradPrelude::fixed_stages`]).
#[derive(Clone, Copy)]
pub struct DecayOnly {
    pub wd: f32,
    pub lr: f32,
}

impl GradPrelude for DecayOnly {
    #[inline(always)]
    fn apply<L: Lanes>(&self, g: L) -> L {
        g
    }

    #[inline(always)]
    fn decay<L: Lanes>(&self, x: L) -> L {
        decay(x, self.wd, self.lr)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn multiplies_by_wd_then_by_lr() {
        let (x, wd, lr) = (1.7f32, 0.004f32, 0.3f32);
        let want = (x as f64 - ((x * wd) * lr) as f64) as f32;
        assert_eq!(super::decay(x, wd, lr), want);
        let mut v = [x, 0.0, -x];
        super::decay_all(&mut v, wd, lr);
        assert_eq!(v, [want, 0.0, -want]);
    }
}
