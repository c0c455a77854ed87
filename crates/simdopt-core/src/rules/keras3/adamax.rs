//! Keras 3's Adamax: `m += (g-m)(1-β1)`, `u = max(β2·u, |g|)`,
//! `x -= lr·m / ((1-β1^t)·(u + ε))`. Slots `momentum`, `norm` per variable. Sparse: `|g|` is
//! taken entry by entry, so repeated rows give `Σ|gᵢ|`.

use super::{densified, one_minus_py, Betas, Dense, EntryKernel, WithEntries};
use crate::drive;
use crate::error::Result;
use crate::lanes::Lanes;
use crate::quant::storage::update_slots;
use crate::rules::{hypers_in, powf, DenseStep, Hyper, Options, SlotSpec, SparseStep, StepContext, UpdateRule};
use crate::slot::Moment;
use crate::step::clip::Identity;
use crate::step::DensePrelude;

#[derive(Clone, Debug, PartialEq)]
pub struct Adamax {
    betas: Betas,
}

impl Adamax {
    pub fn new(beta_1: f32, beta_2: f32, epsilon: f32) -> Result<Self> {
        let betas = Betas::new(beta_1, beta_2, epsilon)?;
        Ok(Adamax { betas })
    }
}

#[derive(Clone, Copy)]
pub struct AdamaxCoeffs {
    lr: f32,
    one_minus_beta_1: f32,
    beta_2: f32,
    /// `1 - β1^t`.
    bias: f32,
    epsilon: f32,
}

impl UpdateRule for Adamax {
    const CLASS_NAME: &'static str = "Adamax";
    const KERAS3_FAMILY: bool = true;
    const CONFIG: &'static [Hyper] = &Betas::CONFIG;
    type Coeffs = AdamaxCoeffs;

    fn from_options(o: &mut Options<'_>) -> Result<Self> {
        Ok(Adamax { betas: Betas::from_options(o)? })
    }

    fn slots(&self) -> Vec<SlotSpec> {
        vec![SlotSpec::moment("momentum", 0.0, Moment::Signed), SlotSpec::moment("norm", 0.0, Moment::NonNegative)]
    }

    fn slot_groups(&self) -> Vec<usize> {
        vec![2]
    }

    hypers_in!(betas);

    fn prepare(&self, ctx: &StepContext, _globals: &mut [f32]) -> AdamaxCoeffs {
        AdamaxCoeffs {
            lr: ctx.lr,
            one_minus_beta_1: one_minus_py(self.betas.beta_1),
            beta_2: self.betas.beta_2,
            bias: 1.0 - powf(self.betas.beta_1, (ctx.iteration + 1) as f32),
            epsilon: self.betas.epsilon,
        }
    }

    fn apply_dense<P: DensePrelude>(&self, c: &AdamaxCoeffs, t: DenseStep<'_, P>) {
        update_slots::<_, _, 2>(t.pre, &Dense(&Kernel { c: *c }), t.var, t.grad, t.slots, t.iteration)
    }

    fn apply_sparse(&self, c: &AdamaxCoeffs, t: SparseStep<'_>) {
        let k = WithEntries(&Kernel { c: *c });
        densified::<2>(t, f32::abs, |var, g, e, [m, u]| drive::update(Identity, &k, var, g, [m, u, e]))
    }

    fn sums_duplicates(&self) -> bool {
        false
    }

    fn global_clip_densifies(&self) -> bool {
        true
    }
}

struct Kernel {
    c: AdamaxCoeffs,
}

impl EntryKernel<2> for Kernel {
    #[inline(always)]
    fn entry<L: Lanes>(g: L) -> L {
        g.abs()
    }

    #[inline(always)]
    fn lanes<L: Lanes, const SPARSE: bool>(&self, x: L, g: L, g_abs: L, [m, u]: [L; 2]) -> (L, [L; 2]) {
        let c = &self.c;
        let m = m + (g - m) * L::splat(c.one_minus_beta_1);
        let u = (L::splat(c.beta_2) * u).max(g_abs);
        (x - (L::splat(c.lr) * m) / (L::splat(c.bias) * (u + L::splat(c.epsilon))), [m, u])
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::one_step::{close, run, slot, G, X};
    use super::Adamax;

    #[test]
    fn one_step_matches_the_formula() {
        let (lr, b1, eps) = (0.01f64, 0.9f32 as f64, 1e-7f32 as f64);
        let (x, opt) = run(Adamax::new(0.9, 0.999, 1e-7).unwrap(), 0.01);
        let g = |i: usize| G[i] as f64;
        close("momentum", slot(&opt, "momentum"), |i| 0.1 * g(i));
        close("norm", slot(&opt, "norm"), |i| g(i).abs());
        close("var", &x, |i| X[i] as f64 - lr * 0.1 * g(i) / ((1.0 - b1) * (g(i).abs() + eps)));
    }
}
