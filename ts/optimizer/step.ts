// The step: `applyGradients`' arguments read once into a snapshot, then written into the step
// frame (commands plus copied values in WASM memory) from that snapshot only.
//
// Order of a step: (1) every user value (the list, each pair, each gradient's reference, kind and
// length, each variable's handle) is read exactly once into `StepArguments`; (2) user code runs
// (gradient hooks, whose results are read once the same way, then function and schedule
// hyperparameters); (3) the frame is written from the snapshot with no user code in between,
// every copy checked against the length read in (1) (a typed array detached, resized or shrunk
// meanwhile is an ArgumentError) and against the frame's capacity. Nothing here allocates per
// step once the snapshot pool is warm: the loops index rather than destructure.
import { call, core, heapViews } from '../wasm/loader.js';
import {
  ALIGN_WORDS,
  COMMAND_WORDS,
  KIND_DENSE_STAGED,
  KIND_DENSE_STREAMED,
  KIND_DENSE_TENSOR,
  KIND_NONE,
  KIND_SPARSE,
  KIND_SPARSE_TENSOR,
  reserveFrame,
  type FrameLayout,
} from '../frame.js';
import { ArgumentError, StateError } from '../errors.js';
import { IndexedSlices, Tensor, Variable } from '../tensor.js';
import { describeValue, isDetached, lengthProblem, readArray, readNumbers, typedArrayByteOffset, typedArrayKind, typedArrayLength } from '../values.js';
import type { ApplyGradientsOptions, Gradient, NonFiniteStep, StepResult } from './types.js';

/** The result of every applied step (shared and frozen: a step allocates nothing). */
export const APPLIED: StepResult = Object.freeze({ applied: true, nonFiniteIndices: Object.freeze([]), nonFiniteVariables: Object.freeze([]) });

/** `applyGradients` options, each read once. */
export interface StepOptions {
  guarded: boolean;
  aggregate: boolean;
  onNonFinite: ((step: NonFiniteStep) => void) | undefined;
}

/** Reads and checks `applyGradients` options (each property once). */
export function stepOptions(o: ApplyGradientsOptions, dflt: boolean): StepOptions {
  if (o === null || typeof o !== 'object') throw new ArgumentError('InvalidArgument', `applyGradients options must be an object, got ${describeValue(o)}`);
  const { skipNonFinite, onNonFinite, experimentalAggregateGradients } = o;
  if (skipNonFinite !== undefined && typeof skipNonFinite !== 'boolean')
    throw new ArgumentError('InvalidArgument', `\`skipNonFinite\` must be a boolean, got ${describeValue(skipNonFinite)}`);
  if (onNonFinite !== undefined && typeof onNonFinite !== 'function')
    throw new ArgumentError('InvalidArgument', `\`onNonFinite\` must be a function, got ${describeValue(onNonFinite)}`);
  if (experimentalAggregateGradients !== undefined && typeof experimentalAggregateGradients !== 'boolean') {
    throw new ArgumentError('InvalidArgument', `\`experimentalAggregateGradients\` must be a boolean, got ${describeValue(experimentalAggregateGradients)}`);
  }
  return { guarded: skipNonFinite ?? dflt, aggregate: experimentalAggregateGradients ?? true, onNonFinite };
}

