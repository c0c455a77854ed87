//! Helpers of the multi-pass Keras 3 rules (Lamb, Adafactor, Muon): the step's gradient made
//! concrete once, so that later passes and reductions read it as plain values.
//!
//! Keras applies the stages (unscale, accumulation, clip, weight decay) before `update_step`,
//! so a rule that reads the variable in a reduction (Lamb's `‖w‖`, Adafactor's RMS(x)) must see
//! the decayed variable: the first pass applies the fused prelude to both, writes the decayed
//! variable back and keeps the gradient (which, on an accumulation update step, exists only in
//! that pass).

use crate::drive::{self, GradIn, LaneKernel};
use crate::lanes::Lanes;
use crate::rules::SparseStep;
use crate::step::GradPrelude;

/// The step's gradients of one variable: `g`, and for a sparse step the per-entry sum of `g²`
/// (None: compute `g²` from `g`).
pub struct StepGrad {
    pub g: Vec<f32>,
    pub g2: Option<Vec<f32>>,
}

impl StepGrad {
    /// A dense step: runs the prelude (the decayed variable is written back).
    pub fn dense<P: GradPrelude>(pre: P, var: &mut [f32], grad: GradIn<'_>) -> Self {
        let mut g = vec![0.0f32; var.len()];
        drive::update(pre, &Materialize, var, grad, [&mut g[..]]);
        StepGrad { g, g2: None }
    }

    /// A sparse step (its stages already applied to the values): the densified gradient and the
    /// sum of the entries' squares.
    pub fn sparse(t: &SparseStep<'_>) -> Self {
        let (g, g2) = super::densify(t, |v| v * v);
        StepGrad { g, g2: Some(g2) }
    }

    /// `g²` of element `i` (per entry for a sparse step).
    #[inline]
    pub fn square(&self, i: usize) -> f32 {
        match &self.g2 {
            Some(e) => e[i],
            None => self.g[i] * self.g[i],
        }
    }
}

/// Stores the gradient lanes after the prelude; the variable passes through (decayed).
#[derive(Clone, Copy)]
struct Materialize;

impl LaneKernel<1> for Materialize {
    // The rule's later passes update the variable: the average is left to `step::ema`.
    const NEW_VARIABLE: bool = false;
    #[inline(always)]
    fn lanes<L: Lanes>(&self, x: L, g: L, _: [L; 1]) -> (L, [L; 1]) {
        (x, [g])
    }
}

#[cfg(test)]
mod tests {
    use super::StepGrad;
    use crate::drive::GradIn;
    use crate::step::clip::Clip;
    use crate::step::update::Keras3Prelude;

    #[test]
    fn the_prelude_runs_once_and_the_variable_is_decayed() {
        let mut var = [1.0f32, -2.0, 4.0];
        let mut acc = [0.5f32, 0.5, 0.5];
        // loss scale 2, accumulation update step of 2 steps, weight decay 0.1 at lr 0.5.
        let pre = Keras3Prelude::new(Some(2.0), Clip::NONE, Some((0.1, 0.5)));
        let s = StepGrad::dense(pre, &mut var, GradIn::Accumulated { grad: &[2.0, 4.0, -2.0], acc: &mut acc, steps: 2.0 });
        assert_eq!(s.g, [0.75, 1.25, -0.25]);
        assert_eq!(var, [0.95, -1.9, 3.8]);
        assert_eq!(acc, [0.0; 3]);
        assert_eq!(s.square(1), 1.5625);
    }
}
