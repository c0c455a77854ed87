//! Optimizers whose update runs in JavaScript (custom optimizers): their slots and weights live
//! in the core like a built-in's (`simdopt_core::external`). The protocol:
//! `optimizer_create_external`, then per step
//! `optimizer_prepare` (validate, guard, clip the staged gradients in place), `optimizer_add_slot`
//! for slots not created yet, the update in JavaScript on the views, and
//! `optimizer_complete_external_step`.

use simdopt_core::{Clipping, Error, Optimizer, TensorId};
use wasm_bindgen::prelude::*;

use super::{optimizer, tid, with, State};

/// Creates an external optimizer named `name`. Options as `optimizer_create`'s, of which it
/// takes `learning_rate` (default 0.001), `decay`, `clipvalue`, `clipnorm`, `global_clipnorm`;
/// any other key is an error.
#[wasm_bindgen]
pub fn optimizer_create_external(name: &str, keys: Vec<String>, values: Vec<f32>) -> Result<u32, JsError> {
    with(|s| {
        let pairs: Vec<(&str, f32)> = keys.iter().map(String::as_str).zip(values.iter().copied()).collect();
        let mut o = simdopt_core::Options::new(&pairs);
        let mut opt = Optimizer::external(name, o.take("learning_rate", 0.001))?;
        opt.set_hyper("decay", o.take("decay", 0.0))?;
        opt.set_clipping(Clipping {
            clipvalue: o.take_opt("clipvalue"),
            clipnorm: o.take_opt("clipnorm"),
            global_clipnorm: o.take_opt("global_clipnorm"),
        })?;
        o.finish()?;
        s.next_optimizer += 1;
        s.optimizers.insert(s.next_optimizer, opt);
        Ok(s.next_optimizer)
    })
}

/// Creates an external optimizer with Keras 3's base options and order of stages (a custom
/// Keras 3 optimizer: `build` / `updateStep` in JavaScript), named `name`. Options as
/// `optimizer_create_in("keras3", ...)` takes the base ones; any other key is an error.
#[wasm_bindgen]
pub fn optimizer_create_external_keras3(name: &str, keys: Vec<String>, values: Vec<f32>) -> Result<u32, JsError> {
    with(|s| {
        if keys.len() != values.len() {
            return Err(Error::InvalidState { message: format!("{} option names for {} values", keys.len(), values.len()) });
        }
        let pairs: Vec<(&str, f32)> = keys.iter().map(String::as_str).zip(values.iter().copied()).collect();
        let opt = Optimizer::external_keras3(name, &pairs)?;
        s.next_optimizer += 1;
        s.optimizers.insert(s.next_optimizer, opt);
        Ok(s.next_optimizer)
    })
}

/// Whether optimizer `id` is external (its update runs in JavaScript).
#[wasm_bindgen]
pub fn optimizer_is_external(id: u32) -> Result<bool, JsError> {
    with(|s| Ok(optimizer(&mut s.optimizers, id)?.is_external()))
}

/// Keras' `add_slot`: creates slot `slot` of the variable (its shape, filled with `init`)
/// unless it exists, appending it to the weights; returns `[ptr, len]` of its values.
#[wasm_bindgen]
pub fn optimizer_add_slot(id: u32, var_index: u32, var_generation: u32, slot: &str, init: f32) -> Result<Vec<u32>, JsError> {
    with(|s| {
        let State { store, optimizers, .. } = s;
        let v = optimizer(optimizers, id)?.add_slot(store, tid(var_index, var_generation), slot, init)?;
        Ok(vec![v.as_ptr() as u32, v.len() as u32])
    })
}

/// Keras' `add_weight`: an optimizer-wide weight of `shape` filled with `init`, appended to the
/// weights; returns `[ptr, len]` of its values.
#[wasm_bindgen]
pub fn optimizer_add_weight(id: u32, name: &str, shape: Vec<u32>, init: f32) -> Result<Vec<u32>, JsError> {
    with(|s| {
        let shape: Vec<usize> = shape.into_iter().map(|d| d as usize).collect();
        let v = optimizer(&mut s.optimizers, id)?.add_weight(name, &shape, init)?;
        Ok(vec![v.as_ptr() as u32, v.len() as u32])
    })
}

/// Ends a step whose update ran in JavaScript: Keras 3's moving averages (with `use_ema`), then
/// `iterations += 1`.
#[wasm_bindgen]
pub fn optimizer_complete_external_step(id: u32) -> Result<(), JsError> {
    with(|s| {
        let State { store, optimizers, .. } = s;
        let opt = optimizer(optimizers, id)?;
        crate::optimizers::countable(opt)?;
        opt.complete_external_step(store)
    })
}

/// Handles `[index, generation, ...]` as tensor ids.
pub(crate) fn handles(h: &[u32]) -> Result<Vec<TensorId>, Error> {
    if !h.chunks_exact(2).remainder().is_empty() {
        return Err(Error::InvalidState { message: "handles must be [index, generation] pairs".into() });
    }
    Ok(h.chunks_exact(2).map(|p| tid(p[0], p[1])).collect())
}
