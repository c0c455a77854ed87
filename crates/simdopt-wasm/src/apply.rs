//! A step: [`optimizer_apply`] decodes the frame's commands and runs the core's step; and
//! [`optimizer_prepare`], the front half of a step whose update runs in JavaScript.

use simdopt_core::external_keras3::ExternalStep;
use simdopt_core::Error;
use wasm_bindgen::prelude::*;

use super::frame::{decode, recycle, step_commands, widen_indices, Pair, COMMAND_WORDS, KIND_DENSE_STAGED, KIND_NONE, KIND_SPARSE};
use super::optimizers::countable;
use super::{optimizer, to_js, with, State, STATE};

/// Applies one step described by `n` commands in the frame (see [`COMMAND_WORDS`]). Returns 0,
/// or 1 after an error, whose message [`take_error`] then gives (see `status`).
#[wasm_bindgen]
pub fn optimizer_apply(id: u32, n: u32) -> u32 {
    status(|s| apply(s, id, n as usize, false).map(|_| true))
}

/// [`optimizer_apply`] with the non-finite guard: returns 0 (applied), 1 (error, see
/// [`take_error`]) or 2 (skipped: some gradient has a NaN or ±Inf; nothing changed; their
/// positions in the frame are [`take_non_finite`]).
#[wasm_bindgen]
pub fn optimizer_apply_checked(id: u32, n: u32) -> u32 {
    status(|s| apply(s, id, n as usize, true))
}

/// Positions (in the step's commands) of the non-finite gradients of the last skipped step.
#[wasm_bindgen]
pub fn take_non_finite() -> Vec<u32> {
    STATE.with(|s| s.borrow_mut().non_finite.drain(..).map(|i| i as u32).collect())
}

/// The error of the last failed [`optimizer_apply`] (as a thrown `JsError`), then clears it.
#[wasm_bindgen]
pub fn take_error() -> Result<(), JsError> {
    STATE.with(|s| match s.borrow_mut().error.take() {
        Some(e) => Err(to_js(e)),
        None => Ok(()),
    })
}

fn apply(s: &mut State, id: u32, n: usize, checked: bool) -> Result<bool, Error> {
    let State { store, optimizers, frame, pairs: spare, non_finite, .. } = s;
    let opt = optimizer(optimizers, id)?;
    countable(opt)?;
    let cmds = step_commands(&frame.commands, n)?;
    widen_indices(cmds, &frame.indices, &mut frame.indices64)?;
    let mut pairs: Vec<Pair<'_>> = recycle(core::mem::take(spare));
    let result = decode(cmds, &frame.values, &frame.indices64, &mut pairs).and_then(|()| {
        if checked {
            opt.apply_gradients_checked(store, &pairs, non_finite)
        } else {
            opt.apply_gradients(store, &pairs).map(|()| true)
        }
    });
    *spare = recycle(pairs);
    result
}

/// Runs a step call and turns its result into the status code the facade reads: 0 applied,
/// 1 error (kept for [`take_error`]), 2 skipped for non-finite gradients. A plain number crosses
/// the boundary without the array a `Result` return allocates in JavaScript on every step.
fn status(f: impl FnOnce(&mut State) -> Result<bool, Error>) -> u32 {
    STATE.with(|s| {
        let s = &mut *s.borrow_mut();
        match f(s) {
            Ok(true) => 0,
            Ok(false) => 2,
            Err(e) => {
                s.error = Some(e);
                1
            }
        }
    })
}

/// The front half of a step for an optimizer whose update runs in JavaScript (a custom
/// optimizer): validates the `n` commands in the frame as [`optimizer_apply`] does (with the
/// non-finite guard if `checked`), then clips the staged gradient values in place (dense staged
/// and sparse values; `clipvalue`, `clipnorm`, `global_clipnorm` exactly as the fused kernels
/// do). Updates nothing: no variable, slot or `iterations`. Returns 0, 1 (error, see
/// [`take_error`]) or 2 (non-finite gradients, see [`take_non_finite`]). The step's learning
/// rate is [`optimizer_current_lr`].
#[wasm_bindgen]
pub fn optimizer_prepare(id: u32, n: u32, checked: bool) -> u32 {
    status(|s| prepare(s, id, n as usize, checked))
}

