// The messages between the main thread (the strategy) and a replica's worker. Plain data only:
// Float32Arrays travel with their buffers in the transfer list, so nothing is copied in transit.
import { describeValue, rowSize, typedArrayBuffer, typedArrayKind, typedArrayLength } from '../values.js';

/** How replicas' values combine in an all-reduce. */
export type ReduceOp = 'sum' | 'mean';

/** Name and shape of a variable, as a replica sees it. */
export interface VariableSpec {
  /** The variable's name. */
  readonly name: string;
  /** Its shape. */
  readonly shape: readonly number[];
}

/** A sparse gradient (Keras' IndexedSlices) as it crosses a thread boundary: rows `indices` of
 * the variable, their values row-major in `values`. */
export interface SparseGradient {
  /** The variable's rows that have a gradient (repeats are summed). */
  indices: Int32Array;
  /** Their gradients, one row after the other. */
  values: Float32Array;
}

/** A replica's gradient for one variable. */
export type WireGradient = Float32Array | SparseGradient | null;

/** An error as it crosses a thread boundary. */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
}

export type MainToReplica =
  | {
      t: 'init';
      module: string;
      replicaId: number;
      numReplicasInSync: number;
      variables: VariableSpec[];
      data: unknown;
    }
  | {
      t: 'step';
      step: number;
      shard: unknown;
      /** The variables' current values, one buffer each (transferred). */
      values: Float32Array[];
      /** Whether the strategy aggregates the gradients (false: the replica all-reduces them). */
      aggregate: boolean;
      /** Whether this replica's gradients are needed (all replicas when the strategy
       * aggregates; only the first otherwise). */
      sendGrads: boolean;
    }
  | { t: 'reduced'; step: number; seq: number; values: Float32Array[] }
  | { t: 'abort'; step: number; reason: string };

export type ReplicaToMain =
  | { t: 'ready' }
  | { t: 'fail'; step: number; error: WireError }
  | {
      t: 'result';
      step: number;
      loss: number;
      grads: WireGradient[] | null;
      /** The step's variable buffers, handed back for the next step. */
      values: Float32Array[];
      aux: unknown;
      /** All-reduces this replica ran during the step. */
      allReduces: number;
    }
  | { t: 'allreduce'; step: number; seq: number; op: ReduceOp; values: Float32Array[] };

/** Step number of the init handshake in `fail` messages. */
export const INIT_STEP = -1;

export function toWire(e: unknown): WireError {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return { name: e.name, message: e.message, stack: e.stack, code: typeof code === 'string' ? code : undefined };
  }
  return { name: 'Error', message: String(e) };
}

export function fromWire(w: WireError): Error {
  const e = new Error(w.message);
  e.name = w.name;
  if (w.stack) e.stack = w.stack;
  if (w.code) (e as { code?: string }).code = w.code;
  return e;
}

/**
 * Adds to `transfer` the buffer of every typed array in `arrays` that owns its whole buffer;
 * an array that is a view into a larger (or shared) buffer, or whose buffer is already listed,
 * is replaced by a copy that owns its buffer, so the message moves exactly its values. So is
 * an array whose buffer is in `keep` (buffers the sender must not lose).
 */
export function transferable<T extends Float32Array | Int32Array>(arrays: T[], transfer: ArrayBuffer[], keep?: readonly ArrayBufferLike[]): T[] {
  for (let i = 0; i < arrays.length; i++) {
    let a = arrays[i];
    const b = a.buffer;
    if (!(b instanceof ArrayBuffer) || a.byteOffset !== 0 || a.byteLength !== b.byteLength || transfer.includes(b) || keep?.includes(b)) {
      a = arrays[i] = a.slice() as T;
    }
    transfer.push(a.buffer as ArrayBuffer);
  }
  return arrays;
}

/** Collects the ArrayBuffers inside a shard (typed arrays, ArrayBuffers, in arrays and plain
 * objects, a few levels deep) for a transfer list. */
export function collectBuffers(value: unknown, out: Set<ArrayBuffer>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 8) return;
  if (value instanceof ArrayBuffer) {
    out.add(value);
  } else if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer) out.add(value.buffer);
  } else if (Array.isArray(value)) {
    for (const v of value) collectBuffers(v, out, depth + 1);
  } else if (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null) {
    for (const k of Object.keys(value)) collectBuffers((value as Record<string, unknown>)[k], out, depth + 1);
  }
}

