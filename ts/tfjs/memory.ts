// Where the tfjs adapter reads gradients and writes variables: in the tfjs backend's own memory
// when the backend keeps float32 tensors in CPU memory (the cpu backend's typed arrays, the wasm
// backend's heap), so a step copies each gradient once (into simdopt's core, streamed) and each
// variable once (back). Writes in place only on the cpu backend: tfjs-wasm caches packed matMul
// weights per tensor (XNNPACK), so there a variable gets a new tensor. Other backends (webgl,
// webgpu) keep tensors on the GPU: all gradients are read back in one readback, and variables
// are uploaded with `assign`.
//
// This reads backend internals that tfjs 4.x does not document (`data`/`dataIdMap`, the wasm
// module's heap); anything not as expected falls back to `dataSync` and `assign`, which work on
// every backend.
import * as tf from '@tensorflow/tfjs-core';

/** The backend internals used (all optional: checked before use). */
interface CpuLike {
  data?: { get(dataId: unknown): { values?: unknown } | undefined };
  dataIdMap?: { get(dataId: unknown): { memoryOffset?: unknown } | undefined };
  wasm?: { HEAPU8?: Uint8Array };
  refCount?(dataId: unknown): number;
}

type Kind = 'cpu' | 'wasm' | 'gpu' | 'other';

/** The current backend and how its memory is reached. */
export interface BackendMemory {
  kind: Kind;
  name: string;
  backend: CpuLike;
}

/** The backend tensors are on now. */
export function currentBackend(): BackendMemory {
  const name = tf.getBackend();
  const backend = tf.engine().backend as unknown as CpuLike;
  const kind: Kind =
    typeof backend.refCount !== 'function'
      ? 'other'
      : backend.data && typeof backend.data.get === 'function' && name === 'cpu'
        ? 'cpu'
        : backend.dataIdMap && typeof backend.dataIdMap.get === 'function' && backend.wasm?.HEAPU8 instanceof Uint8Array
          ? 'wasm'
          : name === 'webgl' || name === 'webgpu'
            ? 'gpu'
            : 'other';
  return { kind, name, backend };
}

/** The float32 values of the tensor with this data id and size in the backend's memory, without
 * a copy, or undefined if they are not there (another backend holds them, or not as expected). */
export function valuesInPlace(m: BackendMemory, dataId: unknown, size: number): Float32Array | undefined {
  if (m.kind === 'cpu') {
    const values = m.backend.data!.get(dataId)?.values;
    return values instanceof Float32Array && values.length === size ? values : undefined;
  }
  if (m.kind === 'wasm') {
    const offset = m.backend.dataIdMap!.get(dataId)?.memoryOffset;
    const heap = m.backend.wasm!.HEAPU8!;
    if (typeof offset !== 'number' || offset % 4 !== 0 || offset < 0 || offset + 4 * size > heap.byteLength) return undefined;
    return new Float32Array(heap.buffer, heap.byteOffset + offset, size);
  }
  return undefined;
}

/** Whether the tensor with this data id is the only one holding its memory (then writing into
 * it changes no other tensor). */
export function soleOwner(m: BackendMemory, dataId: unknown): boolean {
  try {
    return m.backend.refCount!(dataId) === 1;
  } catch {
    return false;
  }
}

let warned = false;
/** Warns once per process that a GPU backend gains nothing from simdopt. */
export function warnGpuOnce(m: BackendMemory): void {
  if (warned || m.kind !== 'gpu') return;
  warned = true;
  console.warn(
    `simdopt/tfjs: on the ${m.name} backend every step reads the gradients back from the GPU (one readback) and uploads the updated variables; ` +
      'tf.train optimizers keep them on the GPU. simdopt speeds up the cpu and wasm backends.',
  );
}
