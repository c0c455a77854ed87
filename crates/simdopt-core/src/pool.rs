//! The worker pool of the threads build (cargo feature `threads`): a parallel-for over element
//! ranges, run by the main thread and the workers that share its WebAssembly memory.
//!
//! Every worker instantiates the same module on the same shared memory and calls
//! [`worker_loop`]. [`parallel_for`] splits `[0, n)` into fixed [`CHUNK`]s and the chunks into
//! one contiguous segment per thread (as OpenMP's static schedule: each thread streams its own
//! part of memory, and claims its chunks from a counter no other thread touches), then any
//! thread that finishes its segment takes the chunks left in the others' (so a worker that wakes
//! late delays nothing, and a job finishes even if no worker ever wakes: the main thread runs
//! every chunk). The main thread never waits on an atomic (a browser's main thread may not): it
//! spins for the last chunks. A worker spins a bounded while for the next job (steps come in
//! bursts: one job per variable) before it sleeps (`memory.atomic.wait32`), and the main thread
//! wakes it only when one sleeps. The chunks are fixed by `n` alone, and element-wise kernels
//! give the same bits whichever thread runs a chunk, so results do not depend on the threads.
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

/// Rounds a worker polls for the next job before it sleeps: about 0.1–0.3 ms (one round is two
/// atomic loads), longer than the gap between the passes of a step, so a burst of passes (one
/// per variable, back-to-back steps) does not pay a wake-up each; far shorter than a training
/// step's forward and backward pass, so an idle pool sleeps.
pub const DEFAULT_SPIN: u32 = 1 << 16;

/// Segments of a job at most (the threads beyond take chunks from the others' segments).
const MAX_SEGMENTS: usize = 8;

/// A value alone in its cache line (two lines: x86 fetches lines in pairs), so that words
/// written by different threads do not evict each other.
#[repr(align(128))]
struct Line<T>(T);

/// The job number: odd while there is no job, even while job `GEN` is open. Workers wait on it.
static GEN: Line<AtomicU32> = Line(AtomicU32::new(1));
/// Chunks finished in the open job (each thread adds its count once, when it runs out).
static DONE: Line<AtomicUsize> = Line(AtomicUsize::new(0));
/// Workers between "saw job `g`" and "left job `g`" (they read the job's fields meanwhile).
static ACTIVE: Line<AtomicU32> = Line(AtomicU32::new(0));
/// Workers asleep (or about to be) in `wait_while`: the main thread notifies only when some are.
static SLEEPERS: Line<AtomicU32> = Line(AtomicU32::new(0));

/// The chunks `next..end` of one segment of the open job: claimed from the front, one
/// `fetch_add` each (a claim past `end` is void).
struct Segment {
    next: AtomicUsize,
    end: AtomicUsize,
}

static SEGMENTS: [Line<Segment>; MAX_SEGMENTS] =
    [const { Line(Segment { next: AtomicUsize::new(0), end: AtomicUsize::new(0) }) }; MAX_SEGMENTS];

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
static SPIN: AtomicU32 = AtomicU32::new(DEFAULT_SPIN);
std::thread_local! {
    /// Whether this thread runs chunks of the jobs it opens (always, but for a test hook: with
    /// false the workers run every chunk of a split job, so a test knows they computed it).
    /// Per thread, so that the hook holds only for the jobs of the test that set it.
    static CALLER_RUNS: core::cell::Cell<bool> = const { core::cell::Cell::new(true) };
}

// The open job: written by the main thread before it publishes `GEN`, read-only until closed.
static JOB_CALL: AtomicUsize = AtomicUsize::new(0);
static JOB_DATA: AtomicUsize = AtomicUsize::new(0);
static JOB_N: AtomicUsize = AtomicUsize::new(0);
static JOB_SEGMENTS: AtomicUsize = AtomicUsize::new(0);

type ChunkFn = unsafe fn(data: usize, start: usize, end: usize);

