//! Compressed optimizer state (issue 16): the slot storage of an optimizer (`slotDtype`) and the
//! raw codes and scales of its compressed slots (checkpoints, `getWeights({ raw: true })`).
//! The f32 views of compressed slots go through `optimizer_weight_view` like every weight.

use simdopt_core::quant::RawSlot;
use simdopt_core::slot::SlotStorage;
use simdopt_core::Error;
use wasm_bindgen::prelude::*;

use super::{optimizer, with};

/// Stores the optimizer's moment slots as `float32`, `bfloat16` or `int8` (before it has slots;
/// an unsupported class is an `UnsupportedSlotDtype` error naming those that support it).
#[wasm_bindgen]
pub fn optimizer_set_slot_dtype(id: u32, dtype: &str) -> Result<(), JsError> {
    with(|s| {
        let storage = SlotStorage::parse(dtype)
            .ok_or_else(|| Error::InvalidState { message: format!("slotDtype must be 'float32', 'bfloat16' or 'int8', got '{dtype}'") })?;
        optimizer(&mut s.optimizers, id)?.set_slot_storage(storage)
    })
}

#[wasm_bindgen]
pub fn optimizer_slot_dtype(id: u32) -> Result<String, JsError> {
    with(|s| Ok(optimizer(&mut s.optimizers, id)?.slot_storage().name().to_string()))
}

/// Weight `i`'s raw storage: `[]` for an f32 weight, `[1, ptr, len]` for bfloat16 bits (u16),
/// `[2, codesPtr, codesLen, absmaxPtr, absmaxLen]` for 8-bit codes and their f32 block scales.
/// The pointers are valid until the next call that changes the optimizer.
#[wasm_bindgen]
pub fn optimizer_raw_weight(id: u32, i: u32) -> Result<Vec<u32>, JsError> {
    with(|s| {
        Ok(match optimizer(&mut s.optimizers, id)?.raw_weight(i as usize) {
            None => Vec::new(),
            Some(RawSlot::Bf16(h)) => vec![1, h.as_ptr() as u32, h.len() as u32],
            Some(RawSlot::Int8 { codes, absmax }) => {
                vec![2, codes.as_ptr() as u32, codes.len() as u32, absmax.as_ptr() as u32, absmax.len() as u32]
            }
        })
    })
}

/// Sets weight `i` (a bfloat16 slot) from its raw bits.
#[wasm_bindgen]
pub fn optimizer_set_raw_weight_bf16(id: u32, i: u32, bits: Vec<u16>) -> Result<(), JsError> {
    with(|s| optimizer(&mut s.optimizers, id)?.set_raw_weights(&[(i as usize, RawSlot::Bf16(&bits))]))
}

/// Sets weight `i` (an 8-bit slot) from its codes and block scales; checked before writing.
#[wasm_bindgen]
pub fn optimizer_set_raw_weight_int8(id: u32, i: u32, codes: Vec<u8>, absmax: Vec<f32>) -> Result<(), JsError> {
    with(|s| optimizer(&mut s.optimizers, id)?.set_raw_weights(&[(i as usize, RawSlot::Int8 { codes: &codes, absmax: &absmax })]))
}
