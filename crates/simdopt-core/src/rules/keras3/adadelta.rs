//! Keras 3's Adadelta: `ag = ρ·ag + (1-ρ)·g²`, `Δ = -(sqrt(ad + ε)·g) / sqrt(ag + ε)`,
//! `ad = ρ·ad + (1-ρ)·Δ²`, `x += lr·Δ`. Slots `accumulated_grad`, `accumulated_delta_var` per
//! variable. Sparse: Δ stays per entry, so `Δ²` sums the entries' squares (`r²·Σg²`).

use super::{densified, one_minus_py, Dense, EntryKernel, WithEntries};
use crate::drive;
use crate::error::Result;
use crate::lanes::Lanes;
use crate::rules::{hyper_fields, DenseStep, Hyper, Options, SlotSpec, SparseStep, StepContext, UpdateRule};
use crate::slot::f32_slots;
use crate::step::clip::Identity;
use crate::step::DensePrelude;

const RHO: Hyper = Hyper::number("rho", 0.95);
const EPSILON: Hyper = Hyper::number("epsilon", 1e-7);

#[derive(Clone, Debug, PartialEq)]
pub struct Adadelta {
    rho: f32,
    epsilon: f32,
}

impl Adadelta {
    pub fn new(rho: f32, epsilon: f32) -> Result<Self> {
        let mut a = Adadelta { rho: 0.0, epsilon: 0.0 };
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
    const KERAS3_FAMILY: bool = true;
    const CONFIG: &'static [Hyper] = &[RHO, EPSILON];
    type Coeffs = AdadeltaCoeffs;

    fn from_options(o: &mut Options<'_>) -> Result<Self> {
        Adadelta::new(o.number(&RHO), o.number(&EPSILON))
    }

    fn slots(&self) -> Vec<SlotSpec> {
        vec![SlotSpec::like_var("accumulated_grad", 0.0), SlotSpec::like_var("accumulated_delta_var", 0.0)]
    }

    fn slot_groups(&self) -> Vec<usize> {
        vec![2]
    }

    hyper_fields! {
        "rho" => rho,
        "epsilon" => epsilon,
    }

    fn prepare(&self, ctx: &StepContext, _globals: &mut [f32]) -> AdadeltaCoeffs {
        AdadeltaCoeffs { lr: ctx.lr, rho: self.rho, one_minus_rho: one_minus_py(self.rho), epsilon: self.epsilon }
    }

    fn apply_dense<P: DensePrelude>(&self, c: &AdadeltaCoeffs, t: DenseStep<'_, P>) {
        drive::update(t.pre, &Dense(&Kernel { c: *c }), t.var, t.grad, f32_slots::<2>(t.slots))
    }

    fn apply_sparse(&self, c: &AdadeltaCoeffs, t: SparseStep<'_>) {
        let k = WithEntries(&Kernel { c: *c });
        densified::<2>(t, |v| v * v, |var, g, e, [ag, ad]| drive::update(Identity, &k, var, g, [ag, ad, e]))
    }

    fn sums_duplicates(&self) -> bool {
        false
    }

    fn global_clip_densifies(&self) -> bool {
        true
    }
}

struct Kernel {
    c: AdadeltaCoeffs,
}

impl EntryKernel<2> for Kernel {
    #[inline(always)]
    fn lanes<L: Lanes, const SPARSE: bool>(&self, x: L, g: L, g2: L, [ag, ad]: [L; 2]) -> (L, [L; 2]) {
        let c = &self.c;
        let (rho, omr, eps) = (L::splat(c.rho), L::splat(c.one_minus_rho), L::splat(c.epsilon));
        let ag = rho * ag + omr * g2;
        let (num, den) = ((ad + eps).sqrt(), (ag + eps).sqrt());
        let delta = -((num * g) / den);
        // Per entry: Σ(r·gᵢ)² = r²·Σgᵢ² with r = num/den.
        let delta_sq = if SPARSE { (num / den) * (num / den) * g2 } else { delta * delta };
        (x + L::splat(c.lr) * delta, [ag, rho * ad + omr * delta_sq])
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::one_step::{close, run, slot, G, X};
    use super::Adadelta;

    #[test]
    fn one_step_matches_the_formula() {
        let (lr, eps) = (1.0f64, 1e-6f32 as f64);
        let (x, opt) = run(Adadelta::new(0.95, 1e-6).unwrap(), 1.0);
        let g = |i: usize| G[i] as f64;
        let ag = |i: usize| 0.05 * g(i) * g(i);
        let d = |i: usize| -(eps.sqrt() * g(i)) / (ag(i) + eps).sqrt();
        close("accumulated_grad", slot(&opt, "accumulated_grad"), ag);
        close("accumulated_delta_var", slot(&opt, "accumulated_delta_var"), |i| 0.05 * d(i) * d(i));
        close("var", &x, |i| X[i] as f64 + lr * d(i));
    }
}
