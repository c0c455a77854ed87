// Loads one of the three wasm builds, decided once: the threads build (simd128 + atomics over a
// shared memory, with a pool of workers) where the runtime allows it, else the simd128 build,
// else the scalar fallback. All bind the same exports (the threads build adds its pool's), so the
// facade calls whichever glue module was loaded through `core()`.
import * as glue from './generated/simdopt_wasm.js';
import { ArgumentError, SimdoptError, StateError } from '../errors.js';
import { describeValue } from '../values.js';
import { chooseBuild, probeRuntime, startPool, type BuildChoice, type ThreadsOption } from './threads.js';

/** The three builds of the core: `'threads'` (WebAssembly SIMD and threads: a large variable's
 * update is shared with worker threads), `'simd'` (WebAssembly SIMD, `simd128`, one thread) and
 * `'scalar'` (the fallback for runtimes without SIMD). All give bit-identical results. */
export type Backend = 'threads' | 'simd' | 'scalar';

/**
 * Where `ready()` takes a build's WebAssembly from, instead of the copy embedded in the
 * JavaScript: a URL (fetched, and compiled while it downloads where the server sends
 * `Content-Type: application/wasm`), a `Request` or `Response` (or a promise of one), the bytes,
 * or an already compiled `WebAssembly.Module`. Node's `fetch` cannot read `file:` URLs: pass
 * the bytes there (`await readFile(...)`).
 */
export type WasmSource = string | URL | Request | Response | PromiseLike<Response> | BufferSource | WebAssembly.Module;

export type { ThreadsOption } from './threads.js';

/** The options of `ready()`. */
export interface ReadyOptions {
  /**
   * The build to load: `'auto'` picks `'threads'` where the runtime has shared WebAssembly
   * memory and workers (Node; browsers on cross-origin isolated pages) and more than one
   * processor, else `'simd'` where the runtime validates a SIMD module, else `'scalar'`.
   * `'threads'`, `'simd'` or `'scalar'` forces one (a forced build the runtime cannot run
   * rejects, naming why).
   * @defaultValue `'auto'`
   */
  backend?: Backend | 'auto';
  /**
   * Worker threads: `'auto'` uses the threads build where the runtime allows it, with as many
   * threads as processors (at most 4); a number asks for that many threads in all, the calling
   * thread included (`ready()` rejects if the runtime has no threads); `false` or `1` never
   * uses threads; `true` insists on the default count.
   * @defaultValue `'auto'`
   */
  threads?: ThreadsOption;
  /**
   * The `.wasm` files to load instead of the copies embedded in the JavaScript (smaller
   * downloads, streaming compile). The package ships them as `simdopt/simd.wasm`,
   * `simdopt/scalar.wasm` and `simdopt/threads.wasm`; a build without a source here is taken
   * from the embedded copy (from `simdopt`). From `simdopt/slim`, which embeds none, a missing
   * `simd` or `scalar` source is an error when that build is needed, and without a `threads`
   * source the threads build is not used (unless asked for: then it is an error).
   * @defaultValue the embedded copies
   * @example
   * ```ts
   * // Vite: `?url` gives each file's URL in the build
   * import simd from 'simdopt/simd.wasm?url';
   * import scalar from 'simdopt/scalar.wasm?url';
   * import threads from 'simdopt/threads.wasm?url';
   * await ready({ wasm: { simd, scalar, threads } });
   * ```
   */
  wasm?: {
    /** The SIMD build (`simdopt/simd.wasm`). */
    simd?: WasmSource;
    /** The scalar build (`simdopt/scalar.wasm`), for runtimes without WebAssembly SIMD. */
    scalar?: WasmSource;
    /** The threads build (`simdopt/threads.wasm`), for runtimes with shared memory. */
    threads?: WasmSource;
  };
}

/** @internal The embedded copy of a build (base64), loaded on demand. */
export type EmbeddedWasm = (backend: Backend) => Promise<string>;

// The smallest module that uses a SIMD instruction (i32x4.splat), as wasm-feature-detect does.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

/** Whether this JavaScript runtime can run the SIMD build (`WebAssembly.validate` of a module
 * with one SIMD instruction). */
export function simdSupported(): boolean {
  return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
}

type Glue = typeof glue;
/** The threads build's glue: the same functions, plus its pool's. */
type ThreadsGlue = typeof import('./generated/threads/simdopt_wasm.js');

