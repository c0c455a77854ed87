//! The threads build's JavaScript interface (cargo feature `threads`): the worker pool's exports,
//! and a proof and benchmark harness, one dense variable stepped by a core update rule whose
//! kernel runs per [`pool::CHUNK`] over the pool.
//!
//! Until the core's lane driver hands element ranges to the pool itself, a kernel can only be
//! split from outside through the rule's public `apply_dense`, whose slots are whole `Vec`s; so
//! this harness keeps each slot as one `Vec` per chunk. It runs the same kernel code on the same
//! f32 values as an `Optimizer` step with no clipping or decay, which the tests compare bit for bit
//! (tests/threads.test.ts) and benches/threads.mjs times.

use simdopt_core::clip::Identity;
use simdopt_core::drive::GradIn;
use simdopt_core::rules::{Adadelta, Adagrad, Adam, Adamax, DenseStep, Ftrl, Nadam, Options, RmsProp, Sgd, Slot, StepContext, UpdateRule};
use simdopt_core::Error;
use wasm_bindgen::prelude::*;

use crate::pool::{self, CHUNK};

/// Raw pointers that cross to the worker threads; each chunk's closure touches only its range.
struct Shared<T>(*mut T);
// Not derived: a derive would require `T: Copy`.
impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Shared<T> {}
// SAFETY: the pool hands every chunk (a disjoint range) to exactly one thread.
unsafe impl<T> Sync for Shared<T> {}
unsafe impl<T> Send for Shared<T> {}

impl<T> Shared<T> {
    /// The pointer `i` elements on (a method, so closures capture the `Sync` wrapper whole).
    ///
    /// # Safety
    /// As `pointer::add`.
    unsafe fn at(self, i: usize) -> *mut T {
        self.0.add(i)
    }
}

struct State<R: UpdateRule> {
    rule: R,
    lr: f32,
    iterations: u64,
    globals: Vec<f32>,
    var: Vec<f32>,
    grad: Vec<f32>,
    /// `chunk_slots[c]`: the rule's slots for the elements of chunk `c`.
    chunk_slots: Vec<Vec<Slot>>,
}

/// Rules whose step scalars can be shared with the workers (all of the core's: plain f32s).
trait SharedRule: UpdateRule + Sync
where
    Self::Coeffs: Sync,
{
}
impl<R: UpdateRule + Sync> SharedRule for R where R::Coeffs: Sync {}

impl<R: SharedRule> State<R>
where
    R::Coeffs: Sync,
{
    fn new(rule: R, lr: f32, n: usize) -> Self {
        let specs = rule.slots();
        let chunk_slots = (0..n.div_ceil(CHUNK))
            .map(|c| {
                let len = CHUNK.min(n - c * CHUNK);
                specs.iter().map(|s| Slot::new(s, &[len]).expect("slot memory")).collect()
            })
            .collect();
        let globals = rule.global_weights().iter().map(|s| s.init).collect();
        State { rule, lr, iterations: 0, globals, var: vec![0.0; n], grad: vec![0.0; n], chunk_slots }
    }

    fn step(&mut self) {
        let ctx = StepContext { iteration: self.iterations, lr: self.lr, decay: 0.0 };
        let coeffs = self.rule.prepare(&ctx, &mut self.globals);
        let (rule, coeffs) = (&self.rule, &coeffs);
        let (var, grad, slots) = (Shared(self.var.as_mut_ptr()), Shared(self.grad.as_mut_ptr()), Shared(self.chunk_slots.as_mut_ptr()));
        pool::parallel_for(self.var.len(), move |start, end| {
            // `parallel_for` gives whole chunks, or everything at once when it runs inline.
            let mut s = start;
            while s < end {
                let e = (s + CHUNK).min(end);
                // SAFETY: `[s, e)` is one chunk, run by this thread alone; the buffers live
                // until `parallel_for` returns.
                unsafe {
                    let var = core::slice::from_raw_parts_mut(var.at(s), e - s);
                    let grad = core::slice::from_raw_parts(grad.at(s), e - s);
                    let step =
                        DenseStep { pre: Identity, shape: &[e - s], var, grad: GradIn::Values(grad), slots: &mut *slots.at(s / CHUNK) };
                    rule.apply_dense(coeffs, step);
                }
                s = e;
            }
        });
        self.iterations += 1;
    }

    fn slot(&self, i: usize) -> Vec<f32> {
        self.chunk_slots.iter().flat_map(|c| c[i].f32().expect("f32 slots").iter().copied()).collect()
    }
}

trait Stepper {
    fn step(&mut self);
    fn var(&mut self) -> &mut Vec<f32>;
    fn grad(&mut self) -> &mut Vec<f32>;
    fn slot(&self, i: usize) -> Option<Vec<f32>>;
}