/** An iterable as an array, or an ArgumentError (not a TypeError) for anything else. */
export function iterate<T>(x: Iterable<T>, what = 'applyGradients expects a list of [gradient, variable] pairs'): T[] {
  if (x == null || typeof (x as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== 'function') {
    throw new ArgumentError('InvalidArgument', `${what}, got ${describeValue(x)}`);
  }
  return [...x];
}

/** A list read once: an array (or a Proxy of one) by its length read once and each index read
 * once; any other iterable by iterating it. */
export function readList<T>(x: Iterable<T>, what: string): T[] {
  if (!Array.isArray(x)) return iterate(x, what);
  const list = readArray(x);
  if (!list) throw new ArgumentError('InvalidArgument', `${what}, got an array whose length is ${describeValue((x as unknown[]).length)}`);
  return list as T[];
}

// ---- the snapshot ---------------------------------------------------------------------------

/** One step's arguments as read once. Pooled (see `acquireArguments`): a step reuses one. */
export class StepArguments {
  n = 0;
  /** The variables as given (reports and constraints use them). */
  readonly variables: Variable[] = [];
  /** The gradients as given, kept only when hooks will see them (`readPairs`' `keep`). */
  readonly gradients: Gradient[] = [];
  /** What is staged per pair: dense values, or sparse values and indices. Only the entries of
   * staged and sparse kinds are meaningful; `writeFrame` drops them once copied. */
  readonly values: Array<ArrayLike<number> | null> = [];
  readonly indices: Array<Int32Array | null> = [];
  kinds = new Uint8Array(16);
  /** 1 where the variable has a constraint (a Variable's `constraint` function). */
  constrainedAt = new Uint8Array(16);
  /** Per pair: variable index, generation, and for a Tensor gradient its index, generation. */
  handles = new Uint32Array(64);
  valueCounts = new Uint32Array(16);
  indexCounts = new Uint32Array(16);
  totalValues = 0;
  totalIndices = 0;
  constrained = false;

  reset(n: number): void {
    if (n > this.kinds.length) {
      const cap = Math.max(n, this.kinds.length * 2);
      this.kinds = new Uint8Array(cap);
      this.constrainedAt = new Uint8Array(cap);
      this.handles = new Uint32Array(4 * cap);
      this.valueCounts = new Uint32Array(cap);
      this.indexCounts = new Uint32Array(cap);
    }
    this.n = n;
    this.totalValues = 0;
    this.totalIndices = 0;
    this.constrained = false;
    this.pending = true;
  }

  /** Whether staged arrays may still be referenced (the frame was not written, or hooks ran). */
  pending = false;
  /** Whether the gradients were kept for hooks (`readPairs`' `keep`). */
  hooked = false;

  /** Drops the references to the caller's arrays (so the pool keeps none alive); a written frame
   * already dropped them, so a plain step costs nothing here. */
  clear(): void {
    if (this.pending) {
      for (let i = 0; i < this.n; i++) {
        this.gradients[i] = null;
        this.values[i] = null;
        this.indices[i] = null;
      }
      this.pending = false;
    }
    this.n = 0;
  }

  /** Positions of the pairs that have a gradient. */
  withGradients(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.n; i++) if (this.kinds[i] !== KIND_NONE) out.push(i);
    return out;
  }
}

/** Snapshots in use: a step's user code (a hyperparameter function, a constraint) may itself
 * apply gradients, so each nesting level has its own. */
const pool: StepArguments[] = [];
let depth = 0;

export function acquireArguments(): StepArguments {
  const args = pool[depth] ?? (pool[depth] = new StepArguments());
  depth++;
  return args;
}

export function releaseArguments(args: StepArguments): void {
  args.clear();
  depth--;
}

/** Reads the list of pairs once: each pair, its variable (handle, constraint) and its gradient:
 * read into the snapshot now (`readGradient`), or kept as given for the hooks (`keep`). */
export function readPairs(args: StepArguments, list: ArrayLike<unknown>, keep: boolean, stageTensors: boolean): void {
  const n = list.length;
  args.reset(n);
  args.hooked = keep;
  for (let i = 0; i < n; i++) {
    const pair: unknown = list[i];
    if (!Array.isArray(pair)) throw new ArgumentError('InvalidArgument', `applyGradients expects [gradient, variable] pairs; entry ${i} is ${describeValue(pair)}`);
    const length: unknown = pair.length;
    if (length !== 2) throw new ArgumentError('InvalidArgument', `applyGradients expects [gradient, variable] pairs; entry ${i} is an array of length ${String(length)}`);
    const g = pair[0] as Gradient;
    const v: unknown = pair[1];
    if (!(v instanceof Tensor)) throw new ArgumentError('InvalidArgument', `entry ${i}: the variable is ${describeValue(v)}, not a Variable`);
    if (v.isDisposed) throw new StateError('Disposed', `variable '${v.name}' has been disposed`);
    args.variables[i] = v as Variable;
    args.handles[4 * i] = v.handleIndex;
    args.handles[4 * i + 1] = v.handleGeneration;
    // (A plain Tensor has no `constraint`: one property read instead of an instanceof.)
    const c: unknown = (v as Variable).constraint;
    args.constrainedAt[i] = c !== undefined && typeof c === 'function' && v instanceof Variable ? 1 : 0;
    args.kinds[i] = KIND_NONE;
    if (keep) args.gradients[i] = g;
    else readGradient(args, i, g, stageTensors);
  }
}

