//! Stage "clip": Keras' `clipvalue`, `clipnorm`, `global_clipnorm`, fused into the update
//! kernels as a per-element prelude so that clipping costs no extra write pass; the norms are
//! one read pass in the fixed reduction order of [`crate::lanes::sum_of_squares`] (TF 2.4's
//! classes, unchanged) or of [`crate::reduce`] (the Keras 3 order of stages).

use super::update::Keras3Prelude;
use super::{DensePrelude, GradPrelude};
use crate::error::{Error, Result};
use crate::lanes::{sum_of_squares, Lanes};
use crate::optimizer::{Gradient, Optimizer, Scratch};
use crate::reduce::{self, ElementMap};
use crate::rules::py_float;
use crate::store::{Store, TensorId};

/// No clipping.
#[derive(Clone, Copy)]
pub struct Identity;

impl GradPrelude for Identity {
    #[inline(always)]
    fn apply<L: Lanes>(&self, g: L) -> L {
        g
    }
}

/// `g * scale` alone: [`Clip`] with only `global_clipnorm`, whose other parts are exact identities
/// (`min(g, inf)`, `max(g, -inf)`, `g * 1`, `g / 1` return `g`), without their per-element cost
/// (a division per element doubles the time of a memory-bound kernel).
#[derive(Clone, Copy)]
pub struct Scale(pub f32);

impl DensePrelude for Identity {
    fn as_keras3(&self) -> Keras3Prelude {
        Keras3Prelude::new(None, Clip::NONE, None)
    }
}

impl GradPrelude for Scale {
    #[inline(always)]
    fn apply<L: Lanes>(&self, g: L) -> L {
        g * L::splat(self.0)
    }
}

impl DensePrelude for Scale {
    fn as_keras3(&self) -> Keras3Prelude {
        Keras3Prelude::new(None, Clip { scale: self.0, ..Clip::NONE }, None)
    }
}

/// `((clip(g, -v, v) * mul) / div) * scale`: TF's `clip_by_value`, then `clip_by_norm`'s
/// `(g * c) / max(norm, c)` and `clip_by_global_norm`'s `g * scale`, in TF's op order. Unused
/// parts are identities (±inf bounds, factors of 1), which are exact.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Clip {
    pub value: f32,
    pub mul: f32,
    pub div: f32,
    pub scale: f32,
}

impl GradPrelude for Clip {
    #[inline(always)]
    fn apply<L: Lanes>(&self, g: L) -> L {
        let g = g.min(L::splat(self.value)).max(L::splat(-self.value));
        ((g * L::splat(self.mul)) / L::splat(self.div)) * L::splat(self.scale)
    }
}

impl DensePrelude for Clip {
    fn as_keras3(&self) -> Keras3Prelude {
        Keras3Prelude::new(None, *self, None)
    }
}

impl Clip {
    pub const NONE: Clip = Clip { value: f32::INFINITY, mul: 1.0, div: 1.0, scale: 1.0 };

    pub fn is_identity(&self) -> bool {
        *self == Clip::NONE
    }

    /// Whether only `scale` differs from [`Clip::NONE`] (then [`Scale`] computes the same).
    pub fn is_scale_only(&self) -> bool {
        Clip { scale: 1.0, ..*self } == Clip::NONE
    }

    /// Applies the prelude to a slice in place (sparse values, before duplicates are combined).
    pub fn apply_slice(&self, x: &mut [f32]) {
        for v in x {
            *v = self.apply(*v);
        }
    }
}

/// The clipping options of an optimizer.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Clipping {
    pub clipvalue: Option<f32>,
    pub clipnorm: Option<f32>,
    pub global_clipnorm: Option<f32>,
}

impl Clipping {
    /// Keras' checks (each value >= 0, not both norms) and simdopt's one rule: an accepted
    /// state must be saveable, so NaN and ±Infinity are refused (omit an option to disable it).
    pub fn check(&self) -> Result<()> {
        for (name, v) in [("clipvalue", self.clipvalue), ("clipnorm", self.clipnorm), ("global_clipnorm", self.global_clipnorm)] {
            let Some(v) = v else { continue };
            let reason = if v.is_nan() || v < 0.0 {
                format!("Expected {name} >= 0, received: {}", py_float(v))
            } else if v.is_infinite() {
                format!("{name} must be a finite number, got {v}; omit {name} to disable clipping")
            } else {
                continue;
            };
            return Err(Error::InvalidHyperparameter { name: name.into(), value: v as f64, reason });
        }
        if let (Some(a), Some(b)) = (self.clipnorm, self.global_clipnorm) {
            return Err(Error::InvalidHyperparameter {
                name: "global_clipnorm".into(),
                value: b as f64,
                reason: format!(
                    "Cannot accept both `clipnorm` and `global_clipnorm`, passed `clipnorm` {}, `global_clipnorm` {}",
                    py_float(a),
                    py_float(b)
                ),
            });
        }
        Ok(())
    }

