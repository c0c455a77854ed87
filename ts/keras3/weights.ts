// Keras 3's `optimizer.variables`: `iteration`, `learning_rate` (when it is a number, not a
// schedule or function), then the core's weights in its order (EMA averages, gradient
// accumulators, each class's slots), named by Keras 3's paths: `<optimizer>/<variable path with
// '/' as '_'>_<slot>` (`adam/dense_kernel_momentum`) and `<optimizer>/<name>` for optimizer-wide
// weights (`nadam/variable`).
import { call, core } from '../wasm/loader.js';
import { StateError, WeightsError } from '../errors.js';
import { describeValue } from '../values.js';
import { coreSlotLayout, readCoreWeights, readWeight, toIterations, writeCoreWeights } from '../optimizer/weights.js';
import type { WeightSnapshot } from '../optimizer/weights.js';
import { isRawSlotWeight, rawEntry, readRawEntry, readRawWeight, writeRawEntries } from '../optimizer/slot-dtype.js';
import type { RawEntry } from '../optimizer/slot-dtype.js';

/** One of a Keras 3 optimizer's variables (`optimizer.variables`), as a copy. */
export interface OptimizerVariable {
  /** Keras 3's path (`adam/dense_kernel_momentum`). */
  readonly path: string;
  /** The last part of the path (`dense_kernel_momentum`). */
  readonly name: string;
  /** The shape (a slot: its own, e.g. Adafactor's row factor `[rows]`; a scalar: `[]`). */
  readonly shape: readonly number[];
  /**
   * `int64` for `iteration` (as Keras on TensorFlow; JAX has int32), else `float32` (also for
   * Adafactor's placeholders, the `r`/`c` of a variable of rank < 2, which Keras makes int32 0).
   */
  readonly dtype: 'int64' | 'float32';
  /** A copy of the value. */
  readonly value: BigInt64Array | Float32Array;
}

/** How a class names a slot path (default: Keras' `add_variable_from_reference` naming). */
export type WeightPath = (optimizer: string, variable: string, slot: string) => string;

/** `adam/dense_kernel_momentum` from optimizer `adam`, variable path `dense/kernel`, slot `momentum`. */
export const kerasSlotPath: WeightPath = (optimizer, variable, slot) => `${optimizer}/${variable.replace(/\//g, '_')}_${slot}`;

/** One core weight after `iterations`: its variable (null for an optimizer-wide weight) and name. */
export interface CoreWeight {
  variable: string | null;
  slot: string;
}

/** The core's weight names (`<name>/<variable>/<slot>:0`, `<name>/<weight>:0`), parsed. */
export function coreWeights(id: number, optimizerName: string): CoreWeight[] {
  const names = call(() => core().optimizer_weight_names(id));
  return names.slice(1).map((n) => {
    const rest = n.slice(optimizerName.length + 1, n.endsWith(':0') ? -2 : undefined);
    const cut = rest.lastIndexOf('/');
    return cut < 0 ? { variable: null, slot: rest } : { variable: rest.slice(0, cut), slot: rest.slice(cut + 1) };
  });
}

/** The Keras 3 paths of an optimizer's variables. */
export function kerasPaths(id: number, optimizerName: string, lrIsVariable: boolean, path: WeightPath = kerasSlotPath): string[] {
  const out = [`${optimizerName}/iteration`];
  if (lrIsVariable) out.push(`${optimizerName}/learning_rate`);
  for (const w of coreWeights(id, optimizerName)) {
    out.push(w.variable === null ? `${optimizerName}/${w.slot}` : path(optimizerName, w.variable, w.slot));
  }
  return out;
}