let loading: Promise<Backend> | undefined;
let loaded: Backend | undefined;
/** Threads in use, the calling thread included (1 unless the threads build is loaded). */
let threadCount = 1;
let memory: WebAssembly.Memory | undefined;
/** The exports of the build in use as the facade calls them (see `guardExports`). */
let exportsInUse: Glue | undefined;
/** Byte offset of the core's panic buffer (`[length: u32][UTF-8]`). */
let panicBuffer = 0;
/** Set once the core has trapped: every later call throws it. */
let failure: StateError | undefined;

const BACKENDS: ReadonlyArray<Backend | 'auto'> = ['auto', 'threads', 'simd', 'scalar'];

/**
 * @internal `ready()` of both entry points (`simdopt` passes its embedded copies, `simdopt/slim`
 * none). Later calls return the first call's promise (an option that contradicts the build it
 * loaded rejects).
 */
export function loadCore(options: ReadyOptions, embedded: EmbeddedWasm | undefined): Promise<Backend> {
  let wanted: Backend | 'auto';
  let threads: ThreadsOption;
  let sources: ReadyOptions['wasm'];
  try {
    if (options === null || typeof options !== 'object') throw new ArgumentError('InvalidArgument', `ready(): options must be an object, got ${describeValue(options)}`);
    wanted = options.backend ?? 'auto';
    threads = options.threads ?? 'auto';
    const wasm = options.wasm;
    sources = wasm === undefined ? {} : { simd: wasm.simd, scalar: wasm.scalar, threads: wasm.threads };
  } catch (e) {
    return Promise.reject(e);
  }
  if (!BACKENDS.includes(wanted)) {
    return Promise.reject(new ArgumentError('InvalidArgument', `ready(): backend must be 'auto', 'threads', 'simd' or 'scalar', got ${describeValue(wanted)}`));
  }
  if (loading) {
    return loading.then((b) => {
      if (wanted !== 'auto' && wanted !== b) {
        throw new StateError('InvalidState', `simdopt is already loaded with the ${b} build; it cannot switch to ${wanted}`);
      }
      const count = threads === false ? 1 : typeof threads === 'number' ? threads : undefined;
      if ((count !== undefined && count !== threadCount) || (threads === true && b !== 'threads')) {
        throw new StateError(
          'InvalidState',
          `simdopt is already loaded with ${threadCount === 1 ? 'one thread' : `${threadCount} threads`}; it cannot switch to threads: ${String(threads)}`,
        );
      }
      return b;
    });
  }
  const attempt = (async (): Promise<Backend> => {
    const runtime = await probeRuntime(simdSupported());
    let choice = chooseBuild({ backend: wanted, threads }, runtime);
    const insisted = wanted === 'threads' || threads === true || (typeof threads === 'number' && threads > 1);
    if (choice.build === 'threads' && sources.threads === undefined && !embedded) {
      if (insisted) throw missingSource('threads');
      choice = singleThreaded(choice, runtime.simd, 'simdopt/slim was given no threads build (wasm.threads)');
    }
    if (choice.build === 'threads') {
      try {
        return await loadThreads(choice.threads, sources.threads, embedded);
      } catch (e) {
        // The automatic choice falls back to one thread: a page whose Content-Security-Policy
        // forbids blob: workers, say (if the SIMD build cannot load either, that is the error).
        if (insisted) throw e;
        choice = singleThreaded(choice, runtime.simd, e instanceof Error ? e.message : String(e));
      }
    }
    return loadSingle(choice.build as 'simd' | 'scalar', sources, embedded);
  })();
  loading = attempt;
  attempt.catch(() => {
    if (loading === attempt) loading = undefined;
  });
  return attempt;
}

function singleThreaded(choice: BuildChoice, simd: boolean, why: string): BuildChoice {
  return { build: simd ? 'simd' : 'scalar', threads: 1, why: `${why} (instead of ${choice.build})` };
}

function missingSource(build: Backend): ArgumentError {
  return new ArgumentError(
    'InvalidArgument',
    `simdopt/slim embeds no WebAssembly: pass the ${build} build to ready(), e.g. ready({ wasm: { simd: simdUrl, scalar: scalarUrl, threads: threadsUrl } }) with the URLs of simdopt/simd.wasm, simdopt/scalar.wasm and simdopt/threads.wasm (or import from 'simdopt', which embeds them)`,
  );
}

function checkSource(source: WasmSource | undefined, build: Backend): void {
  if (typeof source === 'string' || source instanceof URL) {
    if (isNode() && /^file:/i.test(source instanceof URL ? source.href : source)) {
      throw new ArgumentError('InvalidArgument', `ready(): Node's fetch cannot read ${String(source)}: pass the bytes instead (wasm: { ${build}: await readFile(path) })`);
    }
  }
}

