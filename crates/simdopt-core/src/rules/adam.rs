//! Adam (optionally AMSGrad): TF's fused `ResourceApplyAdam` / `ResourceApplyAdamWithAmsgrad`
//! kernels for dense gradients, and Keras' Python sparse path (decay every row, scatter-add the
//! indexed rows, then update every row of the variable).

use super::{powf, Betas, Options, SlotSpec, SparseRows, StepContext, UpdateRule};
use crate::clip::GradPrelude;
use crate::error::Result;
use crate::lanes::{drive, ElementKernel, Lanes};

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
    type Coeffs = AdamCoeffs;

    fn from_options(o: &mut Options<'_>) -> Result<Self> {
        Ok(Adam { betas: Betas::from_options(o)?, amsgrad: o.take_flag("amsgrad", false) })
    }

    fn slots(&self) -> Vec<SlotSpec> {
        let mut s = vec![SlotSpec { name: "m", init: 0.0 }, SlotSpec { name: "v", init: 0.0 }];
        if self.amsgrad {
            s.push(SlotSpec { name: "vhat", init: 0.0 });
        }
        s
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

    fn apply_dense<P: GradPrelude>(&self, c: &AdamCoeffs, pre: P, var: &mut [f32], grad: &[f32], slots: &mut [Vec<f32>]) {
        let (m, rest) = slots.split_first_mut().expect("adam has slots");
        let (v, rest) = rest.split_first_mut().expect("adam has slots");
        let vhat = rest.first_mut().map_or(core::ptr::null_mut(), |s| s.as_mut_ptr());
        let k = Dense { c: *c, pre, var: var.as_mut_ptr(), grad: grad.as_ptr(), m: m.as_mut_ptr(), v: v.as_mut_ptr(), vhat };
        drive(&k, var.len())
    }

    fn apply_sparse(&self, c: &AdamCoeffs, var: &mut [f32], g: SparseRows<'_>, slots: &mut [Vec<f32>]) {
        let (m, rest) = slots.split_first_mut().expect("adam has slots");
        let (v, rest) = rest.split_first_mut().expect("adam has slots");
        let vhat = rest.first_mut().map_or(core::ptr::null_mut(), |s| s.as_mut_ptr());
        let (var, m, v) = (var.as_mut_ptr(), m.as_mut_ptr(), v.as_mut_ptr());
        let w = g.row_len;
        // Keras' sparse Adam touches every row: rows without a gradient decay their moments and
        // still move. One pass over all rows, with each row's gradient if it has one.
        // SAFETY (pointer offsets): every range below lies within the variable, whose slots have
        // its length.
        let at = |p: *mut f32, e: usize| if p.is_null() { p } else { unsafe { p.add(e) } };
        g.for_all_rows(
            |r, k| {
                let e = r * w;
                let grad = g.row_values(k).as_ptr();
                drive(&SparseRow::<true> { c: *c, var: at(var, e), grad, m: at(m, e), v: at(v, e), vhat: at(vhat, e) }, w)
            },
            |span| {
                let e = span.start;
                let k = SparseRow::<false> { c: *c, var: at(var, e), grad: core::ptr::null(), m: at(m, e), v: at(v, e), vhat: at(vhat, e) };
                drive(&k, span.len())
            },
        );
    }

    fn sparse_visits_all_rows(&self) -> bool {
        true
    }
}

/// The fused dense kernel, in TF's CPU functor order.
struct Dense<P> {
    c: AdamCoeffs,
    pre: P,
    var: *mut f32,
    grad: *const f32,
    m: *mut f32,
    v: *mut f32,
    /// Null without AMSGrad.
    vhat: *mut f32,
}

impl<P: GradPrelude> ElementKernel for Dense<P> {
    #[inline(always)]
    unsafe fn step<L: Lanes>(&self, i: usize) {
        let c = &self.c;
        let g = self.pre.apply(L::load(self.grad.add(i)));
        let mut m = L::load(self.m.add(i));
        m = m + (g - m) * L::splat(c.one_minus_beta_1);
        m.store(self.m.add(i));
        let mut v = L::load(self.v.add(i));
        v = v + (g * g - v) * L::splat(c.one_minus_beta_2);
        v.store(self.v.add(i));
        let denom_sq = if self.vhat.is_null() {
            v
        } else {
            let vh = L::load(self.vhat.add(i)).max(v);
            vh.store(self.vhat.add(i));
            vh
        };
        let x = L::load(self.var.add(i));
        (x - (m * L::splat(c.alpha)) / (denom_sq.sqrt() + L::splat(c.epsilon))).store(self.var.add(i));
    }
}

/// One row of Keras' sparse Adam: `m = m * b1 (+ g * (1 - b1))`, `v = v * b2 (+ (g * g) * (1 - b2))`,
/// `var -= (lr * m) / (sqrt(v or vhat) + eps)`. `HAS_GRAD` is false for rows without a gradient.
struct SparseRow<const HAS_GRAD: bool> {
    c: AdamCoeffs,
    var: *mut f32,
    grad: *const f32,
    m: *mut f32,
    v: *mut f32,
    vhat: *mut f32,
}

impl<const HAS_GRAD: bool> ElementKernel for SparseRow<HAS_GRAD> {
    #[inline(always)]
    unsafe fn step<L: Lanes>(&self, i: usize) {
        let c = &self.c;
        let mut m = L::load(self.m.add(i)) * L::splat(c.beta_1);
        let mut v = L::load(self.v.add(i)) * L::splat(c.beta_2);
        if HAS_GRAD {
            let g = L::load(self.grad.add(i));
            m = m + g * L::splat(c.one_minus_beta_1);
            v = v + (g * g) * L::splat(c.one_minus_beta_2);
        }
        m.store(self.m.add(i));
        v.store(self.v.add(i));
        let denom_sq = if self.vhat.is_null() {
            v
        } else {
            let vh = L::load(self.vhat.add(i)).max(v);
            vh.store(self.vhat.add(i));
            vh
        };
        let x = L::load(self.var.add(i));
        (x - (L::splat(c.lr_sparse) * m) / (denom_sq.sqrt() + L::splat(c.epsilon))).store(self.var.add(i));
    }
}
