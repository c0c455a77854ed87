//! Adadelta: TF's `ResourceApplyAdadelta` / `ResourceSparseApplyAdadelta` kernels (the sparse
//! update touches only the indexed rows, with the same per-element formula).

use super::{
    hyper_fields, tf24_epsilon, update_indexed_rows, DenseStep, Hyper, Options, SlotSpec, SparseStep, StepContext, UpdateRule, EPSILON,
};
use crate::drive::{self, LaneKernel};
use crate::error::Result;
use crate::lanes::Lanes;
use crate::slot::f32_slots;
use crate::step::DensePrelude;

const RHO: Hyper = Hyper::number("rho", 0.95);

#[derive(Clone, Debug, PartialEq)]
pub struct Adadelta {
    rho: f32,
    epsilon: f32,
}

impl Default for Adadelta {
    fn default() -> Self {
        Adadelta { rho: RHO.default, epsilon: EPSILON.default }
    }
}

impl Adadelta {
    pub fn new(rho: f32, epsilon: f32) -> Result<Self> {
        let mut a = Adadelta::default();
        a.set_hyper("rho", rho)?;
        a.set_hyper("epsilon", epsilon)?;
        Ok(a)
    }
}

#[derive(Clone, Copy)]
pub struct AdadeltaCoeffs {
    lr: f32,
    rho: f32,
    one_minus_rho: f32,
    epsilon: f32,
}

impl UpdateRule for Adadelta {
    const CLASS_NAME: &'static str = "Adadelta";
    const CONFIG: &'static [Hyper] = &[RHO, EPSILON];
    type Coeffs = AdadeltaCoeffs;

    fn from_options(o: &mut Options<'_>) -> Result<Self> {
        Adadelta::new(o.number(&RHO), o.number(&EPSILON))
    }

    fn slots(&self) -> Vec<SlotSpec> {
        vec![SlotSpec::like_var("accum_grad", 0.0), SlotSpec::like_var("accum_var", 0.0)]
    }

    hyper_fields! {
        "rho" => rho,
        "epsilon" => epsilon: tf24_epsilon,
    }

    fn prepare(&self, ctx: &StepContext, _globals: &mut [f32]) -> AdadeltaCoeffs {
        AdadeltaCoeffs { lr: ctx.lr, rho: self.rho, one_minus_rho: 1.0 - self.rho, epsilon: self.epsilon }
    }

    fn apply_dense<P: DensePrelude>(&self, c: &AdadeltaCoeffs, t: DenseStep<'_, P>) {
        drive::update(t.pre, &Kernel { c: *c }, t.var, t.grad, f32_slots::<2>(t.slots))
    }

    fn apply_sparse(&self, c: &AdadeltaCoeffs, t: SparseStep<'_>) {
        update_indexed_rows(&Kernel { c: *c }, t.var, &t.grad, f32_slots::<2>(t.slots))
    }
}

/// TF's `ResourceApplyAdadelta` (dense and per sparse row): `ag = ag*rho + g²*(1-rho)`,
/// `u = sqrt(ax + eps) * (1 / sqrt(ag + eps)) * g`, `var -= u*lr`, `ax = ax*rho + u²*(1-rho)`.
#[derive(Clone, Copy)]
struct Kernel {
    c: AdadeltaCoeffs,
}

impl LaneKernel<2> for Kernel {
    #[inline(always)]
    fn lanes<L: Lanes>(&self, x: L, g: L, [acc_g, acc_x]: [L; 2]) -> (L, [L; 2]) {
        let c = &self.c;
        let (rho, omr, eps) = (L::splat(c.rho), L::splat(c.one_minus_rho), L::splat(c.epsilon));
        let ag = acc_g * rho + (g * g) * omr;
        let u = ((acc_x + eps).sqrt() * (L::splat(1.0) / (ag + eps).sqrt())) * g;
        (x - u * L::splat(c.lr), [ag, acc_x * rho + (u * u) * omr])
    }
}

#[cfg(test)]
mod tests {
    use super::super::one_step::{close, run, slot, G, X};
    use super::Adadelta;

    #[test]
    fn one_step_matches_the_formula() {
        let (lr, rho, eps) = (1.0f64, 0.95f32 as f64, 1e-7f32 as f64);
        let (x, opt) = run(Adadelta::new(0.95, 1e-7).unwrap(), 1.0);
        // ag = (1-rho) g², u = sqrt(0 + eps) / sqrt(ag + eps) · g, var -= lr·u, ax = (1-rho) u².
        let g = |i: usize| G[i] as f64;
        let ag = |i: usize| (1.0 - rho) * g(i) * g(i);
        let u = |i: usize| eps.sqrt() / (ag(i) + eps).sqrt() * g(i);
        close("accum_grad", slot(&opt, "accum_grad"), ag);
        close("accum_var", slot(&opt, "accum_var"), |i| (1.0 - rho) * u(i) * u(i));
        close("var", &x, |i| X[i] as f64 - lr * u(i));
    }
}
