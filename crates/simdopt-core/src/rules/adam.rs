//! Adam (optionally AMSGrad): TF's fused `ResourceApplyAdam` / `ResourceApplyAdamWithAmsgrad`
//! kernels for dense gradients, and Keras' Python sparse path (decay every row, scatter-add the
//! indexed rows, then update every row of the variable).

use super::{
    hypers_in, powf, update_all_rows, Betas, DenseStep, Hyper, Options, SlotSpec, SparseStep, StepContext, UpdateRule, BETA_1, BETA_2,
    EPSILON,
};
use crate::drive::LaneKernel;
use crate::error::Result;
use crate::lanes::Lanes;
use crate::quant::storage::update_slots;
use crate::slot::f32_slots;
use crate::slot::Moment;
use crate::step::DensePrelude;

const AMSGRAD: Hyper = Hyper::flag("amsgrad", false);

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Adam {
    betas: Betas,
    amsgrad: bool,
}

impl Adam {
    pub fn new(beta_1: f32, beta_2: f32, epsilon: f32, amsgrad: bool) -> Result<Self> {
        Ok(Adam { betas: Betas::new(beta_1, beta_2, epsilon)?, amsgrad })
    }

    pub fn amsgrad(&self) -> bool {
        self.amsgrad
    }
}

#[derive(Clone, Copy)]
pub struct AdamCoeffs {
    /// Kernel form: `lr * sqrt(1 - beta_2^s) / (1 - beta_1^s)`.
    alpha: f32,
    /// Keras' sparse form: `lr * (sqrt(1 - beta_2^s) / (1 - beta_1^s))`.
    lr_sparse: f32,
    beta_1: f32,
    beta_2: f32,
    one_minus_beta_1: f32,
    one_minus_beta_2: f32,
    epsilon: f32,
}

impl UpdateRule for Adam {
    const CLASS_NAME: &'static str = "Adam";
    const CONFIG: &'static [Hyper] = &[BETA_1, BETA_2, EPSILON, AMSGRAD];
    type Coeffs = AdamCoeffs;

    fn from_options(o: &mut Options<'_>) -> Result<Self> {
        Ok(Adam { betas: Betas::from_options(o)?, amsgrad: o.flag(&AMSGRAD) })
    }

    fn slots(&self) -> Vec<SlotSpec> {
        let mut s = vec![SlotSpec::moment("m", 0.0, Moment::Signed), SlotSpec::moment("v", 0.0, Moment::NonNegative)];
        if self.amsgrad {
            s.push(SlotSpec::moment("vhat", 0.0, Moment::NonNegative));
        }
        s
    }

    hypers_in!(betas);

    fn prepare(&self, ctx: &StepContext, _globals: &mut [f32]) -> AdamCoeffs {
        let s = (ctx.iteration + 1) as f32;
        let b1p = powf(self.betas.beta_1, s);
        let b2p = powf(self.betas.beta_2, s);
        let root = (1.0 - b2p).sqrt();
        AdamCoeffs {
            alpha: ctx.lr * root / (1.0 - b1p),
            lr_sparse: ctx.lr * (root / (1.0 - b1p)),
            beta_1: self.betas.beta_1,
            beta_2: self.betas.beta_2,
            one_minus_beta_1: 1.0 - self.betas.beta_1,
            one_minus_beta_2: 1.0 - self.betas.beta_2,
            epsilon: self.betas.epsilon,
        }
    }

    fn apply_dense<P: DensePrelude>(&self, c: &AdamCoeffs, t: DenseStep<'_, P>) {
        let k = Dense { c: *c };
        if self.amsgrad {
            update_slots::<_, _, 3>(t.pre, &k, t.var, t.grad, t.slots, t.iteration)
        } else {
            update_slots::<_, _, 2>(t.pre, &k, t.var, t.grad, t.slots, t.iteration)
        }
    }

    fn apply_sparse(&self, c: &AdamCoeffs, t: SparseStep<'_>) {
        // Keras' sparse Adam touches every row: rows without a gradient decay their moments and
        // still move. One pass over all rows, with each row's gradient if it has one.
        let (with, without) = (SparseRow::<true> { c: *c }, SparseRow::<false> { c: *c });
        if self.amsgrad {
            update_all_rows(&with, &without, t.var, &t.grad, f32_slots::<3>(t.slots))
        } else {
            update_all_rows(&with, &without, t.var, &t.grad, f32_slots::<2>(t.slots))
        }
    }
}

/// The fused dense kernel, in TF's CPU functor order: `m += (g - m)(1 - β1)`,
/// `v += (g² - v)(1 - β2)`, AMSGrad `vhat = max(vhat, v)`, `var -= m·α / (sqrt(v or vhat) + ε)`.
#[derive(Clone, Copy)]
pub(crate) struct Dense {
    c: AdamCoeffs,
}