// ---- arrays from another realm, and messages checked ---------------------------------------

/** Whether `x` is a Float32Array of any realm (from its internal slot: a Proxy, or an object
 * with a forged `Symbol.toStringTag`, is not). */
export function isF32(x: unknown): x is Float32Array {
  return typedArrayKind(x) === 'Float32Array';
}

/** The same values as this realm's Float32Array (no copy). `a` must be a Float32Array of some
 * realm (`isF32`). */
export function local(a: Float32Array): Float32Array {
  if (a instanceof Float32Array) return a;
  const { buffer, byteOffset } = typedArrayBuffer(a);
  return new Float32Array(buffer, byteOffset, typedArrayLength(a));
}

/** A gradient from a replica with this realm's arrays (no copy); checked by `resultProblem`. */
export function localGradient(g: WireGradient): WireGradient {
  if (g === null) return null;
  if (isF32(g)) return local(g);
  const i = g.indices;
  if (i instanceof Int32Array) return { values: local(g.values), indices: i };
  const { buffer, byteOffset } = typedArrayBuffer(i);
  return { values: local(g.values), indices: new Int32Array(buffer, byteOffset, typedArrayLength(i)) };
}

function elements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** What is wrong with one wire gradient for a variable of `shape`, or undefined. */
export function gradientProblem(g: unknown, shape: readonly number[]): string | undefined {
  if (g === null) return undefined;
  const size = elements(shape);
  if (isF32(g)) return typedArrayLength(g) === size ? undefined : `a dense gradient of ${typedArrayLength(g)} values for ${size}`;
  if (g === undefined || typeof g !== 'object') return `a gradient that is ${describeValue(g)}`;
  const { values, indices } = g as Partial<SparseGradient>;
  if (!isF32(values) || typedArrayKind(indices) !== 'Int32Array') return 'a sparse gradient without Float32Array values and Int32Array indices';
  const rows = typedArrayLength(indices as Int32Array);
  if (shape.length === 0 || typedArrayLength(values) !== rows * rowSize(shape)) return `a sparse gradient of ${typedArrayLength(values)} values for ${rows} rows`;
  for (let k = 0; k < rows; k++) {
    const x = (indices as Int32Array)[k];
    if (x < 0 || x >= shape[0]) return `a sparse gradient with row index ${x}, outside [0, ${shape[0]})`;
  }
  return undefined;
}

/** What is wrong with a replica's result message for `variables`, or undefined (`needGrads`:
 * the step asked for its gradients). */
export function resultProblem(m: Extract<ReplicaToMain, { t: 'result' }>, variables: readonly VariableSpec[], needGrads: boolean): string | undefined {
  if (typeof m.loss !== 'number') return `a loss that is ${describeValue(m.loss)}`;
  const values: unknown = m.values;
  if (!Array.isArray(values) || values.length !== variables.length || values.some((v, i) => !isF32(v) || typedArrayLength(v) !== elements(variables[i].shape))) {
    return 'variable buffers that are not the ones it was sent';
  }
  const grads: unknown = m.grads;
  if (grads === null || grads === undefined) return needGrads ? 'no gradients' : undefined;
  if (!Array.isArray(grads) || grads.length !== variables.length) return `${describeValue(grads)} for ${variables.length} gradients`;
  for (let i = 0; i < grads.length; i++) {
    const problem = gradientProblem(grads[i], variables[i].shape);
    if (problem) return `${problem} for '${variables[i].name}'`;
  }
  return undefined;
}

/** What is wrong with an all-reduce message, or undefined. */
export function allReduceProblem(m: Extract<ReplicaToMain, { t: 'allreduce' }>): string | undefined {
  if (m.op !== 'sum' && m.op !== 'mean') return `an all-reduce op ${describeValue(m.op)}`;
  if (!Number.isSafeInteger(m.seq)) return `an all-reduce number ${describeValue(m.seq)}`;
  const values: unknown = m.values;
  if (!Array.isArray(values) || !values.every(isF32)) return 'an all-reduce whose values are not Float32Arrays';
  return undefined;
}
