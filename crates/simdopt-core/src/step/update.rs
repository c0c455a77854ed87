//! Stage "update": the rule's kernels on every variable with a gradient, with the elementwise
//! stages fused in (see [`super::GradPrelude`]): the TF 2.4 order fuses only clipping (the same
//! three preludes as always, so those classes run exactly their kernels); the Keras 3 order
//! fuses unscale, the accumulator, clipping and weight decay into one [`Keras3Prelude`], which
//! also carries the variable's moving average as the pass's epilogue (see [`super::ema`]).

use core::sync::atomic::{AtomicBool, Ordering::Relaxed};

use super::clip::{Clip, Scale};
use super::ema::{self, FusedAverage};
use super::validate::row_len;
use super::{unscale, weight_decay, DensePrelude, GradPrelude};
use crate::drive::GradIn;
use crate::lanes::Lanes;
use crate::optimizer::{Gradient, Optimizer, VarSlots};
use crate::rules::dispatch::Fused;
use crate::rules::{SparseRows, SparseStep};
use crate::store::{Store, TensorId};

/// Which elementwise stages fuse into the rule's pass.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fusion {
    Tf24,
    Keras3,
}

pub(crate) fn run(opt: &mut Optimizer, store: &mut Store, pairs: &[(Option<Gradient<'_>>, TensorId)], fusion: Fusion) {
    let keras3 = fusion == Fusion::Keras3;
    let (scale, steps, lr) = (opt.stages.loss_scale_factor, opt.stages.gradient_accumulation_steps, opt.current_lr());
    let global_clip = opt.clipping.global_clipnorm.is_some();
    let iteration = opt.iterations;
    // The moving averages fuse into the passes below (an overwrite step runs its own pass).
    let average = ema::this_step(opt).filter(|e| keras3 && !e.overwrite).map(|e| e.average);
    opt.scratch.averaged.resize(opt.states.len(), false);
    let mut k = 0;
    for (g, var_id) in pairs {
        let Some(g) = g else { continue };
        let clip = opt.scratch.preludes[k];
        k += 1;
        let state = opt.vars[var_id];
        let VarSlots { slots, accumulator, average: avg, .. } = &mut opt.states[state];
        let ran = AtomicBool::new(false);
        // SAFETY: `avg` and `ran` outlive the passes of this variable, which alone touch `avg`.
        let fused = average.zip(avg.as_deref_mut()).map(|(k, avg)| unsafe { FusedAverage::new(avg, k, &ran) });
        let wd = opt.rule.weight_decay(opt.stages.weight_decay, slots);
        let decay = wd.filter(|_| keras3 && !opt.decay_excluded.contains(var_id)).map(|wd| (wd, lr));
        let (shape, var, held) = store.var_and_grad(*var_id, g.tensor()).expect("validated");
        let rule = &*opt.rule;
        let dense = match *g {
            Gradient::Dense(values) => Some(values),
            Gradient::Tensor(_) => Some(held.expect("validated")),
            Gradient::Sparse { .. } | Gradient::SparseTensor { .. } => None,
        };
        match (dense, fusion) {
            (Some(values), Fusion::Tf24) => rule.apply_dense(tf24_prelude(clip), shape, var, GradIn::Values(values), slots, iteration),
            (Some(values), Fusion::Keras3) => {
                let pre = Keras3Prelude::new(scale, clip, decay).with_average(fused);
                let grad = match (steps, accumulator.as_deref_mut()) {
                    (Some(n), Some(acc)) => GradIn::Accumulated { grad: values, acc, steps: n as f32 },
                    _ => GradIn::Values(values),
                };
                rule.apply_dense(Fused::Keras3(pre), shape, var, grad, slots, iteration)
            }
            (None, Fusion::Keras3) if steps.is_some() => {
                // `accumulate::densify_sparse` left `(densify(g) + acc) / N` in the accumulator.
                let acc = accumulator.as_deref_mut().expect("accumulators exist with gradient_accumulation_steps");
                let pre = Keras3Prelude::new(None, clip, decay).with_average(fused);
                rule.apply_dense(Fused::Keras3(pre), shape, var, GradIn::Values(acc), slots, iteration);
                acc.fill(0.0);
            }
            (None, _) => {
                let (indices, values) = match *g {
                    Gradient::Sparse { indices, values } => (indices, values),
                    Gradient::SparseTensor { indices, .. } => (indices, held.expect("validated")),
                    Gradient::Dense(_) | Gradient::Tensor(_) => unreachable!("dense handled above"),
                };
                let s = &mut opt.scratch;
                if keras3 {
                    if let Some((wd, lr)) = decay {
                        weight_decay::decay_all(var, wd, lr);
                    }
                }
                // The values are read in place unless a prelude rewrites them (then in a copy).
                let unscales = keras3 && scale.is_some();
                let values: &[f32] = if unscales || !clip.is_identity() {
                    s.values.clear();
                    s.values.extend_from_slice(values);
                    if unscales {
                        unscale::unscale_slice(&mut s.values, scale);
                    }
                    if !clip.is_identity() {
                        clip.apply_slice(&mut s.values);
                    }
                    &s.values
                } else {
                    values
                };
                let (n_rows, row_len) = (shape[0], row_len(shape));
                let m = &mut s.rows;
                // (Keras 3's global_clipnorm densifies IndexedSlices: duplicates combined for every rule.)
                let densified = global_clip && rule.global_clip_densifies();
                m.merge(indices, n_rows, row_len, values, rule.sums_duplicates() || densified);
                let g = SparseRows { rows: &m.rows, at: &m.at, values, merged: &m.merged, row_len, n_rows, zero_add: m.repeats };
                let t = SparseStep { shape, var, grad: g, slots, scratch: &mut s.sparse };
                if t.slots.iter().all(|s| s.raw().is_none()) {
                    rule.apply_sparse(t);
                } else {
                    // Compressed slots: the sparse kernels run on f32 windows of them.
                    s.windows.step(t, iteration, rule.sparse_touches_only_rows(), |t| rule.apply_sparse(t));
                }
            }
        }
        // Did a pass run the epilogue (rules whose last pass is not the prelude's leave the
        // average to `ema::run`)?
        opt.scratch.averaged[state] = ran.load(Relaxed);
    }
}

/// The TF 2.4 preludes: none, `global_clipnorm`'s scale alone, or the whole clip.
pub(crate) fn tf24_prelude(pre: Clip) -> Fused {
    if pre.is_identity() {
        Fused::None
    } else if pre.is_scale_only() {
        Fused::Scale(Scale(pre.scale))
    } else {
        Fused::Clip(pre)
    }
}

/// The Keras 3 elementwise stages of one variable: unscale, (the accumulator, in the driver),
/// clip, weight decay. Their choices are fixed for the whole pass.
#[derive(Clone, Copy)]
pub struct Keras3Prelude {
    scale: Option<f32>,
    clip: ClipKind,
    /// `(weight_decay, learning_rate)`.
    decay: Option<(f32, f32)>,
    /// The epilogue: the variable's moving average.
    average: Option<FusedAverage>,
}

#[derive(Clone, Copy)]
enum ClipKind {
    None,
    Scale(f32),
    Full(Clip),
}

impl Keras3Prelude {
    pub fn new(scale: Option<f32>, clip: Clip, decay: Option<(f32, f32)>) -> Self {
        let clip = if clip.is_identity() {
            ClipKind::None
        } else if clip.is_scale_only() {
            ClipKind::Scale(clip.scale)
        } else {
            ClipKind::Full(clip)
        };
        Keras3Prelude { scale, clip, decay, average: None }
    }

    /// Whether no stage changes the gradient or the variable (the epilogue aside).
    pub fn is_plain(&self) -> bool {
        matches!(self.fixed_stages(), Some(None))
    }

    /// The prelude with the variable's moving average as its epilogue (or none).
    pub fn with_average(self, average: Option<FusedAverage>) -> Self {
        Keras3Prelude { average, ..self }
    }
}

impl DensePrelude for Keras3Prelude {
    fn as_keras3(&self) -> Keras3Prelude {
        *self
    }
}

impl GradPrelude for Keras3Prelude {
    const ACCUMULATES: bool = true;
    const AVERAGES: bool = true;

    #[inline(always)]
    fn unscale<L: Lanes>(&self, g: L) -> L {
        unscale::unscale(g, self.scale)
    }

    #[inline(always)]
    fn apply<L: Lanes>(&self, g: L) -> L {
        match self.clip {
            ClipKind::None => g,
            ClipKind::Scale(s) => Scale(s).apply(g),
            ClipKind::Full(c) => c.apply(g),
        }
    }

    #[inline(always)]
    fn decay<L: Lanes>(&self, x: L) -> L {
        match self.decay {
            Some((wd, lr)) => weight_decay::decay(x, wd, lr),
            None => x,
        }
    }

    #[inline(always)]
    fn average(&self) -> Option<FusedAverage> {
        self.average
    }

    #[inline(always)]
    fn fixed_stages(&self) -> Option<Option<weight_decay::DecayOnly>> {
        let decay = self.decay.map(|(wd, lr)| weight_decay::DecayOnly { wd, lr });
        (self.scale.is_none() && matches!(self.clip, ClipKind::None)).then_some(decay)
    }
}

#[cfg(test)]
mod tests {
    use super::Keras3Prelude;
    use crate::step::clip::Clip;
    use crate::step::GradPrelude;

    #[test]
    fn stages_are_fixed_only_when_unscale_and_clip_are_off() {
        let fixed = |p: Keras3Prelude| p.fixed_stages().map(|d| d.map(|d| (d.wd, d.lr)));
        assert_eq!(fixed(Keras3Prelude::new(None, Clip::NONE, None)), Some(None));
        assert_eq!(fixed(Keras3Prelude::new(None, Clip::NONE, Some((0.1, 0.01)))), Some(Some((0.1, 0.01))));
        assert_eq!(fixed(Keras3Prelude::new(Some(2.0), Clip::NONE, None)), None);
        assert_eq!(fixed(Keras3Prelude::new(None, Clip { scale: 0.5, ..Clip::NONE }, Some((0.1, 0.01)))), None);
        assert_eq!(fixed(Keras3Prelude::new(None, Clip { value: 1.0, ..Clip::NONE }, None)), None);
    }
}
