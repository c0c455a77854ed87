// The replica side: runs inside each worker (Node worker thread or Web Worker). It imports the
// user's module, then runs its step function on each shard and hands the results back. It has
// no dependency on the wasm core or on any Node or browser API (the entry files adapt those).
import { INIT_STEP, MainToReplica, ReduceOp, ReplicaToMain, SparseGradient, VariableSpec, WireGradient, toWire, transferable } from './protocol.js';
import { isDetached, readNumbers, rowSize, typedArrayKind, typedArrayLength } from '../values.js';
import { ArgumentError } from '../errors.js';

/** What a replica's step function sees besides its shard and the variables' values. */
export interface ReplicaContext {
  /** This replica's id, 0 ≤ replicaId < numReplicasInSync (across hosts with `crossHost`). */
  readonly replicaId: number;
  /** How many replicas take part in each step (Keras' `num_replicas_in_sync`). */
  readonly numReplicasInSync: number;
  /** Names and shapes of the variables, in the order of the values and gradients. */
  readonly variables: readonly VariableSpec[];
  /** The strategy's `workerData` option (structured-cloned once, at start-up). */
  readonly data: unknown;
  /** Number of the current step of the strategy (0 for the first; −1 in `setup`). */
  readonly step: number;
  /**
   * Combines `values` with the same call of every other replica and resolves to the result
   * (Keras' `ReplicaContext.all_reduce`). Every replica must make the same all-reduce calls,
   * in the same order, with arrays of the same lengths. The arrays given are transferred to the
   * main thread (they are detached afterwards; a view into a larger buffer is copied instead);
   * the result arrays are new and belong to the caller.
   */
  allReduce(op: ReduceOp, values: readonly Float32Array[]): Promise<Float32Array[]>;
}

/** What a step function returns: this replica's loss and one gradient per variable. */
export interface ReplicaStepOutput {
  /** This replica's share of the loss: the sum of its examples' losses divided by the GLOBAL
   * batch size (so the replicas' losses, and gradients, add up to the global mean). */
  loss: number;
  /** d loss / d variable, in the order of the variables; null for a variable without one.
   * Dense: a Float32Array (or an array of numbers) of the variable's size. Sparse (Keras'
   * IndexedSlices, e.g. the rows of an embedding a shard looked up): `{ indices, values }`, rows
   * `indices` (repeats allowed) with their values row-major. A Float32Array or Int32Array that
   * owns its whole buffer is transferred (detached afterwards). */
  grads: readonly (Float32Array | ArrayLike<number> | ReplicaSparseGradient | null)[];
  /** Anything structured-cloneable, returned to the caller of `step` (metrics, checks). */
  aux?: unknown;
}

/** A sparse gradient returned by a step function (simdopt's `IndexedSlices` fits too). */
export interface ReplicaSparseGradient {
  /** The variable's rows that have a gradient (repeats are summed). */
  readonly indices: Int32Array | ArrayLike<number>;
  /** Their gradients, one row after the other. */
  readonly values: Float32Array | ArrayLike<number>;
}

/** The function a replica module exports (as `step` or as its default export). The variables'
 * values are read-only and valid only until the returned promise settles. */
export type ReplicaStep<Shard = unknown> = (ctx: ReplicaContext, shard: Shard, variables: readonly Float32Array[]) => ReplicaStepOutput | Promise<ReplicaStepOutput>;

/** The thread's side of the channel to the main thread. */
export interface ReplicaEndpoint {
  /** Sends a message of simdopt's replica protocol to the main thread, moving `transfer`. */
  post(message: ReplicaToMain, transfer: ArrayBuffer[]): void;
  /** Calls `handler` with each message of the main thread. */
  listen(handler: (message: MainToReplica) => void): void;
}

interface Pending {
  resolve(values: Float32Array[]): void;
  reject(e: Error): void;
}

interface StepState {
  step: number;
  seq: number;
  aborted?: string;
  pending: Map<number, Pending>;
}

