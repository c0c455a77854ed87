//! RMSprop, optionally centered. Two different formulas, chosen at construction like SGD's
//! momentum: with momentum, TF's `ResourceApplyRMSProp` / `ResourceApplyCenteredRMSProp` kernels
//! (ε inside the square root) and their sparse forms (only the indexed rows change); without,
//! Keras' Python ops (ε outside the square root), whose sparse form decays `rms` (and `mg`) over
//! every row but moves only the indexed rows of the variable.

use super::{
    hyper_fields, momentum_in_unit_range, tf24_epsilon, update_all_rows, update_indexed_rows, DenseStep, Hyper, Options, SlotSpec,
    SparseStep, StepContext, UpdateRule, EPSILON, MOMENTUM,
};
use crate::drive::LaneKernel;
use crate::error::Result;
use crate::lanes::Lanes;
use crate::quant::storage::update_slots;
use crate::slot::{f32_slots, Moment};
use crate::step::DensePrelude;

const RHO: Hyper = Hyper::number("rho", 0.9);
const CENTERED: Hyper = Hyper::flag("centered", false);

#[derive(Clone, Debug, PartialEq)]
pub struct RmsProp {
    rho: f32,
    momentum: f32,
    epsilon: f32,
    centered: bool,
    /// Keras' `_momentum` flag, fixed at construction: momentum > 0 gives a `momentum` slot and
    /// the fused kernels, even if the momentum is later set to 0.
    use_momentum: bool,
}

impl Default for RmsProp {
    fn default() -> Self {
        RmsProp { rho: RHO.default, momentum: MOMENTUM.default, epsilon: EPSILON.default, centered: false, use_momentum: false }
    }
}

impl RmsProp {
    pub fn new(rho: f32, momentum: f32, epsilon: f32, centered: bool) -> Result<Self> {
        let mut r = RmsProp { centered, ..RmsProp::default() };
        r.set_hyper("rho", rho)?;
        r.set_hyper("momentum", momentum)?;
        r.set_hyper("epsilon", epsilon)?;
        r.use_momentum = r.momentum > 0.0;
        Ok(r)
    }

    pub fn centered(&self) -> bool {
        self.centered
    }

    /// Whether this optimizer has a `momentum` slot (and uses the fused kernels).
    pub fn uses_momentum(&self) -> bool {
        self.use_momentum
    }
}

#[derive(Clone, Copy)]
pub struct RmsPropCoeffs {
    lr: f32,
    neg_lr: f32,
    rho: f32,
    one_minus_rho: f32,
    momentum: f32,
    epsilon: f32,
}

impl UpdateRule for RmsProp {
    const CLASS_NAME: &'static str = "RMSprop";
    const CONFIG: &'static [Hyper] = &[RHO, MOMENTUM, EPSILON, CENTERED];
    type Coeffs = RmsPropCoeffs;

    fn from_options(o: &mut Options<'_>) -> Result<Self> {
        RmsProp::new(o.number(&RHO), o.number(&MOMENTUM), o.number(&EPSILON), o.flag(&CENTERED))
    }

    fn slots(&self) -> Vec<SlotSpec> {
        let mut s = vec![SlotSpec::moment("rms", 0.0, Moment::NonNegative)];
        if self.use_momentum {
            s.push(SlotSpec::moment("momentum", 0.0, Moment::Signed));
        }
        if self.centered {
            s.push(SlotSpec::moment("mg", 0.0, Moment::Signed));
        }
        s
    }

    hyper_fields! {
        "rho" => rho,
        "momentum" => momentum: |_, v| momentum_in_unit_range(v),
        "epsilon" => epsilon: tf24_epsilon,
    }

    fn prepare(&self, ctx: &StepContext, _globals: &mut [f32]) -> RmsPropCoeffs {
        RmsPropCoeffs {
            lr: ctx.lr,
            neg_lr: -ctx.lr,
            rho: self.rho,
            one_minus_rho: 1.0 - self.rho,
            momentum: self.momentum,
            epsilon: self.epsilon,
        }
    }

