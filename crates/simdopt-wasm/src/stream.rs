//! Streamed gradients (`simdopt_core::step::stream`): a step whose large `Float32Array`
//! gradients stay in JavaScript until the core asks for them, a chunk at a time, through the
//! facade's [`GradientSource`] (ts/optimizer/stream.ts), which copies each chunk into the core's
//! staging buffer just before the update runs over it.
//!
//! Same frame as [`super::optimizer_apply`], plus one command kind: `[var index, var
//! generation, KIND_DENSE_STREAMED, len, 0, 0, 0]`, a dense gradient of `len` values not in the
//! frame. Every other kind is decoded (and bounds-checked) as there.

use std::cell::RefCell;

use simdopt_core::step::stream::{ChunkSource, StreamBuffers, Streamed};
use simdopt_core::Error;
use wasm_bindgen::prelude::*;

use super::frame::{decode, recycle, step_commands, widen_indices, Pair, COMMAND_WORDS};
use super::optimizers::countable;
use super::{optimizer, tid, State, STATE};

/// The command kind of a streamed dense gradient (`KIND_DENSE_STREAMED` in ts/frame.ts).
const KIND_DENSE_STREAMED: u32 = 4;

#[wasm_bindgen]
extern "C" {
    /// The facade's copier of streamed gradients.
    pub type GradientSource;

    /// Copies `len` values of the gradient of command `pair`, from its element `offset`, to byte
    /// address `dst` of WASM memory. Returns 0 when done.
    #[wasm_bindgen(method, structural, catch)]
    fn fill(this: &GradientSource, pair: u32, offset: u32, len: u32, dst: u32) -> Result<u32, JsValue>;
}

struct Js<'a>(&'a GradientSource);

impl ChunkSource for Js<'_> {
    fn fill(&mut self, pair: usize, offset: usize, dst: &mut [f32]) -> bool {
        // A throw (which the facade never does) reads as a failure, not an unwind through the core.
        matches!(self.0.fill(pair as u32, offset as u32, dst.len() as u32, dst.as_mut_ptr() as u32), Ok(0))
    }
}

thread_local! {
    /// The staging buffer and the per-command lengths, reused from step to step.
    static STREAM: RefCell<(StreamBuffers, Vec<Option<usize>>)> = RefCell::new(Default::default());
}

/// Elements per chunk of a streamed gradient (`simdopt_core::step::stream::CHUNK` unless a
/// benchmark set another).
#[wasm_bindgen]
pub fn stream_chunk() -> u32 {
    STREAM.with(|st| st.borrow().0.chunk() as u32)
}

/// Benchmark hook (benches/stream-chunk.mjs): streams in chunks of `elements` (a positive
/// multiple of 8) from the next step on. Not part of the TypeScript API.
#[wasm_bindgen]
#[doc(hidden)]
pub fn __stream_set_chunk(elements: u32) -> Result<(), JsError> {
    if elements == 0 || !elements.is_multiple_of(8) {
        return Err(JsError::new("InvalidArgument: a chunk is a positive multiple of 8 elements"));
    }
    STREAM.with(|st| {
        let buffers = &mut st.borrow_mut().0;
        *buffers = StreamBuffers::with_chunks(elements as usize, buffers.split_chunk());
    });
    Ok(())
}

/// Elements per chunk of a streamed pass that the threads build splits over its pool
/// (`simdopt_core::step::stream::SPLIT_CHUNK`; the single-threaded builds: `stream_chunk()`).
#[wasm_bindgen]
pub fn stream_split_chunk() -> u32 {
    STREAM.with(|st| st.borrow().0.split_chunk() as u32)
}

/// Benchmark hook (benches/stream-chunk.mjs --threads): the threads build streams passes it splits over
/// its pool in chunks of `elements` (positive) from the next step on. Not part of the TypeScript
/// API.
#[wasm_bindgen]
#[doc(hidden)]
pub fn __stream_set_split_chunk(elements: u32) -> Result<(), JsError> {
    if elements == 0 {
        return Err(JsError::new("InvalidArgument: a chunk is a positive number of elements"));
    }
    STREAM.with(|st| {
        let buffers = &mut st.borrow_mut().0;
        *buffers = StreamBuffers::with_chunks(buffers.chunk(), elements as usize);
    });
    Ok(())
}

/// [`super::optimizer_apply`] (with the non-finite guard if `checked`) for a frame that may hold
/// streamed gradients. Returns 0 (applied), 1 (error, see [`super::take_error`]), 2 (skipped,
/// see [`super::take_non_finite`]) or 3: nothing done, the step must take the whole path (write
/// every gradient into the frame and call [`super::optimizer_apply`]).
#[wasm_bindgen]
pub fn optimizer_apply_streamed(id: u32, n: u32, checked: bool, source: &GradientSource) -> u32 {
    STATE.with(|s| {
        let s = &mut *s.borrow_mut();
        match apply(s, id, n as usize, checked, source) {
            Ok(code) => code,
            Err(e) => {
                s.error = Some(e);
                1
            }
        }
    })
}

fn apply(s: &mut State, id: u32, n: usize, checked: bool, source: &GradientSource) -> Result<u32, Error> {
    let State { store, optimizers, frame, pairs: spare, non_finite, .. } = s;
    let opt = optimizer(optimizers, id)?;
    countable(opt)?;
    let cmds = step_commands(&frame.commands, n)?;
    widen_indices(cmds, &frame.indices, &mut frame.indices64)?;
    STREAM.with(|st| {
        let (buffers, streamed) = &mut *st.borrow_mut();
        streamed.clear();
        let mut pairs: Vec<Pair<'_>> = recycle(core::mem::take(spare));
        let result = (|| {
            for c in cmds.chunks_exact(COMMAND_WORDS) {
                if c[2] == KIND_DENSE_STREAMED {
                    pairs.push((None, tid(c[0], c[1])));
                    streamed.push(Some(c[3] as usize));
                } else {
                    decode(c, &frame.values, &frame.indices64, &mut pairs)?;
                    streamed.push(None);
                }
            }
            opt.apply_streamed(store, &pairs, streamed, &mut Js(source), buffers, checked.then_some(&mut *non_finite))
        })();
        *spare = recycle(pairs);
        Ok(match result? {
            Streamed::Applied => 0,
            Streamed::Skipped => 2,
            Streamed::WholePath => 3,
        })
    })
}
