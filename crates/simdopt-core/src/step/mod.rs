//! One optimizer step as an explicit list of stages, one module per stage.
//!
//! **Keras 3 order** (what [`Stages`] turns on; `keras/src/optimizers/base_optimizer.py`):
//!
//! 1. [`validate`]: drop pairs whose gradient is None (and check the whole call first, so that
//!    a bad call changes nothing);
//! 2. [`unscale`]: divide by `loss_scale_factor`;
//! 3. [`accumulate`]: gradient accumulation (`acc += g`, or on an update step `(g + acc) / N`);
//! 4. [`clip`]: `clipvalue` / `clipnorm` / `global_clipnorm`;
//! 5. [`weight_decay`]: decoupled, `var -= var * wd * lr`, before the update;
//! 6. [`update`]: the rule's kernels;
//! 7. [`ema`]: the moving averages of every variable (and the overwrite), fused into the
//!    update's pass where it wrote the variable;
//! 8. [`constraints`]: the hook point for variable constraints;
//! 9. [`count`]: `iterations += 1`.
//!
//! **TF 2.4 order** (every TF 2.4 class, unchanged): the aggregator and the gradient
//! transformers run in the facade; here [`validate`] → [`clip`] → [`update`] → [`count`].
//!
//! Stages 2, 4 and 5 are elementwise: they fuse into the rule's pass at compile time as a
//! [`GradPrelude`] (the lane driver applies them to the loaded lanes), so a step without them
//! runs exactly the kernels it ran before. Accumulation fuses into the update pass too on an
//! update step (the driver reads the accumulator and writes it back as zero); on the other
//! micro-steps it is its own pass and the update does not run. EMA is the mirror image: an
//! epilogue the prelude carries ([`GradPrelude::average`]), which the driver applies to the
//! variable's new lanes after the kernel of a single-pass rule; the averages it did not cover
//! (no gradient, sparse, a micro-step without update, a multi-pass rule, an overwrite step)
//! are a pass of their own after the update.

pub mod accumulate;
pub mod clip;
pub mod constraints;
pub mod count;
pub mod ema;
pub mod rows;
pub mod stream;
pub mod unscale;
pub mod update;
pub mod validate;
pub mod weight_decay;

use crate::error::{Error, Result};
use crate::lanes::Lanes;
use crate::optimizer::{Gradient, Optimizer};
use crate::rules::{py_float, StepContext};
use crate::store::{Store, TensorId};

/// The elementwise stages fused into a rule's pass: what the lane driver applies to the loaded
/// gradient and variable lanes before the kernel sees them (and the epilogue after it).
pub trait GradPrelude: Copy + Sync {
    /// Whether this prelude may consume an accumulator (see [`crate::drive::GradIn`]). A
    /// constant, so that the other preludes' loops have no accumulator code.
    const ACCUMULATES: bool = false;
    /// Whether this prelude may carry an epilogue ([`GradPrelude::average`]). A constant, so
    /// that the other preludes' loops have no epilogue code.
    const AVERAGES: bool = false;
    /// Stages before accumulation ([`unscale`]).
    #[inline(always)]
    fn unscale<L: Lanes>(&self, g: L) -> L {
        g
    }
    /// Stages after accumulation ([`clip`]).
    fn apply<L: Lanes>(&self, g: L) -> L;
    /// Stages on the variable before the update ([`weight_decay`]).
    #[inline(always)]
    fn decay<L: Lanes>(&self, x: L) -> L {
        x
    }
    /// The stage after the kernel ([`ema`]): the moving average of the variable's new value,
    /// updated in the same pass.
    #[inline(always)]
    fn average(&self) -> Option<ema::FusedAverage> {
        None
    }
}

/// The preludes of a rule's dense pass (TF 2.4's three and the Keras 3 one). Each has the same
/// stages as a [`update::Keras3Prelude`], which chooses them per pass at run time: the passes
/// over compressed slots are compiled for that one prelude only (see [`crate::quant::storage`]),
/// so that their code is not repeated per prelude; the numbers are the same bits.
pub trait DensePrelude: GradPrelude {
    fn as_keras3(&self) -> update::Keras3Prelude;
}

/// Keras 3's base options (all off by default: the TF 2.4 order of stages).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stages {
    /// Gradients are divided by it first.
    pub loss_scale_factor: Option<f32>,
    /// Update every N-th call with the mean of the N gradients; N >= 2.
    pub gradient_accumulation_steps: Option<u32>,
    /// Decoupled weight decay `var -= var * wd * lr` before the update.
    pub weight_decay: Option<f32>,
    /// Moving averages of the variables.
    pub ema: Option<Ema>,
}

/// Keras 3's `use_ema` options.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ema {
    /// `ema_momentum`, in [0, 1].
    pub momentum: f32,
    /// `ema_overwrite_frequency`: every that many steps the variables are set to their averages.
    pub overwrite_frequency: Option<u64>,
}

impl Stages {
    /// Whether any Keras 3 stage is on (then the step runs the Keras 3 order).
    pub fn any(&self) -> bool {
        *self != Stages::default()
    }