    fn apply_dense<P: DensePrelude>(&self, c: &RmsPropCoeffs, t: DenseStep<'_, P>) {
        let (c, pre, var, grad) = (*c, t.pre, t.var, t.grad);
        // Slots in declaration order: rms, then momentum, then mg.
        match (self.use_momentum, self.centered) {
            (true, false) => update_slots::<_, _, 2>(pre, &MomentumDense::<false> { c }, var, grad, t.slots, t.iteration),
            (true, true) => update_slots::<_, _, 3>(pre, &MomentumDense::<true> { c }, var, grad, t.slots, t.iteration),
            (false, false) => update_slots::<_, _, 1>(pre, &PlainDense::<false> { c }, var, grad, t.slots, t.iteration),
            (false, true) => update_slots::<_, _, 2>(pre, &PlainDense::<true> { c }, var, grad, t.slots, t.iteration),
        }
    }

    fn apply_sparse(&self, c: &RmsPropCoeffs, t: SparseStep<'_>) {
        let (c, var, g) = (*c, t.var, &t.grad);
        match (self.use_momentum, self.centered) {
            (true, false) => update_indexed_rows(&MomentumSparse::<false> { c }, var, g, f32_slots::<2>(t.slots)),
            (true, true) => update_indexed_rows(&MomentumSparse::<true> { c }, var, g, f32_slots::<3>(t.slots)),
            (false, false) => {
                update_all_rows(&PlainSparse::<false, true> { c }, &PlainSparse::<false, false> { c }, var, g, f32_slots::<1>(t.slots))
            }
            (false, true) => {
                update_all_rows(&PlainSparse::<true, true> { c }, &PlainSparse::<true, false> { c }, var, g, f32_slots::<2>(t.slots))
            }
        }
    }

    fn sparse_touches_only_rows(&self) -> bool {
        self.use_momentum
    }
}

/// The fused kernels: `ms += (g² - ms)*(1-rho)`; centered: `mg += (g - mg)*(1-rho)`,
/// `denom = (ms - mg²) + eps`, else `denom = ms + eps`; `mom = mom*mu + (g*lr) / sqrt(denom)`;
/// `var -= mom`. Slots `[rms, momentum]`, or `[rms, momentum, mg]` when centered.
#[derive(Clone, Copy)]
struct MomentumDense<const CENTERED: bool> {
    c: RmsPropCoeffs,
}

impl<const CENTERED: bool> MomentumDense<CENTERED> {
    /// `(rms, mg, denom)`.
    #[inline(always)]
    fn denom<L: Lanes>(&self, g: L, ms: L, mg: L) -> (L, L, L) {
        let omr = L::splat(self.c.one_minus_rho);
        let ms = ms + (g * g - ms) * omr;
        if CENTERED {
            let mg = mg + (g - mg) * omr;
            (ms, mg, (ms - mg * mg) + L::splat(self.c.epsilon))
        } else {
            (ms, mg, ms + L::splat(self.c.epsilon))
        }
    }

    #[inline(always)]
    fn momentum<L: Lanes>(&self, g: L, mom: L, denom: L) -> L {
        mom * L::splat(self.c.momentum) + (g * L::splat(self.c.lr)) / denom.sqrt()
    }
}

impl LaneKernel<2> for MomentumDense<false> {
    #[inline(always)]
    fn lanes<L: Lanes>(&self, x: L, g: L, [ms, mom]: [L; 2]) -> (L, [L; 2]) {
        let (ms, _, denom) = self.denom(g, ms, L::splat(0.0));
        let mom = self.momentum(g, mom, denom);
        (x - mom, [ms, mom])
    }
}

