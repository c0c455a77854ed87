//! The JavaScript binding of `simdopt-core`. It only converts types at the boundary: tensors and
//! optimizers live in one core [`Store`] and registry inside WASM linear memory, and JavaScript
//! addresses them by handle and views their values in place.
//!
//! A step is one call: the facade writes the step's commands (and any gradients it copies) into
//! the frame buffers below, then calls [`optimizer_apply`].

use std::cell::RefCell;
use std::collections::HashMap;

use simdopt_core::{build_optimizer, Clipping, Error, Gradient, Optimizer, Store, Tensor, TensorId};
use wasm_bindgen::prelude::*;

mod aggregate;
mod external;
mod keras3;
mod quant;
#[cfg(feature = "threads")]
mod threads;

/// Words per command of a step frame: `[var index, var generation, kind, a, b, c, d]`.
pub const COMMAND_WORDS: usize = 7;
const KIND_NONE: u32 = 0;
const KIND_DENSE_STAGED: u32 = 1;
const KIND_DENSE_TENSOR: u32 = 2;
const KIND_SPARSE: u32 = 3;

#[derive(Default)]
struct State {
    store: Store,
    optimizers: HashMap<u32, Optimizer>,
    next_optimizer: u32,
    frame: Frame,
    /// The error of the last failed [`optimizer_apply`], for [`take_error`].
    error: Option<Error>,
    /// The allocation of a step's `(gradient, variable)` list, kept empty between steps.
    pairs: Vec<Pair<'static>>,
    /// Positions of the non-finite gradients of the last step [`optimizer_apply_checked`] skipped.
    non_finite: Vec<usize>,
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

/// The allocator: the system one, except that blocks of [`ALIGNED_FROM`] bytes or more (tensor
/// values, slots, the frame) start on a cache line. With the default 8-byte alignment, a quarter
/// of a kernel's 16-byte vector loads and stores straddle two cache lines.
struct LineAligned;

const ALIGNED_FROM: usize = 256;
const LINE: usize = 64;

fn line_layout(l: std::alloc::Layout) -> std::alloc::Layout {
    if l.size() >= ALIGNED_FROM && l.align() < LINE {
        // Cannot fail: LINE is a power of two and the size is unchanged.
        l.align_to(LINE).unwrap_or(l)
    } else {
        l
    }
}

// SAFETY: every block is allocated and freed with the same adjusted layout (a function of the
// caller's layout), by the system allocator.
unsafe impl std::alloc::GlobalAlloc for LineAligned {
    unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 {
        std::alloc::System.alloc(line_layout(l))
    }
    unsafe fn alloc_zeroed(&self, l: std::alloc::Layout) -> *mut u8 {
        std::alloc::System.alloc_zeroed(line_layout(l))
    }
    unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) {
        std::alloc::System.dealloc(p, line_layout(l))
    }
    unsafe fn realloc(&self, p: *mut u8, l: std::alloc::Layout, new_size: usize) -> *mut u8 {
        let old = line_layout(l);
        let new = line_layout(std::alloc::Layout::from_size_align_unchecked(new_size, l.align()));
        if old.align() == new.align() {
            return std::alloc::System.realloc(p, old, new_size);
        }
        let q = std::alloc::System.alloc(new);
        if !q.is_null() {
            core::ptr::copy_nonoverlapping(p, q, l.size().min(new_size));
            std::alloc::System.dealloc(p, old);
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: LineAligned = LineAligned;

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

// ---- tensors -------------------------------------------------------------------------------

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

// ---- frame ---------------------------------------------------------------------------------

/// Makes the frame hold at least this many command words, gradient values and indices.
/// Running out of memory is an error (nothing changes), not an abort.
#[wasm_bindgen]
pub fn frame_reserve(commands: u32, values: u32, indices: u32) -> Result<(), JsError> {
    with(|s| {
        let f = &mut s.frame;
        grow(&mut f.commands, commands as usize)?;
        grow(&mut f.values, values as usize)?;
        grow(&mut f.indices, indices as usize)
    })
}

fn grow<T: Copy + Default>(v: &mut Vec<T>, len: usize) -> Result<(), Error> {
    if len > v.len() {
        v.try_reserve_exact(len - v.len())
            .map_err(|_| Error::InvalidState { message: format!("out of memory: cannot reserve a step frame of {len} values") })?;
        v.resize(len, T::default());
    }
    Ok(())
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

/// The core's registry of optimizer classes as JSON (`simdopt_core::registry_json`): class
/// names, families, config defaults and slot tables, for the facade's check of its own tables.
#[wasm_bindgen]
pub fn registry_json() -> String {
    simdopt_core::registry_json()
}

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
fn iterations_from_js(x: f64) -> Result<u64, Error> {
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

/// The first `n` commands of the frame.
fn step_commands(commands: &[u32], n: usize) -> Result<&[u32], Error> {
    n.checked_mul(COMMAND_WORDS).and_then(|w| commands.get(..w)).ok_or_else(|| bad_frame("more commands than the frame holds"))
}

/// Widens (to the core's i64) only the indices the commands use: the frame may be much larger
/// than the step.
fn widen_indices(cmds: &[u32], indices: &[i32], indices64: &mut Vec<i64>) -> Result<(), Error> {
    let mut used = 0usize;
    for c in cmds.chunks_exact(COMMAND_WORDS) {
        if c[2] == KIND_SPARSE {
            used = used.max((c[5] as usize).checked_add(c[6] as usize).ok_or_else(|| bad_frame("indices out of range"))?);
        }
    }
    let indices = indices.get(..used).ok_or_else(|| bad_frame("indices out of range"))?;
    indices64.clear();
    indices64.extend(indices.iter().map(|&i| i as i64));
    Ok(())
}

/// Decodes the commands into (gradient, variable) pairs that borrow the frame's buffers.
fn decode<'a>(cmds: &[u32], values: &'a [f32], indices64: &'a [i64], pairs: &mut Vec<Pair<'a>>) -> Result<(), Error> {
    for c in cmds.chunks_exact(COMMAND_WORDS) {
        let var = tid(c[0], c[1]);
        let (a, b, cc, d) = (c[3] as usize, c[4] as usize, c[5] as usize, c[6] as usize);
        let grad = match c[2] {
            KIND_NONE => None,
            KIND_DENSE_STAGED => Some(Gradient::Dense(frame_values(values, a, b)?)),
            KIND_DENSE_TENSOR => Some(Gradient::Tensor(tid(c[3], c[4]))),
            KIND_SPARSE => Some(Gradient::Sparse {
                values: frame_values(values, a, b)?,
                indices: cc.checked_add(d).and_then(|end| indices64.get(cc..end)).ok_or_else(|| bad_frame("indices out of range"))?,
            }),
            k => return Err(bad_frame(&format!("unknown command kind {k}"))),
        };
        pairs.push((grad, var));
    }
    Ok(())
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

fn frame_values(v: &[f32], start: usize, len: usize) -> Result<&[f32], Error> {
    start.checked_add(len).and_then(|end| v.get(start..end)).ok_or_else(|| bad_frame("values out of range"))
}

fn bad_frame(what: &str) -> Error {
    Error::InvalidState { message: format!("malformed step frame: {what}") }
}

#[wasm_bindgen]
pub fn optimizer_weight_names(id: u32) -> Result<Vec<String>, JsError> {
    with(|s| Ok(optimizer(&mut s.optimizers, id)?.weight_names()))
}

/// `[ptr, len]` of weight `i >= 1` (weight 0 is `iterations`).
#[wasm_bindgen]
pub fn optimizer_weight_view(id: u32, i: u32) -> Result<Vec<u32>, JsError> {
    with(|s| {
        let w = optimizer(&mut s.optimizers, id)?
            .weight_view(i as usize)
            .ok_or_else(|| Error::InvalidState { message: format!("no weight {i}") })?;
        Ok(vec![w.as_ptr() as u32, w.len() as u32])
    })
}

/// Sets all weights: `iterations`, then `n` weights whose lengths are the first `n` command
/// words and whose values follow each other in the frame's values.
#[wasm_bindgen]
pub fn optimizer_set_weights(id: u32, iterations: f64, n: u32) -> Result<(), JsError> {
    with(|s| {
        let State { optimizers, frame, .. } = s;
        let iterations = iterations_from_js(iterations)?;
        let opt = optimizer(optimizers, id)?;
        let lens = frame.commands.get(..n as usize).ok_or_else(|| bad_frame("more weights than the frame holds"))?;
        let mut rest = Vec::with_capacity(lens.len());
        let mut off = 0;
        for &len in lens {
            rest.push(frame.values.get(off..off + len as usize).ok_or_else(|| bad_frame("weights out of range"))?);
            off += len as usize;
        }
        opt.set_weights(iterations, &rest)
    })
}

#[wasm_bindgen]
pub fn optimizer_slot_names(id: u32) -> Result<Vec<String>, JsError> {
    with(|s| Ok(optimizer(&mut s.optimizers, id)?.slot_names().into_iter().map(String::from).collect()))
}

/// `[ptr, len]` of a variable's slot.
#[wasm_bindgen]
pub fn optimizer_slot_view(id: u32, var_index: u32, var_generation: u32, slot: &str) -> Result<Vec<u32>, JsError> {
    with(|s| {
        let v = optimizer(&mut s.optimizers, id)?.slot(tid(var_index, var_generation), slot)?;
        Ok(vec![v.as_ptr() as u32, v.len() as u32])
    })
}

/// Creates the slots of variables now (Keras' `build(var_list)`), as one batch in the given order:
/// `handles` is `[index, generation, ...]`. Variables that have slots already are skipped.
#[wasm_bindgen]
pub fn optimizer_create_slots(id: u32, handles: Vec<u32>) -> Result<(), JsError> {
    with(|s| {
        let State { store, optimizers, .. } = s;
        let opt = optimizer(optimizers, id)?;
        let vars: Vec<TensorId> = handles.chunks_exact(2).map(|h| tid(h[0], h[1])).collect();
        opt.create_slots_for(store, &vars)
    })
}

/// Sizes of the batches in which variables got their slots (see `Optimizer::slot_batches`).
#[wasm_bindgen]
pub fn optimizer_slot_batches(id: u32) -> Result<Vec<u32>, JsError> {
    with(|s| Ok(optimizer(&mut s.optimizers, id)?.slot_batches().iter().map(|&n| n as u32).collect()))
}

/// Variables with slots, first-seen order: `[index, generation, elements, ...]`.
#[wasm_bindgen]
pub fn optimizer_slot_variables(id: u32) -> Result<Vec<u32>, JsError> {
    with(|s| {
        Ok(optimizer(&mut s.optimizers, id)?.slot_variables().flat_map(|(v, _, len)| [v.index(), v.generation(), len as u32]).collect())
    })
}

/// Names of the variables with slots (as when their slots were made), first-seen order.
#[wasm_bindgen]
pub fn optimizer_slot_variable_names(id: u32) -> Result<Vec<String>, JsError> {
    with(|s| Ok(optimizer(&mut s.optimizers, id)?.slot_variables().map(|(_, name, _)| name.to_string()).collect()))
}

/// The shape of a live tensor.
#[wasm_bindgen]
pub fn tensor_shape(index: u32, generation: u32) -> Result<Vec<u32>, JsError> {
    with(|s| Ok(s.store.get(tid(index, generation))?.shape.iter().map(|&d| d as u32).collect()))
}

// ---- faults --------------------------------------------------------------------------------
//
// A panic aborts (the release profile has `panic = "abort"`): the wasm instance traps with
// `unreachable` and JavaScript sees a `WebAssembly.RuntimeError` without the message. The hook
// below copies the message into a static buffer first, which the facade reads straight from
// memory (no call into the failed instance) to say what went wrong.

const PANIC_CAPACITY: usize = 4096;

/// `[length: u32 LE][UTF-8 bytes]` of the last panic message.
struct PanicBuffer(core::cell::UnsafeCell<[u8; 4 + PANIC_CAPACITY]>);

// SAFETY: written only by the panic hook, and a panic aborts the whole module (in the threads
// build too: the instance that panics traps, and the main thread gives up on the step).
unsafe impl Sync for PanicBuffer {}

static PANIC: PanicBuffer = PanicBuffer(core::cell::UnsafeCell::new([0; 4 + PANIC_CAPACITY]));

#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| record_panic(info)));
}

/// Copies a panic message into [`PANIC`], truncated on a character boundary. Allocates nothing
/// (the panic may be an allocation failure).
fn record_panic(info: &dyn core::fmt::Display) {
    use core::fmt::Write;
    struct Writer<'a> {
        buf: &'a mut [u8],
        len: usize,
    }
    impl Write for Writer<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            for c in s.chars() {
                let n = c.len_utf8();
                if self.len + n > self.buf.len() {
                    break;
                }
                c.encode_utf8(&mut self.buf[self.len..]);
                self.len += n;
            }
            Ok(())
        }
    }
    // SAFETY: single-threaded; nothing else borrows the buffer (JavaScript reads it only after
    // the instance has trapped).
    let all = unsafe { &mut *PANIC.0.get() };
    let (head, body) = all.split_at_mut(4);
    let mut w = Writer { buf: body, len: 0 };
    let _ = write!(w, "{info}");
    head.copy_from_slice(&(w.len as u32).to_le_bytes());
}

/// Byte offset of the panic buffer (`[length: u32][UTF-8]`), read by the facade after a trap.
#[wasm_bindgen]
pub fn panic_buffer() -> u32 {
    PANIC.0.get() as u32
}

/// Test hook: panics with `message` (while the state is borrowed if `inside_state`), as a bug in
/// the core would. Not part of the TypeScript API.
#[wasm_bindgen]
#[doc(hidden)]
pub fn __test_panic(message: &str, inside_state: bool) {
    if inside_state {
        STATE.with(|s| {
            let _held = s.borrow_mut();
            panic!("{message}");
        })
    }
    panic!("{message}");
}

/// Test hook: traps without a panic message (as an allocation failure or `abort` does).
#[wasm_bindgen]
#[doc(hidden)]
pub fn __test_abort() {
    std::process::abort();
}

/// CRC32C (the Castagnoli polynomial, as in iSCSI and ext4), by the `crc` crate.
static CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// CRC32C of `bytes`, continuing from `previous`, the CRC32C of the bytes before them (0 for
/// none): checkpoints' checksum, computed chunk by chunk so that no chunk needs much memory.
#[wasm_bindgen]
pub fn checksum_crc32c(previous: u32, bytes: &[u8]) -> u32 {
    // The digest's register is the reflected, not yet inverted, CRC: undo the final xor.
    let mut digest = CRC32C.digest_with_initial((previous ^ crc::CRC_32_ISCSI.xorout).reverse_bits());
    digest.update(bytes);
    digest.finalize()
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
    fn crc32c_matches_the_check_value_in_one_piece_and_in_chunks() {
        let data = b"123456789";
        assert_eq!(checksum_crc32c(0, data), 0xe306_9283);
        assert_eq!(checksum_crc32c(0, b""), 0);
        for cut in 0..=data.len() {
            assert_eq!(checksum_crc32c(checksum_crc32c(0, &data[..cut]), &data[cut..]), 0xe306_9283, "cut at {cut}");
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
