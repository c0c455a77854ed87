//! Stage "count": `iterations += 1`, last. With gradient accumulation (Keras 3) the count is
//! of calls (`_iterations`); the rule's step number, its bias corrections and the moving
//! averages use `_iterations // N`.

use crate::optimizer::Optimizer;

pub(crate) fn advance(opt: &mut Optimizer) {
    opt.iterations += 1;
}

/// Keras 3's `iterations`: calls divided by the accumulation steps (the calls without it).
pub(crate) fn update_iterations(opt: &Optimizer) -> u64 {
    match opt.stages.gradient_accumulation_steps {
        Some(n) => opt.iterations / n as u64,
        None => opt.iterations,
    }
}
