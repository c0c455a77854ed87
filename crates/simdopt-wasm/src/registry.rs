//! The core's registry of optimizer classes, as the facade reads it.

use wasm_bindgen::prelude::*;

/// The core's registry of optimizer classes as JSON (`simdopt_core::registry_json`): class
/// names, families, config defaults and slot tables, for the facade's check of its own tables.
#[wasm_bindgen]
pub fn registry_json() -> String {
    simdopt_core::registry_json()
}
