//! Stage "constraints" (Keras 3): after the update and the moving averages, each updated
//! variable may be projected by its constraint. Constraints are user functions, so the stage is
//! a hook: the facade applies JavaScript constraints after the step returns (nothing in the
//! core reads the variables after this point), and Rust callers can set one here.

use crate::optimizer::Optimizer;
use crate::store::{Store, TensorId};

/// A constraint: rewrites a variable's values in place.
pub type Constraint = Box<dyn FnMut(TensorId, &mut [f32]) + Send>;

pub(crate) fn run(opt: &mut Optimizer, store: &mut Store, updated: &[TensorId]) {
    let Some(c) = opt.constraint.as_mut() else { return };
    for &id in updated {
        if let Ok(t) = store.get_mut(id) {
            c(id, &mut t.data);
        }
    }
}
