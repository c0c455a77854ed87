//! SGD with optional (Nesterov) momentum: TF's `ResourceApplyGradientDescent`,
//! `ResourceApplyKerasMomentum` and their sparse forms.

use super::{
    hyper_fields, momentum_in_unit_range, update_indexed_rows, DenseStep, Hyper, Options, SlotSpec, SparseStep, StepContext, UpdateRule,
    MOMENTUM,
};
use crate::drive::{self, LaneKernel};
use crate::error::Result;
use crate::lanes::Lanes;
use crate::quant::storage::update_slots;
use crate::slot::{f32_slots, Moment};
use crate::step::DensePrelude;

const NESTEROV: Hyper = Hyper::flag("nesterov", false);

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Sgd {
    momentum: f32,
    nesterov: bool,
    /// Keras' `_momentum` flag, fixed at construction: momentum > 0 gives a `momentum` slot and
    /// the momentum kernel, even if the momentum is later set to 0.
    use_momentum: bool,
}

impl Sgd {
    pub fn new(momentum: f32, nesterov: bool) -> Result<Self> {
        let mut s = Sgd { momentum: 0.0, nesterov, use_momentum: false };
        s.set_hyper("momentum", momentum)?;
        s.use_momentum = s.momentum > 0.0;
        Ok(s)
    }

    pub fn nesterov(&self) -> bool {
        self.nesterov
    }
}

#[derive(Clone, Copy)]
pub struct SgdCoeffs {
    lr: f32,
    momentum: f32,
}

impl UpdateRule for Sgd {
    const CLASS_NAME: &'static str = "SGD";
    const LEARNING_RATE: f32 = 0.01;
    const CONFIG: &'static [Hyper] = &[MOMENTUM, NESTEROV];
    type Coeffs = SgdCoeffs;

    fn from_options(o: &mut Options<'_>) -> Result<Self> {
        Sgd::new(o.number(&MOMENTUM), o.flag(&NESTEROV))
    }

    fn slots(&self) -> Vec<SlotSpec> {
        if self.use_momentum {
            vec![SlotSpec::moment("momentum", 0.0, Moment::Signed)]
        } else {
            Vec::new()
        }
    }

    hyper_fields! {
        "momentum" => momentum: |_, v| momentum_in_unit_range(v),
    }

    fn prepare(&self, ctx: &StepContext, _globals: &mut [f32]) -> SgdCoeffs {
        SgdCoeffs { lr: ctx.lr, momentum: self.momentum }
    }

    fn apply_dense<P: DensePrelude>(&self, c: &SgdCoeffs, t: DenseStep<'_, P>) {
        match (self.use_momentum, self.nesterov) {
            (true, false) => update_slots::<_, _, 1>(t.pre, &Momentum::<false> { c: *c }, t.var, t.grad, t.slots, t.iteration),
            (true, true) => update_slots::<_, _, 1>(t.pre, &Momentum::<true> { c: *c }, t.var, t.grad, t.slots, t.iteration),
            (false, _) => drive::update(t.pre, &Plain { c: *c }, t.var, t.grad, []),
        }
    }

    fn apply_sparse(&self, c: &SgdCoeffs, t: SparseStep<'_>) {
        match (self.use_momentum, self.nesterov) {
            (true, false) => update_indexed_rows(&Momentum::<false> { c: *c }, t.var, &t.grad, f32_slots::<1>(t.slots)),
            (true, true) => update_indexed_rows(&Momentum::<true> { c: *c }, t.var, &t.grad, f32_slots::<1>(t.slots)),
            (false, _) => update_indexed_rows(&ScatterAdd { c: *c }, t.var, &t.grad, []),
        }
    }

    fn sparse_touches_only_rows(&self) -> bool {
        true
    }

    fn sums_duplicates(&self) -> bool {
        self.use_momentum
    }
}

/// `var -= grad * lr`.
#[derive(Clone, Copy)]
struct Plain {
    c: SgdCoeffs,
}

impl LaneKernel<0> for Plain {
    #[inline(always)]
    fn lanes<L: Lanes>(&self, x: L, g: L, s: [L; 0]) -> (L, [L; 0]) {
        (x - g * L::splat(self.c.lr), s)
    }
}

/// `ResourceScatterAdd(var, indices, -grad * lr)`.
#[derive(Clone, Copy)]
struct ScatterAdd {
    c: SgdCoeffs,
}

impl LaneKernel<0> for ScatterAdd {
    #[inline(always)]
    fn lanes<L: Lanes>(&self, x: L, g: L, s: [L; 0]) -> (L, [L; 0]) {
        (x + (-g) * L::splat(self.c.lr), s)
    }
}

/// `accum = accum * momentum - grad * lr; var += NESTEROV ? accum * momentum - grad * lr : accum`.
#[derive(Clone, Copy)]
struct Momentum<const NESTEROV: bool> {
    c: SgdCoeffs,
}

impl<const NESTEROV: bool> LaneKernel<1> for Momentum<NESTEROV> {
    #[inline(always)]
    fn lanes<L: Lanes>(&self, x: L, g: L, [accum]: [L; 1]) -> (L, [L; 1]) {
        let mu = L::splat(self.c.momentum);
        let lr = L::splat(self.c.lr);
        let a = accum * mu - g * lr;
        let dv = if NESTEROV { a * mu - g * lr } else { a };
        (x + dv, [a])
    }
}

#[cfg(test)]
mod tests {
    use super::super::one_step::{close, run, slot, G, X};
    use super::Sgd;

    #[test]
    fn one_step_of_plain_and_nesterov_momentum() {
        let (lr, mu) = (0.1f64, 0.9f64);
        let (x, _) = run(Sgd::new(0.0, false).unwrap(), 0.1);
        close("var", &x, |i| X[i] as f64 - lr * G[i] as f64);
        // accum = mu*0 - lr*g; var += mu*accum - lr*g.
        let (x, opt) = run(Sgd::new(0.9, true).unwrap(), 0.1);
        let a = |i: usize| -lr * G[i] as f64;
        close("momentum", slot(&opt, "momentum"), a);
        close("var", &x, |i| X[i] as f64 + (mu * a(i) - lr * G[i] as f64));
    }
}
