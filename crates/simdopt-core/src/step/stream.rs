//! Streamed dense gradients: a step whose large dense gradients are not in memory as a whole
//! but copied in a chunk at a time by a [`ChunkSource`] (the facade, copying from a JavaScript
//! `Float32Array`) into one reused staging buffer, each chunk updated while it is in cache. A
//! gradient then crosses memory once, instead of being copied into WASM memory whole and read
//! back by the kernel.
//!
//! The same bits and the same errors as [`Optimizer::apply_gradients`], and a failure before the
//! update changes nothing: everything that must see a whole gradient runs first — validation,
//! then (with the non-finite guard, `clipnorm` or `global_clipnorm`) one read pass over the
//! streamed chunks for the guard and the norms, in TF 2.4's unblocked order with the partial
//! sums carried from chunk to chunk ([`SumOfSquares`]). Then the variables are updated in pair
//! order, the streamed ones chunk by chunk.
//!
//! Only the TF 2.4 order of stages streams (one elementwise pass per variable). The Keras 3
//! stages (accumulation, EMA, weight decay) and the Keras 3 rules, some of which read a gradient
//! in several passes, take the whole path ([`Streamed::WholePath`]): correctness first.

use core::cell::{Cell, RefCell};

use super::clip::{tf24_preludes, Clip};
use super::validate::{all_finite, check_call, non_finite};
use super::{count, update};
use crate::drive::GradIn;
use crate::error::{Error, Result};
use crate::lanes::{sum_of_squares, SumOfSquares, REDUCE_WIDTH};
use crate::optimizer::{Gradient, Optimizer};
use crate::registry::{self, Family};
use crate::store::{Store, TensorId};

/// Elements per chunk (128 KiB of f32): the staging buffer, the chunk and the variable's and
/// slots' matching elements stay in L2. Chosen by measurement (benches/README.md, "Streamed
/// gradients"). A multiple of `REDUCE_WIDTH`, so that every chunk but the last is all body.
pub const CHUNK: usize = 1 << 15;

const _: () = assert!(CHUNK % REDUCE_WIDTH == 0);

/// Elements per chunk (1 MiB of f32) of a streamed pass that the threads build splits over its
/// pool (one whose whole variable is large enough, `pool::splits`): each chunk is one job for
/// the workers, so it must be large enough to pay for handing it out; the calling thread copies
/// the next one meanwhile (into a second buffer). Chosen by measurement
/// (benches/README.md, "Streamed gradients in the threads build").
#[cfg(feature = "threads")]
pub const SPLIT_CHUNK: usize = 1 << 18;

/// Where the values of streamed gradients come from.
pub trait ChunkSource {
    /// Copies elements `offset..offset + dst.len()` of the gradient of pair `pair` into `dst`.
    /// Returns false if it cannot (the step then fails).
    fn fill(&mut self, pair: usize, offset: usize, dst: &mut [f32]) -> bool;
}

/// What [`Optimizer::apply_streamed`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Streamed {
    Applied,
    /// The non-finite guard skipped the step (nothing changed).
    Skipped,
    /// Nothing done: this step takes the whole path. The optimizer does not stream, or a
    /// streamed gradient does not match its variable (the whole path gives the error).
    WholePath,
}

/// The buffers streamed steps reuse.
pub struct StreamBuffers {
    chunk: usize,
    /// The chunk of a pass split over the pool (the threads build; `chunk` in the others).
    split_chunk: usize,
    staging: Vec<f32>,
    sums: Vec<f32>,
    preludes: Vec<Clip>,
    new_vars: Vec<TensorId>,
    non_finite: Vec<usize>,
}

impl Default for StreamBuffers {
    fn default() -> Self {
        #[cfg(feature = "threads")]
        return StreamBuffers::with_chunks(CHUNK, SPLIT_CHUNK);
        #[cfg(not(feature = "threads"))]
        StreamBuffers::with_chunk(CHUNK)
    }
}

impl StreamBuffers {
    /// Elements per chunk.
    pub fn chunk(&self) -> usize {
        self.chunk
    }

    /// Elements per chunk of a pass split over the pool (the threads build).
    pub fn split_chunk(&self) -> usize {
        self.split_chunk
    }

    /// Buffers for chunks of `chunk` elements (a multiple of `REDUCE_WIDTH`; tests use small ones).
    pub fn with_chunk(chunk: usize) -> Self {
        StreamBuffers::with_chunks(chunk, chunk)
    }

