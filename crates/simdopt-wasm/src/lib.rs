//! The JavaScript binding of `simdopt-core`. It only converts types at the boundary: tensors and
//! optimizers live in one core [`Store`] and registry inside WASM linear memory, and JavaScript
//! addresses them by handle and views their values in place.
//!
//! A step is one call: the facade writes the step's commands (and any gradients it copies) into
//! the frame buffers below, then calls [`optimizer_apply`].

use std::cell::RefCell;
use std::collections::HashMap;

use simdopt_core::{build_optimizer, AnyOptimizer, Clipping, Error, Gradient, Store, Tensor, TensorId};
use wasm_bindgen::prelude::*;

mod aggregate;

/// Words per command of a step frame: `[var index, var generation, kind, a, b, c, d]`.
pub const COMMAND_WORDS: usize = 7;
const KIND_NONE: u32 = 0;
const KIND_DENSE_STAGED: u32 = 1;
const KIND_DENSE_TENSOR: u32 = 2;
const KIND_SPARSE: u32 = 3;

#[derive(Default)]
struct State {
    store: Store,
    optimizers: HashMap<u32, AnyOptimizer>,
    next_optimizer: u32,
    frame: Frame,
    /// The error of the last failed [`optimizer_apply`], for [`take_error`].
    error: Option<Error>,
    /// The allocation of a step's `(gradient, variable)` list, kept empty between steps.
    pairs: Vec<Pair<'static>>,
}

type Pair<'a> = (Option<Gradient<'a>>, TensorId);

