//! The threads build's JavaScript interface (cargo feature `threads`): the exports of the core's
//! worker pool (`simdopt_core::pool`), which splits the lane driver's passes and the blocked
//! reductions over the workers that share this module's memory.

use simdopt_core::pool::{self, CHUNK};
use wasm_bindgen::prelude::*;

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

/// Sets the threshold from which a pass is split over the workers: values read (elements × the
/// buffers the pass reads; `simdopt_core::pool::DEFAULT_THRESHOLD`).
#[wasm_bindgen]
pub fn threads_set_threshold(n: u32) {
    pool::set_threshold(n as usize)
}

#[wasm_bindgen]
pub fn threads_threshold() -> u32 {
    pool::threshold() as u32
}

/// Test hook: `false` leaves every chunk of a split pass this thread opens to the workers (it
/// only waits), so a test knows the workers computed them.
#[wasm_bindgen]
pub fn threads_set_caller_runs_chunks(on: bool) {
    pool::set_caller_runs_chunks(on)
}

/// Chunks the workers have run since the module started.
#[wasm_bindgen]
pub fn threads_worker_chunks() -> u32 {
    pool::worker_chunks() as u32
}

/// Sets how many rounds an idle worker polls for the next job before it sleeps
/// (`simdopt_core::pool::DEFAULT_SPIN`; 0: it sleeps at once).
#[wasm_bindgen]
pub fn threads_set_spin(rounds: u32) {
    pool::set_spin(rounds)
}

#[wasm_bindgen]
pub fn threads_spin() -> u32 {
    pool::spin()
}

/// Workers asleep (waiting for work on an atomic), as opposed to polling for it.
#[wasm_bindgen]
pub fn threads_sleepers() -> u32 {
    pool::sleepers()
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