impl<R: SharedRule> Stepper for State<R>
where
    R::Coeffs: Sync,
{
    fn step(&mut self) {
        State::step(self)
    }
    fn var(&mut self) -> &mut Vec<f32> {
        &mut self.var
    }
    fn grad(&mut self) -> &mut Vec<f32> {
        &mut self.grad
    }
    fn slot(&self, i: usize) -> Option<Vec<f32>> {
        (i < self.rule.slots().len()).then(|| State::slot(self, i))
    }
}

/// A variable of `n` zeros with a gradient buffer, stepped by the rule `class_name` (a Keras
/// class name; `keys`/`values` its options as for `optimizer_create`) at learning rate `lr`.
#[wasm_bindgen]
pub struct ChunkedDense(Box<dyn Stepper>);

#[wasm_bindgen]
impl ChunkedDense {
    #[wasm_bindgen(constructor)]
    pub fn new(class_name: &str, keys: Vec<String>, values: Vec<f32>, lr: f32, n: u32) -> Result<ChunkedDense, JsError> {
        let pairs: Vec<(&str, f32)> = keys.iter().map(String::as_str).zip(values.iter().copied()).collect();
        let mut o = Options::new(&pairs);
        let n = n as usize;
        fn boxed<R: SharedRule>(r: Result<R, Error>, lr: f32, n: usize) -> Result<Box<dyn Stepper>, JsError>
        where
            R::Coeffs: Sync,
        {
            Ok(Box::new(State::new(r.map_err(|e| JsError::new(&e.to_string()))?, lr, n)))
        }
        let s = match class_name {
            "Adadelta" => boxed(Adadelta::from_options(&mut o), lr, n),
            "Adagrad" => boxed(Adagrad::from_options(&mut o), lr, n),
            "Adam" => boxed(Adam::from_options(&mut o), lr, n),
            "Adamax" => boxed(Adamax::from_options(&mut o), lr, n),
            "Ftrl" => boxed(Ftrl::from_options(&mut o), lr, n),
            "Nadam" => boxed(Nadam::from_options(&mut o), lr, n),
            "RMSprop" => boxed(RmsProp::from_options(&mut o), lr, n),
            "SGD" => boxed(Sgd::from_options(&mut o), lr, n),
            other => Err(JsError::new(&format!("no update rule named {other:?}"))),
        }?;
        Ok(ChunkedDense(s))
    }

    /// Byte offset of the variable's values in the shared memory.
    pub fn var_ptr(&mut self) -> u32 {
        self.0.var().as_mut_ptr() as u32
    }

    /// Byte offset of the gradient's values.
    pub fn grad_ptr(&mut self) -> u32 {
        self.0.grad().as_mut_ptr() as u32
    }

    /// One step with the current gradient, split over the pool when the variable is large enough.
    pub fn step(&mut self) {
        self.0.step()
    }

    /// Slot `i` of the rule (in its Keras order), all chunks joined; undefined past the last.
    pub fn slot(&self, i: u32) -> Option<Vec<f32>> {
        self.0.slot(i as usize)
    }
}

// ---- JavaScript interface ------------------------------------------------------------------

/// A worker's whole life: sleeps until the main thread publishes work, runs chunks, returns
/// after [`threads_stop`].
#[wasm_bindgen]
pub fn threads_worker_loop() {
    pool::worker_loop()
}

#[wasm_bindgen]
pub fn threads_stop() {
    pool::stop()
}

/// Workers currently in [`threads_worker_loop`].
#[wasm_bindgen]
pub fn threads_workers() -> u32 {
    pool::workers()
}

/// Sets the element count from which a kernel is split over the workers.
#[wasm_bindgen]
pub fn threads_set_threshold(n: u32) {
    pool::set_threshold(n as usize)
}

#[wasm_bindgen]
pub fn threads_threshold() -> u32 {
    pool::threshold() as u32
}

/// Chunks the workers have run since the module started.
#[wasm_bindgen]
pub fn threads_worker_chunks() -> u32 {
    pool::worker_chunks() as u32
}

/// Times the workers have woken from sleep since the module started.
#[wasm_bindgen]
pub fn threads_wakeups() -> u32 {
    pool::wakeups() as u32
}

/// Elements per chunk of a split kernel.
#[wasm_bindgen]
pub fn threads_chunk() -> u32 {
    CHUNK as u32
}

/// Byte offset of the word a failed worker sets to 1 (so the main thread stops waiting for it).
#[wasm_bindgen]
pub fn threads_poison_ptr() -> u32 {
    pool::poison_ptr() as u32
}