    /// Buffers for chunks of `chunk` elements, and of `split_chunk` (positive) in passes the
    /// threads build splits over its pool.
    pub fn with_chunks(chunk: usize, split_chunk: usize) -> Self {
        assert!(chunk > 0 && chunk % REDUCE_WIDTH == 0, "a chunk is a positive multiple of REDUCE_WIDTH elements");
        assert!(split_chunk > 0, "a split chunk is positive");
        StreamBuffers {
            chunk,
            split_chunk,
            staging: Vec::new(),
            sums: Vec::new(),
            preludes: Vec::new(),
            new_vars: Vec::new(),
            non_finite: Vec::new(),
        }
    }

    /// The staging buffer of the streamed pass over a variable of `len` elements with `slots`
    /// slots, and whether the pass is split over the pool: one chunk, or two of `split_chunk`
    /// (copied and updated in turn) if the pass reads enough to be split (the variable, the
    /// gradient and the slots, as the lane driver counts them for TF 2.4 rules' one pass).
    fn staging_for(&self, len: usize, slots: usize) -> (usize, bool) {
        #[cfg(feature = "threads")]
        if crate::pool::splits(len, 2 + slots) {
            return (2 * self.split_chunk, true);
        }
        #[cfg(not(feature = "threads"))]
        let _ = (len, slots);
        (self.chunk, false)
    }

    /// Elements of the staging buffer: one chunk, or two split chunks (the threads build).
    fn staging_len(&self) -> usize {
        #[cfg(feature = "threads")]
        return self.chunk.max(2 * self.split_chunk);
        #[cfg(not(feature = "threads"))]
        self.chunk
    }
}

impl Optimizer {
    /// Whether this optimizer's steps can take streamed gradients: a TF 2.4 class (its rule's
    /// type: the Keras 3 classes share the names) in the TF 2.4 order (no Keras 3 stage).
    pub fn streams(&self) -> bool {
        !self.stages.any() && !self.keras3_order && registry::class_of(self.rule.as_any()).is_some_and(|c| c.family == Family::Tf24)
    }

