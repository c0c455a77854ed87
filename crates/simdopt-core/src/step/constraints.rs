//! Stage "constraints" (Keras 3): after the update and the moving averages, each updated
//! variable may be projected by its constraint. Constraints are user functions, so the stage is
//! a hook: the facade applies JavaScript constraints after the step returns (nothing in the
//! core reads the variables after this point), and Rust callers can set one here.

use crate::optimizer::{Gradient, Optimizer};
use crate::store::{Store, TensorId};

/// A constraint: rewrites a variable's values in place.
pub type Constraint = Box<dyn FnMut(TensorId, &mut [f32]) + Send>;

/// Applies the constraint to the step's variables that had a gradient.
pub(crate) fn run(opt: &mut Optimizer, store: &mut Store, pairs: &[(Option<Gradient<'_>>, TensorId)]) {
    let Some(c) = opt.constraint.as_mut() else { return };
    for &(_, id) in pairs.iter().filter(|(g, _)| g.is_some()) {
        if let Ok(t) = store.get_mut(id) {
            c(id, &mut t.data);
        }
    }
}
