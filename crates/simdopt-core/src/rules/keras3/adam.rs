//! Keras 3's Adam and AdamW (AdamW is Adam whose decoupled `weight_decay`, a base-class stage,
//! defaults to 0.004): `α = lr·sqrt(1-β2^t)/(1-β1^t)`, `m += (g-m)(1-β1)`, `v += (g²-v)(1-β2)`,
//! AMSGrad `v̂ = max(v̂, v)`, `x -= m·α / (sqrt(v or v̂) + ε)`. Slots `momentum` and `velocity`
//! per variable, then `velocity_hat` for every variable (AMSGrad).

use std::marker::PhantomData;

use super::{densified, one_minus_py, Betas, Dense, EntryKernel, WithEntries};
use crate::drive;
use crate::error::Result;
use crate::lanes::Lanes;
use crate::quant::storage::update_slots;
use crate::rules::{hypers_in, powf, DenseStep, Hyper, Options, SlotSpec, SparseStep, StepContext, UpdateRule, BETA_1, BETA_2, EPSILON};
use crate::slot::Moment;
use crate::step::clip::Identity;
use crate::step::DensePrelude;

const AMSGRAD: Hyper = Hyper::flag("amsgrad", false);

/// What tells Adam and AdamW apart: the class name and the default of `weight_decay`.
pub trait Variant: Clone + std::fmt::Debug + PartialEq + Send + Sync + 'static {
    const CLASS_NAME: &'static str;
    const WEIGHT_DECAY: Option<f32>;
}

#[derive(Clone, Debug, PartialEq)]
pub struct PlainAdam;

impl Variant for PlainAdam {
    const CLASS_NAME: &'static str = "Adam";
    const WEIGHT_DECAY: Option<f32> = None;
}

#[derive(Clone, Debug, PartialEq)]
pub struct DecoupledWeightDecay;

impl Variant for DecoupledWeightDecay {
    const CLASS_NAME: &'static str = "AdamW";
    const WEIGHT_DECAY: Option<f32> = Some(0.004);
}

/// Keras 3's Adam rule, under the class name of `V`.
#[derive(Clone, Debug, PartialEq)]
pub struct AdamRule<V: Variant> {
    betas: Betas,
    amsgrad: bool,
    variant: PhantomData<V>,
}

pub type Adam = AdamRule<PlainAdam>;
pub type AdamW = AdamRule<DecoupledWeightDecay>;

impl<V: Variant> AdamRule<V> {
    pub fn new(beta_1: f32, beta_2: f32, epsilon: f32, amsgrad: bool) -> Result<Self> {
        let betas = Betas::new(beta_1, beta_2, epsilon)?;
        Ok(AdamRule { betas, amsgrad, variant: PhantomData })
    }
}

#[derive(Clone, Copy)]
pub struct AdamCoeffs {
    alpha: f32,
    one_minus_beta_1: f32,
    one_minus_beta_2: f32,
    epsilon: f32,
}

impl<V: Variant> UpdateRule for AdamRule<V> {
    const CLASS_NAME: &'static str = V::CLASS_NAME;
    const KERAS3_FAMILY: bool = true;
    const CONFIG: &'static [Hyper] = &[BETA_1, BETA_2, EPSILON, AMSGRAD];
    const WEIGHT_DECAY: Option<f32> = V::WEIGHT_DECAY;
    type Coeffs = AdamCoeffs;

    fn from_options(o: &mut Options<'_>) -> Result<Self> {
        Ok(AdamRule { betas: Betas::from_options(o)?, amsgrad: o.flag(&AMSGRAD), variant: PhantomData })
    }

    fn slots(&self) -> Vec<SlotSpec> {
        let mut s = vec![SlotSpec::moment("momentum", 0.0, Moment::Signed), SlotSpec::moment("velocity", 0.0, Moment::NonNegative)];
        if self.amsgrad {
            s.push(SlotSpec::moment("velocity_hat", 0.0, Moment::NonNegative));
        }
        s
    }

    fn slot_groups(&self) -> Vec<usize> {
        if self.amsgrad {
            vec![2, 1]
        } else {
            vec![2]
        }
    }

    hypers_in!(betas);

