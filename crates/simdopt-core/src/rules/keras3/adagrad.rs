//! Keras 3's Adagrad (ε inside the square root): `acc += g²`, `x -= lr·g / sqrt(acc + ε)`.

use super::{densified, Dense, EntryKernel, WithEntries};
use crate::drive;
use crate::error::Result;
use crate::lanes::Lanes;
use crate::quant::storage::update_slots;
use crate::rules::{hyper_fields, DenseStep, Hyper, Options, SlotSpec, SparseStep, StepContext, UpdateRule, INITIAL_ACCUMULATOR_VALUE};
use crate::slot::Moment;
use crate::step::clip::Identity;
use crate::step::DensePrelude;

const EPSILON: Hyper = Hyper::number("epsilon", 1e-7);

#[derive(Clone, Debug, PartialEq)]
pub struct Adagrad {
    initial_accumulator_value: f32,
    epsilon: f32,
}

impl Adagrad {
    pub fn new(initial_accumulator_value: f32, epsilon: f32) -> Result<Self> {
        let mut a = Adagrad { initial_accumulator_value: 0.0, epsilon: 0.0 };
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
    const KERAS3_FAMILY: bool = true;
    const CONFIG: &'static [Hyper] = &[INITIAL_ACCUMULATOR_VALUE, EPSILON];
    type Coeffs = AdagradCoeffs;

    fn from_options(o: &mut Options<'_>) -> Result<Self> {
        Adagrad::new(o.number(&INITIAL_ACCUMULATOR_VALUE), o.number(&EPSILON))
    }

    fn slots(&self) -> Vec<SlotSpec> {
        vec![SlotSpec::moment("accumulator", self.initial_accumulator_value, Moment::NonNegative)]
    }

    hyper_fields! {
        // Keras 3 checks neither.
        "initial_accumulator_value" => initial_accumulator_value,
        "epsilon" => epsilon,
    }

    fn prepare(&self, ctx: &StepContext, _globals: &mut [f32]) -> AdagradCoeffs {
        AdagradCoeffs { lr: ctx.lr, epsilon: self.epsilon }
    }

    fn apply_dense<P: DensePrelude>(&self, c: &AdagradCoeffs, t: DenseStep<'_, P>) {
        update_slots::<_, _, 1>(t.pre, &Dense(&Kernel { c: *c }), t.var, t.grad, t.slots, t.iteration)
    }

    fn apply_sparse(&self, c: &AdagradCoeffs, t: SparseStep<'_>) {
        let k = WithEntries(&Kernel { c: *c });
        densified::<1>(t, |v| v * v, |var, g, e, [acc]| drive::update(Identity, &k, var, g, [acc, e]))
    }

    fn sums_duplicates(&self) -> bool {
        false
    }

    fn global_clip_densifies(&self) -> bool {
        true
    }
}

struct Kernel {
    c: AdagradCoeffs,
}

impl EntryKernel<1> for Kernel {
    #[inline(always)]
    fn lanes<L: Lanes, const SPARSE: bool>(&self, x: L, g: L, g2: L, [acc]: [L; 1]) -> (L, [L; 1]) {
        let acc = acc + g2;
        (x - (L::splat(self.c.lr) * g) / (acc + L::splat(self.c.epsilon)).sqrt(), [acc])
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::one_step::{close, run, slot, G, X};
    use super::Adagrad;

    #[test]
    fn one_step_has_epsilon_inside_the_root() {
        let (lr, eps) = (0.1f64, 1e-3f32 as f64);
        let (x, opt) = run(Adagrad::new(0.1, 1e-3).unwrap(), 0.1);
        let acc = |i: usize| 0.1f32 as f64 + (G[i] as f64).powi(2);
        close("accumulator", slot(&opt, "accumulator"), acc);
        close("var", &x, |i| X[i] as f64 - lr * G[i] as f64 / (acc(i) + eps).sqrt());
    }
}
