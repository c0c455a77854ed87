// Loads one of the two wasm builds: the simd128 build where the runtime validates SIMD, else
// the scalar fallback. Both bind the same exports, so they share one wasm-bindgen glue module.
import * as glue from './generated/simdopt_wasm.js';
import { ArgumentError, SimdoptError, StateError } from '../errors.js';
import { describeValue } from '../values.js';

/** The two builds of the core: `'simd'` (WebAssembly SIMD, `simd128`) and `'scalar'` (the
 * fallback for runtimes without SIMD). Both give bit-identical results. */
export type Backend = 'simd' | 'scalar';

/**
 * Where `ready()` takes a build's WebAssembly from, instead of the copy embedded in the
 * JavaScript: a URL (fetched, and compiled while it downloads where the server sends
 * `Content-Type: application/wasm`), a `Request` or `Response` (or a promise of one), the bytes,
 * or an already compiled `WebAssembly.Module`. Node's `fetch` cannot read `file:` URLs: pass
 * the bytes there (`await readFile(...)`).
 */
export type WasmSource = string | URL | Request | Response | PromiseLike<Response> | BufferSource | WebAssembly.Module;

/** The options of `ready()`. */
export interface ReadyOptions {
  /**
   * The build to load: `'auto'` picks `'simd'` where the runtime validates a SIMD module, else
   * `'scalar'`; `'simd'` or `'scalar'` forces one (forcing `'simd'` where SIMD is missing rejects).
   * @defaultValue `'auto'`
   */
  backend?: Backend | 'auto';
  /**
   * The `.wasm` files to load instead of the copies embedded in the JavaScript (smaller
   * downloads, streaming compile). The package ships them as `simdopt/simd.wasm` and
   * `simdopt/scalar.wasm`; a build without a source here is taken from the embedded copy (from
   * `simdopt`), or is an error (from `simdopt/slim`, which embeds none).
   * @defaultValue the embedded copies
   * @example
   * ```ts
   * // Vite: `?url` gives each file's URL in the build
   * import simd from 'simdopt/simd.wasm?url';
   * import scalar from 'simdopt/scalar.wasm?url';
   * await ready({ wasm: { simd, scalar } });
   * ```
   */
  wasm?: {
    /** The SIMD build (`simdopt/simd.wasm`). */
    simd?: WasmSource;
    /** The scalar build (`simdopt/scalar.wasm`), for runtimes without WebAssembly SIMD. */
    scalar?: WasmSource;
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

let loading: Promise<Backend> | undefined;
let loaded: Backend | undefined;
let memory: WebAssembly.Memory | undefined;
/** The exports as the facade calls them (see `guardExports`). */
let exportsInUse: typeof glue | undefined;
/** Byte offset of the core's panic buffer (`[length: u32][UTF-8]`). */
let panicBuffer = 0;
/** Set once the core has trapped: every later call throws it. */
let failure: StateError | undefined;

/**
 * @internal `ready()` of both entry points (`simdopt` passes its embedded copies, `simdopt/slim`
 * none). Later calls return the first call's promise.
 */
export function loadCore(options: ReadyOptions, embedded: EmbeddedWasm | undefined): Promise<Backend> {
  const wanted = options.backend ?? 'auto';
  if (wanted !== 'auto' && wanted !== 'simd' && wanted !== 'scalar') {
    return Promise.reject(new ArgumentError('InvalidArgument', `ready(): backend must be 'auto', 'simd' or 'scalar', got ${describeValue(wanted)}`));
  }
  if (loading) {
    return loading.then((b) => {
      if (wanted !== 'auto' && wanted !== b) {
        throw new StateError('InvalidState', `simdopt is already loaded with the ${b} build; it cannot switch to ${wanted}`);
      }
      return b;
    });
  }
  const backend: Backend = wanted === 'auto' ? (simdSupported() ? 'simd' : 'scalar') : wanted;
  if (backend === 'simd' && !simdSupported()) {
    return Promise.reject(new StateError('InvalidState', 'this runtime does not support WebAssembly SIMD: use ready() or ready({ backend: "scalar" })'));
  }
  const source = options.wasm?.[backend];
  if (source === undefined && !embedded) {
    return Promise.reject(
      new ArgumentError(
        'InvalidArgument',
        `simdopt/slim embeds no WebAssembly: pass the ${backend} build to ready(), e.g. ready({ wasm: { simd: simdUrl, scalar: scalarUrl } }) with the URLs of simdopt/simd.wasm and simdopt/scalar.wasm (or import from 'simdopt', which embeds both)`,
      ),
    );
  }
  if (typeof source === 'string' || source instanceof URL) {
    const nodeFile = isNode() && /^file:/i.test(source instanceof URL ? source.href : source);
    if (nodeFile) {
      return Promise.reject(
        new ArgumentError('InvalidArgument', `ready(): Node's fetch cannot read ${String(source)}: pass the bytes instead (wasm: { ${backend}: await readFile(path) })`),
      );
    }
  }
  loading = (async () => {
    const input = source ?? decodeBase64(await embedded!(backend));
    let exports: Awaited<ReturnType<typeof glue.default>>;
    try {
      exports = await glue.default({ module_or_path: input as Parameters<typeof glue.default>[0] });
    } catch (e) {
      throw compileError(e, backend, source === undefined ? 'embedded' : 'given');
    }
    memory = exports.memory;
    panicBuffer = glue.panic_buffer();
    exportsInUse = guardExports();
    loaded = backend;
    return backend;
  })();
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
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
function guardExports(): typeof glue {
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(glue)) {
    if (typeof f !== 'function' || name === 'default' || name === 'initSync') continue;
    out[name] = guard(f as (...args: unknown[]) => unknown, name.endsWith('_dispose'));
  }
  return out as unknown as typeof glue;
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
    return new TextDecoder().decode(new Uint8Array(buffer, panicBuffer + 4, len));
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
}

/** Counts of what lives in the core, for your own leak checks (see {@link CoreStats}). */
export function stats(): CoreStats {
  const c = core();
  return { tensors: c.tensor_count(), optimizers: c.optimizer_count(), memoryBytes: memoryBytes() };
}

let heapF32: Float32Array | undefined;
let heapU32: Uint32Array | undefined;
let heapI32: Int32Array | undefined;

function refreshHeap(): void {
  const buffer = memory!.buffer;
  if (heapF32?.buffer !== buffer) {
    heapF32 = new Float32Array(buffer);
    heapU32 = new Uint32Array(buffer);
    heapI32 = new Int32Array(buffer);
  }
}

/** The whole WASM memory as f32, re-derived after the memory grows. */
export function heapFloat32(): Float32Array {
  refreshHeap();
  return heapF32!;
}

export function heapUint32(): Uint32Array {
  refreshHeap();
  return heapU32!;
}

export function heapInt32(): Int32Array {
  refreshHeap();
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
