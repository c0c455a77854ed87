//! Tensors in the core's store, addressed from JavaScript by `(index, generation)`.

use simdopt_core::Tensor;
use wasm_bindgen::prelude::*;

use super::{tid, with, STATE};

/// Creates a zero-filled tensor and returns its slab index; its generation is
/// `tensor_generation(index)`.
#[wasm_bindgen]
pub fn tensor_create(name: String, shape: Vec<u32>) -> Result<u32, JsError> {
    with(|s| {
        let shape: Vec<usize> = shape.into_iter().map(|d| d as usize).collect();
        Ok(s.store.insert(Tensor::zeros(name, shape)?).index())
    })
}

#[wasm_bindgen]
pub fn tensor_generation(index: u32) -> u32 {
    STATE.with(|s| s.borrow().store.id_at(index).map_or(0, |id| id.generation()))
}

/// Byte offset of a tensor's values in WASM memory.
#[wasm_bindgen]
pub fn tensor_ptr(index: u32, generation: u32) -> Result<u32, JsError> {
    with(|s| Ok(s.store.get(tid(index, generation))?.data.as_ptr() as u32))
}

#[wasm_bindgen]
pub fn tensor_dispose(index: u32, generation: u32) -> Result<(), JsError> {
    with(|s| s.store.remove(tid(index, generation)).map(|_| ()))
}

/// Live tensors in the store (for leak checks).
#[wasm_bindgen]
pub fn tensor_count() -> u32 {
    STATE.with(|s| s.borrow().store.len() as u32)
}

/// The shape of a live tensor.
#[wasm_bindgen]
pub fn tensor_shape(index: u32, generation: u32) -> Result<Vec<u32>, JsError> {
    with(|s| Ok(s.store.get(tid(index, generation))?.shape.iter().map(|&d| d as u32).collect()))
}
