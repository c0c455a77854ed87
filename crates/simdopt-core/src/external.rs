//! The core side of optimizers whose update runs outside the core (custom optimizers written
//! in TypeScript, [`crate::rules::external::External`]): their slots and weights live here like
//! a built-in's, so checkpoints, `getWeights`/`setWeights` and the step frame are one engine.
//!
//! One step: [`Optimizer::prepare_external`] (validation, non-finite guard, clipping preludes;
//! changes nothing), then the caller creates missing slots with [`Optimizer::add_slot`], updates
//! the variables and slots through their views, and calls [`Optimizer::complete_external_step`].

use crate::error::{Error, Result};
use crate::optimizer::{ExtraWeight, Optimizer, VarSlots, WeightRef};
use crate::rules::external::External;
use crate::rules::{SlotSpec, UpdateRule};
use crate::slot::{filled, Slot, SlotData};
use crate::store::{element_count, Store, TensorId};

impl Optimizer {
    /// An optimizer with the external rule: `learning_rate`, `decay` and clipping as every
    /// optimizer has, no slot yet.
    pub fn external(name: impl Into<String>, learning_rate: f32) -> Result<Self> {
        Ok(Optimizer::new(External, learning_rate)?.with_name(name))
    }

    /// Whether the update of this optimizer runs outside the core.
    pub fn is_external(&self) -> bool {
        self.class_name() == External::CLASS_NAME
    }

    pub(crate) fn require_external(&self, what: &str) -> Result<()> {
        if self.is_external() {
            Ok(())
        } else {
            Err(Error::InvalidState { message: format!("{what} is for external optimizers; {} keeps its own slots", self.class_name()) })
        }
    }

    /// Keras' `add_slot(var, name, initializer)`: creates slot `name` of `var` (the variable's
    /// shape, filled with `init`) unless it exists, and appends it to the weights. Returns the
    /// slot's values. A slot name seen for the first time joins the slot names.
    pub fn add_slot(&mut self, store: &Store, var: TensorId, name: &str, init: f32) -> Result<&mut [f32]> {
        self.require_external("add_slot")?;
        let t = store.get(var)?;
        if name.is_empty() {
            return Err(Error::InvalidState { message: "a slot name must not be empty".into() });
        }
        let slot = match self.slot_specs.iter().position(|s| s.name == name) {
            Some(i) => i,
            None => {
                self.slot_specs.push(SlotSpec { name: name.to_string().into(), ..SlotSpec::like_var("", init) });
                self.slot_specs.len() - 1
            }
        };
        let state = match self.vars.get(&var) {
            Some(&s) => s,
            None => {
                let v = VarSlots { var, var_name: t.name.clone(), len: t.data.len(), slots: Vec::new(), average: None, accumulator: None };
                self.vars.insert(var, self.states.len());
                self.states.push(v);
                self.batches.push(1);
                self.states.len() - 1
            }
        };
        let spec = SlotSpec { init, ..self.slot_specs[slot].clone() };
        let slots = &mut self.states[state].slots;
        if slots.len() <= slot {
            slots.resize_with(slot + 1, Slot::absent);
        }
        if slots[slot].data == SlotData::Absent {
            slots[slot] = Slot::new(&spec, &t.shape)?;
            self.weights.push(WeightRef::Slot { var: state, slot });
        }
        Ok(self.states[state].slots[slot].f32_mut().expect("external slots are f32"))
    }

    /// Keras' `add_weight(name, shape, initializer)`: an optimizer-wide weight of any shape,
    /// appended to the weights. A name can be used once.
    pub fn add_weight(&mut self, name: &str, shape: &[usize], init: f32) -> Result<&mut [f32]> {
        self.require_external("add_weight")?;
        if name.is_empty() || self.extras.iter().any(|w| w.name == name) {
            return Err(Error::InvalidState {
                message: format!("{} already has a weight named '{name}' (or the name is empty)", self.name()),
            });
        }
        let n = element_count(shape).ok_or_else(|| Error::ShapeMismatch {
            what: format!("weight '{name}'"),
            expected: shape.to_vec(),
            got: vec![],
        })?;
        self.extras.push(ExtraWeight { name: name.to_string(), shape: shape.to_vec(), values: filled(n, init)? });
        self.weights.push(WeightRef::Extra(self.extras.len() - 1));
        Ok(&mut self.extras.last_mut().expect("pushed").values)
    }

