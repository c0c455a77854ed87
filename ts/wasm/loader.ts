// Loads one of the two wasm builds: the simd128 build where the runtime validates SIMD, else
// the scalar fallback. Both bind the same exports, so they share one wasm-bindgen glue module.
import * as glue from './generated/simdopt_wasm.js';
import { SimdoptError } from '../errors.js';

export type Backend = 'simd' | 'scalar';

export interface ReadyOptions {
  /** Force a build; `'auto'` (the default) picks SIMD where the runtime supports it. */
  backend?: Backend | 'auto';
}

// The smallest module that uses a SIMD instruction (i32x4.splat), as wasm-feature-detect does.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

/** Whether this JavaScript runtime can run the SIMD build. */
export function simdSupported(): boolean {
  return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
}

let loading: Promise<Backend> | undefined;
let loaded: Backend | undefined;
let memory: WebAssembly.Memory | undefined;

/**
 * Loads the WebAssembly core. Await it once before creating variables or optimizers; later
 * calls return the same promise. Resolves to the build in use.
 */
export function ready(options: ReadyOptions = {}): Promise<Backend> {
  const wanted = options.backend ?? 'auto';
  if (loading) {
    return loading.then((b) => {
      if (wanted !== 'auto' && wanted !== b) {
        throw new SimdoptError('InvalidState', `simdopt is already loaded with the ${b} build; it cannot switch to ${wanted}`);
      }
      return b;
    });
  }
  const backend: Backend = wanted === 'auto' ? (simdSupported() ? 'simd' : 'scalar') : wanted;
  if (backend === 'simd' && !simdSupported()) {
    return Promise.reject(new SimdoptError('InvalidState', 'this runtime does not support WebAssembly SIMD'));
  }
  loading = (async () => {
    const b64 = backend === 'simd' ? (await import('./generated/simd-bytes.js')).default : (await import('./generated/scalar-bytes.js')).default;
    const exports = await glue.default({ module_or_path: decodeBase64(b64) });
    memory = exports.memory;
    loaded = backend;
    return backend;
  })();
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
}

/** The build in use, or undefined before `ready()` resolves. */
export function backend(): Backend | undefined {
  return loaded;
}

/** @internal The wasm exports; throws a clear error if `ready()` has not resolved yet. */
export function core(): typeof glue {
  if (!loaded) {
    throw new SimdoptError('NotReady', 'simdopt is not loaded yet: `await ready()` before creating variables or optimizers');
  }
  return glue;
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
