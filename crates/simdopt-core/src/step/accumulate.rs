//! Stage "accumulate" (Keras 3 `gradient_accumulation_steps` = N): the optimizer updates on
//! every N-th call, with `(g + acc) / N`, and the accumulator goes back to zero; on the other
//! calls only `acc += g` happens (no clip, decay or update). On an update step the dense form
//! fuses into the update pass ([`crate::drive::GradIn::Accumulated`]: one extra read and write
//! of the accumulator); a micro-step is one pass over the gradient and the accumulator.
//! Sparse gradients are densified as Keras does (duplicates summed, then added).

use super::validate::row_len;
use super::{unscale, GradPrelude};
use crate::drive::{self, LaneKernel};
use crate::lanes::Lanes;
use crate::optimizer::{Gradient, Optimizer};
use crate::rules::SparseRows;
use crate::store::{Store, TensorId};

/// Whether this call updates the variables: `(_iterations + 1) % N == 0`, or always without
/// accumulation.
pub(crate) fn is_update_step(opt: &Optimizer) -> bool {
    match opt.stages.gradient_accumulation_steps {
        Some(n) => (opt.iterations + 1) % n as u64 == 0,
        None => true,
    }
}

/// A micro-step: `acc += g / loss_scale_factor` for every gradient of the call.
pub(crate) fn add(opt: &mut Optimizer, store: &Store, pairs: &[(Option<Gradient<'_>>, TensorId)]) {
    add_all(opt, store, pairs, false);
}

/// On an update step, sparse gradients become dense here: `acc = (densify(g) + acc) / N`,
/// which the update then reads (and resets) as its gradient.
pub(crate) fn densify_sparse(opt: &mut Optimizer, store: &Store, pairs: &[(Option<Gradient<'_>>, TensorId)]) {
    add_all(opt, store, pairs, true);
}

fn add_all(opt: &mut Optimizer, store: &Store, pairs: &[(Option<Gradient<'_>>, TensorId)], sparse_only: bool) {
    let Some(n) = opt.stages.gradient_accumulation_steps else { return };
    let scale = opt.stages.loss_scale_factor;
    for (g, var_id) in pairs {
        let Some(g) = g else { continue };
        let state = opt.vars[var_id];
        let acc = opt.states[state].accumulator.as_deref_mut().expect("accumulators exist with gradient_accumulation_steps");
        let values = match *g {
            Gradient::Dense(_) | Gradient::Tensor(_) if !sparse_only => g.values(store).expect("validated"),
            Gradient::Sparse { .. } | Gradient::SparseTensor { .. } => {
                let (indices, values) = (g.indices().expect("sparse"), g.values(store).expect("validated"));
                let shape = &store.get(*var_id).expect("validated").shape;
                let (n_rows, w) = (shape[0], row_len(shape));
                let s = &mut opt.scratch;
                let values: &[f32] = if scale.is_some() {
                    s.values.clear();
                    s.values.extend_from_slice(values);
                    unscale::unscale_slice(&mut s.values, scale);
                    &s.values
                } else {
                    values
                };
                s.rows.merge(indices, n_rows, w, values, true);
                let m = &s.rows;
                let g = SparseRows { rows: &m.rows, at: &m.at, values, merged: &m.merged, row_len: w, n_rows, zero_add: m.repeats };
                for (k, &r) in m.rows.iter().enumerate() {
                    g.update_row(k, &Add, &mut acc[r * w..(r + 1) * w], []);
                }
                if sparse_only {
                    let n = n as f32;
                    for a in acc.iter_mut() {
                        *a = *a / n;
                    }
                }
                continue;
            }
            _ => continue,
        };
        drive::update(Unscaled(scale), &Add, acc, values, []);
    }
}

/// Only the unscale stage.
#[derive(Clone, Copy)]
struct Unscaled(Option<f32>);

impl GradPrelude for Unscaled {
    #[inline(always)]
    fn unscale<L: Lanes>(&self, g: L) -> L {
        unscale::unscale(g, self.0)
    }
    #[inline(always)]
    fn apply<L: Lanes>(&self, g: L) -> L {
        g
    }
}

/// `acc + g`, with the accumulator as the pass's variable.
#[derive(Clone, Copy)]
struct Add;

impl LaneKernel<0> for Add {
    #[inline(always)]
    fn lanes<L: Lanes>(&self, acc: L, g: L, s: [L; 0]) -> (L, [L; 0]) {
        (acc + g, s)
    }
}
