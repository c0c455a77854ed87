//! Adamax: TF's `ResourceApplyAdaMax` kernel for dense gradients and Keras' lazy Python sparse
//! path (only the indexed rows of `m`, `v` and the variable change).

use super::{powf, Betas, Options, SlotSpec, SparseRows, StepContext, UpdateRule};
use crate::clip::GradPrelude;
use crate::error::Result;
use crate::lanes::{drive, ElementKernel, Lanes};

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
    type Coeffs = AdamaxCoeffs;

    fn from_options(o: &mut Options<'_>) -> Result<Self> {
        Ok(Adamax { betas: Betas::from_options(o)? })
    }

    fn slots(&self) -> Vec<SlotSpec> {
        vec![SlotSpec { name: "m", init: 0.0 }, SlotSpec { name: "v", init: 0.0 }]
    }

    fn hyper_names(&self) -> &'static [&'static str] {
        &Betas::NAMES
    }

    fn hyper(&self, name: &str) -> Option<f32> {
        self.betas.get(name)
    }

    fn set_hyper(&mut self, name: &str, value: f32) -> Result<()> {
        self.betas.set(name, value)
    }

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

    fn apply_dense<P: GradPrelude>(&self, c: &AdamaxCoeffs, pre: P, var: &mut [f32], grad: &[f32], slots: &mut [Vec<f32>]) {
        let [m, v] = slots else { unreachable!("adamax has two slots") };
        let k = Dense { c: *c, pre, var: var.as_mut_ptr(), grad: grad.as_ptr(), m: m.as_mut_ptr(), v: v.as_mut_ptr() };
        drive(&k, var.len())
    }

    fn apply_sparse(&self, c: &AdamaxCoeffs, var: &mut [f32], g: SparseRows<'_>, slots: &mut [Vec<f32>]) {
        let [m, v] = slots else { unreachable!("adamax has two slots") };
        let w = g.row_len;
        for (k, &r) in g.rows.iter().enumerate() {
            let span = r * w..(r + 1) * w;
            let k = SparseRow {
                c: *c,
                var: var[span.clone()].as_mut_ptr(),
                grad: g.row_values(k).as_ptr(),
                m: m[span.clone()].as_mut_ptr(),
                v: v[span].as_mut_ptr(),
            };
            drive(&k, w)
        }
    }
}

/// `m += (g - m)*(1-b1); v = max(b2*v, |g|); var -= lr/(1-b1^s) * (m / (v + eps))`.
struct Dense<P> {
    c: AdamaxCoeffs,
    pre: P,
    var: *mut f32,
    grad: *const f32,
    m: *mut f32,
    v: *mut f32,
}

impl<P: GradPrelude> ElementKernel for Dense<P> {
    #[inline(always)]
    unsafe fn step<L: Lanes>(&self, i: usize) {
        let c = &self.c;
        let g = self.pre.apply(L::load(self.grad.add(i)));
        let mut m = L::load(self.m.add(i));
        m = m + (g - m) * L::splat(c.one_minus_beta_1);
        m.store(self.m.add(i));
        let v = (L::splat(c.beta_2) * L::load(self.v.add(i))).max(g.abs());
        v.store(self.v.add(i));
        let x = L::load(self.var.add(i));
        (x - L::splat(c.alpha) * (m / (v + L::splat(c.epsilon)))).store(self.var.add(i));
    }
}

/// One indexed row: `m = m*b1 + g*(1-b1); v = max(v*b2, |g|); var += -lr/(1-b1^s) * (m / (v + eps))`.
struct SparseRow {
    c: AdamaxCoeffs,
    var: *mut f32,
    grad: *const f32,
    m: *mut f32,
    v: *mut f32,
}

impl ElementKernel for SparseRow {
    #[inline(always)]
    unsafe fn step<L: Lanes>(&self, i: usize) {
        let c = &self.c;
        let g = L::load(self.grad.add(i));
        let m = L::load(self.m.add(i)) * L::splat(c.beta_1) + g * L::splat(c.one_minus_beta_1);
        m.store(self.m.add(i));
        let v = (L::load(self.v.add(i)) * L::splat(c.beta_2)).max(g.abs());
        v.store(self.v.add(i));
        let x = L::load(self.var.add(i));
        (x + L::splat(c.neg_scaled_lr) * (m / (v + L::splat(c.epsilon)))).store(self.var.add(i));
    }
}
