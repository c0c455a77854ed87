//! An optimizer's weights (`iterations`, then its slots in Keras' order) and slots, viewed in
//! place from JavaScript as `[ptr, len]`.

use simdopt_core::{Error, TensorId};
use wasm_bindgen::prelude::*;

use super::frame::bad_frame;
use super::optimizers::iterations_from_js;
use super::{optimizer, tid, with, State};

#[wasm_bindgen]
pub fn optimizer_weight_names(id: u32) -> Result<Vec<String>, JsError> {
    with(|s| Ok(optimizer(&mut s.optimizers, id)?.weight_names()))
}

/// `[ptr, len]` of weight `i >= 1` (weight 0 is `iterations`).
#[wasm_bindgen]
pub fn optimizer_weight_view(id: u32, i: u32) -> Result<Vec<u32>, JsError> {
    with(|s| {
        let w = optimizer(&mut s.optimizers, id)?
            .weight_view(i as usize)
            .ok_or_else(|| Error::InvalidState { message: format!("no weight {i}") })?;
        Ok(vec![w.as_ptr() as u32, w.len() as u32])
    })
}

/// The stored shape of weight `i >= 1`; None: its variable's shape (EMA, accumulator).
#[wasm_bindgen]
pub fn optimizer_weight_shape(id: u32, i: u32) -> Result<Option<Vec<u32>>, JsError> {
    with(|s| {
        let opt = optimizer(&mut s.optimizers, id)?;
        if i == 0 || i as usize >= opt.weight_count() {
            return Err(Error::InvalidState { message: format!("no weight {i}") });
        }
        Ok(opt.weight_shape(i as usize).map(|d| d.iter().map(|&n| n as u32).collect()))
    })
}

/// Sets all weights: `iterations`, then `n` weights whose lengths are the first `n` command
/// words and whose values follow each other in the frame's values.
#[wasm_bindgen]
pub fn optimizer_set_weights(id: u32, iterations: f64, n: u32) -> Result<(), JsError> {
    with(|s| {
        let State { optimizers, frame, .. } = s;
        let iterations = iterations_from_js(iterations)?;
        let opt = optimizer(optimizers, id)?;
        let lens = frame.commands.get(..n as usize).ok_or_else(|| bad_frame("more weights than the frame holds"))?;
        let mut rest = Vec::with_capacity(lens.len());
        let mut off = 0;
        for &len in lens {
            rest.push(frame.values.get(off..off + len as usize).ok_or_else(|| bad_frame("weights out of range"))?);
            off += len as usize;
        }
        opt.set_weights(iterations, &rest)
    })
}

#[wasm_bindgen]
pub fn optimizer_slot_names(id: u32) -> Result<Vec<String>, JsError> {
    with(|s| Ok(optimizer(&mut s.optimizers, id)?.slot_names().into_iter().map(String::from).collect()))
}

/// `[ptr, len]` of a variable's slot.
#[wasm_bindgen]
pub fn optimizer_slot_view(id: u32, var_index: u32, var_generation: u32, slot: &str) -> Result<Vec<u32>, JsError> {
    with(|s| {
        let v = optimizer(&mut s.optimizers, id)?.slot(tid(var_index, var_generation), slot)?;
        Ok(vec![v.as_ptr() as u32, v.len() as u32])
    })
}

/// Creates the slots of variables now (Keras' `build(var_list)`), as one batch in the given order:
/// `handles` is `[index, generation, ...]`. Variables that have slots already are skipped.
#[wasm_bindgen]
pub fn optimizer_create_slots(id: u32, handles: Vec<u32>) -> Result<(), JsError> {
    with(|s| {
        let State { store, optimizers, .. } = s;
        let opt = optimizer(optimizers, id)?;
        let vars: Vec<TensorId> = handles.chunks_exact(2).map(|h| tid(h[0], h[1])).collect();
        opt.create_slots_for(store, &vars)
    })
}

/// Sizes of the batches in which variables got their slots (see `Optimizer::slot_batches`).
#[wasm_bindgen]
pub fn optimizer_slot_batches(id: u32) -> Result<Vec<u32>, JsError> {
    with(|s| Ok(optimizer(&mut s.optimizers, id)?.slot_batches().iter().map(|&n| n as u32).collect()))
}

/// Variables with slots, first-seen order: `[index, generation, elements, ...]`.
#[wasm_bindgen]
pub fn optimizer_slot_variables(id: u32) -> Result<Vec<u32>, JsError> {
    with(|s| {
        Ok(optimizer(&mut s.optimizers, id)?.slot_variables().flat_map(|(v, _, len)| [v.index(), v.generation(), len as u32]).collect())
    })
}

/// Names of the variables with slots (as when their slots were made), first-seen order.
#[wasm_bindgen]
pub fn optimizer_slot_variable_names(id: u32) -> Result<Vec<String>, JsError> {
    with(|s| Ok(optimizer(&mut s.optimizers, id)?.slot_variables().map(|(_, name, _)| name.to_string()).collect()))
}
