//! SGD with optional (Nesterov) momentum: TF's `ResourceApplyGradientDescent`,
//! `ResourceApplyKerasMomentum` and their sparse forms.

use super::{finite, momentum_in_unit_range, Options, SlotSpec, SparseRows, StepContext, UpdateRule};
use crate::clip::{GradPrelude, Identity};
use crate::error::{Error, Result};
use crate::lanes::{drive, ElementKernel, Lanes};

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Sgd {
    momentum: f32,
    nesterov: bool,
    /// Keras' `_momentum` flag, fixed at construction: momentum > 0 gives a `momentum` slot and
    /// the momentum kernel, even if the momentum is later set to 0.
    use_momentum: bool,
}

impl Sgd {
    pub fn new(momentum: f32, nesterov: bool) -> Result<Self> {
        let mut s = Sgd { momentum: 0.0, nesterov, use_momentum: false };
        s.set_hyper("momentum", momentum)?;
        s.use_momentum = s.momentum > 0.0;
        Ok(s)
    }

    pub fn nesterov(&self) -> bool {
        self.nesterov
    }
}

#[derive(Clone, Copy)]
pub struct SgdCoeffs {
    lr: f32,
    momentum: f32,
}

impl UpdateRule for Sgd {
    const CLASS_NAME: &'static str = "SGD";
    type Coeffs = SgdCoeffs;

    fn from_options(o: &mut Options<'_>) -> Result<Self> {
        Sgd::new(o.take("momentum", 0.0), o.take_flag("nesterov", false))
    }

    fn slots(&self) -> Vec<SlotSpec> {
        if self.use_momentum {
            vec![SlotSpec { name: "momentum", init: 0.0 }]
        } else {
            Vec::new()
        }
    }

    fn hyper_names(&self) -> &'static [&'static str] {
        &["momentum"]
    }

    fn hyper(&self, name: &str) -> Option<f32> {
        (name == "momentum").then_some(self.momentum)
    }

    fn set_hyper(&mut self, name: &str, value: f32) -> Result<()> {
        match name {
            "momentum" => {
                self.momentum = momentum_in_unit_range(finite(name, value)?)?;
                Ok(())
            }
            _ => Err(Error::UnknownHyperparameter { name: name.into() }),
        }
    }

    fn prepare(&self, ctx: &StepContext, _globals: &mut [f32]) -> SgdCoeffs {
        SgdCoeffs { lr: ctx.lr, momentum: self.momentum }
    }

    fn apply_dense<P: GradPrelude>(&self, c: &SgdCoeffs, pre: P, var: &mut [f32], grad: &[f32], slots: &mut [Vec<f32>]) {
        let n = var.len();
        match slots.first_mut() {
            None => drive(&Plain { c: *c, pre, var: var.as_mut_ptr(), grad: grad.as_ptr() }, n),
            Some(accum) => {
                let k =
                    Momentum { c: *c, pre, nesterov: self.nesterov, var: var.as_mut_ptr(), grad: grad.as_ptr(), accum: accum.as_mut_ptr() };
                drive(&k, n)
            }
        }
    }

    fn apply_sparse(&self, c: &SgdCoeffs, var: &mut [f32], g: SparseRows<'_>, slots: &mut [Vec<f32>]) {
        let w = g.row_len;
        for (k, &row) in g.rows.iter().enumerate() {
            let (var, grad) = (var[row * w..(row + 1) * w].as_mut_ptr(), g.values[k * w..(k + 1) * w].as_ptr());
            match slots.first_mut() {
                None => drive(&ScatterAdd { c: *c, var, grad }, w),
                Some(accum) => {
                    let accum = accum[row * w..(row + 1) * w].as_mut_ptr();
                    drive(&Momentum { c: *c, pre: Identity, nesterov: self.nesterov, var, grad, accum }, w)
                }
            }
        }
    }

    fn sums_duplicates(&self) -> bool {
        self.use_momentum
    }
}

/// `var -= grad * lr`.
struct Plain<P> {
    c: SgdCoeffs,
    pre: P,
    var: *mut f32,
    grad: *const f32,
}

impl<P: GradPrelude> ElementKernel for Plain<P> {
    #[inline(always)]
    unsafe fn step<L: Lanes>(&self, i: usize) {
        let g = self.pre.apply(L::load(self.grad.add(i)));
        let v = L::load(self.var.add(i));
        (v - g * L::splat(self.c.lr)).store(self.var.add(i));
    }
}

/// `ResourceScatterAdd(var, indices, -grad * lr)`.
struct ScatterAdd {
    c: SgdCoeffs,
    var: *mut f32,
    grad: *const f32,
}

impl ElementKernel for ScatterAdd {
    #[inline(always)]
    unsafe fn step<L: Lanes>(&self, i: usize) {
        let g = L::load(self.grad.add(i));
        let v = L::load(self.var.add(i));
        (v + (-g) * L::splat(self.c.lr)).store(self.var.add(i));
    }
}

/// `accum = accum * momentum - grad * lr; var += nesterov ? accum * momentum - grad * lr : accum`.
struct Momentum<P> {
    c: SgdCoeffs,
    pre: P,
    nesterov: bool,
    var: *mut f32,
    grad: *const f32,
    accum: *mut f32,
}

impl<P: GradPrelude> ElementKernel for Momentum<P> {
    #[inline(always)]
    unsafe fn step<L: Lanes>(&self, i: usize) {
        let g = self.pre.apply(L::load(self.grad.add(i)));
        let mu = L::splat(self.c.momentum);
        let lr = L::splat(self.c.lr);
        let a = L::load(self.accum.add(i)) * mu - g * lr;
        a.store(self.accum.add(i));
        let v = L::load(self.var.add(i));
        let dv = if self.nesterov { a * mu - g * lr } else { a };
        (v + dv).store(self.var.add(i));
    }
}
