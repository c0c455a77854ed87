//! Nadam: Keras' pure Python ops, fused. The base class' `decay` hyperparameter is Nadam's
//! `schedule_decay` (Keras: `kwargs['decay'] = schedule_decay`); it shapes the momentum schedule
//! and never divides the learning rate. The optimizer-wide `momentum_cache` weight holds the
//! product of the momentum schedule so far.
//!
//! Sparse (Keras' Python path): `m` and `v` decay over every row, only the indexed rows of the
//! variable move.

use super::{hypers_in, powf, update_all_rows, Betas, DenseStep, Hyper, Options, SlotSpec, SparseStep, StepContext, UpdateRule};
use crate::drive::LaneKernel;
use crate::error::Result;
use crate::lanes::Lanes;
use crate::quant::storage::update_slots;
use crate::slot::{f32_slots, Moment};
use crate::step::DensePrelude;

/// Keras' default `schedule_decay`.
pub const DEFAULT_SCHEDULE_DECAY: f32 = 0.004;

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Nadam {
    betas: Betas,
}

impl Nadam {
    pub fn new(beta_1: f32, beta_2: f32, epsilon: f32) -> Result<Self> {
        Ok(Nadam { betas: Betas::new(beta_1, beta_2, epsilon)? })
    }
}

#[derive(Clone, Copy)]
pub struct NadamCoeffs {
    lr: f32,
    neg_lr: f32,
    beta_1: f32,
    beta_2: f32,
    one_minus_beta_1: f32,
    one_minus_beta_2: f32,
    /// `mu_{t+1}`.
    m_t_1: f32,
    /// `1 - mu_t`.
    one_minus_m_t: f32,
    one_minus_m_schedule_new: f32,
    one_minus_m_schedule_next: f32,
    /// `1 - beta_2^s`.
    v_t_prime_denominator: f32,
    epsilon: f32,
}

impl UpdateRule for Nadam {
    const CLASS_NAME: &'static str = "Nadam";
    const CONFIG: &'static [Hyper] = &Betas::CONFIG;
    const DECAY: f32 = DEFAULT_SCHEDULE_DECAY;
    const DECAY_ALIAS: Option<&'static str> = Some("schedule_decay");
    type Coeffs = NadamCoeffs;

    fn from_options(o: &mut Options<'_>) -> Result<Self> {
        Ok(Nadam { betas: Betas::from_options(o)? })
    }

    fn slots(&self) -> Vec<SlotSpec> {
        vec![SlotSpec::moment("m", 0.0, Moment::Signed), SlotSpec::moment("v", 0.0, Moment::NonNegative)]
    }

    fn global_weights(&self) -> Vec<SlotSpec> {
        vec![SlotSpec::scalar("momentum_cache", 1.0)]
    }

    fn uses_lr_decay(&self) -> bool {
        false
    }

    hypers_in!(betas);

    /// Keras' `_prepare_local`; also advances `momentum_cache` (read once, before the update).
    fn prepare(&self, ctx: &StepContext, globals: &mut [f32]) -> NadamCoeffs {
        let local_step = (ctx.iteration + 1) as f32;
        let next_step = (ctx.iteration + 2) as f32;
        let decay_base = 0.96f32;
        let d = ctx.decay;
        let m_t = self.betas.beta_1 * (1.0 - 0.5 * powf(decay_base, d * local_step));
        let m_t_1 = self.betas.beta_1 * (1.0 - 0.5 * powf(decay_base, d * next_step));
        let m_schedule_new = globals[0] * m_t;
        globals[0] = m_schedule_new;
        let m_schedule_next = m_schedule_new * m_t_1;
        NadamCoeffs {
            lr: ctx.lr,
            neg_lr: -ctx.lr,
            beta_1: self.betas.beta_1,
            beta_2: self.betas.beta_2,
            one_minus_beta_1: 1.0 - self.betas.beta_1,
            one_minus_beta_2: 1.0 - self.betas.beta_2,
            m_t_1,
            one_minus_m_t: 1.0 - m_t,
            one_minus_m_schedule_new: 1.0 - m_schedule_new,
            one_minus_m_schedule_next: 1.0 - m_schedule_next,
            v_t_prime_denominator: 1.0 - powf(self.betas.beta_2, local_step),
            epsilon: self.betas.epsilon,
        }
    }

    fn apply_dense<P: DensePrelude>(&self, c: &NadamCoeffs, t: DenseStep<'_, P>) {
        update_slots::<_, _, 2>(t.pre, &Dense { c: *c }, t.var, t.grad, t.slots, t.iteration)
    }

    fn apply_sparse(&self, c: &NadamCoeffs, t: SparseStep<'_>) {
        let (with, without) = (SparseRow::<true> { c: *c }, SparseRow::<false> { c: *c });
        update_all_rows(&with, &without, t.var, &t.grad, f32_slots::<2>(t.slots))
    }
}

