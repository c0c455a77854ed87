//! FTRL-proximal: TF's `ResourceApplyFtrl(V2)` / `ResourceSparseApplyFtrl(V2)` kernels, as TF
//! 2.4.4 runs them on CPU. Slots are interleaved per variable (`accumulator`, `linear`).
//!
//! **TF 2.4 quirk, reproduced:** with `l2_shrinkage_regularization_strength > 0` the *dense* op
//! (`ResourceApplyFtrlV2`, which Keras calls with `multiply_linear_by_lr=False`) dispatches to the
//! `ApplyFtrlV2MultiplyLinearByLr` functor (the two branches are swapped in TF 2.4's
//! `ApplyFtrlOp`). So the `linear` slot then holds `lr * z` and the update is
//! `linear += ĝ*lr - (n_new^-p - n^-p)*θ; θ = (l1*lr*sign(linear) - linear) / (n_new^-p + 2*l2*lr)`
//! when `|linear| > l1*lr`, else 0. With a constant learning rate θ is the same as the
//! documented update; with a changing one (decay, schedules) the trajectory differs. The sparse
//! kernels are not affected and follow the documented update.

use super::{
    check, hyper_fields, powf, update_indexed_rows, DenseStep, Hyper, Options, SlotSpec, SparseStep, StepContext, UpdateRule,
    INITIAL_ACCUMULATOR_VALUE,
};
use crate::drive::{self, LaneKernel};
use crate::error::Result;
use crate::lanes::Lanes;
use crate::slot::f32_slots;
use crate::step::DensePrelude;

/// Keras' check of the options that must be >= 0 (formatted with `%f`).
fn non_negative(name: &str, v: f32) -> Result<f32> {
    check(name, v, v >= 0.0, format!("{name} {v:.6} needs to be positive or zero"))
}

#[derive(Clone, Debug, PartialEq)]
pub struct Ftrl {
    learning_rate_power: f32,
    initial_accumulator_value: f32,
    l1: f32,
    l2: f32,
    beta: f32,
    l2_shrinkage: f32,
}

impl Default for Ftrl {
    fn default() -> Self {
        Ftrl {
            learning_rate_power: LEARNING_RATE_POWER.default,
            initial_accumulator_value: INITIAL_ACCUMULATOR_VALUE.default,
            l1: L1.default,
            l2: L2.default,
            beta: BETA.default,
            l2_shrinkage: L2_SHRINKAGE.default,
        }
    }
}

const LEARNING_RATE_POWER: Hyper = Hyper::number("learning_rate_power", -0.5);
const L1: Hyper = Hyper::number("l1_regularization_strength", 0.0);
const L2: Hyper = Hyper::number("l2_regularization_strength", 0.0);
const BETA: Hyper = Hyper::number("beta", 0.0);
const L2_SHRINKAGE: Hyper = Hyper::number("l2_shrinkage_regularization_strength", 0.0);

/// The constructor options in Keras' `get_config` order.
const CONFIG: [Hyper; 6] = [INITIAL_ACCUMULATOR_VALUE, LEARNING_RATE_POWER, L1, L2, BETA, L2_SHRINKAGE];

impl Ftrl {
    /// Keras' constructor order: `learning_rate_power, initial_accumulator_value, l1, l2,
    /// l2_shrinkage, beta`.
    pub fn new(learning_rate_power: f32, initial_accumulator_value: f32, l1: f32, l2: f32, l2_shrinkage: f32, beta: f32) -> Result<Self> {
        let mut f = Ftrl::default();
        // Keras' validation order.
        f.set_hyper("initial_accumulator_value", initial_accumulator_value)?;
        f.set_hyper("learning_rate_power", learning_rate_power)?;
        f.set_hyper("l1_regularization_strength", l1)?;
        f.set_hyper("l2_regularization_strength", l2)?;
        f.set_hyper("l2_shrinkage_regularization_strength", l2_shrinkage)?;
        f.set_hyper("beta", beta)?;
        Ok(f)
    }
}

#[derive(Clone, Copy)]
pub struct FtrlCoeffs {
    lr: f32,
    l1: f32,
    /// Keras' adjusted l2: `l2 + beta / (2 * lr)`.
    l2: f32,
    /// `2 * l2_shrinkage`.
    two_shrinkage: f32,
    /// `-learning_rate_power`, the exponent of the accumulator.
    neg_power: f32,
}

/// `x^(-p)`: `sqrt` for TF's special case `p == -0.5`, else `pow` per lane.
#[inline(always)]
fn root<L: Lanes, const SQRT: bool>(x: L, neg_power: f32) -> L {
    if SQRT {
        x.sqrt()
    } else {
        x.map(|v| powf(v, neg_power))
    }
}

impl UpdateRule for Ftrl {
    const CLASS_NAME: &'static str = "Ftrl";
    const INTERLEAVED_SLOTS: bool = true;
    const CONFIG: &'static [Hyper] = &CONFIG;
    type Coeffs = FtrlCoeffs;

