//! Keras 3's RMSprop (ε inside the square root, with or without momentum):
//! `v = ρ·v + (1-ρ)·g²`; centered: `a = ρ·a + (1-ρ)·g`, `den = v - a² + ε`, else `den = v + ε`;
//! `inc = lr·g / sqrt(den)`; with momentum `mom = μ·mom + inc`, `x -= mom`, else `x -= inc`.
//! Slots `velocity`, then `momentum` (momentum > 0), then `average_gradient` (centered), each
//! created for every variable before the next.

use super::{densified, one_minus_py, Dense, EntryKernel, WithEntries};
use crate::drive;
use crate::error::Result;
use crate::lanes::Lanes;
use crate::quant::storage::update_slots;
use crate::rules::{hyper_fields, DenseStep, Hyper, Options, SlotSpec, SparseStep, StepContext, UpdateRule};
use crate::slot::Moment;
use crate::step::clip::Identity;
use crate::step::DensePrelude;

const RHO: Hyper = Hyper::number("rho", 0.9);
const MOMENTUM: Hyper = Hyper::number("momentum", 0.0);
const EPSILON: Hyper = Hyper::number("epsilon", 1e-7);
const CENTERED: Hyper = Hyper::flag("centered", false);

#[derive(Clone, Debug, PartialEq)]
pub struct RmsProp {
    rho: f32,
    momentum: f32,
    epsilon: f32,
    centered: bool,
    /// Fixed at construction: Keras builds the momentum slot when `momentum > 0`.
    use_momentum: bool,
}

impl RmsProp {
    pub fn new(rho: f32, momentum: f32, epsilon: f32, centered: bool) -> Result<Self> {
        let mut r = RmsProp { rho: 0.0, momentum: 0.0, epsilon: 0.0, centered, use_momentum: false };
        r.set_hyper("rho", rho)?;
        r.set_hyper("momentum", momentum)?;
        r.set_hyper("epsilon", epsilon)?;
        r.use_momentum = r.momentum > 0.0;
        Ok(r)
    }
}

#[derive(Clone, Copy)]
pub struct RmsPropCoeffs {
    lr: f32,
    rho: f32,
    one_minus_rho: f32,
    momentum: f32,
    epsilon: f32,
}

impl UpdateRule for RmsProp {
    const CLASS_NAME: &'static str = "RMSprop";
    const KERAS3_FAMILY: bool = true;
    const CONFIG: &'static [Hyper] = &[RHO, MOMENTUM, EPSILON, CENTERED];
    type Coeffs = RmsPropCoeffs;

    fn from_options(o: &mut Options<'_>) -> Result<Self> {
        RmsProp::new(o.number(&RHO), o.number(&MOMENTUM), o.number(&EPSILON), o.flag(&CENTERED))
    }

    fn slots(&self) -> Vec<SlotSpec> {
        let mut s = vec![SlotSpec::moment("velocity", 0.0, Moment::NonNegative)];
        if self.use_momentum {
            s.push(SlotSpec::moment("momentum", 0.0, Moment::Signed));
        }
        if self.centered {
            s.push(SlotSpec::moment("average_gradient", 0.0, Moment::Signed));
        }
        s
    }

    hyper_fields! {
        "rho" => rho,
        "momentum" => momentum,
        "epsilon" => epsilon,
    }

    fn prepare(&self, ctx: &StepContext, _globals: &mut [f32]) -> RmsPropCoeffs {
        RmsPropCoeffs { lr: ctx.lr, rho: self.rho, one_minus_rho: one_minus_py(self.rho), momentum: self.momentum, epsilon: self.epsilon }
    }

    fn apply_dense<P: DensePrelude>(&self, c: &RmsPropCoeffs, t: DenseStep<'_, P>) {
        let (pre, var, grad) = (t.pre, t.var, t.grad);
        match (self.use_momentum, self.centered) {
            (false, false) => update_slots::<_, _, 1>(pre, &Dense(&Kernel::<false, false> { c: *c }), var, grad, t.slots, t.iteration),
            (true, false) => update_slots::<_, _, 2>(pre, &Dense(&Kernel::<true, false> { c: *c }), var, grad, t.slots, t.iteration),
            (false, true) => update_slots::<_, _, 2>(pre, &Dense(&Kernel::<false, true> { c: *c }), var, grad, t.slots, t.iteration),
            (true, true) => update_slots::<_, _, 3>(pre, &Dense(&Kernel::<true, true> { c: *c }), var, grad, t.slots, t.iteration),
        }
    }

