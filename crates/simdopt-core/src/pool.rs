//! The worker pool of the threads build (cargo feature `threads`): a parallel-for over element
//! ranges, run by the main thread and the workers that share its WebAssembly memory.
//!
//! Every worker instantiates the same module on the same shared memory and calls
//! [`worker_loop`], which sleeps (`memory.atomic.wait32`) until the main thread
//! publishes a job. [`parallel_for`] splits `[0, n)` into fixed [`CHUNK`]s; whoever is free
//! claims the next chunk (the main thread too, so a job finishes even if no worker ever wakes),
//! and the main thread spins (never waits: a browser's main thread may not) until every chunk is
//! done. The chunks are fixed by `n` alone, and element-wise kernels give the same bits whichever
//! thread runs a chunk, so results do not depend on the number of threads.
//!
//! The lane driver ([`crate::drive::update`]) and the blocked reductions ([`crate::reduce`]) run
//! their passes through [`parallel_for`]; a chunk is whole reduction blocks. The JavaScript
//! exports are in simdopt-wasm (`threads.rs`), the workers' JavaScript in ts/wasm/threads.ts.

use core::sync::atomic::AtomicU32;
use core::sync::atomic::AtomicUsize;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};

/// Elements per chunk: 64 KiB per f32 stream, so a chunk of every stream of a kernel (Adam has
/// four) stays within a core's L2, and a 1M-element job has 64 chunks to balance over.
pub const CHUNK: usize = 16 * 1024;

/// Below this many values read (elements × the buffers a pass reads: Adam's reads 4, plain
/// SGD's 2) a job runs on the calling thread alone: waking a worker costs tens of microseconds,
/// so the crossover is a time, which is about proportional to the bytes a pass moves
/// (benches/threads.mjs measures where two threads start to win).
pub const DEFAULT_THRESHOLD: usize = 1 << 20;

/// The job number: odd while there is no job, even while job `GEN` is open. Workers sleep on it.
static GEN: AtomicU32 = AtomicU32::new(1);
/// Workers between "saw job `g`" and "left job `g`" (they read the job's fields meanwhile).
static ACTIVE: AtomicU32 = AtomicU32::new(0);
/// Workers in [`worker_loop`].
static WORKERS: AtomicU32 = AtomicU32::new(0);
/// Bumped by [`stop`]: a worker leaves when it differs from its value when the worker entered
/// (so a pool can be stopped and started again).
static STOP: AtomicU32 = AtomicU32::new(0);
/// Set (by the JavaScript of a worker whose instance trapped) when a worker fails: the main
/// thread must not wait for its chunk for ever.
static POISON: AtomicU32 = AtomicU32::new(0);
/// A `parallel_for` is running (a second caller runs its job inline instead).
static BUSY: AtomicU32 = AtomicU32::new(0);
/// Times a worker came back from sleeping (the tests check that idle workers sleep, not spin).
static WAKEUPS: AtomicUsize = AtomicUsize::new(0);
/// Chunks run by workers since the start (the tests check that the workers did take part).
static WORKER_CHUNKS: AtomicUsize = AtomicUsize::new(0);
static THRESHOLD: AtomicUsize = AtomicUsize::new(DEFAULT_THRESHOLD);
/// Whether the calling thread runs chunks too (always, but for a test hook: with 0 the workers
/// run every chunk of a split job, so a test knows they computed it).
static CALLER_RUNS: AtomicU32 = AtomicU32::new(1);

// The open job: written by the main thread before it publishes `GEN`, read-only until closed.
static JOB_CALL: AtomicUsize = AtomicUsize::new(0);
static JOB_DATA: AtomicUsize = AtomicUsize::new(0);
static JOB_N: AtomicUsize = AtomicUsize::new(0);
static JOB_CHUNKS: AtomicUsize = AtomicUsize::new(0);
/// The next chunk to claim, and how many are finished.
static NEXT: AtomicUsize = AtomicUsize::new(0);
static DONE: AtomicUsize = AtomicUsize::new(0);

type ChunkFn = unsafe fn(data: usize, start: usize, end: usize);

/// Calls the closure at `data` (a `&F` of the main thread's stack, alive until the job closes).
unsafe fn trampoline<F: Fn(usize, usize) + Sync>(data: usize, start: usize, end: usize) {
    (*(data as *const F))(start, end)
}