/** Throws the StateError of a gradient Tensor (dense, or the rows of IndexedSlices) that has been
 * disposed: the step and the hooks' copies say it the same way. */
export function checkLive(t: Tensor, v: Variable, rows = false): void {
  if (!t.isDisposed) return;
  throw new StateError('Disposed', rows ? `the IndexedSlices values of '${v.name}' ('${t.name}') have been disposed` : `the gradient tensor of '${v.name}' has been disposed`);
}

/**
 * Reads gradient `g` of pair `i` once: its kind, its handle (a Tensor) or its values (a
 * Float32Array is kept with its length; an array is copied), for sparse gradients values (or
 * their Tensor's handle) and indices. `stageTensors`: a Tensor's values are copied too (custom
 * optimizers, whose staged gradients the core clips in place).
 */
export function readGradient(args: StepArguments, i: number, g: Gradient, stageTensors: boolean): void {
  const v = args.variables[i];
  if (g === null || g === undefined) {
    args.kinds[i] = KIND_NONE;
    return;
  }
  const constraint = args.constrainedAt[i] === 1;
  if (constraint) args.constrained = true;
  if (g instanceof Tensor) {
    checkLive(g, v);
    if (stageTensors) return stageDense(args, i, g.read());
    args.kinds[i] = KIND_DENSE_TENSOR;
    args.handles[4 * i + 2] = g.handleIndex;
    args.handles[4 * i + 3] = g.handleGeneration;
    return;
  }
  if (g instanceof IndexedSlices) {
    if (constraint) throw new StateError('InvalidState', 'Cannot use a constraint function on a sparse variable.');
    let values: unknown = g.values;
    const indices: unknown = g.indices;
    // Rows in a Tensor are read in place (the core checks their length), or staged as a copy.
    if (values instanceof Tensor) {
      checkLive(values, v, true);
      if (stageTensors) values = values.read();
    } else if (typedArrayKind(values) !== 'Float32Array') {
      throw new ArgumentError('InvalidArgument', `the IndexedSlices values of '${v.name}' must be a Float32Array or a Tensor, got ${describeValue(values)}`);
    }
    if (typedArrayKind(indices) !== 'Int32Array')
      throw new ArgumentError('InvalidArgument', `the IndexedSlices indices of '${v.name}' must be an Int32Array, got ${describeValue(indices)}`);
    const indexCount = typedArrayLength(indices as Int32Array);
    if (indexCount === 0 && isDetached(indices as Int32Array)) throw detached(`the IndexedSlices indices of '${v.name}'`);
    args.indices[i] = indices as Int32Array;
    args.indexCounts[i] = indexCount;
    args.totalIndices += indexCount;
    if (values instanceof Tensor) {
      args.kinds[i] = KIND_SPARSE_TENSOR;
      args.handles[4 * i + 2] = values.handleIndex;
      args.handles[4 * i + 3] = values.handleGeneration;
      return;
    }
    const valueCount = typedArrayLength(values as Float32Array);
    if (valueCount === 0 && isDetached(values as Float32Array)) throw detached(`the IndexedSlices values of '${v.name}'`);
    args.kinds[i] = KIND_SPARSE;
    args.values[i] = values as Float32Array;
    args.valueCounts[i] = valueCount;
    args.totalValues += valueCount;
    return;
  }
  if (typedArrayKind(g) === 'Float32Array') {
    const length = typedArrayLength(g as Float32Array);
    if (length === 0 && isDetached(g as Float32Array)) throw detached(`the gradient of '${v.name}'`);
    return stageDense(args, i, g as Float32Array, length);
  }
  if (Array.isArray(g)) return stageDense(args, i, readNumbers(g, `the gradient of '${v.name}'`).array as Float32Array);
  throw new ArgumentError('InvalidArgument', `the gradient of '${v.name}' must be a Float32Array, number[], Tensor, IndexedSlices or null; got ${describeValue(g)}`);
}

