//! Object-safe access to any rule, so that [`crate::Optimizer`] is one type whatever its rule
//! (the registry builds it from a class name): [`DynRule`] is implemented for every
//! [`UpdateRule`], and a step's fused stages cross it as the [`Fused`] enum, which it turns
//! back into the concrete prelude types, so every kernel is still compiled per prelude.

use std::any::Any;

use super::{DenseStep, SlotSpec, SparseStep, StepContext, UpdateRule, VarInfo};
use crate::drive::GradIn;
use crate::error::Result;
use crate::slot::Slot;
use crate::step::clip::{Clip, Identity, Scale};
use crate::step::update::Keras3Prelude;
use crate::step::DensePrelude;

/// The elementwise stages fused into one variable's pass: TF 2.4's three clipping preludes
/// (none, the global-norm scale alone, the whole clip) or the Keras 3 prelude.
#[derive(Clone, Copy)]
pub enum Fused {
    None,
    Scale(Scale),
    Clip(Clip),
    Keras3(Keras3Prelude),
}

/// A rule behind a pointer, with its scalars for the current step.
pub trait DynRule: Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn class_name(&self) -> &'static str;
    fn slot_groups(&self) -> Vec<usize>;
    fn has_slot(&self, slot: usize, var: &VarInfo<'_>) -> bool;
    fn init_slots(&self, var: &[f32], slots: &mut [Slot]);
    fn weight_decay(&self, stage: Option<f32>, slots: &[Slot]) -> Option<f32>;
    fn globals_last(&self) -> bool;
    fn slots(&self) -> Vec<SlotSpec>;
    fn global_weights(&self) -> Vec<SlotSpec>;
    fn uses_lr_decay(&self) -> bool;
    fn hyper_names(&self) -> &'static [&'static str];
    fn hyper(&self, name: &str) -> Option<f32>;
    fn set_hyper(&mut self, name: &str, value: f32) -> Result<()>;
    fn sums_duplicates(&self) -> bool;
    fn global_clip_densifies(&self) -> bool;
    fn sparse_touches_only_rows(&self) -> bool;
    /// Computes this step's scalars (kept for the `apply_*` calls until the next `prepare`).
    fn prepare(&mut self, ctx: &StepContext, globals: &mut [f32]);
    fn apply_dense(&self, pre: Fused, shape: &[usize], var: &mut [f32], grad: GradIn<'_>, slots: &mut [Slot], iteration: u64);
    fn apply_sparse(&self, step: SparseStep<'_>);
}

/// A rule and its prepared scalars.
pub struct Prepared<R: UpdateRule> {
    pub rule: R,
    coeffs: Option<R::Coeffs>,
}

impl<R: UpdateRule> Prepared<R> {
    pub fn new(rule: R) -> Self {
        Prepared { rule, coeffs: None }
    }

    fn coeffs(&self) -> &R::Coeffs {
        self.coeffs.as_ref().expect("prepare runs before the rule's kernels")
    }
}

impl<R: UpdateRule> DynRule for Prepared<R> {
    fn as_any(&self) -> &dyn Any {
        &self.rule
    }
    fn class_name(&self) -> &'static str {
        R::CLASS_NAME
    }
    fn slot_groups(&self) -> Vec<usize> {
        self.rule.slot_groups()
    }
    fn has_slot(&self, slot: usize, var: &VarInfo<'_>) -> bool {
        self.rule.has_slot(slot, var)
    }
    fn init_slots(&self, var: &[f32], slots: &mut [Slot]) {
        self.rule.init_slots(var, slots)
    }
    fn weight_decay(&self, stage: Option<f32>, slots: &[Slot]) -> Option<f32> {
        self.rule.weight_decay(stage, slots)
    }
    fn globals_last(&self) -> bool {
        R::GLOBALS_LAST
    }
    fn slots(&self) -> Vec<SlotSpec> {
        self.rule.slots()
    }
    fn global_weights(&self) -> Vec<SlotSpec> {
        self.rule.global_weights()
    }
    fn uses_lr_decay(&self) -> bool {
        self.rule.uses_lr_decay()
    }
    fn hyper_names(&self) -> &'static [&'static str] {
        self.rule.hyper_names()
    }
    fn hyper(&self, name: &str) -> Option<f32> {
        self.rule.hyper(name)
    }
    fn set_hyper(&mut self, name: &str, value: f32) -> Result<()> {
        self.rule.set_hyper(name, value)
    }
    fn sums_duplicates(&self) -> bool {
        self.rule.sums_duplicates()
    }
    fn global_clip_densifies(&self) -> bool {
        self.rule.global_clip_densifies()
    }
    fn sparse_touches_only_rows(&self) -> bool {
        self.rule.sparse_touches_only_rows()
    }
    fn prepare(&mut self, ctx: &StepContext, globals: &mut [f32]) {
        self.coeffs = Some(self.rule.prepare(ctx, globals));
    }
    fn apply_dense(&self, pre: Fused, shape: &[usize], var: &mut [f32], grad: GradIn<'_>, slots: &mut [Slot], iteration: u64) {
        let c = self.coeffs();
        if R::KERAS3_FAMILY {
            let pre = match pre {
                Fused::None => Identity.as_keras3(),
                Fused::Scale(s) => s.as_keras3(),
                Fused::Clip(c) => c.as_keras3(),
                Fused::Keras3(p) => p,
            };
            return dense(&self.rule, c, DenseStep { pre, shape, var, grad, slots, iteration });
        }
        match pre {
            Fused::None => dense(&self.rule, c, DenseStep { pre: Identity, shape, var, grad, slots, iteration }),
            Fused::Scale(pre) => dense(&self.rule, c, DenseStep { pre, shape, var, grad, slots, iteration }),
            Fused::Clip(pre) => dense(&self.rule, c, DenseStep { pre, shape, var, grad, slots, iteration }),
            Fused::Keras3(pre) => dense(&self.rule, c, DenseStep { pre, shape, var, grad, slots, iteration }),
        }
    }
    fn apply_sparse(&self, step: SparseStep<'_>) {
        self.rule.apply_sparse(self.coeffs(), step)
    }
}

/// A rule's dense pass with one prelude, kept out of line: one small wasm function per rule and
/// prelude (as before the staged core), not one per rule holding every prelude's loops. In one
/// large function V8 compiled the same simd128 loop up to 9% slower (SGD momentum at 64K:
/// benches/README.md, "Before/after the staged core"). The arithmetic is the same either way.
#[inline(never)]
fn dense<R: UpdateRule, P: DensePrelude>(rule: &R, c: &R::Coeffs, step: DenseStep<'_, P>) {
    rule.apply_dense(c, step)
}