    fn from_options(o: &mut Options<'_>) -> Result<Self> {
        Ftrl::new(
            o.number(&LEARNING_RATE_POWER),
            o.number(&INITIAL_ACCUMULATOR_VALUE),
            o.number(&L1),
            o.number(&L2),
            o.number(&L2_SHRINKAGE),
            o.number(&BETA),
        )
    }

    fn slots(&self) -> Vec<SlotSpec> {
        vec![SlotSpec::like_var("accumulator", self.initial_accumulator_value), SlotSpec::like_var("linear", 0.0)]
    }

    hyper_fields! {
        // Applies to slots created afterwards.
        "initial_accumulator_value" => initial_accumulator_value: non_negative,
        "learning_rate_power" => learning_rate_power: |name, v| {
            check(name, v, v <= 0.0, format!("learning_rate_power {v:.6} needs to be negative or zero"))
        },
        "l1_regularization_strength" => l1: non_negative,
        "l2_regularization_strength" => l2: non_negative,
        // Not validated by Keras.
        "beta" => beta,
        "l2_shrinkage_regularization_strength" => l2_shrinkage: non_negative,
    }

    fn prepare(&self, ctx: &StepContext, _globals: &mut [f32]) -> FtrlCoeffs {
        FtrlCoeffs {
            lr: ctx.lr,
            l1: self.l1,
            l2: self.l2 + self.beta / (2.0 * ctx.lr),
            two_shrinkage: 2.0 * self.l2_shrinkage,
            neg_power: -self.learning_rate_power,
        }
    }

    fn apply_dense<P: DensePrelude>(&self, c: &FtrlCoeffs, t: DenseStep<'_, P>) {
        let (c, pre, var, grad, slots) = (*c, t.pre, t.var, t.grad, f32_slots::<2>(t.slots));
        let sqrt = self.learning_rate_power == -0.5;
        match (self.l2_shrinkage > 0.0, sqrt) {
            (false, true) => drive::update(pre, &Dense::<true> { c }, var, grad, slots),
            (false, false) => drive::update(pre, &Dense::<false> { c }, var, grad, slots),
            (true, true) => drive::update(pre, &DenseShrinkage::<true> { c }, var, grad, slots),
            (true, false) => drive::update(pre, &DenseShrinkage::<false> { c }, var, grad, slots),
        }
    }

    fn apply_sparse(&self, c: &FtrlCoeffs, t: SparseStep<'_>) {
        let (c, var, g, slots) = (*c, t.var, &t.grad, f32_slots::<2>(t.slots));
        let shrink = self.l2_shrinkage > 0.0;
        let sqrt = self.learning_rate_power == -0.5;
        if g.row_len == 1 {
            return update_indexed_rows(&SparseScalar { c, shrink, sqrt }, var, g, slots);
        }
        match (shrink, sqrt) {
            (false, true) => update_indexed_rows(&SparseRow::<false, true> { c }, var, g, slots),
            (false, false) => update_indexed_rows(&SparseRow::<false, false> { c }, var, g, slots),
            (true, true) => update_indexed_rows(&SparseRow::<true, true> { c }, var, g, slots),
            (true, false) => update_indexed_rows(&SparseRow::<true, false> { c }, var, g, slots),
        }
    }

    fn sparse_touches_only_rows(&self) -> bool {
        true
    }
}

/// `ApplyFtrl` (no shrinkage): `n_new = n + g²; z += g - (n_new^-p - n^-p)/lr * θ;
/// θ = |z| > l1 ? (l1*sign(z) - z) / (n_new^-p/lr + 2*l2) : 0; n = n_new`.
#[derive(Clone, Copy)]
struct Dense<const SQRT: bool> {
    c: FtrlCoeffs,
}

impl<const SQRT: bool> LaneKernel<2> for Dense<SQRT> {
    #[inline(always)]
    fn lanes<L: Lanes>(&self, theta: L, g: L, [n, z]: [L; 2]) -> (L, [L; 2]) {
        let c = &self.c;
        let (lr, l1) = (L::splat(c.lr), L::splat(c.l1));
        let n_new = n + g * g;
        let root_new = root::<L, SQRT>(n_new, c.neg_power);
        let z = z + (g - ((root_new - root::<L, SQRT>(n, c.neg_power)) / lr) * theta);
        let x = z.select_gt(L::splat(0.0), l1, -l1) - z;
        let y = root_new / lr + L::splat(2.0 * c.l2);
        (z.abs().select_gt(l1, x / y, L::splat(0.0)), [n_new, z])
    }
}

/// What TF 2.4.4 runs for `ResourceApplyFtrlV2` (shrinkage > 0): `ApplyFtrlV2MultiplyLinearByLr`.
/// `ĝ = g + 2*l2_shrinkage*θ; n_new = n + g²; z += ĝ*lr - (n_new^-p - n^-p)*θ;
/// θ = |z| > l1*lr ? (l1*lr*sign(z) - z) / (n_new^-p + 2*l2*lr) : 0; n = n_new`.
#[derive(Clone, Copy)]
struct DenseShrinkage<const SQRT: bool> {
    c: FtrlCoeffs,
}

