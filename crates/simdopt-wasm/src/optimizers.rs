//! An optimizer's life: creation from its Keras class name, hyperparameters, clipping,
//! `iterations`, disposal.

use simdopt_core::{build_optimizer, Clipping, Error, Optimizer};
use wasm_bindgen::prelude::*;

use super::{optimizer, with, STATE};

/// Creates an optimizer from its Keras class name and numeric options (flags as 0/1).
#[wasm_bindgen]
pub fn optimizer_create(class_name: &str, name: &str, keys: Vec<String>, values: Vec<f32>) -> Result<u32, JsError> {
    with(|s| {
        let pairs: Vec<(&str, f32)> = keys.iter().map(String::as_str).zip(values.iter().copied()).collect();
        let mut opt = build_optimizer(class_name, &pairs)?;
        opt.set_name(name);
        s.next_optimizer += 1;
        s.optimizers.insert(s.next_optimizer, opt);
        Ok(s.next_optimizer)
    })
}

#[wasm_bindgen]
pub fn optimizer_dispose(id: u32) {
    STATE.with(|s| s.borrow_mut().optimizers.remove(&id));
}

#[wasm_bindgen]
pub fn optimizer_count() -> u32 {
    STATE.with(|s| s.borrow().optimizers.len() as u32)
}

#[wasm_bindgen]
pub fn optimizer_set_hyper(id: u32, name: &str, value: f32) -> Result<(), JsError> {
    with(|s| optimizer(&mut s.optimizers, id)?.set_hyper(name, value))
}

#[wasm_bindgen]
pub fn optimizer_hyper(id: u32, name: &str) -> Result<f32, JsError> {
    with(|s| optimizer(&mut s.optimizers, id)?.hyper(name))
}

#[wasm_bindgen]
pub fn optimizer_set_clipping(id: u32, clipvalue: Option<f32>, clipnorm: Option<f32>, global_clipnorm: Option<f32>) -> Result<(), JsError> {
    with(|s| optimizer(&mut s.optimizers, id)?.set_clipping(Clipping { clipvalue, clipnorm, global_clipnorm }))
}

/// The largest `iterations` through this binding: 2^53 − 1, the largest integer a JavaScript
/// number holds exactly. So `iterations` crosses as an f64 without rounding, and every count
/// JavaScript can see, it can also set, save and restore. (The core itself counts to u64::MAX.)
pub const MAX_ITERATIONS: u64 = (1 << 53) - 1;

/// `iterations` as JavaScript passed it: an integer in `[0, MAX_ITERATIONS]`, never rounded.
pub(crate) fn iterations_from_js(x: f64) -> Result<u64, Error> {
    if x >= 0.0 && x <= MAX_ITERATIONS as f64 && x.fract() == 0.0 {
        Ok(x as u64)
    } else {
        Err(Error::InvalidState { message: format!("iterations must be an integer from 0 to 2^53 - 1 ({MAX_ITERATIONS}), got {x}") })
    }
}

/// Refuses a step that would count past [`MAX_ITERATIONS`], before anything changes.
pub(crate) fn countable(opt: &Optimizer) -> Result<(), Error> {
    if opt.iterations() >= MAX_ITERATIONS {
        return Err(Error::InvalidState {
            message: format!(
                "iterations is {}, and JavaScript holds counts exactly only up to 2^53 - 1 ({MAX_ITERATIONS}): no further step can be counted",
                opt.iterations()
            ),
        });
    }
    Ok(())
}

#[wasm_bindgen]
pub fn optimizer_iterations(id: u32) -> Result<f64, JsError> {
    // Exact: no count above MAX_ITERATIONS can be set or stepped to through this binding.
    with(|s| Ok(optimizer(&mut s.optimizers, id)?.iterations() as f64))
}

#[wasm_bindgen]
pub fn optimizer_set_iterations(id: u32, iterations: f64) -> Result<(), JsError> {
    with(|s| {
        let it = iterations_from_js(iterations)?;
        optimizer(&mut s.optimizers, id)?.set_iterations(it);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterations_cross_exactly_or_are_refused() {
        for ok in [0.0, 1.0, 4674.0, MAX_ITERATIONS as f64] {
            assert_eq!(iterations_from_js(ok).unwrap() as f64, ok);
        }
        // 2^53 and beyond (where f64 skips integers), fractions, negatives, NaN, infinities.
        for bad in [(1u64 << 53) as f64, 2f64.powi(53) + 2.0, u64::MAX as f64, 0.5, -1.0, -0.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY]
        {
            assert_eq!(iterations_from_js(bad).unwrap_err().code(), "InvalidState", "{bad}");
        }
    }

    #[test]
    fn no_step_counts_past_the_largest_exact_count() {
        let mut opt = build_optimizer("SGD", &[]).unwrap();
        opt.set_iterations(MAX_ITERATIONS - 1);
        assert!(countable(&opt).is_ok());
        for it in [MAX_ITERATIONS, MAX_ITERATIONS + 1, u64::MAX - 1, u64::MAX] {
            opt.set_iterations(it);
            let err = countable(&opt).unwrap_err();
            assert!(err.to_string().contains("no further step can be counted"), "{err}");
        }
    }
}
