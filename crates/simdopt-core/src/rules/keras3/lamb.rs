//! Keras 3's Lamb: Adam's moments, `u = m̂ / (sqrt(v̂) + ε)` with `m̂ = m/(1-β1^t)`,
//! `v̂ = v/(1-β2^t)`, then the per-tensor trust ratio `r = ‖x‖/‖u‖` (1 when either norm is 0)
//! and `x -= (r·lr)·u`. Three passes: the prelude (the norm sees the decayed variable), the
//! moments and `u`, the update; the two norms are [`crate::reduce`]'s fixed-block sums.

use super::passes::StepGrad;
use super::{one_minus_py, Betas, Dense, EntryKernel, WithEntries};
use crate::drive::{self, GradIn, LaneKernel};
use crate::error::Result;
use crate::lanes::Lanes;
use crate::reduce;
use crate::rules::{hypers_in, powf, DenseStep, Hyper, Options, SlotSpec, SparseStep, StepContext, UpdateRule};
use crate::slot::{f32_slots, Slot};
use crate::step::clip::Identity;
use crate::step::DensePrelude;

#[derive(Clone, Debug, PartialEq)]
pub struct Lamb {
    betas: Betas,
}

impl Lamb {
    pub fn new(beta_1: f32, beta_2: f32, epsilon: f32) -> Result<Self> {
        Ok(Lamb { betas: Betas::new(beta_1, beta_2, epsilon)? })
    }

    /// The moments, `u`, the trust ratio and the update of one variable.
    fn step(&self, c: &LambCoeffs, var: &mut [f32], grad: StepGrad, slots: &mut [Slot]) {
        let [m, v] = f32_slots::<2>(slots);
        let mut u = vec![0.0f32; var.len()];
        let k = Moments { c: *c };
        match grad.g2 {
            None => drive::update(Identity, &Dense(&k), var, &grad.g[..], [m, v, &mut u[..]]),
            Some(mut g2) => drive::update(Identity, &WithEntries(&k), var, &grad.g[..], [m, v, &mut u[..], &mut g2[..]]),
        }
        let (w_norm, u_norm) = (reduce::sum_of_squares(var).sqrt(), reduce::sum_of_squares(&u).sqrt());
        let ratio = if w_norm > 0.0 && u_norm > 0.0 { w_norm / u_norm } else { 1.0 };
        drive::update(Identity, &Apply { step: ratio * c.lr }, var, GradIn::Values(&[]), [&mut u[..]]);
    }
}

#[derive(Clone, Copy)]
pub struct LambCoeffs {
    lr: f32,
    one_minus_beta_1: f32,
    one_minus_beta_2: f32,
    /// `1 - β1^t`, `1 - β2^t`.
    bias_1: f32,
    bias_2: f32,
    epsilon: f32,
}

impl UpdateRule for Lamb {
    const CLASS_NAME: &'static str = "Lamb";
    const KERAS3_FAMILY: bool = true;
    const CONFIG: &'static [Hyper] = &Betas::CONFIG;
    type Coeffs = LambCoeffs;

    fn from_options(o: &mut Options<'_>) -> Result<Self> {
        Ok(Lamb { betas: Betas::from_options(o)? })
    }

    fn slots(&self) -> Vec<SlotSpec> {
        vec![SlotSpec::like_var("momentum", 0.0), SlotSpec::like_var("velocity", 0.0)]
    }

    fn slot_groups(&self) -> Vec<usize> {
        vec![2]
    }

    hypers_in!(betas);

    fn prepare(&self, ctx: &StepContext, _globals: &mut [f32]) -> LambCoeffs {
        let t = (ctx.iteration + 1) as f32;
        LambCoeffs {
            lr: ctx.lr,
            one_minus_beta_1: one_minus_py(self.betas.beta_1),
            one_minus_beta_2: one_minus_py(self.betas.beta_2),
            bias_1: 1.0 - powf(self.betas.beta_1, t),
            bias_2: 1.0 - powf(self.betas.beta_2, t),
            epsilon: self.betas.epsilon,
        }
    }

