//! The Keras 3 stages of an optimizer (`simdopt_core::step`): loss scale, gradient
//! accumulation, weight decay, EMA. For the Keras 3 family; the TF 2.4 classes never set them.

use simdopt_core::{Ema, Stages};
use wasm_bindgen::prelude::*;

use super::external::handles;
use super::{optimizer, with};

/// Sets the Keras 3 stage options (each `undefined` = off) after Keras' checks; only before the
/// optimizer has slots. `ema_momentum` given turns EMA on (`use_ema`).
#[wasm_bindgen]
pub fn optimizer_set_stages(
    id: u32,
    loss_scale_factor: Option<f32>,
    gradient_accumulation_steps: Option<u32>,
    weight_decay: Option<f32>,
    ema_momentum: Option<f32>,
    ema_overwrite_frequency: Option<f64>,
) -> Result<(), JsError> {
    with(|s| {
        let ema = ema_momentum.map(|momentum| Ema { momentum, overwrite_frequency: ema_overwrite_frequency.map(|f| f as u64) });
        optimizer(&mut s.optimizers, id)?.set_stages(Stages { loss_scale_factor, gradient_accumulation_steps, weight_decay, ema })
    })
}

/// Changes the weight decay value (`undefined` = off), also after the optimizer has slots: for
/// a `weight_decay` schedule or function, resolved before each step.
#[wasm_bindgen]
pub fn optimizer_set_weight_decay(id: u32, weight_decay: Option<f32>) -> Result<(), JsError> {
    with(|s| optimizer(&mut s.optimizers, id)?.set_weight_decay(weight_decay))
}

/// The variables weight decay skips (`[index, generation, ...]`), replacing the previous list.
#[wasm_bindgen]
pub fn optimizer_set_weight_decay_exclusions(id: u32, vars: Vec<u32>) -> Result<(), JsError> {
    with(|s| {
        let ids = handles(&vars)?;
        optimizer(&mut s.optimizers, id)?.set_weight_decay_exclusions(&ids);
        Ok(())
    })
}

/// Keras 3's `iterations`: the count of calls divided by the accumulation steps.
#[wasm_bindgen]
pub fn optimizer_update_iterations(id: u32) -> Result<f64, JsError> {
    with(|s| Ok(optimizer(&mut s.optimizers, id)?.update_iterations() as f64))
}
