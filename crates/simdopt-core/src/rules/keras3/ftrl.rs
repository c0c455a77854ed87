//! Keras 3's Ftrl (one formula, dense and sparse alike): `ĝ = g + 2·λ_shrink·x`,
//! `n' = n + g²`, `z += ĝ - (n'^-p - n^-p)/lr · x`, `q = n'^-p/lr + 2·(l2 + β/(2·lr))`,
//! `x = (clip(z, -l1, l1) - z) / q`, `n = n'`. Slots `accumulator`, `linear` per variable.

use super::{densified, Dense, EntryKernel, WithEntries};
use crate::drive;
use crate::error::{Error, Result};
use crate::lanes::Lanes;
use crate::rules::{check, finite, powf, py_float, DenseStep, Hyper, Options, SlotSpec, SparseStep, StepContext, UpdateRule};
use crate::slot::f32_slots;
use crate::step::clip::Identity;
use crate::step::DensePrelude;

const LEARNING_RATE_POWER: Hyper = Hyper::number("learning_rate_power", -0.5);
const INITIAL_ACCUMULATOR_VALUE: Hyper = Hyper::number("initial_accumulator_value", 0.1);
const L1: Hyper = Hyper::number("l1_regularization_strength", 0.0);
const L2: Hyper = Hyper::number("l2_regularization_strength", 0.0);
const L2_SHRINKAGE: Hyper = Hyper::number("l2_shrinkage_regularization_strength", 0.0);
const BETA: Hyper = Hyper::number("beta", 0.0);

/// Keras 3's `get_config` order (also its constructor's).
const CONFIG: [Hyper; 6] = [LEARNING_RATE_POWER, INITIAL_ACCUMULATOR_VALUE, L1, L2, L2_SHRINKAGE, BETA];
const HYPERS: [&str; 6] = [CONFIG[0].name, CONFIG[1].name, CONFIG[2].name, CONFIG[3].name, CONFIG[4].name, CONFIG[5].name];

#[derive(Clone, Debug, PartialEq)]
pub struct Ftrl {
    /// In [`CONFIG`] order.
    values: [f32; 6],
}

impl Ftrl {
    /// Keras 3's constructor order; its checks in its order (initial accumulator first).
    pub fn new(learning_rate_power: f32, initial_accumulator_value: f32, l1: f32, l2: f32, l2_shrinkage: f32, beta: f32) -> Result<Self> {
        let mut f = Ftrl { values: CONFIG.map(|h| h.default) };
        f.set_hyper("initial_accumulator_value", initial_accumulator_value)?;
        f.set_hyper("learning_rate_power", learning_rate_power)?;
        f.set_hyper("l1_regularization_strength", l1)?;
        f.set_hyper("l2_regularization_strength", l2)?;
        f.set_hyper("l2_shrinkage_regularization_strength", l2_shrinkage)?;
        f.set_hyper("beta", beta)?;
        Ok(f)
    }

    fn get(&self, h: &Hyper) -> f32 {
        self.values[HYPERS.iter().position(|n| *n == h.name).expect("a Ftrl option")]
    }
}

#[derive(Clone, Copy)]
pub struct FtrlCoeffs {
    lr: f32,
    neg_power: f32,
    l1: f32,
    /// `2·(l2 + β/(2·lr))`.
    two_l2: f32,
    two_shrinkage: f32,
}

impl UpdateRule for Ftrl {
    const CLASS_NAME: &'static str = "Ftrl";
    const KERAS3_FAMILY: bool = true;
    const CONFIG: &'static [Hyper] = &CONFIG;
    type Coeffs = FtrlCoeffs;

    fn from_options(o: &mut Options<'_>) -> Result<Self> {
        let [p, a, l1, l2, s, b] = CONFIG.map(|h| o.number(&h));
        Ftrl::new(p, a, l1, l2, s, b)
    }

    fn slots(&self) -> Vec<SlotSpec> {
        vec![SlotSpec::like_var("accumulator", self.get(&INITIAL_ACCUMULATOR_VALUE)), SlotSpec::like_var("linear", 0.0)]
    }

    fn slot_groups(&self) -> Vec<usize> {
        vec![2]
    }

