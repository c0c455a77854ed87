//! Stage "drop null gradients", with the checks every step makes before it changes anything:
//! a bad call (unknown or repeated variable, wrong gradient size, index out of range) is an
//! error that changes nothing, and with the non-finite guard a NaN or ±Inf skips the step.

use super::super::optimizer::{FastSet, Gradient, Optimizer};
use crate::error::{Error, Result};
use crate::store::{Store, TensorId};

/// The variables of `pairs` that get their slots in this step: those with a gradient (TF 2.4),
/// or every one (Keras 3, whose moving averages cover variables without a gradient too).
pub(crate) fn new_variables(opt: &Optimizer, pairs: &[(Option<Gradient<'_>>, TensorId)]) -> Vec<TensorId> {
    let all = opt.stages.any() || opt.keras3_order;
    pairs.iter().filter(|(g, v)| (all || g.is_some()) && !opt.vars.contains_key(v)).map(|(_, v)| *v).collect()
}

/// The checks every step makes before it changes anything: at least one gradient, a valid
/// call (`validate`), and, with `guard`, no NaN or ±Inf (their positions go into `guard`;
/// then `Ok(false)`).
pub(crate) fn check_step(
    opt: &Optimizer,
    store: &Store,
    pairs: &[(Option<Gradient<'_>>, TensorId)],
    guard: Option<&mut Vec<usize>>,
) -> Result<bool> {
    check_call(opt, store, pairs, false)?;
    let Some(out) = guard else { return Ok(true) };
    non_finite(store, pairs, out)?;
    Ok(out.is_empty())
}

/// [`check_step`] without the guard. `streamed`: the step has gradients that are not in `pairs`
/// (streamed ones, whose pairs stand there with no gradient; see [`super::stream`]).
pub(crate) fn check_call(opt: &Optimizer, store: &Store, pairs: &[(Option<Gradient<'_>>, TensorId)], streamed: bool) -> Result<()> {
    if !streamed && pairs.iter().all(|(g, _)| g.is_none()) {
        let names: Vec<String> = pairs.iter().map(|(_, v)| store.get(*v).map(|t| t.name.clone()).unwrap_or_default()).collect();
        return Err(Error::InvalidState { message: format!("No gradients provided for any variable: {names:?}.") });
    }
    if opt.iterations == u64::MAX {
        return Err(Error::InvalidState {
            message: format!("iterations is {}, the largest count: no further step can be counted", u64::MAX),
        });
    }
    validate(store, pairs)
}

/// The non-finite guard: the positions in `pairs` of the gradients with a NaN or ±Inf, into
/// `out` (cleared first).
pub(crate) fn non_finite(store: &Store, pairs: &[(Option<Gradient<'_>>, TensorId)], out: &mut Vec<usize>) -> Result<()> {
    out.clear();
    for (i, (g, _)) in pairs.iter().enumerate() {
        let finite = match g {
            None => true,
            Some(g) => all_finite(g.values(store)?),
        };
        if !finite {
            out.push(i);
        }
    }
    Ok(())
}

fn validate(store: &Store, pairs: &[(Option<Gradient<'_>>, TensorId)]) -> Result<()> {
    // Duplicates: pairwise for short lists, a set for long ones (pairwise, 1000 variables
    // would be 500 000 comparisons per step).
    let long = pairs.len() > 16;
    let mut seen = FastSet::with_capacity_and_hasher(if long { pairs.len() } else { 0 }, Default::default());
    for (i, (g, var_id)) in pairs.iter().enumerate() {
        let var = store.get(*var_id)?;
        let duplicate = if long { !seen.insert(*var_id) } else { pairs[..i].iter().any(|(_, v)| v == var_id) };
        if duplicate {
            return Err(Error::DuplicateVariable { variable: var.name.clone() });
        }
        let Some(g) = g else { continue };
        let n = var.data.len();
        match *g {
            Gradient::Dense(values) => check_len(&var.name, n, values.len())?,
            Gradient::Tensor(id) => {
                let t = store.get(id)?;
                if id == *var_id {
                    return Err(Error::InvalidState { message: format!("the gradient of variable '{}' is the variable itself", var.name) });
                }
                check_len(&var.name, n, t.data.len())?
            }
            Gradient::Sparse { indices, .. } | Gradient::SparseTensor { indices, .. } => {
                let rows = var.rows().ok_or_else(|| Error::SparseScalar { variable: var.name.clone() })?;
                if g.tensor() == Some(*var_id) {
                    return Err(Error::InvalidState {
                        message: format!("the IndexedSlices values of variable '{}' are the variable itself", var.name),
                    });
                }
                let row_len = row_len(&var.shape);
                // Saturating: on wasm32 the product of a long index list and a long row can
                // wrap around to a small number (and would pass the check).
                check_len(&var.name, indices.len().saturating_mul(row_len), g.values(store)?.len())?;
                if let Some((offset, &index)) = indices.iter().enumerate().find(|(_, &ix)| ix < 0 || ix as u64 >= rows as u64) {
                    return Err(Error::IndexOutOfRange { variable: var.name.clone(), index, offset, rows });
                }
            }
        }
    }
    Ok(())
}

/// Whether every value is finite. One read pass without early exit: the largest exponent field
/// seen is all ones only for NaN and ±Inf, and a running maximum vectorises.
pub fn all_finite(values: &[f32]) -> bool {
    let mut max_exponent = 0u32;
    for &x in values {
        max_exponent = max_exponent.max(x.to_bits() & 0x7f80_0000);
    }
    max_exponent != 0x7f80_0000
}

/// Elements per row of a shape (saturating: with 0 rows the rest of the shape may overflow).
pub(crate) fn row_len(shape: &[usize]) -> usize {
    shape[1..].iter().fold(1usize, |n, &d| n.saturating_mul(d))
}

fn check_len(name: &str, expected: usize, got: usize) -> Result<()> {
    if expected == got {
        Ok(())
    } else {
        Err(Error::GradientShape { variable: name.into(), expected, got })
    }
}