    /// One step as [`Optimizer::apply_gradients`] (with `guard`, as
    /// [`Optimizer::apply_gradients_checked`]), where the pairs with `streamed[i] == Some(len)`
    /// have a dense gradient of `len` values that `source` copies in a chunk at a time (their
    /// gradient in `pairs` is `None`). Same bits, same errors; see the module documentation.
    /// `Ok(Streamed::WholePath)` changes nothing: apply the step the whole way instead.
    pub fn apply_streamed(
        &mut self,
        store: &mut Store,
        pairs: &[(Option<Gradient<'_>>, TensorId)],
        streamed: &[Option<usize>],
        source: &mut dyn ChunkSource,
        buffers: &mut StreamBuffers,
        guard: Option<&mut Vec<usize>>,
    ) -> Result<Streamed> {
        assert_eq!(pairs.len(), streamed.len(), "one entry of `streamed` per pair");
        if !self.streams() || streamed.iter().all(Option::is_none) {
            return Ok(Streamed::WholePath);
        }
        for ((g, var), len) in pairs.iter().zip(streamed) {
            let Some(len) = *len else { continue };
            if g.is_some() || store.get(*var).map_or(true, |t| t.data.len() != len) {
                return Ok(Streamed::WholePath);
            }
        }
        // The streamed gradients have their variables' lengths, so the whole path's checks of
        // them would pass: the checks of the others give the whole path's errors.
        check_call(self, store, pairs, true)?;
        let staging = buffers.staging_len();
        if buffers.staging.len() < staging {
            buffers.staging.try_reserve_exact(staging - buffers.staging.len()).map_err(|_| Error::InvalidState {
                message: format!("out of memory: cannot reserve a staging buffer of {staging} values"),
            })?;
            buffers.staging.resize(staging, 0.0);
        }
        let clipping = self.clipping;
        let norms = clipping.clipnorm.is_some() || clipping.global_clipnorm.is_some();
        buffers.sums.clear();
        if guard.is_some() || norms {
            let mut finite = true;
            buffers.non_finite.clear();
            for (i, ((g, _), len)) in pairs.iter().zip(streamed).enumerate() {
                let sum = match (g, *len) {
                    (Some(g), _) => norms.then(|| sum_of_squares(g.values(store).expect("validated"), clipping.clipvalue)),
                    (None, Some(len)) => {
                        let (ok, sum) = scan(
                            source,
                            i,
                            len,
                            &mut buffers.staging[..buffers.chunk],
                            guard.is_some(),
                            norms.then_some(clipping.clipvalue),
                        )?;
                        if !ok {
                            buffers.non_finite.push(i);
                        }
                        finite &= ok;
                        sum
                    }
                    (None, None) => continue,
                };
                buffers.sums.extend(sum);
            }
            if let Some(out) = guard {
                non_finite(store, pairs, out)?;
                if !(finite && out.is_empty()) {
                    out.extend_from_slice(&buffers.non_finite);
                    out.sort_unstable();
                    return Ok(Streamed::Skipped);
                }
            }
        }
        // As the whole path from here: slots, clipping preludes, the rule's scalars, the update.
        buffers.new_vars.clear();
        let known = &self.vars;
        buffers.new_vars.extend(
            pairs
                .iter()
                .zip(streamed)
                .filter(|((g, v), len)| (g.is_some() || len.is_some()) && !known.contains_key(v))
                .map(|((_, v), _)| *v),
        );
        self.create_slots(store, &buffers.new_vars)?;
        buffers.preludes.clear();
        if norms {
            tf24_preludes(clipping, &buffers.sums, &mut buffers.preludes);
        } else {
            let n = pairs.iter().zip(streamed).filter(|((g, _), len)| g.is_some() || len.is_some()).count();
            buffers.preludes.extend((0..n).map(|_| clipping.prelude(0.0, 0.0)));
        }
        self.prepare_rule();
        let mut k = 0;
        for (i, (pair, len)) in pairs.iter().zip(streamed).enumerate() {
            if pair.0.is_none() && len.is_none() {
                continue;
            }
            let clip = buffers.preludes[k];
            k += 1;
            if pair.0.is_some() {
                // The whole path's update of one pair (its one prelude in the scratch list).
                self.scratch.preludes.clear();
                self.scratch.preludes.push(clip);
                update::run(self, store, core::slice::from_ref(pair), update::Fusion::Tf24);
                continue;
            }
            let state = self.vars[&pair.1];
            let slots = &mut self.states[state].slots;
            let (shape, var, _) = store.var_and_grad(pair.1, None).expect("validated");
            let (staging, split) = buffers.staging_for(var.len(), slots.len());
            let (source, read) = (RefCell::new(&mut *source), Cell::new(true));
            let fill = |offset: usize, dst: &mut [f32]| {
                read.set(source.borrow_mut().fill(i, offset, dst));
                read.get()
            };
            let grad = GradIn::Streamed { staging: &mut buffers.staging[..staging], fill: &fill, split };
            self.rule.apply_dense(update::tf24_prelude(clip), shape, var, grad, slots, self.iterations);
            if !read.get() {
                let name = store.get(pair.1).map(|t| t.name.clone()).unwrap_or_default();
                return Err(Error::InvalidState {
                    message: format!(
                        "the streamed gradient of '{name}' could not be read after its update began: the step stopped part way (the variables before it are updated, `iterations` is not)"
                    ),
                });
            }
        }
        count::advance(self);
        Ok(Streamed::Applied)
    }
}

/// The read pass over one streamed gradient of `len` values: whether they are all finite (when
/// `guard`), and Σ x² after `clipvalue` (when `norm` is `Some(clipvalue)`), in the order of
/// [`sum_of_squares`] over the whole gradient.
fn scan(
    source: &mut dyn ChunkSource,
    pair: usize,
    len: usize,
    staging: &mut [f32],
    guard: bool,
    norm: Option<Option<f32>>,
) -> Result<(bool, Option<f32>)> {
    let body = len - len % REDUCE_WIDTH;
    let mut sum = SumOfSquares::new(norm.flatten());
    let mut total = None;
    let mut finite = true;
    let mut start = 0;
    // (A zero-length gradient has one empty chunk: its norm is 0.)
    loop {
        let n = (len - start).min(staging.len());
        let chunk = &mut staging[..n];
        if !source.fill(pair, start, chunk) {
            return Err(Error::InvalidState {
                message: format!("the streamed gradient of pair {pair} could not be read (nothing changed)"),
            });
        }
        if guard {
            finite &= all_finite(chunk);
        }
        if norm.is_some() {
            // Every chunk but the last is all body (the chunk is a multiple of REDUCE_WIDTH).
            let b = body.saturating_sub(start).min(n);
            sum.add(&chunk[..b]);
            if start + n == len {
                total = Some(sum.finish(&chunk[b..]));
            }
        }
        start += n;
        if start == len {
            return Ok((finite, total));
        }
    }
}

#[cfg(test)]
mod tests;