/// Runs `f(start, end)` over `[0, n)` in [`CHUNK`]s, on this thread and the pool's workers, and
/// returns when all are done; `streams` is how many buffers of `n` elements `f` reads. Small
/// jobs (fewer than 2 chunks, or `n × streams` below the threshold), and any call while the pool
/// has no worker or is busy, run `f(0, n)` here. `f` must only touch the elements of its range.
pub fn parallel_for<F: Fn(usize, usize) + Sync>(n: usize, streams: usize, f: F) {
    let small = n < 2 * CHUNK || n.saturating_mul(streams) < THRESHOLD.load(Relaxed);
    if small || WORKERS.load(Acquire) == 0 || BUSY.swap(1, Acquire) == 1 {
        f(0, n);
        return;
    }
    let chunks = n.div_ceil(CHUNK);
    let call: ChunkFn = trampoline::<F>;
    JOB_CALL.store(call as usize, Relaxed);
    JOB_DATA.store(&f as *const F as usize, Relaxed);
    JOB_N.store(n, Relaxed);
    JOB_CHUNKS.store(chunks, Relaxed);
    NEXT.store(0, Relaxed);
    DONE.store(0, Relaxed);
    let job = GEN.load(Relaxed) + 1;
    GEN.store(job, SeqCst);
    wake_all(&GEN);
    if CALLER_RUNS.load(Relaxed) != 0 {
        run_chunks();
    }
    while DONE.load(Acquire) < chunks {
        if POISON.load(Relaxed) != 0 {
            panic!("a simdopt worker thread failed during a parallel step");
        }
        core::hint::spin_loop();
    }
    // Close the job, then wait for workers that saw it open to leave (they hold no chunk: all are
    // done), so the next job's fields are not read half-written.
    GEN.store(job + 1, SeqCst);
    while ACTIVE.load(SeqCst) != 0 {
        core::hint::spin_loop();
    }
    BUSY.store(0, Release);
}

/// Claims and runs chunks of the open job until none is left; returns how many it ran.
fn run_chunks() -> usize {
    let (call, data, n, chunks) = (JOB_CALL.load(Relaxed), JOB_DATA.load(Relaxed), JOB_N.load(Relaxed), JOB_CHUNKS.load(Relaxed));
    // SAFETY: `call` was made from a `ChunkFn` by `parallel_for` (function pointers are table
    // indices, the same in every instance of the module).
    let call: ChunkFn = unsafe { core::mem::transmute::<usize, ChunkFn>(call) };
    let mut ran = 0;
    loop {
        let c = NEXT.fetch_add(1, Relaxed);
        if c >= chunks {
            return ran;
        }
        let start = c * CHUNK;
        // SAFETY: the job is open, so `data` points at the live closure; each chunk index is
        // claimed once, so no two threads run one range.
        unsafe { call(data, start, (start + CHUNK).min(n)) };
        DONE.fetch_add(1, Release);
        ran += 1;
    }
}

/// The body of a worker thread: called once by each worker's JavaScript right after it has
/// instantiated the module on the shared memory; returns only after [`stop`].
pub fn worker_loop() {
    let epoch = STOP.load(SeqCst);
    WORKERS.fetch_add(1, SeqCst);
    let mut seen = GEN.load(SeqCst);
    loop {
        if STOP.load(Acquire) != epoch {
            WORKERS.fetch_sub(1, SeqCst);
            return;
        }
        let g = GEN.load(Acquire);
        if g == seen {
            wait_while(&GEN, g);
            WAKEUPS.fetch_add(1, Relaxed);
            continue;
        }
        seen = g;
        if g % 2 == 1 {
            continue;
        }
        ACTIVE.fetch_add(1, SeqCst);
        // Still open after we announced ourselves: `parallel_for` will wait for us before it
        // changes the job, so its fields are stable while we run.
        if GEN.load(SeqCst) == g {
            WORKER_CHUNKS.fetch_add(run_chunks(), Relaxed);
        }
        ACTIVE.fetch_sub(1, SeqCst);
    }
}

/// Wakes every worker and makes them leave [`worker_loop`].
pub fn stop() {
    STOP.fetch_add(1, SeqCst);
    GEN.fetch_add(2, SeqCst);
    wake_all(&GEN);
}

pub fn workers() -> u32 {
    WORKERS.load(Acquire)
}

pub fn wakeups() -> usize {
    WAKEUPS.load(Relaxed)
}

pub fn worker_chunks() -> usize {
    WORKER_CHUNKS.load(Relaxed)
}

