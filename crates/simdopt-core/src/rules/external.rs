//! The external rule: an optimizer whose update runs outside the core (a custom optimizer
//! written in TypeScript) keeps its state here like a built-in. Its slots are declared at run
//! time, one `(variable, slot)` at a time as Keras' `add_slot` does, plus optimizer-wide weights
//! of any shape (`add_weight`); see [`crate::external`]. The core validates and clips its
//! gradients ([`crate::Optimizer::prepare_external`]) and counts its steps; the update itself
//! runs in the caller on views of the variables and slots, so this rule's kernels are never
//! called ([`crate::Optimizer::apply_gradients`] refuses an external optimizer).

use super::{DenseStep, Hyper, Options, SlotSpec, SparseStep, StepContext, UpdateRule};
use crate::error::{Error, Result};
use crate::step::DensePrelude;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct External;

impl UpdateRule for External {
    const CLASS_NAME: &'static str = "External";
    const CONFIG: &'static [Hyper] = &[];
    type Coeffs = ();

    fn from_options(_o: &mut Options<'_>) -> Result<Self> {
        Ok(External)
    }

    /// None declared up front: [`crate::Optimizer::add_slot`] declares them.
    fn slots(&self) -> Vec<SlotSpec> {
        Vec::new()
    }

    fn hyper_names(&self) -> &'static [&'static str] {
        &[]
    }

    fn hyper(&self, _name: &str) -> Option<f32> {
        None
    }

    fn set_hyper(&mut self, name: &str, _value: f32) -> Result<()> {
        Err(Error::UnknownHyperparameter { name: name.into() })
    }

    fn prepare(&self, _ctx: &StepContext, _globals: &mut [f32]) {}

    fn apply_dense<P: DensePrelude>(&self, _c: &(), _step: DenseStep<'_, P>) {
        unreachable!("an external optimizer's update runs outside the core")
    }

    fn apply_sparse(&self, _c: &(), _step: SparseStep<'_>) {
        unreachable!("an external optimizer's update runs outside the core")
    }
}