    /// The shape of an optimizer-wide weight made by [`Optimizer::add_weight`].
    pub fn extra_weight_shape(&self, name: &str) -> Option<&[usize]> {
        self.extras.iter().find(|w| w.name == name).map(|w| w.shape.as_slice())
    }

    /// Ends a step whose update ran outside the core: the moving averages (Keras 3's `use_ema`,
    /// [`crate::step::ema`]: after the update, over every variable), then `iterations += 1`.
    pub fn complete_external_step(&mut self, store: &mut Store) -> Result<()> {
        self.require_external("complete_external_step")?;
        if self.iterations == u64::MAX {
            return Err(Error::InvalidState { message: format!("iterations is {}, the largest count", u64::MAX) });
        }
        crate::step::ema::run(self, store);
        self.iterations += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::{Gradient, Optimizer, Store, Tensor};

    #[test]
    fn slots_and_weights_in_creation_order_with_views() {
        let mut store = Store::new();
        let a = store.insert(Tensor::new("a", vec![2], vec![1.0, 2.0]).unwrap());
        let b = store.insert(Tensor::new("b", vec![3], vec![0.0; 3]).unwrap());
        let mut o = Optimizer::external("Custom", 0.1).unwrap();
        o.add_slot(&store, a, "m", 0.0).unwrap()[1] = 5.0;
        o.add_weight("steps", &[2], 1.0).unwrap();
        o.add_slot(&store, b, "m", 0.5).unwrap();
        o.add_slot(&store, a, "v", 0.0).unwrap();
        // Again: no new weight, same values.
        assert_eq!(o.add_slot(&store, a, "m", 9.0).unwrap(), &[0.0, 5.0]);
        assert_eq!(o.weight_names(), ["Custom/iter:0", "Custom/a/m:0", "Custom/steps:0", "Custom/b/m:0", "Custom/a/v:0"]);
        assert_eq!(o.slot_names(), ["m", "v"]);
        assert_eq!(o.slot(b, "m").unwrap(), &[0.5; 3]);
        assert!(o.slot(b, "v").is_err(), "b has no v");
        assert_eq!(o.weight(2).unwrap(), &[1.0, 1.0]);
        assert_eq!(o.extra_weight_shape("steps"), Some(&[2usize][..]));
        // set_weights writes every weight in order.
        o.set_weights(7, &[&[1.0, 2.0], &[3.0, 4.0], &[5.0, 6.0, 7.0], &[8.0, 9.0]]).unwrap();
        assert_eq!((o.iterations(), o.slot(a, "v").unwrap()), (7, &[8.0f32, 9.0][..]));
        // The core validates and clips; it never runs an external update itself.
        let pairs = [(Some(Gradient::Dense(&[3.0, 4.0])), a)];
        assert!(o.apply_gradients(&mut store, &pairs).is_err());
        o.set_clipping(crate::Clipping { clipnorm: Some(1.0), ..Default::default() }).unwrap();
        let pre = o.prepare_external(&store, &pairs, None).unwrap().unwrap();
        assert_eq!(pre[0].div, 5.0);
        o.complete_external_step(&mut store).unwrap();
        assert_eq!(o.iterations(), 8);
        // Built-ins keep their own slots.
        let mut adam = crate::build_optimizer("Adam", &[]).unwrap();
        assert!(adam.add_slot(&store, a, "m", 0.0).is_err());
        assert!(adam.complete_external_step(&mut store).is_err());
    }
}