/// Calls the closure at `data` (a `&F` of the main thread's stack, alive until the job closes)
/// over `[start, end)` in pieces of at most [`CHUNK`], as a split job runs it (a chunk of one is
/// one piece). Not inlined: the pass inside `f` then exists once per closure type, whether it
/// runs whole or split (inlined at each call site it tripled the threads build's code).
///
/// The loop over pieces also keeps the pass's loop nested, as it is in the single-threaded
/// builds (in the loop over variables): V8 unrolls a small wasm loop by its nesting depth
/// (`(depth + 1) * 50 / size` times, loop-unrolling.h), and plain SGD's pass, alone at the top
/// of this function, ran one vector pair per iteration with its counter spilled, not two
/// (1.14-1.38x the SIMD build at 64K).
#[inline(never)]
unsafe fn trampoline<F: Fn(usize, usize) + Sync>(data: usize, start: usize, end: usize) {
    let f = &*(data as *const F);
    let mut s = start;
    loop {
        let e = end.min(s.saturating_add(CHUNK));
        f(s, e);
        if e >= end {
            return;
        }
        s = e;
    }
}

/// Runs `f(start, end)` over `[0, n)` in [`CHUNK`]s, on this thread and the pool's workers, and
/// returns when all are done; `streams` is how many buffers of `n` elements `f` reads. Small
/// jobs (fewer than 2 chunks, or `n × streams` below the threshold), and any call while the pool
/// has no worker or is busy, run here, chunk after chunk. `f` must only touch the elements of
/// its range.
pub fn parallel_for<F: Fn(usize, usize) + Sync>(n: usize, streams: usize, f: F) {
    if splits(n, streams) {
        parallel_for_meanwhile(n, f, &mut || {});
    } else {
        // SAFETY: `&f` is alive for this call. (Through the trampoline, as a split job: the pass
        // exists once per closure type.)
        unsafe { trampoline::<F>(&f as *const F as usize, 0, n) };
    }
}

/// Whether [`parallel_for`] splits a pass of `n` elements that reads `streams` buffers of `n`
/// elements (when the pool has workers and is free): the size test alone. A streamed pass
/// ([`crate::drive`]) splits each of its chunks when its whole variable passes it.
pub fn splits(n: usize, streams: usize) -> bool {
    n >= 2 * CHUNK && n.saturating_mul(streams) >= THRESHOLD.load(Relaxed)
}

/// Splits `f` over `[0, n)` (a pass whose size test the caller made), and runs `meanwhile()` once on
/// the calling thread: while the workers start on `f` (they take the calling thread's chunks
/// too until it joins) when the job is split, after `f` when it is not. A streamed pass copies
/// its next chunk meanwhile ([`crate::drive`]).
pub fn parallel_for_meanwhile<F: Fn(usize, usize) + Sync>(n: usize, f: F, meanwhile: &mut dyn FnMut()) {
    let call: ChunkFn = trampoline::<F>;
    let data = &f as *const F as usize;
    if n < 2 * CHUNK || !split(call, data, n, meanwhile) {
        // SAFETY: `data` is `&f`, alive for this call.
        unsafe { call(data, 0, n) };
        meanwhile();
    }
}

/// Runs the job `call(data, ..)` over `[0, n)` split across the pool, and `meanwhile()` on this
/// thread once the workers can start; false (nothing ran) when the pool has no worker or is
/// busy. Not generic: one copy for every pass.
fn split(call: ChunkFn, data: usize, n: usize, meanwhile: &mut dyn FnMut()) -> bool {
    let workers = WORKERS.load(Acquire) as usize;
    if workers == 0 || BUSY.swap(1, Acquire) == 1 {
        return false;
    }
    let chunks = n.div_ceil(CHUNK);
    let caller_runs = CALLER_RUNS.with(|c| c.get());
    let segments = (workers + caller_runs as usize).min(MAX_SEGMENTS).min(chunks);
    for (s, seg) in SEGMENTS[..segments].iter().enumerate() {
        seg.0.next.store(s * chunks / segments, Relaxed);
        seg.0.end.store((s + 1) * chunks / segments, Relaxed);
    }
    JOB_CALL.store(call as usize, Relaxed);
    JOB_DATA.store(data, Relaxed);
    JOB_N.store(n, Relaxed);
    JOB_SEGMENTS.store(segments, Relaxed);
    DONE.0.store(0, Relaxed);
    let job = GEN.0.load(Relaxed) + 1;
    GEN.0.store(job, SeqCst);
    // A worker counts itself a sleeper before its last look at `GEN` (both SeqCst): either it
    // sees this job, or this load sees it and wakes it.
    if SLEEPERS.0.load(SeqCst) != 0 {
        wake_all(&GEN.0);
    }
    meanwhile();
    if caller_runs {
        run_chunks(0);
    }
    while DONE.0.load(Acquire) < chunks {
        // A caller that leaves its chunks to the workers (a test hook) runs what is left if they
        // all stopped meanwhile: else a job opened just before `stop` would wait for ever.
        if !caller_runs && WORKERS.load(Acquire) == 0 {
            run_chunks(0);
        }
        if POISON.load(Relaxed) != 0 {
            panic!("a simdopt worker thread failed during a parallel step");
        }
        core::hint::spin_loop();
    }
    // Close the job, then wait for workers that saw it open to leave (they hold no chunk: all are
    // done), so the next job's fields are not read half-written.
    GEN.0.store(job + 1, SeqCst);
    while ACTIVE.0.load(SeqCst) != 0 {
        core::hint::spin_loop();
    }
    BUSY.store(0, Release);
    true
}