impl LaneKernel<3> for MomentumDense<true> {
    #[inline(always)]
    fn lanes<L: Lanes>(&self, x: L, g: L, [ms, mom, mg]: [L; 3]) -> (L, [L; 3]) {
        let (ms, mg, denom) = self.denom(g, ms, mg);
        let mom = self.momentum(g, mom, denom);
        (x - mom, [ms, mom, mg])
    }
}

/// The sparse kernels, per indexed row: `ms = ms*rho + g²*(1-rho)`; centered:
/// `mg = mg*rho + g*(1-rho)`, `denom = (ms + eps) - mg²`, else `denom = ms + eps`;
/// `mom = mom*mu + rsqrt(denom)*lr*g`; `var -= mom`.
#[derive(Clone, Copy)]
struct MomentumSparse<const CENTERED: bool> {
    c: RmsPropCoeffs,
}

impl<const CENTERED: bool> MomentumSparse<CENTERED> {
    /// `(rms, mg, new variable, momentum)`.
    #[inline(always)]
    fn step<L: Lanes>(&self, x: L, g: L, ms: L, mom: L, mg: L) -> (L, L, L, L) {
        let c = &self.c;
        let (rho, omr) = (L::splat(c.rho), L::splat(c.one_minus_rho));
        let ms = ms * rho + (g * g) * omr;
        let (mg, denom) = if CENTERED {
            let mg = mg * rho + g * omr;
            (mg, (ms + L::splat(c.epsilon)) - mg * mg)
        } else {
            (mg, ms + L::splat(c.epsilon))
        };
        let mom = mom * L::splat(c.momentum) + ((L::splat(1.0) / denom.sqrt()) * L::splat(c.lr)) * g;
        (ms, mg, x - mom, mom)
    }
}

impl LaneKernel<2> for MomentumSparse<false> {
    #[inline(always)]
    fn lanes<L: Lanes>(&self, x: L, g: L, [ms, mom]: [L; 2]) -> (L, [L; 2]) {
        let (ms, _, x, mom) = self.step(x, g, ms, mom, L::splat(0.0));
        (x, [ms, mom])
    }
}

impl LaneKernel<3> for MomentumSparse<true> {
    #[inline(always)]
    fn lanes<L: Lanes>(&self, x: L, g: L, [ms, mom, mg]: [L; 3]) -> (L, [L; 3]) {
        let (ms, mg, x, mom) = self.step(x, g, ms, mom, mg);
        (x, [ms, mom, mg])
    }
}

/// Keras' Python ops without momentum: `rms = rho*rms + (1-rho)*g²`; centered:
/// `mg = rho*mg + (1-rho)*g`, `denom = rms - mg²`, else `denom = rms`;
/// `var -= lr*g / (sqrt(denom) + eps)`. Slots `[rms]`, or `[rms, mg]` when centered.
#[derive(Clone, Copy)]
struct PlainDense<const CENTERED: bool> {
    c: RmsPropCoeffs,
}

impl<const CENTERED: bool> PlainDense<CENTERED> {
    #[inline(always)]
    fn var<L: Lanes>(&self, x: L, g: L, denom: L) -> L {
        x - (L::splat(self.c.lr) * g) / (denom.sqrt() + L::splat(self.c.epsilon))
    }
}

impl LaneKernel<1> for PlainDense<false> {
    #[inline(always)]
    fn lanes<L: Lanes>(&self, x: L, g: L, [rms]: [L; 1]) -> (L, [L; 1]) {
        let (rho, omr) = (L::splat(self.c.rho), L::splat(self.c.one_minus_rho));
        let rms = rho * rms + omr * (g * g);
        (self.var(x, g, rms), [rms])
    }
}

impl LaneKernel<2> for PlainDense<true> {
    #[inline(always)]
    fn lanes<L: Lanes>(&self, x: L, g: L, [rms, mg]: [L; 2]) -> (L, [L; 2]) {
        let (rho, omr) = (L::splat(self.c.rho), L::splat(self.c.one_minus_rho));
        let rms = rho * rms + omr * (g * g);
        let mg = rho * mg + omr * g;
        (self.var(x, g, rms - mg * mg), [rms, mg])
    }
}

