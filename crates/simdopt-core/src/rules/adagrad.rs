//! Adagrad: TF's `ResourceApplyAdagradV2` / `ResourceSparseApplyAdagradV2` kernels (ε outside
//! the square root; the sparse update touches only the indexed rows).

use super::{check, finite, keras_epsilon, py_float, Options, SlotSpec, SparseRows, StepContext, UpdateRule};
use crate::clip::GradPrelude;
use crate::error::{Error, Result};
use crate::lanes::{drive, ElementKernel, Lanes};

#[derive(Clone, Debug, PartialEq)]
pub struct Adagrad {
    initial_accumulator_value: f32,
    epsilon: f32,
}

impl Default for Adagrad {
    fn default() -> Self {
        Adagrad { initial_accumulator_value: 0.1, epsilon: 1e-7 }
    }
}

impl Adagrad {
    pub fn new(initial_accumulator_value: f32, epsilon: f32) -> Result<Self> {
        let mut a = Adagrad::default();
        a.set_hyper("initial_accumulator_value", initial_accumulator_value)?;
        a.set_hyper("epsilon", epsilon)?;
        Ok(a)
    }
}

#[derive(Clone, Copy)]
pub struct AdagradCoeffs {
    lr: f32,
    epsilon: f32,
}

impl UpdateRule for Adagrad {
    const CLASS_NAME: &'static str = "Adagrad";
    type Coeffs = AdagradCoeffs;

    fn from_options(o: &mut Options<'_>) -> Result<Self> {
        Adagrad::new(o.take("initial_accumulator_value", 0.1), o.take("epsilon", 1e-7))
    }

    fn slots(&self) -> Vec<SlotSpec> {
        vec![SlotSpec { name: "accumulator", init: self.initial_accumulator_value }]
    }

    fn hyper_names(&self) -> &'static [&'static str] {
        &["initial_accumulator_value", "epsilon"]
    }

    fn hyper(&self, name: &str) -> Option<f32> {
        match name {
            "initial_accumulator_value" => Some(self.initial_accumulator_value),
            "epsilon" => Some(self.epsilon),
            _ => None,
        }
    }

    fn set_hyper(&mut self, name: &str, value: f32) -> Result<()> {
        let v = finite(name, value)?;
        match name {
            // Keras checks this before anything else; it applies to slots created afterwards.
            "initial_accumulator_value" => {
                self.initial_accumulator_value =
                    check(name, v, v >= 0.0, format!("initial_accumulator_value must be non-negative: {}", py_float(v)))?
            }
            "epsilon" => self.epsilon = keras_epsilon(v),
            _ => return Err(Error::UnknownHyperparameter { name: name.into() }),
        }
        Ok(())
    }

    fn prepare(&self, ctx: &StepContext, _globals: &mut [f32]) -> AdagradCoeffs {
        AdagradCoeffs { lr: ctx.lr, epsilon: self.epsilon }
    }

    fn apply_dense<P: GradPrelude>(&self, c: &AdagradCoeffs, pre: P, var: &mut [f32], grad: &[f32], slots: &mut [Vec<f32>]) {
        let acc = slots[0].as_mut_ptr();
        drive(&Dense { c: *c, pre, var: var.as_mut_ptr(), grad: grad.as_ptr(), acc }, var.len())
    }

    fn apply_sparse(&self, c: &AdagradCoeffs, var: &mut [f32], g: SparseRows<'_>, slots: &mut [Vec<f32>]) {
        let w = g.row_len;
        let acc = &mut slots[0];
        for (k, &r) in g.rows.iter().enumerate() {
            let span = r * w..(r + 1) * w;
            let grad = g.row_values(k).as_ptr();
            drive(&SparseRow { c: *c, var: var[span.clone()].as_mut_ptr(), grad, acc: acc[span].as_mut_ptr() }, w)
        }
    }
}

/// `acc += g * g; var -= g * lr / (sqrt(acc) + eps)`.
struct Dense<P> {
    c: AdagradCoeffs,
    pre: P,
    var: *mut f32,
    grad: *const f32,
    acc: *mut f32,
}

impl<P: GradPrelude> ElementKernel for Dense<P> {
    #[inline(always)]
    unsafe fn step<L: Lanes>(&self, i: usize) {
        let g = self.pre.apply(L::load(self.grad.add(i)));
        let a = L::load(self.acc.add(i)) + g * g;
        a.store(self.acc.add(i));
        let x = L::load(self.var.add(i));
        (x - (g * L::splat(self.c.lr)) / (a.sqrt() + L::splat(self.c.epsilon))).store(self.var.add(i));
    }
}

/// One indexed row: `acc += g * g; var -= lr * g / (sqrt(acc) + eps)`.
struct SparseRow {
    c: AdagradCoeffs,
    var: *mut f32,
    grad: *const f32,
    acc: *mut f32,
}

impl ElementKernel for SparseRow {
    #[inline(always)]
    unsafe fn step<L: Lanes>(&self, i: usize) {
        let g = L::load(self.grad.add(i));
        let a = L::load(self.acc.add(i)) + g * g;
        a.store(self.acc.add(i));
        let x = L::load(self.var.add(i));
        (x - (L::splat(self.c.lr) * g) / (a.sqrt() + L::splat(self.c.epsilon))).store(self.var.add(i));
    }
}