    fn apply_sparse(&self, c: &RmsPropCoeffs, t: SparseStep<'_>) {
        let sq = |v: f32| v * v;
        match (self.use_momentum, self.centered) {
            (false, false) => {
                let k = WithEntries(&Kernel::<false, false> { c: *c });
                densified::<1>(t, sq, |x, g, e, [v]| drive::update(Identity, &k, x, g, [v, e]))
            }
            (true, false) => {
                let k = WithEntries(&Kernel::<true, false> { c: *c });
                densified::<2>(t, sq, |x, g, e, [v, m]| drive::update(Identity, &k, x, g, [v, m, e]))
            }
            (false, true) => {
                let k = WithEntries(&Kernel::<false, true> { c: *c });
                densified::<2>(t, sq, |x, g, e, [v, a]| drive::update(Identity, &k, x, g, [v, a, e]))
            }
            (true, true) => {
                let k = WithEntries(&Kernel::<true, true> { c: *c });
                densified::<3>(t, sq, |x, g, e, [v, m, a]| drive::update(Identity, &k, x, g, [v, m, a, e]))
            }
        }
    }

    fn sums_duplicates(&self) -> bool {
        false
    }

    fn global_clip_densifies(&self) -> bool {
        true
    }

    fn slot_groups(&self) -> Vec<usize> {
        vec![1; self.slots().len()]
    }
}

struct Kernel<const MOMENTUM: bool, const CENTERED: bool> {
    c: RmsPropCoeffs,
}

impl<const MOMENTUM: bool, const CENTERED: bool> Kernel<MOMENTUM, CENTERED> {
    /// `(x, velocity, momentum, average_gradient)`.
    #[inline(always)]
    fn step<L: Lanes>(&self, x: L, g: L, g2: L, v: L, mom: L, avg: L) -> (L, L, L, L) {
        let c = &self.c;
        let (rho, omr) = (L::splat(c.rho), L::splat(c.one_minus_rho));
        let v = rho * v + omr * g2;
        let (avg, den) = if CENTERED {
            let avg = rho * avg + omr * g;
            (avg, v - avg * avg + L::splat(c.epsilon))
        } else {
            (avg, v + L::splat(c.epsilon))
        };
        let inc = (L::splat(c.lr) * g) / den.sqrt();
        if MOMENTUM {
            let mom = L::splat(c.momentum) * mom + inc;
            (x - mom, v, mom, avg)
        } else {
            (x - inc, v, mom, avg)
        }
    }
}

impl EntryKernel<1> for Kernel<false, false> {
    #[inline(always)]
    fn lanes<L: Lanes, const SPARSE: bool>(&self, x: L, g: L, g2: L, [v]: [L; 1]) -> (L, [L; 1]) {
        let z = L::splat(0.0);
        let (x, v, _, _) = self.step(x, g, g2, v, z, z);
        (x, [v])
    }
}

impl EntryKernel<2> for Kernel<true, false> {
    #[inline(always)]
    fn lanes<L: Lanes, const SPARSE: bool>(&self, x: L, g: L, g2: L, [v, m]: [L; 2]) -> (L, [L; 2]) {
        let (x, v, m, _) = self.step(x, g, g2, v, m, L::splat(0.0));
        (x, [v, m])
    }
}

impl EntryKernel<2> for Kernel<false, true> {
    #[inline(always)]
    fn lanes<L: Lanes, const SPARSE: bool>(&self, x: L, g: L, g2: L, [v, a]: [L; 2]) -> (L, [L; 2]) {
        let (x, v, _, a) = self.step(x, g, g2, v, L::splat(0.0), a);
        (x, [v, a])
    }
}

impl EntryKernel<3> for Kernel<true, true> {
    #[inline(always)]
    fn lanes<L: Lanes, const SPARSE: bool>(&self, x: L, g: L, g2: L, [v, m, a]: [L; 3]) -> (L, [L; 3]) {
        let (x, v, m, a) = self.step(x, g, g2, v, m, a);
        (x, [v, m, a])
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::one_step::{close, run, slot, G, X};
    use super::RmsProp;

    #[test]
    fn one_step_has_epsilon_inside_the_root() {
        let (lr, rho, eps, mu) = (0.01f64, 0.9f32 as f64, 1e-3f32 as f64, 0.5f32 as f64);
        let g = |i: usize| G[i] as f64;
        let v = |i: usize| (1.0 - rho) * g(i) * g(i);
        let (x, opt) = run(RmsProp::new(0.9, 0.0, 1e-3, false).unwrap(), 0.01);
        close("velocity", slot(&opt, "velocity"), v);
        close("var", &x, |i| X[i] as f64 - lr * g(i) / (v(i) + eps).sqrt());
        // centered with momentum: a = (1-rho) g, den = v - a² + eps, mom = lr g / sqrt(den).
        let (x, opt) = run(RmsProp::new(0.9, 0.5, 1e-3, true).unwrap(), 0.01);
        let a = |i: usize| (1.0 - rho) * g(i);
        let mom = |i: usize| mu * 0.0 + lr * g(i) / (v(i) - a(i) * a(i) + eps).sqrt();
        close("average_gradient", slot(&opt, "average_gradient"), a);
        close("momentum", slot(&opt, "momentum"), mom);
        close("var", &x, |i| X[i] as f64 - mom(i));
    }
}