/// Keras' Python sparse path without momentum, over every row: `rms *= rho` (and `mg *= rho`);
/// for an indexed row (`HAS_GRAD`) then `rms += g²*(1-rho)`, `mg += g*(1-rho)`,
/// `var += -lr*g / (sqrt(rms - mg²) + eps)`. Rows without a gradient keep their variable.
#[derive(Clone, Copy)]
struct PlainSparse<const CENTERED: bool, const HAS_GRAD: bool> {
    c: RmsPropCoeffs,
}

impl<const CENTERED: bool, const HAS_GRAD: bool> PlainSparse<CENTERED, HAS_GRAD> {
    /// `(new variable, rms, mg)`.
    #[inline(always)]
    fn step<L: Lanes>(&self, x: L, g: L, rms: L, mg: L) -> (L, L, L) {
        let c = &self.c;
        let (rho, omr) = (L::splat(c.rho), L::splat(c.one_minus_rho));
        let rms = rms * rho;
        let mg = if CENTERED { mg * rho } else { mg };
        if !HAS_GRAD {
            return (x, rms, mg);
        }
        let rms = rms + (g * g) * omr;
        let (mg, denom) = if CENTERED {
            let mg = mg + g * omr;
            (mg, rms - mg * mg)
        } else {
            (mg, rms)
        };
        (x + (L::splat(c.neg_lr) * g) / (denom.sqrt() + L::splat(c.epsilon)), rms, mg)
    }
}

impl<const HAS_GRAD: bool> LaneKernel<1> for PlainSparse<false, HAS_GRAD> {
    const READS_GRAD: bool = HAS_GRAD;
    const UPDATES_VAR: bool = HAS_GRAD;
    #[inline(always)]
    fn lanes<L: Lanes>(&self, x: L, g: L, [rms]: [L; 1]) -> (L, [L; 1]) {
        let (x, rms, _) = self.step(x, g, rms, L::splat(0.0));
        (x, [rms])
    }
}

impl<const HAS_GRAD: bool> LaneKernel<2> for PlainSparse<true, HAS_GRAD> {
    const READS_GRAD: bool = HAS_GRAD;
    const UPDATES_VAR: bool = HAS_GRAD;
    #[inline(always)]
    fn lanes<L: Lanes>(&self, x: L, g: L, [rms, mg]: [L; 2]) -> (L, [L; 2]) {
        let (x, rms, mg) = self.step(x, g, rms, mg);
        (x, [rms, mg])
    }
}

#[cfg(test)]
mod tests {
    use super::super::one_step::{close, run, slot, G, X};
    use super::RmsProp;

    #[test]
    fn one_step_without_and_with_momentum() {
        let (lr, rho, eps, mu) = (0.01f64, 0.9f32 as f64, 1e-7f32 as f64, 0.5f64);
        let g = |i: usize| G[i] as f64;
        let rms = |i: usize| (1.0 - rho) * g(i) * g(i);
        // Keras' Python ops: var -= lr·g / (sqrt(rms) + eps).
        let (x, opt) = run(RmsProp::new(0.9, 0.0, 1e-7, false).unwrap(), 0.01);
        close("rms", slot(&opt, "rms"), rms);
        close("var", &x, |i| X[i] as f64 - lr * g(i) / (rms(i).sqrt() + eps));
        // TF's fused kernel: mom = mu·0 + lr·g / sqrt(rms + eps); var -= mom.
        let (x, opt) = run(RmsProp::new(0.9, 0.5, 1e-7, false).unwrap(), 0.01);
        let mom = |i: usize| mu * 0.0 + lr * g(i) / (rms(i) + eps).sqrt();
        close("momentum", slot(&opt, "momentum"), mom);
        close("var", &x, |i| X[i] as f64 - mom(i));
    }
}