    /// The prelude for one gradient given its squared norm (after `clipvalue`) and the global
    /// squared norm of all gradients of the step.
    pub fn prelude(&self, sum_sq: f32, global_sum_sq: f32) -> Clip {
        let mut p = Clip::NONE;
        if let Some(v) = self.clipvalue {
            p.value = v;
        }
        if let Some(c) = self.clipnorm {
            p.mul = c;
            // TF's `maximum` (`a < b ? b : a`): a NaN norm stays NaN, so a NaN gradient poisons its
            // whole tensor as in TF (`f32::max` would pick `c`).
            p.div = Lanes::max(norm_from_sum(sum_sq), c);
        }
        if let Some(c) = self.global_clipnorm {
            let n = global_sum_sq.sqrt();
            // TF: clip_norm * min(1 / norm, 1 / clip_norm) + (norm - norm): NaN when norm is inf or NaN.
            p.scale = c * (1.0 / n).min(1.0 / c) + (n - n);
        }
        p
    }
}

/// TF's `clip_by_norm`: `sqrt(l2sum)` when positive, else `l2sum` (0), so no NaN gradient.
fn norm_from_sum(l2sum: f32) -> f32 {
    if l2sum > 0.0 {
        l2sum.sqrt()
    } else {
        l2sum
    }
}

