//! Object-safe access to an [`Optimizer`] of any rule, for callers that choose the optimizer at
//! run time (the wasm binding, configs).

use crate::clip::{Clip, Clipping};
use crate::error::Result;
use crate::optimizer::{Gradient, Optimizer};
use crate::rules::UpdateRule;
use crate::store::{Store, TensorId};

/// Everything the bindings need from an optimizer, without its rule type.
pub trait DynOptimizer: Send {
    fn class_name(&self) -> &'static str;
    fn name(&self) -> &str;
    fn set_name(&mut self, name: &str);
    fn iterations(&self) -> u64;
    fn set_iterations(&mut self, it: u64);
    fn hyper_names(&self) -> Vec<&'static str>;
    fn hyper(&self, name: &str) -> Result<f32>;
    fn set_hyper(&mut self, name: &str, value: f32) -> Result<()>;
    fn clipping(&self) -> Clipping;
    fn set_clipping(&mut self, c: Clipping) -> Result<()>;
    fn apply_gradients(&mut self, store: &mut Store, pairs: &[(Option<Gradient<'_>>, TensorId)]) -> Result<()>;
    fn apply_gradients_checked(
        &mut self,
        store: &mut Store,
        pairs: &[(Option<Gradient<'_>>, TensorId)],
        non_finite: &mut Vec<usize>,
    ) -> Result<bool>;
    /// See [`Optimizer::prepare_external`].
    fn prepare_external(
        &mut self,
        store: &Store,
        pairs: &[(Option<Gradient<'_>>, TensorId)],
        guard: Option<&mut Vec<usize>>,
    ) -> Result<Option<Vec<Clip>>>;
    /// The learning rate of the next step (schedule value set, legacy decay applied).
    fn current_lr(&self) -> f32;
    fn create_slots_for(&mut self, store: &Store, vars: &[TensorId]) -> Result<()>;
    fn slot_batches(&self) -> &[usize];
    fn slot_variables(&self) -> Vec<(TensorId, String, usize)>;
    fn weight_count(&self) -> usize;
    fn weight_names(&self) -> Vec<String>;
    fn weight(&self, i: usize) -> Option<&[f32]>;
    fn set_weights(&mut self, iterations: u64, rest: &[&[f32]]) -> Result<()>;
    fn slot_names(&self) -> Vec<&str>;
    fn slot(&self, var: TensorId, name: &str) -> Result<&[f32]>;
    fn slot_mut(&mut self, var: TensorId, name: &str) -> Result<&mut [f32]>;
}

impl<R: UpdateRule> DynOptimizer for Optimizer<R> {
    fn class_name(&self) -> &'static str {
        R::CLASS_NAME
    }
    fn name(&self) -> &str {
        Optimizer::name(self)
    }
    fn set_name(&mut self, name: &str) {
        Optimizer::set_name(self, name)
    }
    fn iterations(&self) -> u64 {
        Optimizer::iterations(self)
    }
    fn set_iterations(&mut self, it: u64) {
        Optimizer::set_iterations(self, it)
    }
    fn hyper_names(&self) -> Vec<&'static str> {
        Optimizer::hyper_names(self)
    }
    fn hyper(&self, name: &str) -> Result<f32> {
        Optimizer::hyper(self, name)
    }
    fn set_hyper(&mut self, name: &str, value: f32) -> Result<()> {
        Optimizer::set_hyper(self, name, value)
    }
    fn clipping(&self) -> Clipping {
        Optimizer::clipping(self)
    }
    fn set_clipping(&mut self, c: Clipping) -> Result<()> {
        Optimizer::set_clipping(self, c)
    }
    fn apply_gradients(&mut self, store: &mut Store, pairs: &[(Option<Gradient<'_>>, TensorId)]) -> Result<()> {
        Optimizer::apply_gradients(self, store, pairs)
    }
    fn apply_gradients_checked(
        &mut self,
        store: &mut Store,
        pairs: &[(Option<Gradient<'_>>, TensorId)],
        non_finite: &mut Vec<usize>,
    ) -> Result<bool> {
        Optimizer::apply_gradients_checked(self, store, pairs, non_finite)
    }
    fn prepare_external(
        &mut self,
        store: &Store,
        pairs: &[(Option<Gradient<'_>>, TensorId)],
        guard: Option<&mut Vec<usize>>,
    ) -> Result<Option<Vec<Clip>>> {
        Optimizer::prepare_external(self, store, pairs, guard)
    }
    fn current_lr(&self) -> f32 {
        Optimizer::current_lr(self)
    }
    fn create_slots_for(&mut self, store: &Store, vars: &[TensorId]) -> Result<()> {
        Optimizer::create_slots_for(self, store, vars)
    }
    fn slot_batches(&self) -> &[usize] {
        Optimizer::slot_batches(self)
    }
    fn slot_variables(&self) -> Vec<(TensorId, String, usize)> {
        Optimizer::slot_variables(self).map(|(id, name, len)| (id, name.to_string(), len)).collect()
    }
    fn weight_count(&self) -> usize {
        Optimizer::weight_count(self)
    }
    fn weight_names(&self) -> Vec<String> {
        Optimizer::weight_names(self)
    }
    fn weight(&self, i: usize) -> Option<&[f32]> {
        Optimizer::weight(self, i)
    }
    fn set_weights(&mut self, iterations: u64, rest: &[&[f32]]) -> Result<()> {
        Optimizer::set_weights(self, iterations, rest)
    }
    fn slot_names(&self) -> Vec<&str> {
        Optimizer::slot_names(self)
    }
    fn slot(&self, var: TensorId, name: &str) -> Result<&[f32]> {
        Optimizer::slot(self, var, name)
    }
    fn slot_mut(&mut self, var: TensorId, name: &str) -> Result<&mut [f32]> {
        Optimizer::slot_mut(self, var, name)
    }
}

/// A boxed optimizer of any rule.
pub type AnyOptimizer = Box<dyn DynOptimizer>;

/// Constructor options by Keras name (`learning_rate`, `beta_1`, `amsgrad` as 0/1, ...).
/// Rules take the keys they know; a key nobody takes is an error.
pub struct Options<'a> {
    pairs: Vec<(&'a str, f32, bool)>,
}

impl<'a> Options<'a> {
    pub fn new(pairs: &[(&'a str, f32)]) -> Self {
        Options { pairs: pairs.iter().map(|&(k, v)| (k, v, false)).collect() }
    }

    /// Takes a numeric option, or `default`.
    pub fn take(&mut self, key: &str, default: f32) -> f32 {
        self.take_opt(key).unwrap_or(default)
    }

    pub fn take_opt(&mut self, key: &str) -> Option<f32> {
        let p = self.pairs.iter_mut().find(|p| p.0 == key)?;
        p.2 = true;
        Some(p.1)
    }

    /// Takes a boolean option (any non-zero value is true).
    pub fn take_flag(&mut self, key: &str, default: bool) -> bool {
        self.take_opt(key).map_or(default, |v| v != 0.0)
    }

    fn finish(&self) -> Result<()> {
        match self.pairs.iter().find(|p| !p.2) {
            Some(p) => Err(crate::Error::UnknownHyperparameter { name: p.0.to_string() }),
            None => Ok(()),
        }
    }
}

/// Builds an optimizer from its Keras class name and options, as Keras' `from_config` would.
///
/// Nadam: `decay` is its `schedule_decay` (default 0.004; `schedule_decay` is accepted too and
/// wins). Unlike TF 2.4, whose `from_config` overwrites a config's `decay` with the default, a
/// given `decay` is kept, so a config survives the round trip.
pub fn build_optimizer(class_name: &str, options: &[(&str, f32)]) -> Result<AnyOptimizer> {
    use crate::rules::*;
    let mut o = Options::new(options);
    let opt: AnyOptimizer = match class_name {
        "SGD" => build::<Sgd>(&mut o, 0.01, 0.0)?,
        "RMSprop" => build::<RmsProp>(&mut o, 0.001, 0.0)?,
        "Adam" => build::<Adam>(&mut o, 0.001, 0.0)?,
        "Adagrad" => build::<Adagrad>(&mut o, 0.001, 0.0)?,
        "Adadelta" => build::<Adadelta>(&mut o, 0.001, 0.0)?,
        "Adamax" => build::<Adamax>(&mut o, 0.001, 0.0)?,
        "Nadam" => {
            let schedule_decay = o.take_opt("schedule_decay");
            let mut opt = build::<Nadam>(&mut o, 0.001, nadam::DEFAULT_SCHEDULE_DECAY)?;
            if let Some(d) = schedule_decay {
                opt.set_hyper("decay", d)?;
            }
            opt
        }
        "Ftrl" => build::<Ftrl>(&mut o, 0.001, 0.0)?,
        _ => {
            return Err(crate::Error::InvalidState { message: format!("Unknown optimizer: {class_name}") });
        }
    };
    Ok(opt)
}

fn build<R: UpdateRule>(o: &mut Options<'_>, default_lr: f32, default_decay: f32) -> Result<AnyOptimizer> {
    let rule = R::from_options(o)?;
    let mut opt = Optimizer::new(rule, o.take("learning_rate", default_lr))?;
    opt.set_hyper("decay", o.take("decay", default_decay))?;
    opt.set_clipping(Clipping {
        clipvalue: o.take_opt("clipvalue"),
        clipnorm: o.take_opt("clipnorm"),
        global_clipnorm: o.take_opt("global_clipnorm"),
    })?;
    o.finish()?;
    Ok(Box::new(opt))
}
