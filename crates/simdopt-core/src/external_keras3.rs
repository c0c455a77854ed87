//! The Keras 3 order of stages for optimizers whose update runs outside the core (custom Keras 3
//! optimizers written in TypeScript: `build` / `updateStep`). Their state lives here like a
//! built-in's (EMA averages and gradient accumulators from [`Optimizer::create_slots_for`], the
//! slots and weights their `build` adds with [`Optimizer::add_slot`] / [`Optimizer::add_weight`]).
//!
//! One step: [`Optimizer::prepare_external_keras3`] runs the stages before the update (validate,
//! guard, unscale, accumulate, clip, weight decay) and leaves each gradient as the update sees
//! it in [`Optimizer::external_gradient`]; the caller runs `updateStep` per variable, then
//! [`Optimizer::complete_external_step`] runs EMA and counts. The gradients are materialized (a
//! sparse one densified, repeats summed in order of occurrence), since JavaScript reads them,
//! with the same f32 operations in the same order as the fused built-in path.

use crate::error::{Error, Result};
use crate::optimizer::{Gradient, Optimizer};
use crate::registry::{build_keras3, Options};
use crate::rules::external::External;
use crate::step::validate::{check_step, row_len};
use crate::step::{accumulate, clip, weight_decay};
use crate::store::{Store, TensorId};

/// What [`Optimizer::prepare_external_keras3`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExternalStep {
    /// The gradients are ready in [`Optimizer::external_gradient`]; weight decay was applied.
    Update,
    /// A gradient-accumulation micro-step: the gradients were added to the accumulators and no
    /// update runs (then [`Optimizer::complete_external_step`]).
    Accumulated,
    /// The non-finite guard found NaN or ±Inf: nothing changed.
    NonFinite,
    /// Some variable of the call has no state yet: build the optimizer on it first (nothing
    /// changed).
    NotBuilt,
}

impl Optimizer {
    /// An external optimizer with Keras 3's base options (`learning_rate`, the clip options,
    /// `weight_decay`, `use_ema`, `ema_momentum`, `ema_overwrite_frequency`,
    /// `loss_scale_factor`, `gradient_accumulation_steps`; `decay` ignored), Keras 3's checks,
    /// and the Keras 3 order of stages.
    pub fn external_keras3(name: impl Into<String>, options: &[(&str, f32)]) -> Result<Self> {
        let mut o = Options::new(options);
        Ok(build_keras3::<External>(&mut o)?.with_name(name))
    }