/// The dense update, in Keras' op order:
/// `g' = g / (1 - m_schedule_new); m = b1*m + (1-b1)*g; m' = m / (1 - m_schedule_next);
/// v = b2*v + (1-b2)*g²; v' = v / (1 - b2^s); m̄ = (1-mu_t)*g' + mu_{t+1}*m';
/// var -= lr*m̄ / (sqrt(v') + eps)`.
#[derive(Clone, Copy)]
struct Dense {
    c: NadamCoeffs,
}

impl LaneKernel<2> for Dense {
    #[inline(always)]
    fn lanes<L: Lanes>(&self, x: L, g: L, [m, v]: [L; 2]) -> (L, [L; 2]) {
        let c = &self.c;
        let g_prime = g / L::splat(c.one_minus_m_schedule_new);
        let m = L::splat(c.beta_1) * m + L::splat(c.one_minus_beta_1) * g;
        let m_prime = m / L::splat(c.one_minus_m_schedule_next);
        let v = L::splat(c.beta_2) * v + L::splat(c.one_minus_beta_2) * (g * g);
        let v_prime = v / L::splat(c.v_t_prime_denominator);
        let m_bar = L::splat(c.one_minus_m_t) * g_prime + L::splat(c.m_t_1) * m_prime;
        (x - (L::splat(c.lr) * m_bar) / (v_prime.sqrt() + L::splat(c.epsilon)), [m, v])
    }
}

/// Keras' sparse path, one row or a run of rows: `m = m*b1`, `v = v*b2`; for an indexed row
/// (`HAS_GRAD`) then `m += g*(1-b1)`, `v += g²*(1-b2)` and
/// `var += -lr*m̄ / (sqrt(v') + eps)` with `m̄` from `g' = g / (1 - m_schedule_new)` and the row's
/// new `m`, as in the dense update. Without `HAS_GRAD` the variable is not touched.
#[derive(Clone, Copy)]
struct SparseRow<const HAS_GRAD: bool> {
    c: NadamCoeffs,
}

impl<const HAS_GRAD: bool> LaneKernel<2> for SparseRow<HAS_GRAD> {
    const READS_GRAD: bool = HAS_GRAD;
    const UPDATES_VAR: bool = HAS_GRAD;

    #[inline(always)]
    fn lanes<L: Lanes>(&self, x: L, g: L, [m, v]: [L; 2]) -> (L, [L; 2]) {
        let c = &self.c;
        let m = m * L::splat(c.beta_1);
        let v = v * L::splat(c.beta_2);
        if !HAS_GRAD {
            return (x, [m, v]);
        }
        let g_prime = g / L::splat(c.one_minus_m_schedule_new);
        let m = m + g * L::splat(c.one_minus_beta_1);
        let m_prime = m / L::splat(c.one_minus_m_schedule_next);
        let m_bar = L::splat(c.one_minus_m_t) * g_prime + L::splat(c.m_t_1) * m_prime;
        let v = v + (g * g) * L::splat(c.one_minus_beta_2);
        let v_prime = v / L::splat(c.v_t_prime_denominator);
        (x + (L::splat(c.neg_lr) * m_bar) / (v_prime.sqrt() + L::splat(c.epsilon)), [m, v])
    }
}

#[cfg(test)]
mod tests {
    use super::super::one_step::{close, run_with_decay, slot, G, X};
    use super::Nadam;

    #[test]
    fn one_step_matches_the_formula() {
        let (lr, b1, b2, eps, d) = (0.01f64, 0.9f32 as f64, 0.999f32 as f64, 1e-7f32 as f64, 0.004f32 as f64);
        let (x, opt) = run_with_decay(Nadam::new(0.9, 0.999, 1e-7).unwrap(), 0.01, 0.004);
        // Keras 2.4 (decay = schedule_decay 0.004, the class default): mu_t = b1 (1 - 0.5 ·
        // 0.96^(d·t)); g' = g / (1 - mu_1); m' = m / (1 - mu_1 mu_2); v' = v / (1 - b2);
        // m̄ = (1 - mu_1) g' + mu_2 m'; var -= lr · m̄ / (sqrt(v') + eps).
        let mu = |t: f64| b1 * (1.0 - 0.5 * 0.96f64.powf(d * t));
        let (mu1, mu2) = (mu(1.0), mu(2.0));
        let g = |i: usize| G[i] as f64;
        let m = |i: usize| (1.0 - b1) * g(i);
        let v = |i: usize| (1.0 - b2) * g(i) * g(i);
        let m_bar = |i: usize| (1.0 - mu1) * g(i) / (1.0 - mu1) + mu2 * m(i) / (1.0 - mu1 * mu2);
        close("m", slot(&opt, "m"), m);
        close("v", slot(&opt, "v"), v);
        close("momentum_cache", opt.weight(1).unwrap(), |_| mu1);
        close("var", &x, |i| X[i] as f64 - lr * m_bar(i) / ((v(i) / (1.0 - b2)).sqrt() + eps));
    }
}
