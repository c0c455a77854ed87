//! Lion (Keras 3): `var -= lr * sign(m*b1 + g*(1-b1))`, then `m = m*b2 + g*(1-b2)`. Keras casts
//! the betas to float32 before `1 - beta`, so `1 - beta` is a float32 subtraction here too.
//! Sparse gradients behave as Keras 3 on TensorFlow: the same as the dense gradient with repeated
//! rows summed, so rows without a gradient still move by `sign(m*b1)` and decay `m`.

use super::{check, hyper_fields, py_float, update_all_rows, DenseStep, Hyper, Options, SlotSpec, SparseStep, StepContext, UpdateRule};
use crate::drive::LaneKernel;
use crate::error::Result;
use crate::lanes::Lanes;
use crate::quant::storage::update_slots;
use crate::slot::{f32_slots, Moment};
use crate::step::DensePrelude;

pub const LION_BETA_1: Hyper = Hyper::number("beta_1", 0.9);
pub const LION_BETA_2: Hyper = Hyper::number("beta_2", 0.99);

#[derive(Clone, Debug, PartialEq)]
pub struct Lion {
    beta_1: f32,
    beta_2: f32,
}

impl Default for Lion {
    fn default() -> Self {
        Lion { beta_1: LION_BETA_1.default, beta_2: LION_BETA_2.default }
    }
}

impl Lion {
    pub fn new(beta_1: f32, beta_2: f32) -> Result<Self> {
        let mut l = Lion::default();
        l.set_hyper("beta_1", beta_1)?;
        l.set_hyper("beta_2", beta_2)?;
        Ok(l)
    }
}

#[derive(Clone, Copy)]
pub struct LionCoeffs {
    lr: f32,
    beta_1: f32,
    beta_2: f32,
    one_minus_beta_1: f32,
    one_minus_beta_2: f32,
}

impl UpdateRule for Lion {
    const CLASS_NAME: &'static str = "Lion";
    const KERAS3_FAMILY: bool = true;
    const CONFIG: &'static [Hyper] = &[LION_BETA_1, LION_BETA_2];
    type Coeffs = LionCoeffs;

    fn from_options(o: &mut Options<'_>) -> Result<Self> {
        Lion::new(o.number(&LION_BETA_1), o.number(&LION_BETA_2))
    }

    fn slots(&self) -> Vec<SlotSpec> {
        vec![SlotSpec::moment("momentum", 0.0, Moment::Signed)]
    }

    hyper_fields! {
        // Keras' check and message (its "[0, 1]" says so, but 0 itself is refused).
        "beta_1" => beta_1: |name, v| {
            let message = format!(
                "Argument `beta_1` must be in the [0, 1] range. Otherwise, the optimizer degenerates to SignSGD. Received: beta_1={}.",
                py_float(v)
            );
            check(name, v, v > 0.0 && v <= 1.0, message)
        },
        "beta_2" => beta_2,
    }

    fn prepare(&self, ctx: &StepContext, _globals: &mut [f32]) -> LionCoeffs {
        LionCoeffs {
            lr: ctx.lr,
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            one_minus_beta_1: 1.0 - self.beta_1,
            one_minus_beta_2: 1.0 - self.beta_2,
        }
    }

    fn apply_dense<P: DensePrelude>(&self, c: &LionCoeffs, t: DenseStep<'_, P>) {
        update_slots::<_, _, 1>(t.pre, &Row::<true> { c: *c }, t.var, t.grad, t.slots, t.iteration)
    }

    fn apply_sparse(&self, c: &LionCoeffs, t: SparseStep<'_>) {
        update_all_rows(&Row::<true> { c: *c }, &Row::<false> { c: *c }, t.var, &t.grad, f32_slots::<1>(t.slots))
    }
}

/// Keras' op order: `u = m*b1 + g*(1-b1)`, `var -= lr * sign(u)`, `m = m*b2 + g*(1-b2)`;
/// `HAS_GRAD` false is a row without a gradient (g = 0).
#[derive(Clone, Copy)]
struct Row<const HAS_GRAD: bool> {
    c: LionCoeffs,
}

/// `sign(u)`: -1, 0 or 1, NaN for NaN (as `ops.sign`).
#[inline(always)]
fn sign<L: Lanes>(u: L) -> L {
    let zero = L::splat(0.0);
    u.select_gt(zero, L::splat(1.0), zero.select_gt(u, L::splat(-1.0), u * zero))
}

impl<const HAS_GRAD: bool> LaneKernel<1> for Row<HAS_GRAD> {
    const READS_GRAD: bool = HAS_GRAD;

    #[inline(always)]
    fn lanes<L: Lanes>(&self, x: L, g: L, [m]: [L; 1]) -> (L, [L; 1]) {
        let c = &self.c;
        let (mut u, mut m_new) = (m * L::splat(c.beta_1), m * L::splat(c.beta_2));
        if HAS_GRAD {
            u = u + g * L::splat(c.one_minus_beta_1);
            m_new = m_new + g * L::splat(c.one_minus_beta_2);
        }
        (x - L::splat(c.lr) * sign(u), [m_new])
    }
}

#[cfg(test)]
mod tests {
    use super::super::one_step::{close, run, slot, G, X};
    use super::Lion;

    #[test]
    fn one_step_matches_the_formula() {
        let (lr, b1, b2) = (0.01f64, 0.9f32, 0.99f32);
        let (x, opt) = run(Lion::new(b1, b2).unwrap(), 0.01);
        // m starts at 0: u = g*(1-b1), var -= lr*sign(g); m = g*(1-b2).
        let g = |i: usize| G[i] as f64;
        close("momentum", slot(&opt, "momentum"), |i| g(i) * (1.0 - b2) as f64);
        close("var", &x, |i| X[i] as f64 - lr * g(i).signum());
    }

    #[test]
    fn beta_1_outside_0_1_is_refused_with_keras_message() {
        let e = Lion::new(0.0, 0.99).unwrap_err().to_string();
        assert!(
            e.contains(
                "Argument `beta_1` must be in the [0, 1] range. Otherwise, the optimizer degenerates to SignSGD. Received: beta_1=0.0."
            ),
            "{e}"
        );
        assert!(Lion::new(1.5, 0.99).is_err());
        assert!(Lion::new(1.0, 0.99).is_ok());
    }
}