function stageDense(args: StepArguments, i: number, values: Float32Array, length = values.length): void {
  args.kinds[i] = KIND_DENSE_STAGED;
  args.values[i] = values;
  args.valueCounts[i] = length;
  args.totalValues += length;
}

function detached(what: string): ArgumentError {
  return new ArgumentError('InvalidArgument', `${what} is a typed array whose ArrayBuffer is detached`);
}

/** A copy from the snapshot that no longer holds what was read: a typed array detached,
 * shrunk or grown by user code that ran since. */
function changed(what: string, array: ArrayBufferView, expected: number): ArgumentError {
  return new ArgumentError(
    'InvalidArgument',
    `${what} changed after it was read (by a hook, hyperparameter function or schedule, or a view of WASM memory that grew): ${lengthProblem(array, expected)}`,
  );
}

/** Copies `count` values of `src` (as read into the snapshot) to word `at` of `heap`, whose
 * region ends at word `end`. `what` names `src` in the error, built only if there is one (a
 * step builds no string). */
export function copyChecked(heap: Float32Array | Int32Array, src: ArrayLike<number>, count: number, at: number, end: number, what: (k: number) => string, k: number): void {
  if (typedArrayLength(src as Float32Array) !== count) throw changed(what(k), src as Float32Array, count);
  if (at + count > end) throw new StateError('InvalidState', `step frame overrun: ${what(k)} needs ${count} values at ${at}, the frame ends at ${end}`);
  if (count !== 0) heap.set(src as Float32Array, at);
}

/** How `writeFrame` names what it copies (module-level functions: no closure per step). */
let naming: StepArguments | undefined;
const gradientOf = (i: number): string => `the gradient of '${naming!.variables[i].name}'`;
const sparseValuesOf = (i: number): string => `the IndexedSlices values of '${naming!.variables[i].name}'`;
const sparseIndicesOf = (i: number): string => `the IndexedSlices indices of '${naming!.variables[i].name}'`;

/** Writes the snapshot's commands and gradients into the frame; returns the frame's layout. No
 * user code runs in here. `streamed` (stream.ts): the pairs marked 1 get a streamed command (their
 * gradient stays where it is, its length checked now), `streamedValues` values in all; the
 * snapshot keeps every gradient (the step may still take the whole path). */
