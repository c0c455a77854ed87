//! Classes looked up by family: TF 2.4's (`tf24`, the package root) and Keras 3's (`keras3`,
//! `simdopt/keras3`) share class names (`Adam` is in both), so a Keras 3 optimizer is created
//! with its family named. `optimizer_create(class_name, ...)` keeps meaning the first class of
//! that name in the registry: TF 2.4's where both have it, so existing callers are unchanged.

use simdopt_core::registry::{class_in, Family};
use simdopt_core::Error;
use wasm_bindgen::prelude::*;

use super::external::handles;
use super::{optimizer, with, State};

/// Creates an optimizer of class `class_name` of `family` (`"tf24"` or `"keras3"`), named
/// `name`, from constructor options as `optimizer_create` takes them (for Keras 3: the base
/// options too, `weight_decay`, `use_ema` as 0/1, ...). Returns its id.
#[wasm_bindgen]
pub fn optimizer_create_in(family: &str, class_name: &str, name: &str, keys: Vec<String>, values: Vec<f32>) -> Result<u32, JsError> {
    with(|s| create_in(s, family, class_name, name, &keys, &values))
}

/// The variables Muon's `exclude_layers` matched (`[index, generation, ...]`; the regex search on
/// the Keras path runs in TypeScript), replacing the previous list. They take the AdamW step.
/// Read when a variable's slots are created: set it before the first step (or `build`).
#[wasm_bindgen]
pub fn optimizer_set_layer_exclusions(id: u32, vars: Vec<u32>) -> Result<(), JsError> {
    with(|s| {
        let ids = handles(&vars)?;
        optimizer(&mut s.optimizers, id)?.set_layer_exclusions(&ids);
        Ok(())
    })
}

fn create_in(s: &mut State, family: &str, class_name: &str, name: &str, keys: &[String], values: &[f32]) -> Result<u32, Error> {
    if keys.len() != values.len() {
        return Err(Error::InvalidState { message: format!("{} option names for {} values", keys.len(), values.len()) });
    }
    let pairs: Vec<(&str, f32)> = keys.iter().map(String::as_str).zip(values.iter().copied()).collect();
    let mut opt = class_in(Family::from_name(family)?, class_name)?.build(&pairs)?;
    opt.set_name(name);
    s.next_optimizer += 1;
    s.optimizers.insert(s.next_optimizer, opt);
    Ok(s.next_optimizer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_family_picks_the_class() {
        let mut s = State::default();
        let tf24 = create_in(&mut s, "tf24", "Adam", "adam", &[], &[]).unwrap();
        let keras3 = create_in(&mut s, "keras3", "Adam", "adam", &["amsgrad".into()], &[1.0]).unwrap();
        assert_eq!(s.optimizers[&tf24].slot_names(), ["m", "v"]);
        assert_eq!(s.optimizers[&keras3].slot_names(), ["momentum", "velocity", "velocity_hat"]);
        let adamw = create_in(&mut s, "keras3", "AdamW", "adam_w", &[], &[]).unwrap();
        assert_eq!(s.optimizers[&adamw].stages().weight_decay, Some(0.004));
        assert!(create_in(&mut s, "tf24", "Lion", "lion", &[], &[]).unwrap_err().to_string().contains("Unknown optimizer: Lion"));
        assert!(create_in(&mut s, "keras2", "Adam", "adam", &[], &[]).unwrap_err().to_string().contains("Unknown optimizer family"));
        assert!(create_in(&mut s, "keras3", "Adam", "adam", &["amsgrad".into()], &[]).is_err());
        assert_eq!(s.optimizers.len(), 3);
    }
}