    /// The stages before the update of a Keras 3 external step (see the module docs). On an
    /// error, [`ExternalStep::NonFinite`] or [`ExternalStep::NotBuilt`] nothing changes.
    pub fn prepare_external_keras3(
        &mut self,
        store: &mut Store,
        pairs: &[(Option<Gradient<'_>>, TensorId)],
        guard: Option<&mut Vec<usize>>,
    ) -> Result<ExternalStep> {
        self.require_external("prepare_external_keras3")?;
        if !self.keras3_order {
            return Err(Error::InvalidState { message: format!("{} runs TF 2.4's order of stages: use prepare_external", self.name()) });
        }
        if !check_step(self, store, pairs, guard)? {
            return Ok(ExternalStep::NonFinite);
        }
        if pairs.iter().any(|(_, v)| !self.vars.contains_key(v)) {
            return Ok(ExternalStep::NotBuilt);
        }
        if !accumulate::is_update_step(self) {
            accumulate::add(self, store, pairs);
            return Ok(ExternalStep::Accumulated);
        }
        let n_grads = pairs.iter().filter(|(g, _)| g.is_some()).count();
        let mut grads = core::mem::take(&mut self.scratch.external);
        grads.resize_with(n_grads, Vec::new);
        for ((g, var), out) in pairs.iter().filter_map(|(g, v)| g.as_ref().map(|g| (g, v))).zip(grads.iter_mut()) {
            self.materialize(store, *g, *var, out);
        }
        let mut preludes = core::mem::take(&mut self.scratch.preludes);
        clip::keras3_preludes_of(self.clipping, &grads, &mut preludes);
        for (g, pre) in grads.iter_mut().zip(&preludes) {
            if !pre.is_identity() {
                pre.apply_slice(g);
            }
        }
        self.scratch.preludes = preludes;
        self.scratch.external = grads;
        let lr = self.current_lr();
        for (g, var) in pairs {
            if g.is_none() || self.decay_excluded.contains(var) {
                continue;
            }
            let slots = &self.states[self.vars[var]].slots;
            if let Some(wd) = self.rule.weight_decay(self.stages.weight_decay, slots) {
                weight_decay::decay_all(&mut store.get_mut(*var)?.data, wd, lr);
            }
        }
        Ok(ExternalStep::Update)
    }

    /// `out` = the gradient of `var` unscaled (`g / loss_scale_factor`) and, with accumulation,
    /// `(g + acc) / N` (the accumulator then reset), as the fused pass computes it.
    fn materialize(&mut self, store: &Store, g: Gradient<'_>, var: TensorId, out: &mut Vec<f32>) {
        let scale = self.stages.loss_scale_factor;
        let unscale = |x: f32| scale.map_or(x, |s| x / s);
        out.clear();
        match g {
            Gradient::Dense(_) | Gradient::Tensor(_) => out.extend(g.values(store).expect("validated").iter().map(|&x| unscale(x))),
            Gradient::Sparse { .. } | Gradient::SparseTensor { .. } => {
                let (indices, values) = (g.indices().expect("sparse"), g.values(store).expect("validated"));
                let t = store.get(var).expect("validated");
                let w = row_len(&t.shape);
                out.resize(t.data.len(), 0.0);
                // TF's unsorted_segment_sum: 0 + v1 + v2 ... per row, in order of occurrence.
                for (k, &row) in indices.iter().enumerate() {
                    let dst = &mut out[row as usize * w..(row as usize + 1) * w];
                    for (d, &x) in dst.iter_mut().zip(&values[k * w..(k + 1) * w]) {
                        *d = *d + unscale(x);
                    }
                }
            }
        }
        if let Some(n) = self.stages.gradient_accumulation_steps {
            let state = self.vars[&var];
            let acc = self.states[state].accumulator.as_deref_mut().expect("accumulators exist with gradient_accumulation_steps");
            for (x, a) in out.iter_mut().zip(acc.iter_mut()) {
                *x = (*x + *a) / n as f32;
                *a = 0.0;
            }
        }
    }

    /// Gradient `k` (counting the non-None gradients of the step, in order) as the update sees it,
    /// after [`Optimizer::prepare_external_keras3`] returned [`ExternalStep::Update`].
    pub fn external_gradient(&self, k: usize) -> Option<&[f32]> {
        self.scratch.external.get(k).map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{build_optimizer_in, Family, Tensor};

    fn store_with(values: &[f32]) -> (Store, TensorId) {
        let mut store = Store::new();
        let id = store.insert(Tensor::new("dense/kernel", vec![values.len()], values.to_vec()).unwrap());
        (store, id)
    }

    /// A hand-written SGD through the external Keras 3 path gives the built-in Keras 3 SGD's
    /// numbers with every stage on (the update here is the formula, written out).
    #[test]
    fn stages_around_an_external_update_match_the_builtin() {
        let opts: &[(&str, f32)] = &[
            ("learning_rate", 0.1),
            ("weight_decay", 0.05),
            ("clipnorm", 0.9),
            ("use_ema", 1.0),
            ("ema_momentum", 0.8),
            ("loss_scale_factor", 4.0),
            ("gradient_accumulation_steps", 2.0),
        ];
        let init = [0.5f32, -1.25, 2.0];
        let (mut sa, a) = store_with(&init);
        let (mut sb, b) = store_with(&init);
        let mut builtin = build_optimizer_in(Family::Keras3, "SGD", opts).unwrap();
        let mut ext = Optimizer::external_keras3("sgd", opts).unwrap();
        ext.create_slots_for(&sb, &[b]).unwrap();
        assert_eq!(ext.weight_names(), ["sgd/iter:0", "sgd/dense/kernel/average:0", "sgd/dense/kernel/gradient_accumulator:0"]);
        let grads = [[3.0f32, -4.0, 0.5], [1.0, 0.0, -2.0], [0.25, 8.0, 1.0], [-1.0, 1.0, 1.0]];
        for g in &grads {
            builtin.apply_gradients(&mut sa, &[(Some(Gradient::Dense(g)), a)]).unwrap();
            match ext.prepare_external_keras3(&mut sb, &[(Some(Gradient::Dense(g)), b)], None).unwrap() {
                ExternalStep::Update => {
                    let g = ext.external_gradient(0).unwrap().to_vec();
                    let x = &mut sb.get_mut(b).unwrap().data;
                    for (x, g) in x.iter_mut().zip(&g) {
                        *x = *x - *g * 0.1f32;
                    }
                }
                step => assert_eq!(step, ExternalStep::Accumulated),
            }
            ext.complete_external_step(&mut sb).unwrap();
            assert_eq!(sb.get(b).unwrap().data, sa.get(a).unwrap().data);
            assert_eq!(ext.weight(1), builtin.weight(1), "EMA average");
            assert_eq!(ext.iterations(), builtin.iterations());
        }
    }

    #[test]
    fn sparse_gradients_are_densified_and_an_unbuilt_variable_changes_nothing() {
        let mut store = Store::new();
        let e = store.insert(Tensor::new("e", vec![3, 2], vec![1.0; 6]).unwrap());
        let mut ext = Optimizer::external_keras3("custom", &[]).unwrap();
        let g = Gradient::Sparse { indices: &[2, 0, 2], values: &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0] };
        assert_eq!(ext.prepare_external_keras3(&mut store, &[(Some(g), e)], None).unwrap(), ExternalStep::NotBuilt);
        assert_eq!(ext.iterations(), 0);
        ext.create_slots_for(&store, &[e]).unwrap();
        assert_eq!(ext.prepare_external_keras3(&mut store, &[(Some(g), e)], None).unwrap(), ExternalStep::Update);
        assert_eq!(ext.external_gradient(0).unwrap(), &[3.0, 4.0, 0.0, 0.0, 0.0 + 1.0 + 5.0, 0.0 + 2.0 + 6.0]);
        let mut bad = vec![];
        let nan = Gradient::Dense(&[f32::NAN, 0.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(ext.prepare_external_keras3(&mut store, &[(Some(nan), e)], Some(&mut bad)).unwrap(), ExternalStep::NonFinite);
        assert_eq!(bad, [0]);
        // TF 2.4's external optimizers keep their own path.
        let mut tf24 = Optimizer::external("Custom", 0.1).unwrap();
        assert!(tf24.prepare_external_keras3(&mut store, &[(Some(g), e)], None).is_err());
    }
}