/// Empties a pair list and hands its allocation over to another lifetime.
fn recycle<'a, 'b>(v: Vec<Pair<'a>>) -> Vec<Pair<'b>> {
    let mut v = core::mem::ManuallyDrop::new(v);
    v.clear();
    // SAFETY: the vector is empty, and `Pair<'a>` and `Pair<'b>` are the same type up to a
    // lifetime, so they have one layout and the allocation is valid for either.
    unsafe { Vec::from_raw_parts(v.as_mut_ptr() as *mut Pair<'b>, 0, v.capacity()) }
}

/// Buffers the facade writes a step into. They only grow, so their pointers change only on
/// `frame_reserve`.
#[derive(Default)]
struct Frame {
    commands: Vec<u32>,
    values: Vec<f32>,
    indices: Vec<i32>,
    indices64: Vec<i64>,
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

fn optimizer(s: &mut State, id: u32) -> Result<&mut AnyOptimizer, Error> {
    s.optimizers.get_mut(&id).ok_or_else(|| Error::InvalidState { message: format!("optimizer {id} has been disposed") })
}

fn tid(index: u32, generation: u32) -> TensorId {
    TensorId::from_parts(index, generation)
}

#[wasm_bindgen]
pub fn kernel_flavor() -> String {
    simdopt_core::kernel_flavor().to_string()
}

// ---- tensors -------------------------------------------------------------------------------

/// Creates a zero-filled tensor and returns its slab index; its generation is
/// `tensor_generation(index)`.
#[wasm_bindgen]
pub fn tensor_create(name: String, shape: Vec<u32>) -> Result<u32, JsError> {
    with(|s| {
        let shape: Vec<usize> = shape.into_iter().map(|d| d as usize).collect();
        let n = shape.iter().product();
        Ok(s.store.insert(Tensor::new(name, shape, vec![0.0; n])?).index())
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

// ---- frame ---------------------------------------------------------------------------------

/// Makes the frame hold at least this many command words, gradient values and indices.
#[wasm_bindgen]
pub fn frame_reserve(commands: u32, values: u32, indices: u32) {
    STATE.with(|s| {
        let f = &mut s.borrow_mut().frame;
        f.commands.resize(f.commands.len().max(commands as usize), 0);
        f.values.resize(f.values.len().max(values as usize), 0.0);
        f.indices.resize(f.indices.len().max(indices as usize), 0);
    })
}

/// `[commands ptr, values ptr, indices ptr, commands len, values len, indices len]`.
#[wasm_bindgen]
pub fn frame_layout() -> Vec<u32> {
    STATE.with(|s| {
        let f = &s.borrow().frame;
        vec![
            f.commands.as_ptr() as u32,
            f.values.as_ptr() as u32,
            f.indices.as_ptr() as u32,
            f.commands.len() as u32,
            f.values.len() as u32,
            f.indices.len() as u32,
        ]
    })
}

// ---- optimizers ----------------------------------------------------------------------------

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
    with(|s| optimizer(s, id)?.set_hyper(name, value))
}

#[wasm_bindgen]
pub fn optimizer_hyper(id: u32, name: &str) -> Result<f32, JsError> {
    with(|s| optimizer(s, id)?.hyper(name))
}

#[wasm_bindgen]
pub fn optimizer_set_clipping(id: u32, clipvalue: Option<f32>, clipnorm: Option<f32>, global_clipnorm: Option<f32>) -> Result<(), JsError> {
    with(|s| optimizer(s, id)?.set_clipping(Clipping { clipvalue, clipnorm, global_clipnorm }))
}

#[wasm_bindgen]
pub fn optimizer_iterations(id: u32) -> Result<f64, JsError> {
    with(|s| Ok(optimizer(s, id)?.iterations() as f64))
}

#[wasm_bindgen]
pub fn optimizer_set_iterations(id: u32, iterations: f64) -> Result<(), JsError> {
    with(|s| {
        optimizer(s, id)?.set_iterations(iterations as u64);
        Ok(())
    })
}

/// Applies one step described by `n` commands in the frame (see [`COMMAND_WORDS`]). Returns 0,
/// or 1 after an error, whose message [`take_error`] then gives: a plain number crosses the
/// boundary without the array a `Result` return allocates in JavaScript on every step.
#[wasm_bindgen]
pub fn optimizer_apply(id: u32, n: u32) -> u32 {
    STATE.with(|s| {
        let s = &mut *s.borrow_mut();
        match apply(s, id, n as usize) {
            Ok(()) => 0,
            Err(e) => {
                s.error = Some(e);
                1
            }
        }
    })
}

/// The error of the last failed [`optimizer_apply`] (as a thrown `JsError`), then clears it.
#[wasm_bindgen]
pub fn take_error() -> Result<(), JsError> {
    STATE.with(|s| match s.borrow_mut().error.take() {
        Some(e) => Err(to_js(e)),
        None => Ok(()),
    })
}

fn apply(s: &mut State, id: u32, n: usize) -> Result<(), Error> {
    let State { store, optimizers, frame, pairs: spare, .. } = s;
    let opt = optimizers.get_mut(&id).ok_or_else(|| Error::InvalidState { message: format!("optimizer {id} has been disposed") })?;
    let cmds = frame.commands.get(..n * COMMAND_WORDS).ok_or_else(|| bad_frame("more commands than the frame holds"))?;
    // Widen only the indices this step uses (the frame may be much larger than the step).
    let mut used = 0usize;
    for c in cmds.chunks_exact(COMMAND_WORDS) {
        if c[2] == KIND_SPARSE {
            used = used.max((c[5] as usize).checked_add(c[6] as usize).ok_or_else(|| bad_frame("indices out of range"))?);
        }
    }
    let indices = frame.indices.get(..used).ok_or_else(|| bad_frame("indices out of range"))?;
    frame.indices64.clear();
    frame.indices64.extend(indices.iter().map(|&i| i as i64));
    let mut pairs: Vec<Pair<'_>> = recycle(core::mem::take(spare));
    let result = (|| {
        for c in cmds.chunks_exact(COMMAND_WORDS) {
            let var = tid(c[0], c[1]);
            let (a, b, cc, d) = (c[3] as usize, c[4] as usize, c[5] as usize, c[6] as usize);
            let grad = match c[2] {
                KIND_NONE => None,
                KIND_DENSE_STAGED => Some(Gradient::Dense(values(&frame.values, a, b)?)),
                KIND_DENSE_TENSOR => Some(Gradient::Tensor(tid(c[3], c[4]))),
                KIND_SPARSE => Some(Gradient::Sparse {
                    values: values(&frame.values, a, b)?,
                    indices: frame.indices64.get(cc..cc + d).ok_or_else(|| bad_frame("indices out of range"))?,
                }),
                k => return Err(bad_frame(&format!("unknown command kind {k}"))),
            };
            pairs.push((grad, var));
        }
        opt.apply_gradients(store, &pairs)
    })();
    *spare = recycle(pairs);
    result
}

fn values(v: &[f32], start: usize, len: usize) -> Result<&[f32], Error> {
    start.checked_add(len).and_then(|end| v.get(start..end)).ok_or_else(|| bad_frame("values out of range"))
}

fn bad_frame(what: &str) -> Error {
    Error::InvalidState { message: format!("malformed step frame: {what}") }
}

#[wasm_bindgen]
pub fn optimizer_weight_names(id: u32) -> Result<Vec<String>, JsError> {
    with(|s| Ok(optimizer(s, id)?.weight_names()))
}

/// `[ptr, len]` of weight `i >= 1` (weight 0 is `iterations`).
#[wasm_bindgen]
pub fn optimizer_weight_view(id: u32, i: u32) -> Result<Vec<u32>, JsError> {
    with(|s| {
        let w = optimizer(s, id)?.weight(i as usize).ok_or_else(|| Error::InvalidState { message: format!("no weight {i}") })?;
        Ok(vec![w.as_ptr() as u32, w.len() as u32])
    })
}

/// Sets all weights: `iterations`, then `n` weights whose lengths are the first `n` command
/// words and whose values follow each other in the frame's values.
#[wasm_bindgen]
pub fn optimizer_set_weights(id: u32, iterations: f64, n: u32) -> Result<(), JsError> {
    with(|s| {
        let State { optimizers, frame, .. } = s;
        let opt = optimizers.get_mut(&id).ok_or_else(|| Error::InvalidState { message: format!("optimizer {id} has been disposed") })?;
        let lens = frame.commands.get(..n as usize).ok_or_else(|| bad_frame("more weights than the frame holds"))?;
        let mut rest = Vec::with_capacity(lens.len());
        let mut off = 0;
        for &len in lens {
            rest.push(frame.values.get(off..off + len as usize).ok_or_else(|| bad_frame("weights out of range"))?);
            off += len as usize;
        }
        opt.set_weights(iterations as u64, &rest)
    })
}

#[wasm_bindgen]
pub fn optimizer_slot_names(id: u32) -> Result<Vec<String>, JsError> {
    with(|s| Ok(optimizer(s, id)?.slot_names().into_iter().map(String::from).collect()))
}

/// `[ptr, len]` of a variable's slot.
#[wasm_bindgen]
pub fn optimizer_slot_view(id: u32, var_index: u32, var_generation: u32, slot: &str) -> Result<Vec<u32>, JsError> {
    with(|s| {
        let v = optimizer(s, id)?.slot(tid(var_index, var_generation), slot)?;
        Ok(vec![v.as_ptr() as u32, v.len() as u32])
    })
}