async function loadSingle(build: 'simd' | 'scalar', sources: NonNullable<ReadyOptions['wasm']>, embedded: EmbeddedWasm | undefined): Promise<Backend> {
  const source = sources[build];
  if (source === undefined && !embedded) throw missingSource(build);
  checkSource(source, build);
  const input = source ?? decodeBase64(await embedded!(build));
  let exports: Awaited<ReturnType<typeof glue.default>>;
  try {
    exports = await glue.default({ module_or_path: input as Parameters<typeof glue.default>[0] });
  } catch (e) {
    throw compileError(e, build, source === undefined ? 'embedded' : 'given');
  }
  use(glue, exports.memory, build, 1);
  return build;
}

/** Compiles the threads build, instantiates it on a new shared memory here, and starts
 * `threads - 1` workers on the same module and memory. */
async function loadThreads(threads: number, source: WasmSource | undefined, embedded: EmbeddedWasm | undefined): Promise<Backend> {
  checkSource(source, 'threads');
  const threadsGlue = await import('./generated/threads/simdopt_wasm.js');
  let module: WebAssembly.Module;
  let exports: Awaited<ReturnType<typeof threadsGlue.default>>;
  try {
    module = await compileModule(source ?? decodeBase64(await embedded!('threads')));
    exports = await threadsGlue.default({ module_or_path: module });
  } catch (e) {
    throw compileError(e, 'threads', source === undefined ? 'embedded' : 'given');
  }
  await startPool(module, exports.memory, threadsGlue, threads - 1);
  use(threadsGlue as unknown as Glue, exports.memory, 'threads', threads);
  return 'threads';
}

/** A compiled module from any `WasmSource` (the workers need the module itself). */
async function compileModule(source: WasmSource): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  if (ArrayBuffer.isView(source) || source instanceof ArrayBuffer) return WebAssembly.compile(source);
  let response: Response;
  if (typeof source === 'string' || source instanceof URL || (typeof Request === 'function' && source instanceof Request)) response = await fetch(source);
  else response = await (source as Response | PromiseLike<Response>);
  if (!response.ok) throw new Error(`failed to fetch the WebAssembly: ${response.status} ${response.statusText} fetching '${response.url}'`);
  if (typeof WebAssembly.compileStreaming === 'function' && /^application\/wasm\b/i.test(response.headers.get('Content-Type') ?? '')) {
    return WebAssembly.compileStreaming(response);
  }
  return WebAssembly.compile(await response.arrayBuffer());
}

function use(g: Glue, mem: WebAssembly.Memory, build: Backend, threads: number): void {
  memory = mem;
  // (By its tag, not `instanceof`: the memory may come from another realm, as under Jest's vm.)
  sharedMemory = Object.prototype.toString.call(mem.buffer) === '[object SharedArrayBuffer]';
  heapF32 = heapU32 = heapI32 = undefined;
  panicBuffer = g.panic_buffer();
  exportsInUse = guardExports(g);
  threadCount = threads;
  loaded = build;
}

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

/** Why the module could not be fetched, compiled or instantiated, as a StateError (a page whose
 * Content-Security-Policy forbids compiling WebAssembly is the usual case). */
function compileError(e: unknown, backend: Backend, from: 'embedded' | 'given'): StateError {
  const why = (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).replace(/[.\s]+$/, '');
  const csp = /Content Security Policy|unsafe-eval/i.test(why) ? " The page's Content-Security-Policy must allow WebAssembly: add 'wasm-unsafe-eval' to script-src." : '';
  const what = from === 'embedded' ? `compile its WebAssembly (${backend} build)` : `load the ${backend} build passed to ready({ wasm })`;
  const err = new StateError('InvalidState', `simdopt could not ${what}: ${why}.${csp}`);
  err.cause = e;
  return err;
}

/** The build in use, or undefined before `ready()` resolves. */
export function backend(): Backend | undefined {
  return loaded;
}

/** @internal The wasm exports; throws a clear error if `ready()` has not resolved yet. */
export function core(): typeof glue {
  if (!exportsInUse) {
    throw new StateError('NotReady', 'simdopt is not loaded yet: `await ready()` before creating variables or optimizers');
  }
  return exportsInUse;
}

