// The messages between the main thread (the strategy) and a replica's worker. Plain data only:
// Float32Arrays travel with their buffers in the transfer list, so nothing is copied in transit.

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

// ---- arrays from another realm ----------------------------------------------------------------

/** Whether `x` is a Float32Array of any realm. */
export function isF32(x: unknown): x is Float32Array {
  return ArrayBuffer.isView(x) && Object.prototype.toString.call(x) === '[object Float32Array]';
}

/** The same values as this realm's Float32Array (no copy). */
export function local(a: Float32Array): Float32Array {
  if (a instanceof Float32Array) return a;
  const v = a as ArrayBufferView;
  return new Float32Array(v.buffer, v.byteOffset, v.byteLength >>> 2);
}

/** A gradient from a replica with this realm's arrays (no copy). */
export function localGradient(g: WireGradient): WireGradient {
  if (g === null) return null;
  if (isF32(g)) return local(g);
  const i = g.indices as ArrayBufferView;
  return { values: local(g.values), indices: i instanceof Int32Array ? i : new Int32Array(i.buffer, i.byteOffset, i.byteLength >>> 2) };
}
