//! Keras 3's ScheduleFreeAdamW. The `momentum` slot holds `z` and starts as a copy of the
//! variable; the variable holds `y`. With `t = iterations + 1` and the warmup factor
//! `min(t/warmup_steps, 1)` on lr (warmup_steps > 0): `v += (g²-v)(1-β2)`,
//! `z' = z - lr·g / (sqrt(v/(1-β2^t)) + ε)`, `x_old = (y - (1-β1)·z) / β1`,
//! `x = (1-1/t)·x_old + (1/t)·z'`, `y = (1-β1)·z' + β1·x` (β cast to float32 before `1 - β`).
//! One pass. `z` before the update is the old value, as on the JAX backend (Keras' TensorFlow
//! backend reads the updated one).

use super::{densified, Betas, Dense, EntryKernel, WithEntries};
use crate::drive;
use crate::error::{Error, Result};
use crate::lanes::Lanes;
use crate::rules::{check, finite, powf, DenseStep, Hyper, Options, SlotSpec, SparseStep, StepContext, UpdateRule};
use crate::slot::{f32_slots, Slot};
use crate::step::clip::Identity;
use crate::step::DensePrelude;

const BETA_1: Hyper = Hyper::number("beta_1", 0.9);
const BETA_2: Hyper = Hyper::number("beta_2", 0.999);
const EPSILON: Hyper = Hyper::number("epsilon", 1e-8);
const WARMUP_STEPS: Hyper = Hyper::number("warmup_steps", 0.0);
const NAMES: [&str; 4] = ["beta_1", "beta_2", "epsilon", "warmup_steps"];

#[derive(Clone, Debug, PartialEq)]
pub struct ScheduleFreeAdamW {
    betas: Betas,
    warmup_steps: f32,
}

impl ScheduleFreeAdamW {
    pub fn new(beta_1: f32, beta_2: f32, epsilon: f32, warmup_steps: f32) -> Result<Self> {
        let mut s = ScheduleFreeAdamW { betas: Betas::new(beta_1, beta_2, epsilon)?, warmup_steps: 0.0 };
        s.set_hyper("warmup_steps", warmup_steps)?;
        Ok(s)
    }
}

#[derive(Clone, Copy)]
pub struct ScheduleFreeCoeffs {
    lr: f32,
    beta_1: f32,
    one_minus_beta_1: f32,
    one_minus_beta_2: f32,
    /// `1 - β2^t`.
    bias_2: f32,
    epsilon: f32,
    /// `1/t` and `1 - 1/t`.
    weight: f32,
    one_minus_weight: f32,
}

impl UpdateRule for ScheduleFreeAdamW {
    const CLASS_NAME: &'static str = "ScheduleFreeAdamW";
    const KERAS3_FAMILY: bool = true;
    const LEARNING_RATE: f32 = 0.0025;
    const CONFIG: &'static [Hyper] = &[BETA_1, BETA_2, EPSILON, WARMUP_STEPS];
    type Coeffs = ScheduleFreeCoeffs;

    fn from_options(o: &mut Options<'_>) -> Result<Self> {
        let [b1, b2, eps, warmup] = [BETA_1, BETA_2, EPSILON, WARMUP_STEPS].map(|h| o.number(&h));
        ScheduleFreeAdamW::new(b1, b2, eps, warmup)
    }

    fn slots(&self) -> Vec<SlotSpec> {
        vec![SlotSpec::like_var("momentum", 0.0), SlotSpec::like_var("velocity", 0.0)]
    }

    fn slot_groups(&self) -> Vec<usize> {
        vec![2]
    }

    /// `z` starts as the variable (Keras' build assigns a copy).
    fn init_slots(&self, var: &[f32], slots: &mut [Slot]) {
        if let Some(z) = slots[0].f32_mut() {
            z.copy_from_slice(var);
        }
    }