/// Stage "clip" of the TF 2.4 order: one prelude per non-None gradient (norms in one read
/// pass each, TF's unblocked order; the global norm as TF's `sqrt(2 * Σ l2_loss)`).
pub(crate) fn compute_preludes(opt: &mut Optimizer, store: &Store, pairs: &[(Option<Gradient<'_>>, TensorId)]) {
    let c = opt.clipping;
    let Scratch { preludes, sums, .. } = &mut opt.scratch;
    preludes.clear();
    let grads = pairs.iter().filter_map(|(g, _)| g.as_ref());
    if c.clipnorm.is_none() && c.global_clipnorm.is_none() {
        preludes.extend(grads.map(|_| c.prelude(0.0, 0.0)));
        return;
    }
    sums.clear();
    sums.extend(grads.map(|g| sum_of_squares(g.values(store).expect("validated"), c.clipvalue)));
    tf24_preludes(c, sums, preludes);
}

/// The TF 2.4 preludes from the squared norms of the gradients, in order (appended to `out`).
pub(crate) fn tf24_preludes(c: Clipping, sums: &[f32], out: &mut Vec<Clip>) {
    // TF's global_norm: sqrt(2 * sum(l2_loss)), l2_loss = sum(x^2) / 2.
    let global = sums.iter().fold(0.0f32, |acc, s| acc + s * 0.5) * 2.0;
    out.extend(sums.iter().map(|&s| c.prelude(s, global)));
}

/// Stage "clip" of the Keras 3 order: the norms see the gradient after the stages before it
/// ([`super::unscale`], [`super::accumulate`]); per-tensor sums in the fixed block order of
/// [`crate::reduce`], the global norm as Keras 3's `sqrt(Σ ‖g‖²)`.
pub(crate) fn compute_keras3_preludes(opt: &mut Optimizer, store: &Store, pairs: &[(Option<Gradient<'_>>, TensorId)]) {
    let c = opt.clipping;
    opt.scratch.preludes.clear();
    let n_grads = pairs.iter().filter(|(g, _)| g.is_some()).count();
    if c.clipnorm.is_none() && c.global_clipnorm.is_none() {
        opt.scratch.preludes.extend((0..n_grads).map(|_| c.prelude(0.0, 0.0)));
        return;
    }
    let (scale, steps) = (opt.stages.loss_scale_factor, opt.stages.gradient_accumulation_steps.map(|n| n as f32));
    let mut sums = core::mem::take(&mut opt.scratch.sums);
    sums.clear();
    for (g, var) in pairs {
        let Some(g) = g else { continue };
        let acc = steps.and_then(|_| opt.vars.get(var)).and_then(|&s| opt.states[s].accumulator.as_deref());
        let map = KerasGradient { scale, steps, clipvalue: c.clipvalue };
        let sum = match *g {
            // Sparse gradients were added into the accumulator already (`accumulate::densify`).
            Gradient::Sparse { .. } | Gradient::SparseTensor { .. } if acc.is_some() => {
                reduce::sum_of_squares_by(acc.expect("checked"), None, &KerasGradient { scale: None, steps: None, ..map })
            }
            Gradient::Sparse { .. } | Gradient::SparseTensor { .. } => {
                reduce::sum_of_squares_by(g.values(store).expect("validated"), None, &map)
            }
            Gradient::Dense(_) | Gradient::Tensor(_) => reduce::sum_of_squares_by(g.values(store).expect("validated"), acc, &map),
        };
        sums.push(sum);
    }
    let global = sums.iter().fold(0.0f32, |acc, s| acc + s);
    opt.scratch.preludes.extend(sums.iter().map(|&s| c.prelude(s, global)));
    opt.scratch.sums = sums;
}

/// Stage "clip" of the Keras 3 order on gradients the caller already unscaled and accumulated
/// (an external rule's, materialized in [`crate::external_keras3`]): the same sums and preludes
/// as [`compute_keras3_preludes`] computes in its fused form, into `out`.
pub(crate) fn keras3_preludes_of(c: Clipping, grads: &[Vec<f32>], out: &mut Vec<Clip>) {
    out.clear();
    if c.clipnorm.is_none() && c.global_clipnorm.is_none() {
        out.extend(grads.iter().map(|_| c.prelude(0.0, 0.0)));
        return;
    }
    let map = KerasGradient { scale: None, steps: None, clipvalue: c.clipvalue };
    let sums: Vec<f32> = grads.iter().map(|g| reduce::sum_of_squares_by(g, None, &map)).collect();
    let global = sums.iter().fold(0.0f32, |acc, s| acc + s);
    out.extend(sums.iter().map(|&s| c.prelude(s, global)));
}

/// The gradient the Keras 3 clip stage sees: `g / loss_scale_factor`, then `(g + acc) / N` on
/// an accumulation update step, then `clipvalue`.
struct KerasGradient {
    scale: Option<f32>,
    steps: Option<f32>,
    clipvalue: Option<f32>,
}

impl ElementMap for KerasGradient {
    #[inline(always)]
    fn map<L: Lanes>(&self, x: L, acc: L) -> L {
        let mut g = if let Some(s) = self.scale { x / L::splat(s) } else { x };
        if let Some(n) = self.steps {
            g = (g + acc) / L::splat(n);
        }
        match self.clipvalue {
            Some(v) => g.min(L::splat(v)).max(L::splat(-v)),
            None => g,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nan_gradient_gives_a_nan_norm_and_divisor_as_in_tf() {
        let g = [1.0f32, f32::NAN, 2.0];
        let c = Clipping { clipvalue: Some(0.5), clipnorm: Some(1.0), global_clipnorm: None };
        let s = sum_of_squares(&g, c.clipvalue);
        assert!(s.is_nan());
        let p = c.prelude(s, s);
        assert!(p.div.is_nan());
        assert!(p.apply(1.0f32).is_nan());
    }

    #[test]
    fn clipnorm_scales_only_norms_above_the_threshold() {
        let c = Clipping { clipvalue: None, clipnorm: Some(1.0), global_clipnorm: None };
        // ‖g‖ = 5 > 1: TF's `(g * c) / max(norm, c)`.
        let p = c.prelude(sum_of_squares(&[3.0, 4.0], None), 0.0);
        assert_eq!([p.apply(3.0f32), p.apply(4.0f32)], [(3.0f32 * 1.0) / 5.0, (4.0f32 * 1.0) / 5.0]);
        // ‖g‖ = 0.5 < 1: divided by the threshold itself, `(g * 1) / 1`, so unchanged.
        let p = c.prelude(sum_of_squares(&[0.3, 0.4], None), 0.0);
        assert_eq!(p.div, 1.0);
        assert_eq!([p.apply(0.3f32), p.apply(0.4f32)], [0.3, 0.4]);
        // A zero gradient keeps norm 0 (TF's `l2sum > 0` branch): no division by zero.
        let p = c.prelude(sum_of_squares(&[0.0, 0.0], None), 0.0);
        assert_eq!(p.apply(0.0f32), 0.0);
    }

    #[test]
    fn global_clipnorm_on_both_sides_of_the_threshold() {
        let c = Clipping { clipvalue: None, clipnorm: None, global_clipnorm: Some(2.0) };
        // Global norm sqrt(9 + 16) = 5 > 2: scale 2 * min(1/5, 1/2) = 0.4.
        let p = c.prelude(0.0, 25.0);
        assert_eq!(p.scale, 2.0 * (1.0f32 / 5.0));
        // Global norm 1 < 2: scale 2 * (1/2) = 1.
        assert_eq!(c.prelude(0.0, 1.0).scale, 1.0);
        // A non-finite global norm makes every gradient NaN, as TF.
        assert!(c.prelude(0.0, f32::INFINITY).scale.is_nan());
    }

    #[test]
    fn non_finite_or_negative_clip_values_are_refused() {
        for v in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -1.0] {
            for c in [
                Clipping { clipvalue: Some(v), ..Clipping::default() },
                Clipping { clipnorm: Some(v), ..Clipping::default() },
                Clipping { global_clipnorm: Some(v), ..Clipping::default() },
            ] {
                assert!(matches!(c.check(), Err(Error::InvalidHyperparameter { .. })), "{c:?}");
            }
        }
        let both = Clipping { clipvalue: None, clipnorm: Some(1.0), global_clipnorm: Some(1.0) };
        assert!(both.check().is_err());
        assert!(Clipping { clipvalue: Some(0.0), clipnorm: Some(3.0), global_clipnorm: None }.check().is_ok());
    }
}