    fn hyper_names(&self) -> &'static [&'static str] {
        &HYPERS
    }

    fn hyper(&self, name: &str) -> Option<f32> {
        HYPERS.iter().position(|n| *n == name).map(|i| self.values[i])
    }

    fn set_hyper(&mut self, name: &str, value: f32) -> Result<()> {
        let v = finite(name, value)?;
        let i = HYPERS.iter().position(|n| *n == name).ok_or_else(|| Error::UnknownHyperparameter { name: name.into() })?;
        let received = format!("Received: {name}={}.", py_float(v));
        self.values[i] = match name {
            "learning_rate_power" => check(name, v, v <= 0.0, format!("`{name}` needs to be negative or zero. {received}"))?,
            "beta" => v,
            _ => check(name, v, v >= 0.0, format!("`{name}` needs to be positive or zero. {received}"))?,
        };
        Ok(())
    }

    fn prepare(&self, ctx: &StepContext, _globals: &mut [f32]) -> FtrlCoeffs {
        let lr = ctx.lr;
        let l2 = self.get(&L2) + self.get(&BETA) / (2.0 * lr);
        FtrlCoeffs {
            lr,
            neg_power: -self.get(&LEARNING_RATE_POWER),
            l1: self.get(&L1),
            two_l2: 2.0 * l2,
            two_shrinkage: 2.0 * self.get(&L2_SHRINKAGE),
        }
    }

    fn apply_dense<P: DensePrelude>(&self, c: &FtrlCoeffs, t: DenseStep<'_, P>) {
        drive::update(t.pre, &Dense(&Kernel { c: *c }), t.var, t.grad, f32_slots::<2>(t.slots))
    }

    fn apply_sparse(&self, c: &FtrlCoeffs, t: SparseStep<'_>) {
        let k = WithEntries(&Kernel { c: *c });
        densified::<2>(t, |v| v * v, |var, g, e, [n, z]| drive::update(Identity, &k, var, g, [n, z, e]))
    }

    fn sums_duplicates(&self) -> bool {
        false
    }

    fn global_clip_densifies(&self) -> bool {
        true
    }
}

struct Kernel {
    c: FtrlCoeffs,
}

impl Kernel {
    /// `n^-p`: a square root for the default power (what XLA makes of `pow(n, 0.5)`).
    #[inline(always)]
    fn root<L: Lanes>(&self, n: L) -> L {
        let p = self.c.neg_power;
        if p == 0.5 {
            n.sqrt()
        } else {
            n.map(|v| powf(v, p))
        }
    }
}

impl EntryKernel<2> for Kernel {
    #[inline(always)]
    fn lanes<L: Lanes, const SPARSE: bool>(&self, x: L, g: L, g2: L, [n, z]: [L; 2]) -> (L, [L; 2]) {
        let c = &self.c;
        let lr = L::splat(c.lr);
        let g_shrunk = g + L::splat(c.two_shrinkage) * x;
        let n_new = n + g2;
        let root_new = self.root(n_new);
        let z = z + (g_shrunk - ((root_new - self.root(n)) / lr) * x);
        let q = root_new / lr + L::splat(c.two_l2);
        let l1 = L::splat(c.l1);
        ((z.min(l1).max(-l1) - z) / q, [n_new, z])
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::one_step::{close, run, slot, G, X};
    use super::Ftrl;

    #[test]
    fn one_step_matches_the_formula_and_keras_3_checks() {
        let (lr, l1, l2, s) = (0.1f64, 0.01f32 as f64, 0.02f32 as f64, 0.05f32 as f64);
        let (x, opt) = run(Ftrl::new(-0.5, 0.1, 0.01, 0.02, 0.05, 0.0).unwrap(), 0.1);
        let n0 = 0.1f32 as f64;
        let g = |i: usize| G[i] as f64;
        let x0 = |i: usize| X[i] as f64;
        let n = |i: usize| n0 + g(i) * g(i);
        let z = |i: usize| g(i) + 2.0 * s * x0(i) - (n(i).sqrt() - n0.sqrt()) / lr * x0(i);
        close("accumulator", slot(&opt, "accumulator"), n);
        close("linear", slot(&opt, "linear"), z);
        close("var", &x, |i| (z(i).clamp(-l1, l1) - z(i)) / (n(i).sqrt() / lr + 2.0 * l2));
        let e = Ftrl::new(0.5, 0.1, 0.0, 0.0, 0.0, 0.0).unwrap_err().to_string();
        assert!(e.contains("`learning_rate_power` needs to be negative or zero. Received: learning_rate_power=0.5."), "{e}");
        let e = Ftrl::new(-0.5, -1.0, 0.0, 0.0, 0.0, 0.0).unwrap_err().to_string();
        assert!(e.contains("`initial_accumulator_value` needs to be positive or zero. Received: initial_accumulator_value=-1.0."), "{e}");
        assert!(Ftrl::new(-0.5, 0.1, 0.0, 0.0, 0.0, -1.0).is_ok());
    }
}
