//! Cross-replica aggregation for the worker strategy of the facade (`ts/distribute`): a staging
//! buffer that JavaScript copies every replica's gradients into, and one call that reduces them
//! (fixed replica order, [`simdopt_core::aggregate`]) straight into core tensors, which the
//! optimizer then takes as gradients without another copy.

use std::cell::RefCell;

use simdopt_core::aggregate::{reduce_strided_into, ReduceOp};
use simdopt_core::Error;
use wasm_bindgen::prelude::*;

use super::{tid, with};

thread_local! {
    static STAGING: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Makes the staging buffer hold at least `len` values and returns its byte offset in WASM
/// memory. It only grows, so the offset changes only when this call grows it.
#[wasm_bindgen]
pub fn aggregate_reserve(len: u32) -> u32 {
    STAGING.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < len as usize {
            s.resize(len as usize, 0.0);
        }
        s.as_ptr() as u32
    })
}

/// Reduces `replicas` blocks of the staging buffer into the tensors `outputs`
/// (`[index, generation, ...]`). Block `r` starts at `r * total` (`total` = the outputs' summed
/// sizes) and holds replica `r`'s values for every output, in order. `mean` divides the sum by
/// `replicas`. Checks every handle and the staging size before writing anything.
#[wasm_bindgen]
pub fn aggregate_reduce(replicas: u32, outputs: Vec<u32>, mean: bool) -> Result<(), JsError> {
    with(|s| {
        let pairs = outputs.chunks_exact(2);
        if !pairs.remainder().is_empty() {
            return Err(Error::InvalidState { message: "aggregate_reduce: outputs must be [index, generation] pairs".into() });
        }
        let ids: Vec<_> = pairs.map(|p| tid(p[0], p[1])).collect();
        let mut total = 0usize;
        for id in &ids {
            total += s.store.get(*id)?.data.len();
        }
        let op = if mean { ReduceOp::Mean } else { ReduceOp::Sum };
        STAGING.with(|staging| {
            let staging = staging.borrow();
            if (replicas as usize).saturating_mul(total) > staging.len() {
                return Err(Error::InvalidState {
                    message: format!("aggregate_reduce: the staging buffer holds {} values, not {replicas} x {total}", staging.len()),
                });
            }
            let mut offset = 0;
            for id in &ids {
                let out = &mut s.store.get_mut(*id)?.data;
                reduce_strided_into(out, &staging, replicas as usize, total, offset, op)?;
                offset += out.len();
            }
            Ok(())
        })
    })
}
