// The step: `applyGradients`' arguments checked, the gradients written into the step frame
// (commands plus copied values in WASM memory), and what the core's answer means. The hot loops
// index pairs rather than destructure them, and nothing here allocates per step: destructuring
// and closures would make JS garbage on every step.
import { call, core, heapFloat32, heapInt32, heapUint32 } from '../wasm/loader.js';
import { COMMAND_WORDS, KIND_DENSE_STAGED, KIND_DENSE_TENSOR, KIND_NONE, KIND_SPARSE, reserveFrame } from '../frame.js';
import { ArgumentError, StateError } from '../errors.js';
import { IndexedSlices, Tensor, Variable } from '../tensor.js';
import { describeValue, isNumeric } from '../values.js';
import type { ApplyGradientsOptions, Gradient, NonFiniteStep, StepResult } from './types.js';
import type { Optimizer } from './optimizer.js';

/** The result of every applied step (shared and frozen: a step allocates nothing). */
export const APPLIED: StepResult = Object.freeze({ applied: true, nonFiniteIndices: Object.freeze([]), nonFiniteVariables: Object.freeze([]) });

/** Checks `applyGradients` options; returns whether the step is guarded. */
export function stepOptions(o: ApplyGradientsOptions, dflt: boolean): boolean {
  if (o === null || typeof o !== 'object') throw new ArgumentError('InvalidArgument', `applyGradients options must be an object, got ${describeValue(o)}`);
  const { skipNonFinite, onNonFinite, experimentalAggregateGradients } = o;
  if (skipNonFinite !== undefined && typeof skipNonFinite !== 'boolean') throw new ArgumentError('InvalidArgument', `\`skipNonFinite\` must be a boolean, got ${describeValue(skipNonFinite)}`);
  if (onNonFinite !== undefined && typeof onNonFinite !== 'function') throw new ArgumentError('InvalidArgument', `\`onNonFinite\` must be a function, got ${describeValue(onNonFinite)}`);
  if (experimentalAggregateGradients !== undefined && typeof experimentalAggregateGradients !== 'boolean') {
    throw new ArgumentError('InvalidArgument', `\`experimentalAggregateGradients\` must be a boolean, got ${describeValue(experimentalAggregateGradients)}`);
  }
  return skipNonFinite ?? dflt;
}