/** Runs a replica on `endpoint` until the worker is terminated. */
export function runReplica(endpoint: ReplicaEndpoint): void {
  let stepFn: ReplicaStep | undefined;
  let init: Extract<MainToReplica, { t: 'init' }> | undefined;
  let current: StepState | undefined;

  const fail = (step: number, e: unknown) => endpoint.post({ t: 'fail', step, error: toWire(e) }, []);

  const context = (state: StepState | undefined, keep?: readonly ArrayBufferLike[]): ReplicaContext => ({
    replicaId: init!.replicaId,
    numReplicasInSync: init!.numReplicasInSync,
    variables: init!.variables,
    data: init!.data,
    step: state ? state.step : INIT_STEP,
    allReduce(op, values) {
      if (!state) return Promise.reject(new Error('allReduce can only be called during a step'));
      if (op !== 'sum' && op !== 'mean') return Promise.reject(new TypeError(`allReduce: op must be 'sum' or 'mean', got ${String(op)}`));
      if (state.aborted) return Promise.reject(abortError(state.aborted));
      if (!Array.isArray(values) || !values.every((v) => v instanceof Float32Array)) {
        return Promise.reject(new TypeError('allReduce: values must be an array of Float32Array'));
      }
      const seq = state.seq++;
      const transfer: ArrayBuffer[] = [];
      // The variables' buffers are copied, not moved: they go back with the result.
      const sent = transferable([...values], transfer, keep);
      return new Promise<Float32Array[]>((resolve, reject) => {
        state.pending.set(seq, { resolve, reject });
        endpoint.post({ t: 'allreduce', step: state.step, seq, op, values: sent }, transfer);
      });
    },
  });

  async function start(msg: Extract<MainToReplica, { t: 'init' }>): Promise<void> {
    init = msg;
    try {
      const mod = (await import(/* webpackIgnore: true */ /* @vite-ignore */ msg.module)) as Record<string, unknown>;
      const fn = typeof mod.step === 'function' ? mod.step : mod.default;
      if (typeof fn !== 'function') throw new TypeError(`the replica module ${msg.module} exports no \`step\` function (named \`step\` or default)`);
      stepFn = fn as ReplicaStep;
      if (typeof mod.setup === 'function') await (mod.setup as (ctx: ReplicaContext) => unknown)(context(undefined));
      endpoint.post({ t: 'ready' }, []);
    } catch (e) {
      fail(INIT_STEP, e);
    }
  }

  async function runStep(msg: Extract<MainToReplica, { t: 'step' }>): Promise<void> {
    const state: StepState = { step: msg.step, seq: 0, pending: new Map() };
    current = state;
    try {
      const keep = msg.values.map((v) => v.buffer);
      const out = await stepFn!(context(state, keep), msg.shard, msg.values);
      const grads = checkOutput(out, init!.variables);
      const transfer: ArrayBuffer[] = msg.values.map((v) => v.buffer as ArrayBuffer);
      let sent: WireGradient[] | null = null;
      if (msg.sendGrads) {
        const arrays: Array<Float32Array | Int32Array> = [];
        for (const g of grads) if (g) arrays.push(...(g instanceof Float32Array ? [g] : [g.values, g.indices]));
        // A gradient that is a variable's buffer (or shares one with another) is copied.
        const moved = transferable(arrays, transfer);
        let k = 0;
        sent = grads.map((g) =>
          g === null ? null : g instanceof Float32Array ? (moved[k++] as Float32Array) : { values: moved[k++] as Float32Array, indices: moved[k++] as Int32Array },
        );
      }
      endpoint.post({ t: 'result', step: msg.step, loss: out.loss, grads: sent, values: msg.values, aux: out.aux, allReduces: state.seq }, transfer);
    } catch (e) {
      fail(msg.step, e);
    } finally {
      if (current === state) current = undefined;
    }
  }

  endpoint.listen((msg) => {
    switch (msg.t) {
      case 'init':
        void start(msg);
        break;
      case 'step':
        void runStep(msg);
        break;
      case 'reduced': {
        const p = current?.step === msg.step ? current.pending.get(msg.seq) : undefined;
        if (p) {
          current!.pending.delete(msg.seq);
          p.resolve(msg.values);
        }
        break;
      }
      case 'abort':
        if (current?.step === msg.step) {
          current.aborted = msg.reason;
          for (const p of current.pending.values()) p.reject(abortError(msg.reason));
          current.pending.clear();
        }
        break;
    }
  });
}

function abortError(reason: string): Error {
  const e = new Error(`the step was aborted: ${reason}`);
  e.name = 'AbortError';
  return e;
}

