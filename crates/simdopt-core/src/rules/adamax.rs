//! Adamax: TF's `ResourceApplyAdaMax` kernel for dense gradients and Keras' lazy Python sparse
//! path (only the indexed rows of `m`, `v` and the variable change).

use super::{hypers_in, powf, update_indexed_rows, Betas, DenseStep, Hyper, Options, SlotSpec, SparseStep, StepContext, UpdateRule};
use crate::drive::LaneKernel;
use crate::error::Result;
use crate::lanes::Lanes;
use crate::quant::storage::update_slots;
use crate::slot::{f32_slots, Moment};
use crate::step::DensePrelude;

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Adamax {
    betas: Betas,
}

impl Adamax {
    pub fn new(beta_1: f32, beta_2: f32, epsilon: f32) -> Result<Self> {
        Ok(Adamax { betas: Betas::new(beta_1, beta_2, epsilon)? })
    }
}

#[derive(Clone, Copy)]
pub struct AdamaxCoeffs {
    /// Kernel: `lr / (1 - beta_1^s)`.
    alpha: f32,
    /// Keras' sparse form: `-lr / (1 - beta_1^s)`.
    neg_scaled_lr: f32,
    beta_1: f32,
    beta_2: f32,
    one_minus_beta_1: f32,
    epsilon: f32,
}

impl UpdateRule for Adamax {
    const CLASS_NAME: &'static str = "Adamax";
    const CONFIG: &'static [Hyper] = &Betas::CONFIG;
    type Coeffs = AdamaxCoeffs;

    fn from_options(o: &mut Options<'_>) -> Result<Self> {
        Ok(Adamax { betas: Betas::from_options(o)? })
    }

    fn slots(&self) -> Vec<SlotSpec> {
        vec![SlotSpec::moment("m", 0.0, Moment::Signed), SlotSpec::moment("v", 0.0, Moment::NonNegative)]
    }

    hypers_in!(betas);

    fn prepare(&self, ctx: &StepContext, _globals: &mut [f32]) -> AdamaxCoeffs {
        let b1p = powf(self.betas.beta_1, (ctx.iteration + 1) as f32);
        AdamaxCoeffs {
            alpha: ctx.lr / (1.0 - b1p),
            neg_scaled_lr: -ctx.lr / (1.0 - b1p),
            beta_1: self.betas.beta_1,
            beta_2: self.betas.beta_2,
            one_minus_beta_1: 1.0 - self.betas.beta_1,
            epsilon: self.betas.epsilon,
        }
    }

    fn apply_dense<P: DensePrelude>(&self, c: &AdamaxCoeffs, t: DenseStep<'_, P>) {
        update_slots::<_, _, 2>(t.pre, &Dense { c: *c }, t.var, t.grad, t.slots, t.iteration)
    }

    fn apply_sparse(&self, c: &AdamaxCoeffs, t: SparseStep<'_>) {
        update_indexed_rows(&SparseRow { c: *c }, t.var, &t.grad, f32_slots::<2>(t.slots))
    }

    fn sparse_touches_only_rows(&self) -> bool {
        true
    }
}

/// `m += (g - m)*(1-b1); v = max(b2*v, |g|); var -= lr/(1-b1^s) * (m / (v + eps))`.
#[derive(Clone, Copy)]
struct Dense {
    c: AdamaxCoeffs,
}

impl LaneKernel<2> for Dense {
    #[inline(always)]
    fn lanes<L: Lanes>(&self, x: L, g: L, [m, v]: [L; 2]) -> (L, [L; 2]) {
        let c = &self.c;
        let m = m + (g - m) * L::splat(c.one_minus_beta_1);
        let v = (L::splat(c.beta_2) * v).max(g.abs());
        (x - L::splat(c.alpha) * (m / (v + L::splat(c.epsilon))), [m, v])
    }
}

/// One indexed row: `m = m*b1 + g*(1-b1); v = max(v*b2, |g|); var += -lr/(1-b1^s) * (m / (v + eps))`.
#[derive(Clone, Copy)]
struct SparseRow {
    c: AdamaxCoeffs,
}

impl LaneKernel<2> for SparseRow {
    #[inline(always)]
    fn lanes<L: Lanes>(&self, x: L, g: L, [m, v]: [L; 2]) -> (L, [L; 2]) {
        let c = &self.c;
        let m = m * L::splat(c.beta_1) + g * L::splat(c.one_minus_beta_1);
        let v = (v * L::splat(c.beta_2)).max(g.abs());
        (x + L::splat(c.neg_scaled_lr) * (m / (v + L::splat(c.epsilon))), [m, v])
    }
}

#[cfg(test)]
mod tests {
    use super::super::one_step::{close, run, slot, G, X};
    use super::Adamax;

    #[test]
    fn one_step_matches_the_formula() {
        let (lr, b1, eps) = (0.01f64, 0.9f32 as f64, 1e-7f32 as f64);
        let (x, opt) = run(Adamax::new(0.9, 0.999, 1e-7).unwrap(), 0.01);
        // m = (1-b1) g, v = max(b2·0, |g|), var -= lr/(1-b1) · m / (v + eps).
        let g = |i: usize| G[i] as f64;
        close("m", slot(&opt, "m"), |i| (1.0 - b1) * g(i));
        close("v", slot(&opt, "v"), |i| g(i).abs());
        close("var", &x, |i| X[i] as f64 - lr / (1.0 - b1) * ((1.0 - b1) * g(i) / (g(i).abs() + eps)));
    }
}