pub fn set_threshold(n: usize) {
    THRESHOLD.store(n, Relaxed);
}

pub fn threshold() -> usize {
    THRESHOLD.load(Relaxed)
}

/// Test hook: whether the calling thread of [`parallel_for`] runs chunks itself (the default)
/// or leaves every chunk of a split job to the workers and only waits for them.
pub fn set_caller_runs_chunks(on: bool) {
    CALLER_RUNS.store(on as u32, Relaxed);
}

/// Address of the poison word (`POISON`), which a failed worker's JavaScript sets to 1.
pub fn poison_ptr() -> usize {
    POISON.as_ptr() as usize
}

#[cfg(target_arch = "wasm32")]
fn wait_while(word: &AtomicU32, value: u32) {
    // SAFETY: `word` is a live, aligned i32 in the shared memory.
    unsafe { core::arch::wasm32::memory_atomic_wait32(word.as_ptr() as *mut i32, value as i32, -1) };
}

#[cfg(target_arch = "wasm32")]
fn wake_all(word: &AtomicU32) {
    // SAFETY: as above.
    unsafe { core::arch::wasm32::memory_atomic_notify(word.as_ptr() as *mut i32, u32::MAX) };
}

// Native builds (the unit test below) poll instead of sleeping.
#[cfg(not(target_arch = "wasm32"))]
fn wait_while(word: &AtomicU32, value: u32) {
    if word.load(Acquire) == value {
        std::thread::yield_now();
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn wake_all(_word: &AtomicU32) {}

/// Held by every test that starts workers: the pool is global, and one test's `stop` would end
/// another's workers.
#[cfg(test)]
pub(crate) static TEST_POOL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `f` with `workers` native worker threads in the pool and the threshold at 0, then
/// stops them.
#[cfg(test)]
pub(crate) fn with_test_workers<T>(workers: u32, f: impl FnOnce() -> T) -> T {
    let _held = TEST_POOL.lock().unwrap_or_else(|e| e.into_inner());
    let threshold = self::threshold();
    set_threshold(0);
    let handles: Vec<_> = (0..workers).map(|_| std::thread::spawn(worker_loop)).collect();
    while self::workers() < workers {
        std::thread::yield_now();
    }
    let out = f();
    stop();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(self::workers(), 0, "the workers left on stop");
    set_threshold(threshold);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Many jobs of several sizes over two worker threads: every element is visited exactly once
    /// per job, whoever runs it; the workers leave on `stop`, and a pool can start again.
    #[test]
    fn every_element_once_per_job() {
        with_test_workers(2, every_element_once_per_job_with_workers);
        with_test_workers(1, restarted_pool_runs_chunks);
    }

    fn every_element_once_per_job_with_workers() {
        for &n in &[1usize, CHUNK - 1, 2 * CHUNK, 5 * CHUNK + 7, 64 * CHUNK + 3] {
            let hits: Vec<AtomicU32> = (0..n).map(|_| AtomicU32::new(0)).collect();
            let per_job = if n < 2 * CHUNK { 1 } else { n.div_ceil(CHUNK) };
            for _ in 0..20 {
                let calls = AtomicUsize::new(0);
                parallel_for(n, 1, |s, e| {
                    calls.fetch_add(1, Relaxed);
                    assert!(s < e && e <= n && (s % CHUNK == 0));
                    for h in &hits[s..e] {
                        h.fetch_add(1, Relaxed);
                    }
                });
                // In chunks, or in one call while another test's pass held the pool.
                let calls = calls.load(Relaxed);
                assert!(calls == per_job || calls == 1, "n = {n}: {calls} calls");
            }
            assert!(hits.iter().all(|h| h.load(Relaxed) == 20), "n = {n}");
        }
        assert!(worker_chunks() > 0, "the workers never ran a chunk");
    }

    /// A pool can start again after a stop.
    fn restarted_pool_runs_chunks() {
        let before = worker_chunks();
        let n = 256 * CHUNK;
        let hits: Vec<AtomicU32> = (0..n).map(|_| AtomicU32::new(0)).collect();
        while worker_chunks() == before {
            parallel_for(n, 1, |s, e| {
                for h in &hits[s..e] {
                    h.fetch_add(1, Relaxed);
                }
            });
        }
        let rounds = hits[0].load(Relaxed);
        assert!(hits.iter().all(|h| h.load(Relaxed) == rounds));
    }
}
