//! Keras 3's SGD: `m = m*μ - g*lr`, then `x += m*μ - g*lr` (Nesterov) or `x += m`; without
//! momentum `x -= g*lr`. The momentum slot exists when `momentum != 0`.

use super::{densified, Dense, EntryKernel};
use crate::drive;
use crate::error::Result;
use crate::lanes::Lanes;
use crate::quant::storage::update_slots;
use crate::rules::{check, hyper_fields, DenseStep, Hyper, Options, SlotSpec, SparseStep, StepContext, UpdateRule};
use crate::slot::Moment;
use crate::step::clip::Identity;
use crate::step::DensePrelude;

const MOMENTUM: Hyper = Hyper::number("momentum", 0.0);
const NESTEROV: Hyper = Hyper::flag("nesterov", false);

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Sgd {
    momentum: f32,
    nesterov: bool,
    /// Fixed at construction (Keras builds the slot when `momentum != 0`).
    use_momentum: bool,
}

impl Sgd {
    pub fn new(momentum: f32, nesterov: bool) -> Result<Self> {
        let mut s = Sgd { momentum: 0.0, nesterov, use_momentum: false };
        s.set_hyper("momentum", momentum)?;
        s.use_momentum = s.momentum != 0.0;
        Ok(s)
    }
}

#[derive(Clone, Copy)]
pub struct SgdCoeffs {
    lr: f32,
    momentum: f32,
}

impl UpdateRule for Sgd {
    const CLASS_NAME: &'static str = "SGD";
    const KERAS3_FAMILY: bool = true;
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
        "momentum" => momentum: |name, v| check(name, v, (0.0..=1.0).contains(&v), "`momentum` must be a float between [0, 1].".into()),
    }

    fn prepare(&self, ctx: &StepContext, _globals: &mut [f32]) -> SgdCoeffs {
        SgdCoeffs { lr: ctx.lr, momentum: self.momentum }
    }

    fn apply_dense<P: DensePrelude>(&self, c: &SgdCoeffs, t: DenseStep<'_, P>) {
        let k = Kernel { c: *c, nesterov: self.nesterov };
        if self.use_momentum {
            update_slots::<_, _, 1>(t.pre, &Dense(&k), t.var, t.grad, t.slots, t.iteration)
        } else {
            drive::update(t.pre, &Dense(&k), t.var, t.grad, [])
        }
    }

    fn apply_sparse(&self, c: &SgdCoeffs, t: SparseStep<'_>) {
        // No squared term: the densified gradient is all there is.
        let k = Dense(&Kernel { c: *c, nesterov: self.nesterov });
        if self.use_momentum {
            densified::<1>(t, |_| 0.0, |var, g, _, m| drive::update(Identity, &k, var, g, m))
        } else {
            densified::<0>(t, |_| 0.0, |var, g, _, []| drive::update(Identity, &k, var, g, []))
        }
    }

    fn sums_duplicates(&self) -> bool {
        false
    }

    fn global_clip_densifies(&self) -> bool {
        true
    }
}

struct Kernel {
    c: SgdCoeffs,
    nesterov: bool,
}

impl EntryKernel<0> for Kernel {
    #[inline(always)]
    fn entry<L: Lanes>(g: L) -> L {
        g
    }

    #[inline(always)]
    fn lanes<L: Lanes, const SPARSE: bool>(&self, x: L, g: L, _: L, s: [L; 0]) -> (L, [L; 0]) {
        (x - g * L::splat(self.c.lr), s)
    }
}

impl EntryKernel<1> for Kernel {
    #[inline(always)]
    fn entry<L: Lanes>(g: L) -> L {
        g
    }

    #[inline(always)]
    fn lanes<L: Lanes, const SPARSE: bool>(&self, x: L, g: L, _: L, [m]: [L; 1]) -> (L, [L; 1]) {
        let (mu, lr) = (L::splat(self.c.momentum), L::splat(self.c.lr));
        let m = m * mu - g * lr;
        let dx = if self.nesterov { m * mu - g * lr } else { m };
        (x + dx, [m])
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::one_step::{close, run, slot, G, X};
    use super::Sgd;

    #[test]
    fn one_step_with_nesterov_momentum_and_the_momentum_check() {
        let (lr, mu) = (0.1f64, 0.9f32 as f64);
        let (x, opt) = run(Sgd::new(0.9, true).unwrap(), 0.1);
        let m = |i: usize| -lr * G[i] as f64;
        close("momentum", slot(&opt, "momentum"), m);
        close("var", &x, |i| X[i] as f64 + (mu * m(i) - lr * G[i] as f64));
        let (x, _) = run(Sgd::new(0.0, true).unwrap(), 0.1);
        close("var", &x, |i| X[i] as f64 - lr * G[i] as f64);
        let e = Sgd::new(1.5, false).unwrap_err().to_string();
        assert!(e.contains("`momentum` must be a float between [0, 1]."), "{e}");
        assert!(Sgd::new(1.0, false).is_ok());
    }
}