/// Claims and runs chunks of the open job, from segment `first` on, then from the others, until
/// none is left; adds them to `DONE` and returns how many it ran.
fn run_chunks(first: usize) -> usize {
    let (call, data, n, segments) = (JOB_CALL.load(Relaxed), JOB_DATA.load(Relaxed), JOB_N.load(Relaxed), JOB_SEGMENTS.load(Relaxed));
    // SAFETY: `call` was made from a `ChunkFn` by `parallel_for` (function pointers are table
    // indices, the same in every instance of the module).
    let call: ChunkFn = unsafe { core::mem::transmute::<usize, ChunkFn>(call) };
    let mut ran = 0;
    for i in 0..segments {
        let seg = &SEGMENTS[(first + i) % segments].0;
        let end = seg.end.load(Relaxed);
        loop {
            let c = seg.next.fetch_add(1, Relaxed);
            if c >= end {
                break;
            }
            let start = c * CHUNK;
            // SAFETY: the job is open, so `data` points at the live closure; each chunk index is
            // claimed once, so no two threads run one range.
            unsafe { call(data, start, (start + CHUNK).min(n)) };
            ran += 1;
        }
    }
    DONE.0.fetch_add(ran, Release);
    ran
}

/// The body of a worker thread: called once by each worker's JavaScript right after it has
/// instantiated the module on the shared memory; returns only after [`stop`].
pub fn worker_loop() {
    let epoch = STOP.load(SeqCst);
    // Its segment of each job: the main thread takes the first, workers the next ones.
    let id = WORKERS.fetch_add(1, SeqCst) as usize + 1;
    let mut seen = GEN.0.load(SeqCst);
    let mut spins = 0u32;
    loop {
        if STOP.load(Acquire) != epoch {
            WORKERS.fetch_sub(1, SeqCst);
            return;
        }
        let g = GEN.0.load(Acquire);
        if g == seen {
            if spins < SPIN.load(Relaxed) {
                spins += 1;
                core::hint::spin_loop();
                continue;
            }
            SLEEPERS.0.fetch_add(1, SeqCst);
            if GEN.0.load(SeqCst) == g {
                wait_while(&GEN.0, g);
                WAKEUPS.fetch_add(1, Relaxed);
            }
            SLEEPERS.0.fetch_sub(1, SeqCst);
            continue;
        }
        seen = g;
        spins = 0;
        if g % 2 == 1 {
            continue;
        }
        ACTIVE.0.fetch_add(1, SeqCst);
        // Still open after we announced ourselves: `parallel_for` will wait for us before it
        // changes the job, so its fields are stable while we run.
        if GEN.0.load(SeqCst) == g {
            let first = id % JOB_SEGMENTS.load(Relaxed);
            WORKER_CHUNKS.fetch_add(run_chunks(first), Relaxed);
        }
        ACTIVE.0.fetch_sub(1, SeqCst);
    }
}

/// Wakes every worker and makes them leave [`worker_loop`].
pub fn stop() {
    STOP.fetch_add(1, SeqCst);
    GEN.0.fetch_add(2, SeqCst);
    wake_all(&GEN.0);
}