    fn apply_dense<P: DensePrelude>(&self, c: &LambCoeffs, t: DenseStep<'_, P>) {
        let grad = StepGrad::dense(t.pre, t.var, t.grad);
        self.step(c, t.var, grad, t.slots)
    }

    fn apply_sparse(&self, c: &LambCoeffs, t: SparseStep<'_>) {
        let grad = StepGrad::sparse(&t);
        self.step(c, t.var, grad, t.slots)
    }

    fn sums_duplicates(&self) -> bool {
        false
    }

    fn global_clip_densifies(&self) -> bool {
        true
    }
}

/// `m += (g-m)(1-β1)`, `v += (g²-v)(1-β2)`, `u = (m/(1-β1^t)) / (sqrt(v/(1-β2^t)) + ε)`; slots
/// `[m, v, u]`, the variable unchanged.
struct Moments {
    c: LambCoeffs,
}

impl EntryKernel<3> for Moments {
    #[inline(always)]
    fn lanes<L: Lanes, const SPARSE: bool>(&self, x: L, g: L, g2: L, [m, v, _]: [L; 3]) -> (L, [L; 3]) {
        let c = &self.c;
        let m = m + (g - m) * L::splat(c.one_minus_beta_1);
        let v = v + (g2 - v) * L::splat(c.one_minus_beta_2);
        let u = (m / L::splat(c.bias_1)) / ((v / L::splat(c.bias_2)).sqrt() + L::splat(c.epsilon));
        (x, [m, v, u])
    }
}

/// `x -= step·u` with `step = ratio·lr`.
#[derive(Clone, Copy)]
struct Apply {
    step: f32,
}

impl LaneKernel<1> for Apply {
    const READS_GRAD: bool = false;

    #[inline(always)]
    fn lanes<L: Lanes>(&self, x: L, _: L, [u]: [L; 1]) -> (L, [L; 1]) {
        (x - L::splat(self.step) * u, [u])
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::one_step::{close, run, slot, G, X};
    use super::Lamb;

    #[test]
    fn one_step_scales_by_the_trust_ratio() {
        let (lr, eps) = (0.01f64, 1e-7f32 as f64);
        let (x, opt) = run(Lamb::new(0.9, 0.999, 1e-7).unwrap(), 0.01);
        // t = 1: m̂ = g, v̂ = g², u = g / (|g| + eps), r = ‖x‖ / ‖u‖.
        let g = |i: usize| G[i] as f64;
        let u: Vec<f64> = (0..G.len()).map(|i| g(i) / (g(i).abs() + eps)).collect();
        let norm = |v: &mut dyn Iterator<Item = f64>| v.map(|x| x * x).sum::<f64>().sqrt();
        let r = norm(&mut X.iter().map(|&x| x as f64)) / norm(&mut u.iter().copied());
        close("momentum", slot(&opt, "momentum"), |i| 0.1 * g(i));
        close("velocity", slot(&opt, "velocity"), |i| 0.001 * g(i) * g(i));
        close("var", &x, |i| X[i] as f64 - r * lr * u[i]);
    }

    #[test]
    fn zero_variable_takes_a_ratio_of_one() {
        use crate::{Gradient, Optimizer, Store, Tensor};
        let mut store = Store::new();
        let w = store.insert(Tensor::new("w", vec![3], vec![0.0; 3]).unwrap());
        let mut opt = Optimizer::new(Lamb::new(0.9, 0.999, 1e-7).unwrap(), 0.1).unwrap();
        opt.apply_gradients(&mut store, &[(Some(Gradient::Dense(&[0.5, -2.0, 0.0])), w)]).unwrap();
        let x = &store.get(w).unwrap().data;
        // ‖x‖ = 0: ratio 1, x = -lr·u with u = g / (|g| + eps) at t = 1.
        let g = [0.5f64, -2.0, 0.0];
        close("var", x, |i| -0.1 * g[i] / (g[i].abs() + 1e-7f32 as f64));
    }
}
