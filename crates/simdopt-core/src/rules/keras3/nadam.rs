//! Keras 3's Nadam. Before the updates of a step the optimizer-wide `u_product` (Keras' path
//! `<name>/variable`, created after the slots) becomes `u_product·β1·(1 - 0.5·0.96^t)`; then per
//! variable, with `u_t = β1(1 - 0.5·0.96^t)`, `u_{t+1} = β1(1 - 0.5·0.96^(t+1))`:
//! `m += (g-m)(1-β1)`, `v += (g²-v)(1-β2)` (β cast to float32 first),
//! `m̂ = u_{t+1}·m / (1 - u_product·u_{t+1}) + (1-u_t)·g / (1 - u_product)`,
//! `v̂ = v / (1-β2^t)`, `x -= m̂·lr / (sqrt(v̂) + ε)`. No schedule decay, no legacy `decay`.

use super::{densified, Betas, Dense, EntryKernel, WithEntries};
use crate::drive;
use crate::error::Result;
use crate::lanes::Lanes;
use crate::quant::storage::update_slots;
use crate::rules::{hypers_in, powf, DenseStep, Hyper, Options, SlotSpec, SparseStep, StepContext, UpdateRule};
use crate::slot::Moment;
use crate::step::clip::Identity;
use crate::step::DensePrelude;

#[derive(Clone, Debug, PartialEq)]
pub struct Nadam {
    betas: Betas,
}

impl Nadam {
    pub fn new(beta_1: f32, beta_2: f32, epsilon: f32) -> Result<Self> {
        let betas = Betas::new(beta_1, beta_2, epsilon)?;
        Ok(Nadam { betas })
    }
}

#[derive(Clone, Copy)]
pub struct NadamCoeffs {
    lr: f32,
    one_minus_beta_1: f32,
    one_minus_beta_2: f32,
    u_t_1: f32,
    one_minus_u_t: f32,
    one_minus_u_product: f32,
    one_minus_u_product_next: f32,
    /// `1 - β2^t`.
    v_bias: f32,
    epsilon: f32,
}

impl UpdateRule for Nadam {
    const CLASS_NAME: &'static str = "Nadam";
    const KERAS3_FAMILY: bool = true;
    const CONFIG: &'static [Hyper] = &Betas::CONFIG;
    const GLOBALS_LAST: bool = true;
    type Coeffs = NadamCoeffs;

    fn from_options(o: &mut Options<'_>) -> Result<Self> {
        Ok(Nadam { betas: Betas::from_options(o)? })
    }

    fn slots(&self) -> Vec<SlotSpec> {
        vec![SlotSpec::moment("momentum", 0.0, Moment::Signed), SlotSpec::moment("velocity", 0.0, Moment::NonNegative)]
    }

    fn slot_groups(&self) -> Vec<usize> {
        vec![2]
    }

    /// `u_product`, named as Keras names it (`<name>/variable`).
    fn global_weights(&self) -> Vec<SlotSpec> {
        vec![SlotSpec::scalar("variable", 1.0)]
    }

    hypers_in!(betas);

    /// Advances `u_product` (Keras' `_backend_update_step`) and computes the step's scalars.
    fn prepare(&self, ctx: &StepContext, globals: &mut [f32]) -> NadamCoeffs {
        let (b1, b2) = (self.betas.beta_1, self.betas.beta_2);
        let (t, t1) = ((ctx.iteration + 1) as f32, (ctx.iteration + 2) as f32);
        let u_t = b1 * (1.0 - 0.5 * powf(0.96, t));
        let u_t_1 = b1 * (1.0 - 0.5 * powf(0.96, t1));
        globals[0] = globals[0] * b1 * (1.0 - 0.5 * powf(0.96, t));
        let u_product = globals[0];
        NadamCoeffs {
            lr: ctx.lr,
            one_minus_beta_1: 1.0 - b1,
            one_minus_beta_2: 1.0 - b2,
            u_t_1,
            one_minus_u_t: 1.0 - u_t,
            one_minus_u_product: 1.0 - u_product,
            one_minus_u_product_next: 1.0 - u_product * u_t_1,
            v_bias: 1.0 - powf(b2, t),
            epsilon: self.betas.epsilon,
        }
    }

    fn apply_dense<P: DensePrelude>(&self, c: &NadamCoeffs, t: DenseStep<'_, P>) {
        update_slots::<_, _, 2>(t.pre, &Dense(&Kernel { c: *c }), t.var, t.grad, t.slots, t.iteration)
    }

    fn apply_sparse(&self, c: &NadamCoeffs, t: SparseStep<'_>) {
        let k = WithEntries(&Kernel { c: *c });
        densified::<2>(t, |v| v * v, |var, g, e, [m, v]| drive::update(Identity, &k, var, g, [m, v, e]))
    }

    fn sums_duplicates(&self) -> bool {
        false
    }

    fn global_clip_densifies(&self) -> bool {
        true
    }
}

struct Kernel {
    c: NadamCoeffs,
}

impl EntryKernel<2> for Kernel {
    #[inline(always)]
    fn lanes<L: Lanes, const SPARSE: bool>(&self, x: L, g: L, g2: L, [m, v]: [L; 2]) -> (L, [L; 2]) {
        let c = &self.c;
        let m = m + (g - m) * L::splat(c.one_minus_beta_1);
        let v = v + (g2 - v) * L::splat(c.one_minus_beta_2);
        let m_hat = (L::splat(c.u_t_1) * m) / L::splat(c.one_minus_u_product_next)
            + (L::splat(c.one_minus_u_t) * g) / L::splat(c.one_minus_u_product);
        let v_hat = v / L::splat(c.v_bias);
        (x - (m_hat * L::splat(c.lr)) / (v_hat.sqrt() + L::splat(c.epsilon)), [m, v])
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::one_step::{close, run, slot, G, X};
    use super::Nadam;

    #[test]
    fn one_step_matches_the_formula() {
        let (lr, b1, b2, eps) = (0.01f64, 0.9f32 as f64, 0.999f32 as f64, 1e-7f32 as f64);
        let (x, opt) = run(Nadam::new(0.9, 0.999, 1e-7).unwrap(), 0.01);
        let u = |t: f64| b1 * (1.0 - 0.5 * 0.96f64.powf(t));
        let (u1, u2) = (u(1.0), u(2.0));
        let g = |i: usize| G[i] as f64;
        let m = |i: usize| (1.0 - b1) * g(i);
        let v = |i: usize| (1.0 - b2) * g(i) * g(i);
        let m_hat = |i: usize| u2 * m(i) / (1.0 - u1 * u2) + (1.0 - u1) * g(i) / (1.0 - u1);
        close("momentum", slot(&opt, "momentum"), m);
        close("velocity", slot(&opt, "velocity"), v);
        // Weights: iterations, the slots, then u_product.
        close("u_product", opt.weight(3).unwrap(), |_| u1);
        close("var", &x, |i| X[i] as f64 - m_hat(i) * lr / ((v(i) / (1.0 - b2)).sqrt() + eps));
    }
}
