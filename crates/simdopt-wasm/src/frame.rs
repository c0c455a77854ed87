//! The step frame: buffers the facade writes a step's commands, staged gradient values and
//! sparse indices into, and their bounds-checked decoding into `(gradient, variable)` pairs.

use simdopt_core::{Error, Gradient, TensorId};
use wasm_bindgen::prelude::*;

use super::{tid, with, STATE};

/// Words per command of a step frame: `[var index, var generation, kind, a, b, c, d]`.
pub const COMMAND_WORDS: usize = 7;
pub(crate) const KIND_NONE: u32 = 0;
pub(crate) const KIND_DENSE_STAGED: u32 = 1;
const KIND_DENSE_TENSOR: u32 = 2;
pub(crate) const KIND_SPARSE: u32 = 3;
/// Sparse rows whose values are a tensor: `a, b` its handle, `c, d` the indices as for
/// [`KIND_SPARSE`] (the facade's `KIND_SPARSE_TENSOR`; 4 is the streamed kind).
const KIND_SPARSE_TENSOR: u32 = 5;

/// Buffers the facade writes a step into. They only grow, so their pointers change only on
/// `frame_reserve`.
#[derive(Default)]
pub(crate) struct Frame {
    pub(crate) commands: Vec<u32>,
    pub(crate) values: Vec<f32>,
    pub(crate) indices: Vec<i32>,
    pub(crate) indices64: Vec<i64>,
}

pub(crate) type Pair<'a> = (Option<Gradient<'a>>, TensorId);

/// Empties a pair list and hands its allocation over to another lifetime.
pub(crate) fn recycle<'a, 'b>(v: Vec<Pair<'a>>) -> Vec<Pair<'b>> {
    let mut v = core::mem::ManuallyDrop::new(v);
    v.clear();
    // SAFETY: the vector is empty, and `Pair<'a>` and `Pair<'b>` are the same type up to a
    // lifetime, so they have one layout and the allocation is valid for either.
    unsafe { Vec::from_raw_parts(v.as_mut_ptr() as *mut Pair<'b>, 0, v.capacity()) }
}

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

/// The first `n` commands of the frame.
pub(crate) fn step_commands(commands: &[u32], n: usize) -> Result<&[u32], Error> {
    n.checked_mul(COMMAND_WORDS).and_then(|w| commands.get(..w)).ok_or_else(|| bad_frame("more commands than the frame holds"))
}

/// Widens (to the core's i64) only the indices the commands use: the frame may be much larger
/// than the step.
pub(crate) fn widen_indices(cmds: &[u32], indices: &[i32], indices64: &mut Vec<i64>) -> Result<(), Error> {
    let mut used = 0usize;
    for c in cmds.chunks_exact(COMMAND_WORDS) {
        if c[2] == KIND_SPARSE || c[2] == KIND_SPARSE_TENSOR {
            used = used.max((c[5] as usize).checked_add(c[6] as usize).ok_or_else(|| bad_frame("indices out of range"))?);
        }
    }
    let indices = indices.get(..used).ok_or_else(|| bad_frame("indices out of range"))?;
    indices64.clear();
    indices64.extend(indices.iter().map(|&i| i as i64));
    Ok(())
}

/// Decodes the commands into (gradient, variable) pairs that borrow the frame's buffers.
pub(crate) fn decode<'a>(cmds: &[u32], values: &'a [f32], indices64: &'a [i64], pairs: &mut Vec<Pair<'a>>) -> Result<(), Error> {
    for c in cmds.chunks_exact(COMMAND_WORDS) {
        let var = tid(c[0], c[1]);
        let (a, b, cc, d) = (c[3] as usize, c[4] as usize, c[5] as usize, c[6] as usize);
        let grad = match c[2] {
            KIND_NONE => None,
            KIND_DENSE_STAGED => Some(Gradient::Dense(frame_slice(values, a, b, "values")?)),
            KIND_DENSE_TENSOR => Some(Gradient::Tensor(tid(c[3], c[4]))),
            KIND_SPARSE => {
                Some(Gradient::Sparse { values: frame_slice(values, a, b, "values")?, indices: frame_slice(indices64, cc, d, "indices")? })
            }
            KIND_SPARSE_TENSOR => {
                Some(Gradient::SparseTensor { values: tid(c[3], c[4]), indices: frame_slice(indices64, cc, d, "indices")? })
            }
            k => return Err(bad_frame(&format!("unknown command kind {k}"))),
        };
        pairs.push((grad, var));
    }
    Ok(())
}

/// `v[start..start + len]` of a frame buffer, or a bad-frame error naming `what`.
fn frame_slice<'v, T>(v: &'v [T], start: usize, len: usize, what: &str) -> Result<&'v [T], Error> {
    start.checked_add(len).and_then(|end| v.get(start..end)).ok_or_else(|| bad_frame(&format!("{what} out of range")))
}

pub(crate) fn bad_frame(what: &str) -> Error {
    Error::InvalidState { message: format!("malformed step frame: {what}") }
}