export function writeFrame(args: StepArguments, streamed?: Uint8Array, streamedValues = 0): FrameLayout {
  const n = args.n;
  // Room for the alignment word each pair's values and indices may be placed after (`aligned`).
  const staged = args.totalValues - streamedValues + n * ALIGN_WORDS;
  const totalIndices = args.totalIndices + n * ALIGN_WORDS;
  const frame = reserveFrame(n * COMMAND_WORDS, staged, totalIndices);
  const cap = frame.capacity;
  const valuesEnd = frame.values + Math.min(cap.values, staged);
  const indicesEnd = frame.indices + Math.min(cap.indices, totalIndices);
  if (n * COMMAND_WORDS > cap.commands) throw new StateError('InvalidState', `step frame overrun: ${n} commands, room for ${Math.floor(cap.commands / COMMAND_WORDS)}`);
  const { u32, f32, i32 } = heapViews(Math.max(frame.commands + n * COMMAND_WORDS, valuesEnd, indicesEnd));
  const h = args.handles;
  naming = args;
  let w = frame.commands;
  let vo = 0;
  let io = 0;
  for (let i = 0; i < n; i++) {
    const kind = args.kinds[i];
    u32[w] = h[4 * i];
    u32[w + 1] = h[4 * i + 1];
    u32[w + 2] = kind;
    if (kind === KIND_DENSE_TENSOR) {
      u32[w + 3] = h[4 * i + 2];
      u32[w + 4] = h[4 * i + 3];
    } else if (kind === KIND_DENSE_STAGED && streamed !== undefined && streamed[i] === 1) {
      const count = args.valueCounts[i];
      const src = args.values[i] as Float32Array;
      if (typedArrayLength(src) !== count) throw changed(gradientOf(i), src, count);
      u32[w + 2] = KIND_DENSE_STREAMED;
      u32[w + 3] = count;
    } else if (kind === KIND_DENSE_STAGED) {
      const count = args.valueCounts[i];
      vo = aligned(args.values[i]!, frame.values, vo);
      copyChecked(f32, args.values[i]!, count, frame.values + vo, valuesEnd, gradientOf, i);
      if (streamed === undefined) args.values[i] = null;
      u32[w + 3] = vo;
      u32[w + 4] = count;
      vo += count;
    } else if (kind === KIND_SPARSE) {
      const count = args.valueCounts[i];
      const rows = args.indexCounts[i];
      vo = aligned(args.values[i]!, frame.values, vo);
      io = aligned(args.indices[i]!, frame.indices, io);
      copyChecked(f32, args.values[i]!, count, frame.values + vo, valuesEnd, sparseValuesOf, i);
      copyChecked(i32, args.indices[i]!, rows, frame.indices + io, indicesEnd, sparseIndicesOf, i);
      if (streamed === undefined) {
        args.values[i] = null;
        args.indices[i] = null;
      }
      u32[w + 3] = vo;
      u32[w + 4] = count;
      u32[w + 5] = io;
      u32[w + 6] = rows;
      vo += count;
      io += rows;
    } else if (kind === KIND_SPARSE_TENSOR) {
      const rows = args.indexCounts[i];
      io = aligned(args.indices[i]!, frame.indices, io);
      copyChecked(i32, args.indices[i]!, rows, frame.indices + io, indicesEnd, sparseIndicesOf, i);
      if (streamed === undefined) args.indices[i] = null;
      u32[w + 3] = h[4 * i + 2];
      u32[w + 4] = h[4 * i + 3];
      u32[w + 5] = io;
      u32[w + 6] = rows;
      io += rows;
    }
    w += COMMAND_WORDS;
  }
  if (!args.hooked && streamed === undefined) args.pending = false;
  return frame;
}

/**
 * Where to copy `src` in a frame buffer that starts at word `base`, at or after its offset `at`:
 * `at`, or the word after if that makes the copy's source and destination equally aligned to 8
 * bytes (typed arrays' memory starts 8-byte aligned, so a source's alignment is its byte
 * offset's). A copy into the threads build's shared memory is done in 8-byte words only then,
 * else byte by byte: 7x slower (`TypedArray.prototype.set` into a SharedArrayBuffer).
 */
function aligned(src: ArrayLike<number>, base: number, at: number): number {
  return at + ((base + at + (typedArrayByteOffset(src as Float32Array) >>> 2)) & 1);
}

/** Throws the error of the step that just failed in the core. */
export function throwStepError(): never {
  call(() => core().take_error());
  throw new StateError('InvalidState', 'the step failed without an error message');
}

/** The record of a step the core skipped for non-finite gradients. */
export function skippedStep(optimizer: NonFiniteStep['optimizer'], args: StepArguments): NonFiniteStep {
  const nonFiniteIndices = Object.freeze(Array.from(core().take_non_finite()));
  return Object.freeze({
    applied: false,
    nonFiniteIndices,
    nonFiniteVariables: Object.freeze(nonFiniteIndices.map((i) => args.variables[i])),
    optimizer,
    iterations: optimizer.iterations,
  });
}

/** Keras applies `var.constraint` to the updated value after a dense update. */
export function applyConstraints(args: StepArguments): void {
  for (let i = 0; i < args.n; i++) {
    if (args.constrainedAt[i] === 0 || args.kinds[i] === KIND_NONE) continue;
    const v = args.variables[i];
    const out = v.constraint!(v.value);
    if (out) v.assign(out);
  }
}
