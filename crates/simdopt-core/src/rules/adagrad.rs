//! Adagrad: TF's `ResourceApplyAdagradV2` / `ResourceSparseApplyAdagradV2` kernels (ε outside
//! the square root; the sparse update touches only the indexed rows).

use super::{
    check, hyper_fields, py_float, tf24_epsilon, update_indexed_rows, DenseStep, Hyper, Options, SlotSpec, SparseStep, StepContext,
    UpdateRule, EPSILON, INITIAL_ACCUMULATOR_VALUE,
};
use crate::drive::LaneKernel;
use crate::error::Result;
use crate::lanes::Lanes;
use crate::quant::storage::update_slots;
use crate::slot::{f32_slots, Moment};
use crate::step::DensePrelude;

#[derive(Clone, Debug, PartialEq)]
pub struct Adagrad {
    initial_accumulator_value: f32,
    epsilon: f32,
}

impl Default for Adagrad {
    fn default() -> Self {
        Adagrad { initial_accumulator_value: INITIAL_ACCUMULATOR_VALUE.default, epsilon: EPSILON.default }
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
    const CONFIG: &'static [Hyper] = &[INITIAL_ACCUMULATOR_VALUE, EPSILON];
    type Coeffs = AdagradCoeffs;

    fn from_options(o: &mut Options<'_>) -> Result<Self> {
        Adagrad::new(o.number(&INITIAL_ACCUMULATOR_VALUE), o.number(&EPSILON))
    }

    fn slots(&self) -> Vec<SlotSpec> {
        vec![SlotSpec::moment("accumulator", self.initial_accumulator_value, Moment::NonNegative)]
    }

    hyper_fields! {
        // Keras checks this before anything else; it applies to slots created afterwards.
        "initial_accumulator_value" => initial_accumulator_value: |name, v| {
            check(name, v, v >= 0.0, format!("initial_accumulator_value must be non-negative: {}", py_float(v)))
        },
        "epsilon" => epsilon: tf24_epsilon,
    }

    fn prepare(&self, ctx: &StepContext, _globals: &mut [f32]) -> AdagradCoeffs {
        AdagradCoeffs { lr: ctx.lr, epsilon: self.epsilon }
    }

    fn apply_dense<P: DensePrelude>(&self, c: &AdagradCoeffs, t: DenseStep<'_, P>) {
        update_slots::<_, _, 1>(t.pre, &Dense { c: *c }, t.var, t.grad, t.slots, t.iteration)
    }

    fn apply_sparse(&self, c: &AdagradCoeffs, t: SparseStep<'_>) {
        update_indexed_rows(&SparseRow { c: *c }, t.var, &t.grad, f32_slots::<1>(t.slots))
    }

    fn sparse_touches_only_rows(&self) -> bool {
        true
    }
}

/// TF's `ResourceApplyAdagradV2`: `acc += g²; var -= g*lr / (sqrt(acc) + eps)`.
#[derive(Clone, Copy)]
struct Dense {
    c: AdagradCoeffs,
}

impl LaneKernel<1> for Dense {
    #[inline(always)]
    fn lanes<L: Lanes>(&self, x: L, g: L, [acc]: [L; 1]) -> (L, [L; 1]) {
        let a = acc + g * g;
        (x - (g * L::splat(self.c.lr)) / (a.sqrt() + L::splat(self.c.epsilon)), [a])
    }
}

/// TF's `ResourceSparseApplyAdagradV2`, one row: `acc += g²; var -= lr*g / (sqrt(acc) + eps)`.
#[derive(Clone, Copy)]
struct SparseRow {
    c: AdagradCoeffs,
}

impl LaneKernel<1> for SparseRow {
    #[inline(always)]
    fn lanes<L: Lanes>(&self, x: L, g: L, [acc]: [L; 1]) -> (L, [L; 1]) {
        let a = acc + g * g;
        (x - (L::splat(self.c.lr) * g) / (a.sqrt() + L::splat(self.c.epsilon)), [a])
    }
}

#[cfg(test)]
mod tests {
    use super::super::one_step::{close, run, slot, G, X};
    use super::Adagrad;

    #[test]
    fn one_step_matches_the_formula() {
        let (lr, eps) = (0.1f64, 1e-7f64);
        let (x, opt) = run(Adagrad::new(0.1, 1e-7).unwrap(), 0.1);
        // acc = 0.1 + g², var -= lr·g / (sqrt(acc) + eps).
        let acc = |i: usize| 0.1f32 as f64 + (G[i] as f64).powi(2);
        close("accumulator", slot(&opt, "accumulator"), acc);
        close("var", &x, |i| X[i] as f64 - lr * G[i] as f64 / (acc(i).sqrt() + eps));
    }
}