    fn hyper_names(&self) -> &'static [&'static str] {
        &NAMES
    }

    fn hyper(&self, name: &str) -> Option<f32> {
        if name == "warmup_steps" {
            Some(self.warmup_steps)
        } else {
            self.betas.get(name)
        }
    }

    fn set_hyper(&mut self, name: &str, value: f32) -> Result<()> {
        match name {
            "warmup_steps" => {
                let v = finite(name, value)?;
                self.warmup_steps =
                    check(name, v, v.fract() == 0.0, format!("`warmup_steps` must be an integer. Received: warmup_steps={v}"))?;
                Ok(())
            }
            "beta_1" | "beta_2" | "epsilon" => self.betas.set(name, value),
            _ => Err(Error::UnknownHyperparameter { name: name.into() }),
        }
    }

    fn prepare(&self, ctx: &StepContext, _globals: &mut [f32]) -> ScheduleFreeCoeffs {
        let t = (ctx.iteration + 1) as f32;
        let lr = if self.warmup_steps > 0.0 { ctx.lr * (t / self.warmup_steps).min(1.0) } else { ctx.lr };
        let (b1, b2) = (self.betas.beta_1, self.betas.beta_2);
        let weight = 1.0 / t;
        ScheduleFreeCoeffs {
            lr,
            beta_1: b1,
            one_minus_beta_1: 1.0 - b1,
            one_minus_beta_2: 1.0 - b2,
            bias_2: 1.0 - powf(b2, t),
            epsilon: self.betas.epsilon,
            weight,
            one_minus_weight: 1.0 - weight,
        }
    }

    fn apply_dense<P: DensePrelude>(&self, c: &ScheduleFreeCoeffs, t: DenseStep<'_, P>) {
        drive::update(t.pre, &Dense(&Kernel { c: *c }), t.var, t.grad, f32_slots::<2>(t.slots))
    }

    fn apply_sparse(&self, c: &ScheduleFreeCoeffs, t: SparseStep<'_>) {
        let k = WithEntries(&Kernel { c: *c });
        densified::<2>(t, |v| v * v, |var, g, g2, [z, v]| drive::update(Identity, &k, var, g, [z, v, g2]))
    }

    fn sums_duplicates(&self) -> bool {
        false
    }

    fn global_clip_densifies(&self) -> bool {
        true
    }
}

struct Kernel {
    c: ScheduleFreeCoeffs,
}

impl EntryKernel<2> for Kernel {
    #[inline(always)]
    fn lanes<L: Lanes, const SPARSE: bool>(&self, y: L, g: L, g2: L, [z, v]: [L; 2]) -> (L, [L; 2]) {
        let c = &self.c;
        let v = v + (g2 - v) * L::splat(c.one_minus_beta_2);
        let denom = (v / L::splat(c.bias_2)).sqrt() + L::splat(c.epsilon);
        let z_new = z - (L::splat(c.lr) * g) / denom;
        let (omb1, b1) = (L::splat(c.one_minus_beta_1), L::splat(c.beta_1));
        let x_old = (y - omb1 * z) / b1;
        let x_new = L::splat(c.one_minus_weight) * x_old + L::splat(c.weight) * z_new;
        (omb1 * z_new + b1 * x_new, [z_new, v])
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::one_step::{close, run, slot, G, X};
    use super::ScheduleFreeAdamW;

    #[test]
    fn one_step_from_z_equal_to_the_variable() {
        let (lr, b1, b2, eps) = (0.01f64, 0.9f32 as f64, 0.999f32 as f64, 1e-8f32 as f64);
        let (y, opt) = run(ScheduleFreeAdamW::new(0.9, 0.999, 1e-8, 0.0).unwrap(), 0.01);
        // t = 1: z0 = y0, v = (1-b2) g², z = z0 - lr g / (|g| + eps), weight 1: x = z, y = z.
        let g = |i: usize| G[i] as f64;
        let z = |i: usize| X[i] as f64 - lr * g(i) / (((1.0 - b2) * g(i) * g(i) / (1.0 - b2)).sqrt() + eps);
        close("velocity", slot(&opt, "velocity"), |i| (1.0 - b2) * g(i) * g(i));
        close("momentum", slot(&opt, "momentum"), z);
        close("var", &y, |i| (1.0 - b1) * z(i) + b1 * z(i));
    }

    #[test]
    fn warmup_scales_the_learning_rate() {
        let (y, _) = run(ScheduleFreeAdamW::new(0.9, 0.999, 1e-8, 4.0).unwrap(), 0.01);
        // t = 1 of 4 warmup steps: lr/4.
        close("var", &y, |i| X[i] as f64 - 0.0025 * (G[i] as f64).signum() * (G[i] as f64).abs() / ((G[i] as f64).abs() + 1e-8));
    }
}