/** An iterable as an array, or an ArgumentError (not a TypeError) for anything else. */
export function iterate<T>(x: Iterable<T>, what = 'applyGradients expects a list of [gradient, variable] pairs'): T[] {
  if (x == null || typeof (x as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== 'function') {
    throw new ArgumentError('InvalidArgument', `${what}, got ${describeValue(x)}`);
  }
  return [...x];
}

/** One entry of an applyGradients list: a [gradient, variable] pair (the gradient is checked later). */
export function checkPair(pair: unknown, i: number): readonly [Gradient, Variable] {
  if (!Array.isArray(pair) || pair.length !== 2) {
    throw new ArgumentError('InvalidArgument', `applyGradients expects [gradient, variable] pairs; entry ${i} is ${describeValue(pair)}`);
  }
  if (!(pair[1] instanceof Tensor)) throw new ArgumentError('InvalidArgument', `entry ${i}: the variable is ${describeValue(pair[1])}, not a Variable`);
  return pair as [Gradient, Variable];
}

/** What `measureStep` found (one shared object: a step allocates nothing). */
export const stepSize = { values: 0, indices: 0, constrained: false };

/** Checks every pair and gradient of a step and counts the values and indices it copies into
 * the frame (into `stepSize`). */
export function measureStep(pairs: ReadonlyArray<readonly [Gradient, Variable]>, n: number): typeof stepSize {
  let values = 0;
  let indices = 0;
  let constrained = false;
  for (let i = 0; i < n; i++) {
    const pair = checkPair(pairs[i], i);
    const g = pair[0];
    const v = pair[1];
    if (v.isDisposed) throw new StateError('Disposed', `variable '${v.name}' has been disposed`);
    if (g === null || g === undefined) continue;
    // (A plain Tensor has no `constraint`: one property read instead of an instanceof.)
    if (v.constraint) constrained = true;
    if (g instanceof Tensor) {
      if (g.isDisposed) throw new StateError('Disposed', `the gradient tensor of '${v.name}' has been disposed`);
      continue;
    }
    if (g instanceof IndexedSlices) {
      if (v instanceof Variable && v.constraint) throw new StateError('InvalidState', 'Cannot use a constraint function on a sparse variable.');
      values += g.values.length;
      indices += g.indices.length;
    } else if (g instanceof Float32Array) {
      values += g.length;
    } else if (Array.isArray(g) && isNumeric(g)) {
      values += g.length;
    } else {
      throw new ArgumentError('InvalidArgument', `the gradient of '${v.name}' must be a Float32Array, number[], Tensor, IndexedSlices or null; got ${describeValue(g)}`);
    }
  }
  stepSize.values = values;
  stepSize.indices = indices;
  stepSize.constrained = constrained;
  return stepSize;
}

/** Writes the step's commands and gradients into the frame; returns the word offset of its
 * values. */
export function writeStep(pairs: ReadonlyArray<readonly [Gradient, Variable]>, n: number, values: number, indices: number): number {
  const frame = reserveFrame(n * COMMAND_WORDS, values, indices);
  const u32 = heapUint32();
  const f32 = heapFloat32();
  const i32 = heapInt32();
  let w = frame.commands;
  let vo = 0;
  let io = 0;
  for (let i = 0; i < n; i++) {
    const pair = pairs[i];
    const g = pair[0];
    const v = pair[1];
    u32[w] = v.handleIndex;
    u32[w + 1] = v.handleGeneration;
    if (g === null || g === undefined) {
      u32[w + 2] = KIND_NONE;
    } else if (g instanceof Tensor) {
      u32[w + 2] = KIND_DENSE_TENSOR;
      u32[w + 3] = g.handleIndex;
      u32[w + 4] = g.handleGeneration;
    } else if (g instanceof IndexedSlices) {
      f32.set(g.values, frame.values + vo);
      i32.set(g.indices, frame.indices + io);
      u32[w + 2] = KIND_SPARSE;
      u32[w + 3] = vo;
      u32[w + 4] = g.values.length;
      u32[w + 5] = io;
      u32[w + 6] = g.indices.length;
      vo += g.values.length;
      io += g.indices.length;
    } else {
      f32.set(g as ArrayLike<number>, frame.values + vo);
      u32[w + 2] = KIND_DENSE_STAGED;
      u32[w + 3] = vo;
      u32[w + 4] = g.length;
      vo += g.length;
    }
    w += COMMAND_WORDS;
  }
  return frame.values;
}

/** Throws the error of the step that just failed in the core. */
export function throwStepError(): never {
  call(() => core().take_error());
  throw new StateError('InvalidState', 'the step failed without an error message');
}

/** The record of a step the core skipped for non-finite gradients. */
export function skippedStep(optimizer: Optimizer, pairs: ReadonlyArray<readonly [Gradient, Variable]>): NonFiniteStep {
  const nonFiniteIndices = Object.freeze(Array.from(core().take_non_finite()));
  return Object.freeze({
    applied: false,
    nonFiniteIndices,
    nonFiniteVariables: Object.freeze(nonFiniteIndices.map((i) => pairs[i][1])),
    optimizer,
    iterations: optimizer.iterations,
  });
}

/** Keras applies `var.constraint` to the updated value after a dense update. */
export function applyConstraints(pairs: ReadonlyArray<readonly [Gradient, Variable]>): void {
  for (const [g, v] of pairs) {
    if (g == null || !(v instanceof Variable) || !v.constraint) continue;
    const out = v.constraint(v.value);
    if (out) v.assign(out);
  }
}