/** Keras 3's `optimizer.variables`, copied: paths, shapes (as the core stores them), values. */
export function kerasVariables(id: number, optimizerName: string, iterations: number, lr: number | null, path: WeightPath = kerasSlotPath): OptimizerVariable[] {
  const paths = kerasPaths(id, optimizerName, lr !== null, path);
  const shapes = new Map(coreSlotLayout(id).variables.map((v) => [v.name, v.shape]));
  const values = readCoreWeights(id);
  const out: OptimizerVariable[] = [];
  const make = (p: string, shape: readonly number[], dtype: OptimizerVariable['dtype'], value: OptimizerVariable['value']): OptimizerVariable =>
    Object.freeze({ path: p, name: p.slice(p.lastIndexOf('/') + 1), shape: Object.freeze([...shape]), dtype, value });
  out.push(make(paths[0], [], 'int64', BigInt64Array.of(BigInt(iterations))));
  if (lr !== null) out.push(make(paths[1], [], 'float32', Float32Array.of(lr)));
  const first = out.length;
  coreWeights(id, optimizerName).forEach((w, i) => {
    const value = values[i];
    // The core stores each slot in its own shape; the EMA average and the accumulator have
    // their variable's.
    const stored = call(() => core().optimizer_weight_shape(id, i + 1));
    out.push(make(paths[first + i], stored ? Array.from(stored) : (shapes.get(w.variable ?? '') ?? [value.length]), 'float32', value));
  });
  return out;
}

/**
 * Keras 3's `set_weights(weights)`: the weights in `variables` order. As Keras (`zip`), a shorter
 * list sets the first ones and leaves the rest; a longer one is refused here (Keras drops the
 * extra silently). Every weight is read once and checked before anything is written.
 * `setLearningRate` receives weight 1 when the learning rate is a variable.
 */
export function setKerasWeights(id: number, optimizerName: string, built: boolean, given: readonly unknown[], lrIsVariable: boolean, setLearningRate: (v: number) => void): void {
  if (!built) {
    throw new StateError(
      'InvalidState',
      'You are calling `set_weights()` on an optimizer that has not yet been built. Please call `optimizer.build(trainable_variables)` to create the optimizer weights before calling `set_weights()`.',
    );
  }
  const current = readCoreWeights(id);
  const expected = 1 + (lrIsVariable ? 1 : 0) + current.length;
  if (given.length > expected) {
    throw new WeightsError('WeightCount', `optimizer ${optimizerName} has ${expected} variables, got a list of ${given.length} weights`);
  }
  if (given.length === 0) return;
  const iterations = toIterations(given[0]);
  let k = 1;
  let lr: number | undefined;
  if (lrIsVariable && given.length > 1) {
    const w = readWeight(given[1], 1);
    if (w.length !== 1 || !Number.isFinite(w.array[0])) throw new WeightsError('WeightShape', `weight 1 (learning_rate) must be one finite number, got ${describeValue(given[1])}`);
    lr = w.array[0];
    k = 2;
  } else if (lrIsVariable) k = 2;
  const offset = lrIsVariable ? 2 : 1;
  const rest: WeightSnapshot[] = current.map((c) => ({ array: c, length: c.length }));
  // Compressed slots: raw storage given (exact), or kept when the list does not reach them (their
  // f32 views would be quantized again); written after the f32 weights.
  const raws: RawEntry[] = [];
  for (let i = k; i < given.length; i++) {
    const g = given[i];
    if (isRawSlotWeight(g)) {
      const e = readRawEntry(id, i - offset + 1, g, i);
      raws.push(e);
      rest[i - offset] = { array: new Float32Array(e.length), length: e.length };
      continue;
    }
    const w = readWeight(g, i);
    const have = rest[i - offset].length;
    if (w.length !== have) {
      throw new WeightsError('WeightShape', `Optimizer variable ${i} has ${have} values, not compatible with the provided weight of ${w.length} values.`);
    }
    rest[i - offset] = w;
  }
  for (let i = Math.max(given.length, offset); i < expected; i++) {
    const kept = readRawWeight(id, i - offset + 1);
    if (kept) raws.push(rawEntry(i - offset + 1, kept));
  }
  writeCoreWeights(id, iterations, rest);
  writeRawEntries(id, raws);
  if (lr !== undefined) setLearningRate(lr);
}