// ---- faults ------------------------------------------------------------------------------------
// A panic in the core aborts the wasm instance (a trap: `WebAssembly.RuntimeError`), possibly in
// the middle of a change. Its state can no longer be trusted, so the first trap marks the core as
// failed: the trap is rethrown as a StateError('CoreFailed') carrying the panic message (which
// the core's panic hook left in its panic buffer), and every later call throws that error again,
// never a silently wrong result. `dispose()` becomes a no-op, so clean-up code does not throw.

/** Wraps every wasm export so a trap fails the core (fixed arities: no rest-array per call).
 * The wrappers check for a failed core first, so a reference kept from before the fault (as a
 * SlotVariable keeps one) cannot reach the failed instance either. */
function guardExports(g: Glue): Glue {
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(g)) {
    if (typeof f !== 'function' || name === 'default' || name === 'initSync') continue;
    out[name] = guard(f as (...args: unknown[]) => unknown, name.endsWith('_dispose'));
  }
  return out as unknown as Glue;
}

/** After a fault: dispose calls do nothing, every other call throws the failure. */
function failed(quiet: boolean): undefined {
  if (quiet) return undefined;
  throw failure;
}

function guard(f: (...args: unknown[]) => unknown, quiet: boolean): (...args: unknown[]) => unknown {
  switch (f.length) {
    case 0:
      return () => {
        if (failure) return failed(quiet);
        try {
          return f();
        } catch (e) {
          throw fault(e);
        }
      };
    case 1:
      return (a) => {
        if (failure) return failed(quiet);
        try {
          return f(a);
        } catch (e) {
          throw fault(e);
        }
      };
    case 2:
      return (a, b) => {
        if (failure) return failed(quiet);
        try {
          return f(a, b);
        } catch (e) {
          throw fault(e);
        }
      };
    case 3:
      return (a, b, c) => {
        if (failure) return failed(quiet);
        try {
          return f(a, b, c);
        } catch (e) {
          throw fault(e);
        }
      };
    case 4:
      return (a, b, c, d) => {
        if (failure) return failed(quiet);
        try {
          return f(a, b, c, d);
        } catch (e) {
          throw fault(e);
        }
      };
    default:
      return (...args) => {
        if (failure) return failed(quiet);
        try {
          return f(...args);
        } catch (e) {
          throw fault(e);
        }
      };
  }
}

function isTrap(e: unknown): boolean {
  return (typeof WebAssembly === 'object' && e instanceof WebAssembly.RuntimeError) || (e instanceof Error && e.name === 'RuntimeError');
}

/** Turns a trap into the core's failure (anything else is returned as is). */
function fault(e: unknown): unknown {
  if (failure) return failure;
  if (!isTrap(e)) return e;
  const panic = readPanicMessage();
  const trap = e instanceof Error ? e.message : String(e);
  failure = new StateError(
    'CoreFailed',
    `the simdopt wasm core failed and cannot be used any more (${panic ? `panic: ${panic}` : `trap without a panic message: ${trap}`}); ` +
      'variables and optimizers are lost: reload the page or restart the process, then restore from a checkpoint',
  );
  failure.cause = e;
  return failure;
}

function readPanicMessage(): string {
  try {
    const buffer = memory!.buffer;
    const len = new DataView(buffer).getUint32(panicBuffer, true);
    if (len === 0 || panicBuffer + 4 + len > buffer.byteLength) return '';
    // A copy: TextDecoder refuses views of a SharedArrayBuffer (the threads build's memory).
    return new TextDecoder().decode(new Uint8Array(buffer, panicBuffer + 4, len).slice());
  } catch {
    return '';
  }
}

/** The error the core failed with (after a panic or trap), or undefined while it works. */
export function coreFailure(): StateError | undefined {
  return failure;
}

/** @internal Test hook: makes the core panic (`'panic'`, `'panic-in-state'`, with the message)
 * or trap without a message (`'abort'`). Not part of the public API. */
export function __testFault(kind: 'panic' | 'panic-in-state' | 'abort', message = 'test panic'): void {
  const c = core();
  if (kind === 'abort') c.__test_abort();
  else c.__test_panic(message, kind === 'panic-in-state');
}

/** Live objects in the core and its memory, for leak checks: tensors (variables and gradient
 * tensors), optimizers, and bytes of WASM linear memory. */
export interface CoreStats {
  /** Live tensors: variables, slots and gradient tensors. */
  tensors: number;
  /** Live optimizers. */
  optimizers: number;
  /** Bytes of WebAssembly linear memory (it only grows). */
  memoryBytes: number;
  /** Threads that run large steps, the calling thread included: 1 unless the threads build is
   * in use. */
  threads: number;
}