    /// Keras 3's checks, and finiteness (an accepted state must be saveable).
    pub fn check(&self) -> Result<()> {
        let bad = |name: &str, v: f64, reason: String| Err(Error::InvalidHyperparameter { name: name.into(), value: v, reason });
        for (name, v) in [("loss_scale_factor", self.loss_scale_factor), ("weight_decay", self.weight_decay)] {
            if let Some(v) = v.filter(|v| !v.is_finite()) {
                return bad(name, v as f64, format!("`{name}` must be a finite number, got {v}"));
            }
        }
        if self.loss_scale_factor == Some(0.0) {
            return bad("loss_scale_factor", 0.0, "`loss_scale_factor` must not be 0".into());
        }
        if let Some(n) = self.gradient_accumulation_steps.filter(|&n| n < 2) {
            return bad(
                "gradient_accumulation_steps",
                n as f64,
                format!("`gradient_accumulation_steps` must be an integer >= 2. Received: gradient_accumulation_steps={n}"),
            );
        }
        if let Some(e) = self.ema {
            if !(0.0..=1.0).contains(&e.momentum) {
                return bad(
                    "ema_momentum",
                    e.momentum as f64,
                    format!("`ema_momentum` must be in the range [0, 1]. Received: ema_momentum={}", py_float(e.momentum)),
                );
            }
            if e.overwrite_frequency == Some(0) {
                return bad(
                    "ema_overwrite_frequency",
                    0.0,
                    "`ema_overwrite_frequency` must be an integer >= 1 or None. Received: ema_overwrite_frequency=0".into(),
                );
            }
        }
        Ok(())
    }
}

impl Optimizer {
    /// Applies one step of gradients, as Keras' `apply_gradients`. `None` gradients are skipped;
    /// an empty list does nothing (not even the increment). On error nothing changes.
    pub fn apply_gradients(&mut self, store: &mut Store, pairs: &[(Option<Gradient<'_>>, TensorId)]) -> Result<()> {
        self.apply(store, pairs, None).map(|_| ())
    }

    /// [`Optimizer::apply_gradients`] that first checks every gradient for NaN and ±Inf (one read
    /// pass, after validation). If any is not finite, the step is skipped: no slot, variable or
    /// `iterations` changes, `Ok(false)` is returned and `non_finite` holds the positions in
    /// `pairs` of the offending gradients. Otherwise the step is applied as by `apply_gradients`
    /// and `Ok(true)` is returned (`non_finite` empty). Errors as `apply_gradients`.
    pub fn apply_gradients_checked(
        &mut self,
        store: &mut Store,
        pairs: &[(Option<Gradient<'_>>, TensorId)],
        non_finite: &mut Vec<usize>,
    ) -> Result<bool> {
        non_finite.clear(); // also for an empty list, which `apply` returns early on
        self.apply(store, pairs, Some(non_finite))
    }

    /// The stages, in order.
    fn apply(&mut self, store: &mut Store, pairs: &[(Option<Gradient<'_>>, TensorId)], guard: Option<&mut Vec<usize>>) -> Result<bool> {
        if self.is_external() {
            return Err(Error::InvalidState {
                message: format!("{} updates outside the core: use prepare_external and complete_external_step", self.name()),
            });
        }
        if pairs.is_empty() {
            return Ok(true);
        }
        if !validate::check_step(self, store, pairs, guard)? {
            return Ok(false);
        }
        let new_vars = validate::new_variables(self, pairs);
        self.create_slots(store, &new_vars)?;
        if self.stages.any() || self.keras3_order {
            self.apply_keras3(store, pairs);
        } else {
            // TF 2.4: clip → update (the aggregator and transformers ran in the facade).
            clip::compute_preludes(self, store, pairs);
            self.prepare_rule();
            update::run(self, store, pairs, update::Fusion::Tf24);
        }
        count::advance(self);
        Ok(true)
    }

    /// Keras 3: unscale → accumulate → clip → weight decay → update → EMA → constraints.
    fn apply_keras3(&mut self, store: &mut Store, pairs: &[(Option<Gradient<'_>>, TensorId)]) {
        self.scratch.averaged.clear(); // the update marks the averages it fuses
        if accumulate::is_update_step(self) {
            accumulate::densify_sparse(self, store, pairs);
            clip::compute_keras3_preludes(self, store, pairs);
            self.prepare_rule();
            update::run(self, store, pairs, update::Fusion::Keras3);
        } else {
            accumulate::add(self, store, pairs);
        }
        ema::run(self, store);
        constraints::run(self, store, pairs);
    }

    /// The rule's per-step scalars (may advance its optimizer-wide weights).
    fn prepare_rule(&mut self) {
        let ctx = StepContext { iteration: count::update_iterations(self), lr: self.current_lr(), decay: self.decay };
        self.rule.prepare(&ctx, &mut self.globals)
    }

    /// The front half of a step, for optimizers whose update runs outside the core (custom
    /// optimizers written in JavaScript): validates `pairs` as [`Optimizer::apply_gradients`]
    /// does, checks for non-finite values when `guard` is given, and returns the clipping
    /// prelude of each non-None gradient, in order. Nothing changes: no slot, no variable, no
    /// `iterations`. `Ok(None)` when the guard found non-finite gradients (their positions are
    /// in `guard`); an empty list gives no preludes.
    pub fn prepare_external(
        &mut self,
        store: &Store,
        pairs: &[(Option<Gradient<'_>>, TensorId)],
        guard: Option<&mut Vec<usize>>,
    ) -> Result<Option<Vec<clip::Clip>>> {
        if pairs.is_empty() {
            return Ok(Some(Vec::new()));
        }
        if !validate::check_step(self, store, pairs, guard)? {
            return Ok(None);
        }
        clip::compute_preludes(self, store, pairs);
        Ok(Some(self.scratch.preludes.clone()))
    }
}