    fn prepare(&self, ctx: &StepContext, _globals: &mut [f32]) -> AdamCoeffs {
        let s = (ctx.iteration + 1) as f32;
        let (b1p, b2p) = (powf(self.betas.beta_1, s), powf(self.betas.beta_2, s));
        AdamCoeffs {
            alpha: ctx.lr * (1.0 - b2p).sqrt() / (1.0 - b1p),
            one_minus_beta_1: one_minus_py(self.betas.beta_1),
            one_minus_beta_2: one_minus_py(self.betas.beta_2),
            epsilon: self.betas.epsilon,
        }
    }

    fn apply_dense<P: DensePrelude>(&self, c: &AdamCoeffs, t: DenseStep<'_, P>) {
        let k = Kernel { c: *c };
        if self.amsgrad {
            update_slots::<_, _, 3>(t.pre, &Dense(&k), t.var, t.grad, t.slots, t.iteration)
        } else {
            update_slots::<_, _, 2>(t.pre, &Dense(&k), t.var, t.grad, t.slots, t.iteration)
        }
    }

    fn apply_sparse(&self, c: &AdamCoeffs, t: SparseStep<'_>) {
        let k = Kernel { c: *c };
        let k = WithEntries(&k);
        if self.amsgrad {
            densified::<3>(t, |v| v * v, |var, g, e, [m, v, vhat]| drive::update(Identity, &k, var, g, [m, v, vhat, e]))
        } else {
            densified::<2>(t, |v| v * v, |var, g, e, [m, v]| drive::update(Identity, &k, var, g, [m, v, e]))
        }
    }

    fn sums_duplicates(&self) -> bool {
        false
    }

    fn global_clip_densifies(&self) -> bool {
        true
    }
}

struct Kernel {
    c: AdamCoeffs,
}

impl Kernel {
    #[inline(always)]
    fn moments<L: Lanes>(&self, g: L, g2: L, m: L, v: L) -> (L, L) {
        let c = &self.c;
        (m + (g - m) * L::splat(c.one_minus_beta_1), v + (g2 - v) * L::splat(c.one_minus_beta_2))
    }

    #[inline(always)]
    fn var<L: Lanes>(&self, x: L, m: L, v: L) -> L {
        x - (m * L::splat(self.c.alpha)) / (v.sqrt() + L::splat(self.c.epsilon))
    }
}

impl EntryKernel<2> for Kernel {
    #[inline(always)]
    fn lanes<L: Lanes, const SPARSE: bool>(&self, x: L, g: L, g2: L, [m, v]: [L; 2]) -> (L, [L; 2]) {
        let (m, v) = self.moments(g, g2, m, v);
        (self.var(x, m, v), [m, v])
    }
}

impl EntryKernel<3> for Kernel {
    #[inline(always)]
    fn lanes<L: Lanes, const SPARSE: bool>(&self, x: L, g: L, g2: L, [m, v, vhat]: [L; 3]) -> (L, [L; 3]) {
        let (m, v) = self.moments(g, g2, m, v);
        let vhat = vhat.max(v);
        (self.var(x, m, vhat), [m, v, vhat])
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::one_step::{close, run, slot, G, X};
    use super::{Adam, AdamW};
    use crate::rules::UpdateRule;

    #[test]
    fn one_step_matches_the_formula() {
        let (lr, b1, b2, eps) = (0.01f64, 0.9f32 as f64, 0.999f32 as f64, 1e-7f32 as f64);
        let (x, opt) = run(Adam::new(0.9, 0.999, 1e-7, true).unwrap(), 0.01);
        let g = |i: usize| G[i] as f64;
        // Keras 3 rounds 1 - 0.999 from the double: the slot is 0.001·g² (not 0.0009999871·g²).
        let alpha = lr * (1.0 - b2).sqrt() / (1.0 - b1);
        close("momentum", slot(&opt, "momentum"), |i| 0.1 * g(i));
        close("velocity", slot(&opt, "velocity"), |i| 0.001 * g(i) * g(i));
        close("velocity_hat", slot(&opt, "velocity_hat"), |i| 0.001 * g(i) * g(i));
        close("var", &x, |i| X[i] as f64 - alpha * 0.1 * g(i) / ((0.001 * g(i) * g(i)).sqrt() + eps));
        assert_eq!((Adam::WEIGHT_DECAY, AdamW::WEIGHT_DECAY, AdamW::CLASS_NAME), (None, Some(0.004), "AdamW"));
    }
}
