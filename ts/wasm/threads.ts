// The threads build in JavaScript: whether this runtime can run it, the one place that picks a
// build (threads → SIMD → scalar), and the pool of workers that share its WebAssembly memory.
//
// Workers need no glue code and no script file: each gets the compiled module and the shared
// memory by message, instantiates the module with the memory (its other imports are never
// called by the kernels) and enters the core's worker loop, where it sleeps on an atomic wait
// until the main thread publishes work. The main thread never waits on an atomic (a browser's
// main thread may not): it runs chunks itself and spins for the last ones.
import { SimdoptError } from '../errors.js';

export type Build = 'threads' | 'simd' | 'scalar';

/** `threads` of `ready()`: `false` (or 1) turns threads off, a number asks for that many threads
 * in all (the calling thread included), `true` insists on the default, `'auto'` (the default) uses
 * threads where the runtime allows them. */
export type ThreadsOption = boolean | number | 'auto';

/** What the runtime offers (see `probeRuntime`). */
export interface Runtime {
  /** WebAssembly SIMD validates. */
  simd: boolean;
  /** Shared WebAssembly memory with atomics and SIMD validates and can be created (browsers:
   * only on `crossOriginIsolated` pages). */
  sharedMemory: boolean;
  /** `globalThis.crossOriginIsolated` (undefined outside browsers). */
  crossOriginIsolated: boolean | undefined;
  /** Threads that can run a worker: Node's worker_threads or Web Workers. */
  workers: boolean;
  /** Logical processors (`navigator.hardwareConcurrency` or Node's `os.availableParallelism()`). */
  cores: number;
}

export interface BuildChoice {
  build: Build;
  /** Threads in all, the calling thread included (1 unless `build` is `'threads'`). */
  threads: number;
  /** Why this build: the first reason a better one was not taken, or that it was. */
  why: string;
}

/** Beyond this many threads an element-wise step is bound by memory bandwidth anyway. */
export const MAX_DEFAULT_THREADS = 4;

// A function that stores with `i32.atomic.store` into a shared memory and uses `i32x4.splat`:
// what the threads build needs of the engine.
const THREADS_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5, 4, 1, 3, 1, 1, 10, 17, 1, 15, 0, 65, 0, 65, 0, 254, 23, 2, 0, 65, 0, 253, 17, 26, 11,
]);

interface Globals {
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number };
  process?: { versions?: { node?: string } };
  Worker?: unknown;
}

const isNode = (): boolean => typeof (globalThis as Globals).process?.versions?.node === 'string';

// Non-literal specifiers: bundlers for the browser leave these Node-only imports alone.
const NODE_OS = 'node:os';
const NODE_WORKER_THREADS = 'node:worker_threads';

/** Probes this runtime once for what the builds need; `simd` is the loader's `simdSupported()`. */
export async function probeRuntime(simd: boolean): Promise<Runtime> {
  const g = globalThis as Globals;
  const wasm = typeof WebAssembly === 'object';
  let sharedMemory = false;
  try {
    sharedMemory =
      wasm &&
      typeof SharedArrayBuffer === 'function' &&
      WebAssembly.validate(THREADS_PROBE) &&
      new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true } as WebAssembly.MemoryDescriptor).buffer instanceof SharedArrayBuffer;
  } catch {
    sharedMemory = false;
  }
  let cores = g.navigator?.hardwareConcurrency ?? 1;
  if (isNode()) {
    const os = (await import(/* @vite-ignore */ NODE_OS)) as { availableParallelism?: () => number; cpus(): unknown[] };
    cores = os.availableParallelism?.() ?? os.cpus().length;
  }
  return {
    simd,
    sharedMemory,
    crossOriginIsolated: g.crossOriginIsolated,
    workers: isNode() || typeof g.Worker === 'function',
    cores,
  };
}

/**
 * The fallback chain, decided once: the threads build where shared memory, workers and more
 * than one thread are available (and wanted), else the SIMD build where SIMD validates, else
 * the scalar build. An explicit request the runtime cannot meet (`backend: 'simd'` without
 * SIMD, `threads: true` or a number above 1 without shared memory) throws, naming why.
 */
export function chooseBuild(options: { backend?: 'auto' | 'simd' | 'scalar'; threads?: ThreadsOption }, rt: Runtime): BuildChoice {
  const backend = options.backend ?? 'auto';
  const wanted = options.threads ?? 'auto';
  if (typeof wanted === 'number' && !(Number.isInteger(wanted) && wanted >= 1)) {
    throw SimdoptError.of('InvalidArgument', `ready(): threads must be a boolean, 'auto' or a whole number >= 1; received ${String(wanted)}`);
  }
  const insist = wanted === true || (typeof wanted === 'number' && wanted > 1);
  const single = (why: string): BuildChoice => {
    if (backend === 'simd' && !rt.simd) throw SimdoptError.of('InvalidState', 'this runtime does not support WebAssembly SIMD');
    const build = backend === 'scalar' || !rt.simd ? 'scalar' : 'simd';
    if (insist) throw SimdoptError.of('InvalidState', `simdopt cannot use threads here: ${why}`);
    return { build, threads: 1, why };
  };
  if (wanted === false || wanted === 1) return single('threads turned off (threads: ' + String(wanted) + ')');
  if (backend === 'scalar') return single('the scalar build was asked for (it has no threads)');
  if (!rt.simd) return single('no WebAssembly SIMD');
  if (rt.crossOriginIsolated === false) {
    return single('the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)');
  }
  if (!rt.sharedMemory) return single('no shared WebAssembly memory (SharedArrayBuffer) in this runtime');
  if (!rt.workers) return single('no worker threads in this runtime');
  const threads = typeof wanted === 'number' ? wanted : Math.min(rt.cores, MAX_DEFAULT_THREADS);
  if (threads < 2) return single(`one processor (${rt.cores})`);
  return { build: 'threads', threads, why: `shared memory and ${threads} threads available` };
}