/// The learning rate the next step of an optimizer uses (Keras' `lr_t`: the learning rate as
/// last set, with the legacy `decay` applied for the current `iterations`).
#[wasm_bindgen]
pub fn optimizer_current_lr(id: u32) -> Result<f32, JsError> {
    with(|s| Ok(optimizer(&mut s.optimizers, id)?.current_lr()))
}

fn prepare(s: &mut State, id: u32, n: usize, checked: bool) -> Result<bool, Error> {
    let State { store, optimizers, frame, non_finite, .. } = s;
    let opt = optimizer(optimizers, id)?;
    countable(opt)?;
    // A copy: the staged values are rewritten below, while the pairs borrowed them.
    let cmds = step_commands(&frame.commands, n)?.to_vec();
    widen_indices(&cmds, &frame.indices, &mut frame.indices64)?;
    let preludes = {
        let mut pairs: Vec<Pair<'_>> = Vec::with_capacity(n);
        decode(&cmds, &frame.values, &frame.indices64, &mut pairs)?;
        match opt.prepare_external(store, &pairs, checked.then_some(&mut *non_finite))? {
            Some(p) => p,
            None => return Ok(false),
        }
    };
    // Clip the staged values in place (a gradient held in a tensor is left as it is: the
    // facade stages copies for the optimizers that use this call).
    let mut k = 0;
    for c in cmds.chunks_exact(COMMAND_WORDS) {
        if c[2] == KIND_NONE {
            continue;
        }
        let pre = preludes[k];
        k += 1;
        if (c[2] == KIND_DENSE_STAGED || c[2] == KIND_SPARSE) && !pre.is_identity() {
            let (a, b) = (c[3] as usize, c[4] as usize);
            pre.apply_slice(&mut frame.values[a..a + b]);
        }
    }
    Ok(true)
}

/// The stages before the update of a custom Keras 3 optimizer's step (`updateStep` runs in
/// JavaScript): validates the `n` commands in the frame (with the non-finite guard if
/// `checked`), then unscales, accumulates and clips the gradients into buffers of the core
/// ([`optimizer_external_gradient`]) and applies weight decay to the variables. Returns 0 (ready
/// for the update), 1 (error, see [`take_error`]), 2 (non-finite, see [`take_non_finite`]), 3
/// (an accumulation micro-step: no update) or 4 (a variable is not built yet: build, then call
/// again). Statuses 1, 2 and 4 change nothing.
#[wasm_bindgen]
pub fn optimizer_prepare_keras3(id: u32, n: u32, checked: bool) -> u32 {
    STATE.with(|s| {
        let s = &mut *s.borrow_mut();
        match prepare_keras3(s, id, n as usize, checked) {
            Ok(step) => match step {
                ExternalStep::Update => 0,
                ExternalStep::NonFinite => 2,
                ExternalStep::Accumulated => 3,
                ExternalStep::NotBuilt => 4,
            },
            Err(e) => {
                s.error = Some(e);
                1
            }
        }
    })
}

fn prepare_keras3(s: &mut State, id: u32, n: usize, checked: bool) -> Result<ExternalStep, Error> {
    let State { store, optimizers, frame, non_finite, .. } = s;
    let opt = optimizer(optimizers, id)?;
    countable(opt)?;
    let cmds = step_commands(&frame.commands, n)?;
    widen_indices(cmds, &frame.indices, &mut frame.indices64)?;
    let mut pairs: Vec<Pair<'_>> = Vec::with_capacity(n);
    decode(cmds, &frame.values, &frame.indices64, &mut pairs)?;
    opt.prepare_external_keras3(store, &pairs, checked.then_some(&mut *non_finite))
}

/// `[ptr, len]` of gradient `k` (the step's non-None gradients, in order) as a custom Keras 3
/// optimizer's `updateStep` gets it, after [`optimizer_prepare_keras3`] returned 0.
#[wasm_bindgen]
pub fn optimizer_external_gradient(id: u32, k: u32) -> Result<Vec<u32>, JsError> {
    with(|s| {
        let g = optimizer(&mut s.optimizers, id)?
            .external_gradient(k as usize)
            .ok_or_else(|| Error::InvalidState { message: format!("no prepared gradient {k}") })?;
        Ok(vec![g.as_ptr() as u32, g.len() as u32])
    })
}