function checkOutput(out: ReplicaStepOutput, vars: readonly VariableSpec[]): WireGradient[] {
  if (out === null || typeof out !== 'object') throw new TypeError(`the step function must return { loss, grads }, got ${out === null ? 'null' : typeof out}`);
  if (typeof out.loss !== 'number') throw new TypeError(`the step function's \`loss\` must be a number, got ${typeof out.loss}`);
  const grads = out.grads;
  if (!Array.isArray(grads) || grads.length !== vars.length) {
    throw new TypeError(
      `the step function's \`grads\` must be an array of ${vars.length} gradients (one per variable), got ${Array.isArray(grads) ? `${grads.length}` : typeof grads}`,
    );
  }
  return grads.map((g, i) => {
    if (g === null || g === undefined) return null;
    const size = vars[i].shape.reduce((a, b) => a * b, 1);
    if (isSparse(g)) return sparseGradient(g, vars[i]);
    const f = floats(g, `the gradient of '${vars[i].name}'`);
    if (!f) throw new TypeError(`the gradient of '${vars[i].name}' must be a Float32Array, an array of numbers or { indices, values }`);
    if (f.length !== size) throw new RangeError(`the gradient of '${vars[i].name}' has ${f.length} values; the variable has ${size} (shape [${vars[i].shape.join(', ')}])`);
    return f;
  });
}

function isSparse(g: unknown): g is ReplicaSparseGradient {
  return typeof g === 'object' && g !== null && !ArrayBuffer.isView(g) && !Array.isArray(g) && 'indices' in g && 'values' in g;
}

/** `x` as a Float32Array if it is one (a detached one is an error naming `what`), or if it holds
 * only numbers (read once; no silent NaN from a string); else undefined. */
function floats(x: unknown, what: string): Float32Array | undefined {
  const kind = typedArrayKind(x);
  if (kind === undefined && (x === null || typeof x !== 'object' || x instanceof String)) return undefined;
  if (kind !== undefined && typedArrayLength(x as ArrayBufferView) === 0 && isDetached(x as ArrayBufferView)) {
    throw new ArgumentError('InvalidArgument', `${what} is a ${kind} whose ArrayBuffer is detached`);
  }
  let read: ArrayLike<number>;
  try {
    read = readNumbers(x, what).array;
  } catch {
    return undefined;
  }
  return typedArrayKind(read) === 'Float32Array' ? (read as Float32Array) : Float32Array.from(read);
}

/** Checks a sparse gradient against its variable (the indices in range, one row of values per
 * index), so that a bad one is this replica's error. */
function sparseGradient(g: ReplicaSparseGradient, spec: VariableSpec): SparseGradient {
  const name = spec.name;
  if (spec.shape.length === 0) throw new TypeError(`the gradient of '${name}' is sparse, but '${name}' is a scalar (sparse gradients address rows)`);
  const rows = spec.shape[0];
  const row = rowSize(spec.shape);
  const values = floats(g.values, `the sparse gradient values of '${name}'`);
  if (!values) throw new TypeError(`the sparse gradient of '${name}' needs \`values\` as a Float32Array or an array of numbers`);
  let indices: Int32Array;
  if (g.indices instanceof Int32Array) {
    indices = g.indices;
  } else if (typeof g.indices?.length === 'number' && typeof g.indices !== 'string') {
    indices = new Int32Array(g.indices.length);
    for (let k = 0; k < indices.length; k++) {
      const x = g.indices[k];
      if (!Number.isInteger(x) || x < -(2 ** 31) || x >= 2 ** 31)
        throw new TypeError(`the sparse gradient of '${name}' has a row index that is not a 32-bit integer at offset ${k}: ${String(x)}`);
      indices[k] = x;
    }
  } else {
    throw new TypeError(`the sparse gradient of '${name}' needs \`indices\` as an Int32Array or an array of integers`);
  }
  if (values.length !== indices.length * row) {
    throw new RangeError(`the sparse gradient of '${name}' has ${values.length} values for ${indices.length} rows of ${row} (shape [${spec.shape.join(', ')}])`);
  }
  const bad = indices.findIndex((x) => x < 0 || x >= rows);
  if (bad >= 0) throw new RangeError(`the sparse gradient of '${name}' has row index ${indices[bad]} at offset ${bad}, outside [0, ${rows})`);
  return { indices, values };
}
