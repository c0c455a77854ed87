//! Adadelta: TF's `ResourceApplyAdadelta` / `ResourceSparseApplyAdadelta` kernels (the sparse
//! update touches only the indexed rows, with the same per-element formula).

use super::{finite, keras_epsilon, Options, SlotSpec, SparseRows, StepContext, UpdateRule};
use crate::clip::{GradPrelude, Identity};
use crate::error::{Error, Result};
use crate::lanes::{drive, ElementKernel, Lanes};

#[derive(Clone, Debug, PartialEq)]
pub struct Adadelta {
    rho: f32,
    epsilon: f32,
}

impl Default for Adadelta {
    fn default() -> Self {
        Adadelta { rho: 0.95, epsilon: 1e-7 }
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
    type Coeffs = AdadeltaCoeffs;

    fn from_options(o: &mut Options<'_>) -> Result<Self> {
        Adadelta::new(o.take("rho", 0.95), o.take("epsilon", 1e-7))
    }

    fn slots(&self) -> Vec<SlotSpec> {
        vec![SlotSpec { name: "accum_grad", init: 0.0 }, SlotSpec { name: "accum_var", init: 0.0 }]
    }

    fn hyper_names(&self) -> &'static [&'static str] {
        &["rho", "epsilon"]
    }

    fn hyper(&self, name: &str) -> Option<f32> {
        match name {
            "rho" => Some(self.rho),
            "epsilon" => Some(self.epsilon),
            _ => None,
        }
    }

    fn set_hyper(&mut self, name: &str, value: f32) -> Result<()> {
        let v = finite(name, value)?;
        match name {
            "rho" => self.rho = v,
            "epsilon" => self.epsilon = keras_epsilon(v),
            _ => return Err(Error::UnknownHyperparameter { name: name.into() }),
        }
        Ok(())
    }

    fn prepare(&self, ctx: &StepContext, _globals: &mut [f32]) -> AdadeltaCoeffs {
        AdadeltaCoeffs { lr: ctx.lr, rho: self.rho, one_minus_rho: 1.0 - self.rho, epsilon: self.epsilon }
    }

    fn apply_dense<P: GradPrelude>(&self, c: &AdadeltaCoeffs, pre: P, var: &mut [f32], grad: &[f32], slots: &mut [Vec<f32>]) {
        let [acc_g, acc_x] = slots else { unreachable!("adadelta has two slots") };
        let k = Kernel { c: *c, pre, var: var.as_mut_ptr(), grad: grad.as_ptr(), acc_g: acc_g.as_mut_ptr(), acc_x: acc_x.as_mut_ptr() };
        drive(&k, var.len())
    }

    fn apply_sparse(&self, c: &AdadeltaCoeffs, var: &mut [f32], g: SparseRows<'_>, slots: &mut [Vec<f32>]) {
        let [acc_g, acc_x] = slots else { unreachable!("adadelta has two slots") };
        let w = g.row_len;
        for (k, &r) in g.rows.iter().enumerate() {
            let span = r * w..(r + 1) * w;
            let k = Kernel {
                c: *c,
                pre: Identity,
                var: var[span.clone()].as_mut_ptr(),
                grad: g.row_values(k).as_ptr(),
                acc_g: acc_g[span.clone()].as_mut_ptr(),
                acc_x: acc_x[span].as_mut_ptr(),
            };
            drive(&k, w)
        }
    }
}

/// The kernel (dense, and per indexed row):
/// `acc_g = acc_g*rho + g²*(1-rho); u = sqrt(acc_x + eps) * rsqrt(acc_g + eps) * g;
/// var -= u * lr; acc_x = acc_x*rho + u²*(1-rho)` (the update uses the old `acc_x`).
struct Kernel<P> {
    c: AdadeltaCoeffs,
    pre: P,
    var: *mut f32,
    grad: *const f32,
    acc_g: *mut f32,
    acc_x: *mut f32,
}

impl<P: GradPrelude> ElementKernel for Kernel<P> {
    #[inline(always)]
    unsafe fn step<L: Lanes>(&self, i: usize) {
        let c = &self.c;
        let (rho, omr, eps) = (L::splat(c.rho), L::splat(c.one_minus_rho), L::splat(c.epsilon));
        let g = self.pre.apply(L::load(self.grad.add(i)));
        let ag = L::load(self.acc_g.add(i)) * rho + (g * g) * omr;
        ag.store(self.acc_g.add(i));
        let ax = L::load(self.acc_x.add(i));
        let u = ((ax + eps).sqrt() * (L::splat(1.0) / (ag + eps).sqrt())) * g;
        let x = L::load(self.var.add(i));
        (x - u * L::splat(c.lr)).store(self.var.add(i));
        (ax * rho + (u * u) * omr).store(self.acc_x.add(i));
    }
}