/** The threads build's pool exports (crates/simdopt-wasm/src/threads.rs). */
export interface PoolExports {
  threads_workers(): number;
  threads_stop(): void;
  threads_poison_ptr(): number;
}

export interface Pool {
  /** Worker threads (the calling thread is not counted). */
  readonly workers: number;
  /** Stops the workers and ends their threads. */
  terminate(): Promise<void>;
}

/** What each worker runs: a classic script in browsers; under Node's worker_threads either a
 * CommonJS or an ES module (an eval worker takes the main script's module type), so it uses
 * neither require() nor a static import. */
const WORKER_SOURCE = `"use strict";
const inNode = typeof process === 'object' && typeof process.versions === 'object' && !!process.versions.node;
let port = null;
const post = (m) => (port ? port.postMessage(m) : self.postMessage(m));
const start = ({ module, memory, poison }) => {
  try {
    const imports = {};
    for (const i of WebAssembly.Module.imports(module)) {
      const ns = (imports[i.module] = imports[i.module] || {});
      if (i.kind === 'memory') ns[i.name] = memory;
      else if (i.kind === 'function') ns[i.name] = i.name === '__wbindgen_init_externref_table' ? () => {} : () => { throw new Error('the core called into JavaScript (' + i.name + ') on a worker'); };
    }
    const x = new WebAssembly.Instance(module, imports).exports;
    x.__wbindgen_start();
    post({ ready: true });
    x.threads_worker_loop();
    post({ stopped: true });
  } catch (e) {
    Atomics.store(new Int32Array(memory.buffer), poison >>> 2, 1);
    post({ error: String((e && e.stack) || e) });
  }
};
if (inNode) import('node:worker_threads').then((wt) => { port = wt.parentPort; port.once('message', start); });
else self.onmessage = (e) => start(e.data);
`;

type WorkerMessage = { ready?: boolean; stopped?: boolean; error?: string };

interface WorkerHandle {
  post(message: unknown): void;
  terminate(): void;
}

async function spawnWorker(onMessage: (m: WorkerMessage) => void): Promise<WorkerHandle> {
  if (isNode()) {
    const { Worker } = (await import(/* @vite-ignore */ NODE_WORKER_THREADS)) as typeof import('node:worker_threads');
    const w = new Worker(WORKER_SOURCE, { eval: true, name: 'simdopt-threads' });
    w.on('message', onMessage);
    w.on('error', (e) => onMessage({ error: String(e) }));
    // After the listeners (adding one refs the worker again): a sleeping worker must not keep
    // the process alive.
    w.unref();
    return { post: (m) => w.postMessage(m), terminate: () => void w.terminate() };
  }
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
  const w = new Worker(url, { name: 'simdopt-threads' });
  URL.revokeObjectURL(url);
  w.onmessage = (e: MessageEvent) => onMessage(e.data as WorkerMessage);
  w.onerror = (e: ErrorEvent) => onMessage({ error: e.message || 'the worker failed to start' });
  return { post: (m) => w.postMessage(m), terminate: () => w.terminate() };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Starts `workers` worker threads on the threads build's `module` and shared `memory` (the
 * instance whose `exports` are given runs on the calling thread), and resolves once all of them
 * wait in the core's worker loop. Rejects with a StateError if a worker cannot start (a page
 * whose Content-Security-Policy forbids blob: workers, for one): the caller falls back to the
 * SIMD build.
 */
export async function startPool(module: WebAssembly.Module, memory: WebAssembly.Memory, exports: PoolExports, workers: number, timeoutMs = 10_000): Promise<Pool> {
  const before = exports.threads_workers();
  const handles: WorkerHandle[] = [];
  let failure: string | undefined;
  try {
    for (let i = 0; i < workers; i++) {
      const h = await spawnWorker((m) => {
        if (m.error !== undefined) failure ??= m.error;
      });
      h.post({ module, memory, poison: exports.threads_poison_ptr() });
      handles.push(h);
    }
    const deadline = Date.now() + timeoutMs;
    while (exports.threads_workers() < before + workers && failure === undefined && Date.now() < deadline) await sleep(1);
  } catch (e) {
    failure ??= String(e);
  }
  const pool: Pool = {
    workers,
    async terminate() {
      exports.threads_stop();
      for (let i = 0; exports.threads_workers() > 0 && i < 1000; i++) await sleep(1);
      for (const h of handles) h.terminate();
    },
  };
  if (failure !== undefined || exports.threads_workers() < before + workers) {
    await pool.terminate();
    throw SimdoptError.of('InvalidState', `simdopt could not start its ${workers} worker threads: ${failure ?? `they did not start within ${timeoutMs} ms`}`);
  }
  return pool;
}
