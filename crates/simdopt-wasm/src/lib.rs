//! The JavaScript binding of `simdopt-core`. It only converts types at the boundary: tensors and
//! optimizers live in one core [`Store`] and registry inside WASM linear memory, and JavaScript
//! addresses them by handle and views their values in place.
//!
//! A step is one call: the facade writes the step's commands (and any gradients it copies) into
//! the frame buffers (`frame.rs`), then calls [`optimizer_apply`].
//!
//! One module per topic, each adding its own `#[wasm_bindgen]` exports (an export's JavaScript
//! name is the function's name, whatever its module): `tensors`, `optimizers` (create,
//! hyperparameters, `iterations`), `registry`, `frame` (the step frame and its decoding), `apply`
//! (a step, and the front half of an external one), `weights` (weights and slots), `checksum`,
//! `faults` (panics and traps), `external`, `keras3`, `aggregate`, `stream` (streamed
//! gradients) and, in the threads build,
//! `threads`. New bindings go in a module of their own topic, re-exported below.

use std::cell::RefCell;
use std::collections::HashMap;

use simdopt_core::{Error, Optimizer, Store, TensorId};
use wasm_bindgen::prelude::*;

mod aggregate;
mod alloc;
mod apply;
mod checksum;
mod external;
mod family;
mod faults;
mod frame;
mod keras3;
mod optimizers;
mod registry;
mod stream;
mod tensors;
#[cfg(feature = "threads")]
mod threads;
mod weights;

// Every export at the crate root, as for one file (Rust callers and rustdoc links see one API).
pub use self::{
    aggregate::*, apply::*, checksum::*, external::*, family::*, faults::*, frame::*, keras3::*, optimizers::*, registry::*, stream::*,
    tensors::*, weights::*,
};
#[cfg(feature = "threads")]
pub use threads::*;

/// Everything the binding keeps between calls: one per module instance (per thread).
#[derive(Default)]
struct State {
    store: Store,
    optimizers: HashMap<u32, Optimizer>,
    next_optimizer: u32,
    frame: frame::Frame,
    /// The error of the last failed [`optimizer_apply`], for [`take_error`].
    error: Option<Error>,
    /// The allocation of a step's `(gradient, variable)` list, kept empty between steps.
    pairs: Vec<frame::Pair<'static>>,
    /// Positions of the non-finite gradients of the last step [`optimizer_apply_checked`] skipped.
    non_finite: Vec<usize>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

fn with<T>(f: impl FnOnce(&mut State) -> Result<T, Error>) -> Result<T, JsError> {
    STATE.with(|s| f(&mut s.borrow_mut())).map_err(to_js)
}

/// Errors cross as `"<Code>: <message>"`; the facade turns the code into a typed error class.
fn to_js(e: Error) -> JsError {
    JsError::new(&format!("{}: {}", e.code(), e))
}

/// The live optimizer `id` (a map, not the whole state, so callers can borrow other fields too).
fn optimizer(optimizers: &mut HashMap<u32, Optimizer>, id: u32) -> Result<&mut Optimizer, Error> {
    optimizers.get_mut(&id).ok_or_else(|| Error::InvalidState { message: format!("optimizer {id} has been disposed") })
}

fn tid(index: u32, generation: u32) -> TensorId {
    TensorId::from_parts(index, generation)
}

#[wasm_bindgen]
pub fn kernel_flavor() -> String {
    simdopt_core::kernel_flavor().to_string()
}
