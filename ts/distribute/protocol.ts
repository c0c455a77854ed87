// The messages between the main thread (the strategy) and a replica's worker. Plain data only:
// Float32Arrays travel with their buffers in the transfer list, so nothing is copied in transit.
import { describeValue, lengthProblem, readArray, rowSize, typedArrayBuffer, typedArrayKind, typedArrayLength } from '../values.js';
import { ArgumentError } from '../errors.js';

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
  // Each field read once (the message may come from user code).
  const { name, message, stack, code } = w;
  const e = new Error(String(message));
  e.name = String(name);
  if (typeof stack === 'string') e.stack = stack;
  if (typeof code === 'string') (e as { code?: string }).code = code;
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

function elements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

// A message from a replica (or from user code in its worker, or from a spawner of the user's,
// which may hand over any object, getters and Proxies included) is read once, field by field,
// into a snapshot of this realm's values; nothing is read from the message again. Sparse row
// indices are copied (and range-checked once); values stay the sender's arrays, so their uses
// check that each still holds the length read here (`unchanged`).

/** A wire gradient for a variable of `shape` read once, or what is wrong with it. */
export function readWireGradient(g: unknown, shape: readonly number[]): WireGradient | string {
  if (g === null) return null;
  const size = elements(shape);
  if (isF32(g)) return typedArrayLength(g) === size ? local(g) : `a dense gradient of ${typedArrayLength(g)} values for ${size}`;
  if (g === undefined || typeof g !== 'object') return `a gradient that is ${describeValue(g)}`;
  const values: unknown = (g as Partial<SparseGradient>).values;
  const indices: unknown = (g as Partial<SparseGradient>).indices;
  if (!isF32(values) || typedArrayKind(indices) !== 'Int32Array') return 'a sparse gradient without Float32Array values and Int32Array indices';
  const rows = typedArrayLength(indices as Int32Array);
  if (shape.length === 0 || typedArrayLength(values) !== rows * rowSize(shape)) return `a sparse gradient of ${typedArrayLength(values)} values for ${rows} rows`;
  const own = new Int32Array(rows);
  own.set(indices as Int32Array);
  for (let k = 0; k < rows; k++) {
    const x = own[k];
    if (x < 0 || x >= shape[0]) return `a sparse gradient with row index ${x}, outside [0, ${shape[0]})`;
  }
  return { values: local(values), indices: own };
}

type ResultMsg = Extract<ReplicaToMain, { t: 'result' }>;

/** A replica's result message for `variables` read once (`needGrads`: the step asked for its
 * gradients), or what is wrong with it. */
export function readResult(m: object, variables: readonly VariableSpec[], needGrads: boolean): ResultMsg | string {
  const { step, loss, grads, values, aux, allReduces } = m as Record<keyof ResultMsg, unknown>;
  if (typeof loss !== 'number') return `a loss that is ${describeValue(loss)}`;
  if (typeof allReduces !== 'number' || !Number.isSafeInteger(allReduces) || allReduces < 0) return `an all-reduce count that is ${describeValue(allReduces)}`;
  const buffers = readArray(values);
  if (!buffers || buffers.length !== variables.length || buffers.some((v, i) => !isF32(v) || typedArrayLength(v) !== elements(variables[i].shape))) {
    return 'variable buffers that are not the ones it was sent';
  }
  let read: WireGradient[] | null = null;
  if (grads === null || grads === undefined) {
    if (needGrads) return 'no gradients';
  } else {
    const list = readArray(grads);
    if (!list || list.length !== variables.length) return `${describeValue(grads)} for ${variables.length} gradients`;
    read = [];
    for (let i = 0; i < list.length; i++) {
      const g = readWireGradient(list[i], variables[i].shape);
      if (typeof g === 'string') return `${g} for '${variables[i].name}'`;
      read.push(g);
    }
  }
  return { t: 'result', step: step as number, loss, grads: read, values: (buffers as Float32Array[]).map(local), aux, allReduces };
}

/** An all-reduce message read once, or what is wrong with it. */
export function readAllReduce(m: object): Extract<ReplicaToMain, { t: 'allreduce' }> | string {
  const { step, seq, op, values } = m as Record<string, unknown>;
  if (op !== 'sum' && op !== 'mean') return `an all-reduce op ${describeValue(op)}`;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq)) return `an all-reduce number ${describeValue(seq)}`;
  const list = readArray(values);
  if (!list || !list.every(isF32)) return 'an all-reduce whose values are not Float32Arrays';
  return { t: 'allreduce', step: step as number, seq, op, values: list.map(local) };
}

/** `a` if it still holds `expected` values (read when it arrived); else an ArgumentError: user
 * code resized or detached it since. `what` names it. */
export function unchanged(a: Float32Array, expected: number, what: () => string): Float32Array {
  if (typedArrayLength(a) !== expected) throw new ArgumentError('InvalidArgument', `${what()} changed after the strategy received it: ${lengthProblem(a, expected)}`);
  return a;
}