/** Counts of what lives in the core, for your own leak checks (see {@link CoreStats}). */
export function stats(): CoreStats {
  const c = core();
  return { tensors: c.tensor_count(), optimizers: c.optimizer_count(), memoryBytes: memoryBytes(), threads: threadCount };
}

/** @internal Test and benchmark hook of the threads build: sets the element count from which a
 * pass is split over the threads (`undefined`: only reads it). Returns the count in force
 * before, or undefined on the single-threaded builds. Not part of the public API. */
export function __threadsThreshold(elements?: number): number | undefined {
  if (loaded !== 'threads') return undefined;
  const c = core() as unknown as ThreadsGlue;
  const before = c.threads_threshold();
  if (elements !== undefined) c.threads_set_threshold(elements);
  return before;
}

/** @internal Benchmark hook of the threads build: sets how many rounds an idle worker polls for
 * the next pass before it sleeps (0: at once; `undefined`: only reads it). Returns the value in
 * force before, or undefined on the single-threaded builds. Not part of the public API. */
export function __threadsSpin(rounds?: number): number | undefined {
  if (loaded !== 'threads') return undefined;
  const c = core() as unknown as ThreadsGlue;
  const before = c.threads_spin();
  if (rounds !== undefined) c.threads_set_spin(rounds);
  return before;
}

let heapF32: Float32Array | undefined;
let heapU32: Uint32Array | undefined;
let heapI32: Int32Array | undefined;

/** Whether `memory` is shared (the threads build): growing it does not detach its old buffer. */
let sharedMemory = false;

/** Makes the views cover at least `words` 4-byte words of the memory (Infinity: all of it). */
function refreshHeap(words: number): void {
  // The `memory.buffer` getter is a call into the runtime (50-100 ns; a step's whole JavaScript
  // side is a few hundred), so the views are kept while they are valid. Growing a non-shared
  // memory detaches its buffer: a view of length 0 is the sign. Growing a shared memory (the
  // threads build) detaches nothing: the old buffer keeps its length and still aliases the start
  // of the memory, so the views only need renewing to reach words past their end.
  if (heapF32 !== undefined && (sharedMemory ? words <= heapF32.length : heapF32.length !== 0)) return;
  const buffer = memory!.buffer;
  if (heapF32?.buffer !== buffer) {
    heapF32 = new Float32Array(buffer);
    heapU32 = new Uint32Array(buffer);
    heapI32 = new Int32Array(buffer);
  }
}

const views: { f32: Float32Array; u32: Uint32Array; i32: Int32Array } = { f32: new Float32Array(0), u32: new Uint32Array(0), i32: new Int32Array(0) };
/** The three views of the WASM memory at once, covering at least its first `words` words (one
 * check of the memory instead of three; the same object every call, so a step allocates
 * nothing: read its fields right away). Past `words` they may end early on a shared memory
 * (a write there would be dropped): pass the end of what you write. */
export function heapViews(words: number): Readonly<typeof views> {
  refreshHeap(words);
  views.f32 = heapF32!;
  views.u32 = heapU32!;
  views.i32 = heapI32!;
  return views;
}

/** The whole WASM memory as f32, re-derived after the memory grows. */
export function heapFloat32(): Float32Array {
  refreshHeap(Infinity);
  return heapF32!;
}

export function heapUint32(): Uint32Array {
  refreshHeap(Infinity);
  return heapU32!;
}

export function heapInt32(): Int32Array {
  refreshHeap(Infinity);
  return heapI32!;
}

/** A live view of `len` f32 values at byte offset `ptr`. */
export function viewFloat32(ptr: number, len: number): Float32Array {
  return new Float32Array(memory!.buffer, ptr, len);
}

/** Bytes of WASM linear memory (for leak checks and benchmarks). */
export function memoryBytes(): number {
  return memory ? memory.buffer.byteLength : 0;
}

function decodeBase64(b64: string): Uint8Array {
  if (typeof atob === 'function') {
    const s = atob(b64);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  // Node < 16 has no atob; Buffer is there instead.
  const B = (globalThis as unknown as { Buffer: { from(s: string, e: string): Uint8Array } }).Buffer;
  return new Uint8Array(B.from(b64, 'base64'));
}

/** Runs a core call, turning its `"<Code>: message"` errors into typed errors. */
export function call<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw SimdoptError.fromCore(e);
  }
}