pub fn workers() -> u32 {
    WORKERS.load(Acquire)
}

/// Workers asleep in `memory.atomic.wait32` (or about to be): the tests check that an idle
/// pool sleeps, not spins.
pub fn sleepers() -> u32 {
    SLEEPERS.0.load(SeqCst)
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

/// Sets how many rounds an idle worker polls for a job before it sleeps (0: sleep at once).
pub fn set_spin(rounds: u32) {
    SPIN.store(rounds, Relaxed);
}

pub fn spin() -> u32 {
    SPIN.load(Relaxed)
}

/// Test hook: whether this thread runs chunks of the jobs it opens with [`parallel_for`] (the
/// default) or leaves every chunk of a split job to the workers and only waits for them (or,
/// should they all stop, runs what is left). Other threads' jobs are not affected.
pub fn set_caller_runs_chunks(on: bool) {
    CALLER_RUNS.with(|c| c.set(on));
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
            // Split or not (another test's pass may hold the pool), a job runs chunk by chunk.
            let per_job = n.div_ceil(CHUNK);
            for _ in 0..20 {
                let calls = AtomicUsize::new(0);
                parallel_for(n, 1, |s, e| {
                    calls.fetch_add(1, Relaxed);
                    assert!(s < e && e <= n && (s % CHUNK == 0));
                    for h in &hits[s..e] {
                        h.fetch_add(1, Relaxed);
                    }
                });
                let calls = calls.load(Relaxed);
                assert_eq!(calls, per_job, "n = {n}");
            }
            assert!(hits.iter().all(|h| h.load(Relaxed) == 20), "n = {n}");
        }
        assert!(worker_chunks() > 0, "the workers never ran a chunk");
    }

    /// Runs `job` on a thread of its own while the pool counts a worker that never runs (the
    /// threshold at 0, so that the job splits), and returns what it gave within 60 s. The worker
    /// leaves as soon as a job is open if `leaves_once_open`, else after.
    fn with_absent_worker<T: Send + 'static>(
        leaves_once_open: bool,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, std::sync::mpsc::RecvTimeoutError> {
        let _held = TEST_POOL.lock().unwrap_or_else(|e| e.into_inner());
        let threshold = self::threshold();
        set_threshold(0);
        WORKERS.fetch_add(1, SeqCst);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(job()).unwrap());
        if leaves_once_open {
            while GEN.0.load(SeqCst) % 2 == 1 {
                std::thread::yield_now();
            }
            WORKERS.fetch_sub(1, SeqCst);
        }
        let got = rx.recv_timeout(std::time::Duration::from_secs(60));
        if !leaves_once_open {
            WORKERS.fetch_sub(1, SeqCst);
        }
        set_threshold(threshold);
        got
    }

    /// A worker that never comes (counted, but not running) delays nothing: the calling thread
    /// runs its own segment, then takes the absent worker's.
    #[test]
    fn the_calling_thread_takes_an_absent_workers_segment() {
        let got = with_absent_worker(false, || {
            let n = 8 * CHUNK + 5;
            let hits: Vec<AtomicU32> = (0..n).map(|_| AtomicU32::new(0)).collect();
            let calls = AtomicUsize::new(0);
            parallel_for(n, 1, |s, e| {
                calls.fetch_add(1, Relaxed);
                hits[s..e].iter().for_each(|h| {
                    h.fetch_add(1, Relaxed);
                });
            });
            (calls.load(Relaxed), hits.iter().all(|h| h.load(Relaxed) == 1))
        });
        assert_eq!(got.expect("the job did not finish without its worker"), (9, true));
    }

    /// A caller that leaves every chunk to the workers (`set_caller_runs_chunks(false)`) runs
    /// them itself if the workers stop during its job: a job opened just before `stop` finishes.
    #[test]
    fn a_job_left_to_workers_finishes_when_they_stop() {
        let got = with_absent_worker(true, || {
            set_caller_runs_chunks(false);
            let calls = AtomicUsize::new(0);
            parallel_for(4 * CHUNK, 1, |_, _| {
                calls.fetch_add(1, Relaxed);
            });
            calls.load(Relaxed)
        });
        assert_eq!(got.expect("the job waited for workers that had stopped"), 4);
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