impl<const SQRT: bool> LaneKernel<2> for DenseShrinkage<SQRT> {
    #[inline(always)]
    fn lanes<L: Lanes>(&self, theta: L, g: L, [n, z]: [L; 2]) -> (L, [L; 2]) {
        let c = &self.c;
        let l1_lr = L::splat(c.l1 * c.lr);
        let g_shrunk = g + L::splat(c.two_shrinkage) * theta;
        let n_new = n + g * g;
        let root_new = root::<L, SQRT>(n_new, c.neg_power);
        let z = z + (g_shrunk * L::splat(c.lr) - (root_new - root::<L, SQRT>(n, c.neg_power)) * theta);
        let x = z.select_gt(L::splat(0.0), l1_lr, -l1_lr) - z;
        let y = root_new + L::splat(2.0 * c.l2 * c.lr);
        (z.abs().select_gt(l1_lr, x / y, L::splat(0.0)), [n_new, z])
    }
}

/// The sparse kernel for rows longer than 1 (`ComputeFtrl`): `ĝ = g (+ 2*l2_shrinkage*θ)`;
/// `n_new = n + g²; z += ĝ - (n_new^-p - n^-p)/lr * θ;
/// θ = (clip(z, -l1, l1) - z) / (n_new^-p/lr + 2*l2); n = n_new`.
#[derive(Clone, Copy)]
struct SparseRow<const SHRINK: bool, const SQRT: bool> {
    c: FtrlCoeffs,
}

impl<const SHRINK: bool, const SQRT: bool> LaneKernel<2> for SparseRow<SHRINK, SQRT> {
    #[inline(always)]
    fn lanes<L: Lanes>(&self, theta: L, g: L, [n, z]: [L; 2]) -> (L, [L; 2]) {
        let c = &self.c;
        let (lr, l1) = (L::splat(c.lr), L::splat(c.l1));
        let g_maybe_shrunk = if SHRINK { g + L::splat(c.two_shrinkage) * theta } else { g };
        let n_new = n + g * g;
        let root_new = root::<L, SQRT>(n_new, c.neg_power);
        let z = z + (g_maybe_shrunk - ((root_new - root::<L, SQRT>(n, c.neg_power)) / lr) * theta);
        let x = z.min(l1).max(-l1) - z;
        let y = root_new / lr + L::splat(2.0 * c.l2);
        (x / y, [n_new, z])
    }
}

/// TF's sparse path for an inner dimension of 1, one element:
/// `ĝ = g (+ 2*l2_shrinkage*θ); n_new = n + g²; σ = (pow(n_new, -p) - pow(n, -p)) / lr;
/// z = z + ĝ - σ*θ; θ = (clip(z, -l1, l1) - z) / (n_new^-p/lr + 2*l2); n = n_new`
/// (`pow` even for `p == -0.5`, except in the quadratic term).
#[derive(Clone, Copy)]
struct SparseScalar {
    c: FtrlCoeffs,
    shrink: bool,
    sqrt: bool,
}

impl LaneKernel<2> for SparseScalar {
    #[inline(always)]
    fn lanes<L: Lanes>(&self, v: L, g: L, [a, lin]: [L; 2]) -> (L, [L; 2]) {
        let c = &self.c;
        let (lr, l1) = (L::splat(c.lr), L::splat(c.l1));
        let pow = |x: L| x.map(|v| powf(v, c.neg_power));
        let g_maybe_shrunk = if self.shrink { g + L::splat(c.two_shrinkage) * v } else { g };
        let a_new = a + g * g;
        let sigma = (pow(a_new) - pow(a)) / lr;
        let l = (lin + g_maybe_shrunk) - sigma * v;
        let quadratic = if self.sqrt { a_new.sqrt() } else { pow(a_new) } / lr + L::splat(2.0 * c.l2);
        ((l.min(l1).max(-l1) - l) / quadratic, [a_new, l])
    }
}

#[cfg(test)]
mod tests {
    use super::super::one_step::{close, run, slot, G, X};
    use super::Ftrl;

    #[test]
    fn one_step_matches_the_formula() {
        let (lr, l1, l2) = (0.1f64, 0.01f32 as f64, 0.02f32 as f64);
        let (x, opt) = run(Ftrl::new(-0.5, 0.1, 0.01, 0.02, 0.0, 0.0).unwrap(), 0.1);
        // n = 0.1, n' = n + g², z = g - (sqrt(n') - sqrt(n)) / lr · x,
        // var = |z| > l1 ? (l1·sign(z) - z) / (sqrt(n') / lr + 2·l2) : 0.
        let n0 = 0.1f32 as f64;
        let g = |i: usize| G[i] as f64;
        let n = |i: usize| n0 + g(i) * g(i);
        let z = |i: usize| g(i) - (n(i).sqrt() - n0.sqrt()) / lr * X[i] as f64;
        close("accumulator", slot(&opt, "accumulator"), n);
        close("linear", slot(&opt, "linear"), z);
        close("var", &x, |i| if z(i).abs() > l1 { (l1 * z(i).signum() - z(i)) / (n(i).sqrt() / lr + 2.0 * l2) } else { 0.0 });
    }
}