/// The dense kernel with a step's coefficients (for `quant::adam`).
pub(crate) fn dense_kernel(c: AdamCoeffs) -> Dense {
    Dense { c }
}

impl Dense {
    #[inline(always)]
    fn moments<L: Lanes>(&self, g: L, m: L, v: L) -> (L, L) {
        let c = &self.c;
        (m + (g - m) * L::splat(c.one_minus_beta_1), v + (g * g - v) * L::splat(c.one_minus_beta_2))
    }

    #[inline(always)]
    fn var<L: Lanes>(&self, x: L, m: L, denom_sq: L) -> L {
        x - (m * L::splat(self.c.alpha)) / (denom_sq.sqrt() + L::splat(self.c.epsilon))
    }
}

impl LaneKernel<2> for Dense {
    #[inline(always)]
    fn lanes<L: Lanes>(&self, x: L, g: L, [m, v]: [L; 2]) -> (L, [L; 2]) {
        let (m, v) = self.moments(g, m, v);
        (self.var(x, m, v), [m, v])
    }
}

impl LaneKernel<3> for Dense {
    #[inline(always)]
    fn lanes<L: Lanes>(&self, x: L, g: L, [m, v, vhat]: [L; 3]) -> (L, [L; 3]) {
        let (m, v) = self.moments(g, m, v);
        let vhat = vhat.max(v);
        (self.var(x, m, vhat), [m, v, vhat])
    }
}

/// One row (or a run of rows) of Keras' sparse Adam: `m = m * b1 (+ g * (1 - b1))`,
/// `v = v * b2 (+ (g * g) * (1 - b2))`, `var -= (lr * m) / (sqrt(v or vhat) + eps)`.
/// `HAS_GRAD` is false for rows without a gradient.
#[derive(Clone, Copy)]
struct SparseRow<const HAS_GRAD: bool> {
    c: AdamCoeffs,
}

impl<const HAS_GRAD: bool> SparseRow<HAS_GRAD> {
    #[inline(always)]
    fn moments<L: Lanes>(&self, g: L, m: L, v: L) -> (L, L) {
        let c = &self.c;
        let (mut m, mut v) = (m * L::splat(c.beta_1), v * L::splat(c.beta_2));
        if HAS_GRAD {
            m = m + g * L::splat(c.one_minus_beta_1);
            v = v + (g * g) * L::splat(c.one_minus_beta_2);
        }
        (m, v)
    }

    #[inline(always)]
    fn var<L: Lanes>(&self, x: L, m: L, denom_sq: L) -> L {
        x - (L::splat(self.c.lr_sparse) * m) / (denom_sq.sqrt() + L::splat(self.c.epsilon))
    }
}

impl<const HAS_GRAD: bool> LaneKernel<2> for SparseRow<HAS_GRAD> {
    const READS_GRAD: bool = HAS_GRAD;
    #[inline(always)]
    fn lanes<L: Lanes>(&self, x: L, g: L, [m, v]: [L; 2]) -> (L, [L; 2]) {
        let (m, v) = self.moments(g, m, v);
        (self.var(x, m, v), [m, v])
    }
}

impl<const HAS_GRAD: bool> LaneKernel<3> for SparseRow<HAS_GRAD> {
    const READS_GRAD: bool = HAS_GRAD;
    #[inline(always)]
    fn lanes<L: Lanes>(&self, x: L, g: L, [m, v, vhat]: [L; 3]) -> (L, [L; 3]) {
        let (m, v) = self.moments(g, m, v);
        let vhat = vhat.max(v);
        (self.var(x, m, vhat), [m, v, vhat])
    }
}

#[cfg(test)]
mod tests {
    use super::super::one_step::{close, run, slot, G, X};
    use super::Adam;

    #[test]
    fn one_step_matches_the_formula() {
        let (lr, b1, b2, eps) = (0.01f64, 0.9f64, 0.999f64, 1e-7f64);
        let (x, opt) = run(Adam::new(0.9, 0.999, 1e-7, true).unwrap(), 0.01);
        let g = |i: usize| G[i] as f64;
        // t = 1: m = (1-b1) g, v = (1-b2) g², vhat = max(0, v),
        // var -= lr·sqrt(1-b2)/(1-b1) · m / (sqrt(vhat) + eps).
        let alpha = lr * (1.0 - b2).sqrt() / (1.0 - b1);
        close("m", slot(&opt, "m"), |i| (1.0 - b1) * g(i));
        close("v", slot(&opt, "v"), |i| (1.0 - b2) * g(i) * g(i));
        close("vhat", slot(&opt, "vhat"), |i| (1.0 - b2) * g(i) * g(i));
        close("var", &x, |i| X[i] as f64 - alpha * (1.0 - b1) * g(i) / (((1.0 - b2) * g(i) * g(i)).sqrt() + eps));
    }
}
