// What LossScaleOptimizer and MultiOptimizer share: their own variables as Keras 3 lists them,
// their weights read back, and the optimizers they hold serialized in Keras 3's format.
import { ConfigError, StateError, WeightsError } from '../../errors.js';
import type { WeightValue } from '../../optimizer/types.js';
import { readWeight } from '../../optimizer/weights.js';
import { describeValue } from '../../values.js';
import { Optimizer } from '../optimizer.js';
import type { SerializedOptimizer } from '../serialization.js';
import type { OptimizerVariable } from '../weights.js';

/** One of a wrapper's own variables (a copy), as `optimizer.variables` lists it. */
export function ownVariable(path: string, dtype: 'int64' | 'float32', value: BigInt64Array | Float32Array, shape: readonly number[] = []): OptimizerVariable {
  return Object.freeze({ path, name: path.slice(path.lastIndexOf('/') + 1), shape: Object.freeze([...shape]), dtype, value });
}

/** A scalar weight given to `setWeights`, as one finite float32. */
export function readScalar(w: unknown, what: string): number {
  if (typeof w === 'number') {
    if (!Number.isFinite(w)) throw new WeightsError('WeightShape', `weight ${what} must be one finite number, got ${w}`);
    return Math.fround(w);
  }
  const v = readWeight(w, 0);
  if (v.length !== 1 || !Number.isFinite(v.array[0])) throw new WeightsError('WeightShape', `weight ${what} must be one finite number, got ${describeValue(w)}`);
  return Math.fround(v.array[0]);
}

/** An integer scalar weight (a counter) given to `setWeights`. */
export function readInteger(w: unknown, what: string): number {
  const x = typeof w === 'bigint' ? Number(w) : w instanceof BigInt64Array && w.length === 1 ? Number(w[0]) : readScalar(w, what);
  if (!Number.isSafeInteger(x) || x < 0) throw new WeightsError('WeightShape', `weight ${what} must be a non-negative integer, got ${describeValue(w)}`);
  return x;
}

/** serialization.ts's two functions, handed over by index.ts: serialization.ts imports the wrappers, so
 * importing it here would make a module cycle (which bundlers warn about). */
interface OptimizerCodec {
  serialize(optimizer: Optimizer): SerializedOptimizer;
  deserialize(config: SerializedOptimizer, customObjects: Record<string, unknown>): unknown;
}
let codec: OptimizerCodec | undefined;

/** @internal Called once by the entry point (index.ts). */
export function setOptimizerCodec(c: OptimizerCodec): void {
  codec = c;
}

function theCodec(): OptimizerCodec {
  if (codec === undefined) throw new StateError('InvalidState', "simdopt/keras3's serialization is not loaded (import the wrappers from 'simdopt/keras3')");
  return codec;
}

/** A held optimizer in Keras 3's serialized form. */
export function serializeInner(optimizer: Optimizer): SerializedOptimizer {
  return theCodec().serialize(optimizer);
}

/** A held optimizer read back from its serialized form; a wrapper is refused there. */
export function deserializeInner(config: unknown, customObjects: Record<string, unknown>, who: string): Optimizer {
  if (config instanceof Optimizer) return config;
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new ConfigError('InvalidConfig', `${who}: a serialized optimizer must be an object, got ${describeValue(config)}`);
  }
  const opt: unknown = theCodec().deserialize(config as SerializedOptimizer, customObjects);
  if (!(opt instanceof Optimizer)) throw new ConfigError('InvalidConfig', `${who}: it cannot hold ${describeValue(opt)}`);
  return opt;
}

/**
 * What LossScaleOptimizer and MultiOptimizer have in common: Keras 3's `optimizer.variables`
 * (their own, then the optimizers they hold), read as paths and values.
 */
export abstract class OptimizerWrapper {
  /** Keras 3's class name. */
  abstract get className(): string;

  /** Keras 3's `optimizer.variables`, as copies, in Keras' order with Keras' paths. */
  abstract get variables(): OptimizerVariable[];

  /** The paths of `variables`. */
  getWeightNames(): string[] {
    return this.variables.map((v) => v.path);
  }

  /** The values of `variables`. */
  getWeights(): WeightValue[] {
    return this.variables.map((v) => v.value);
  }
}

/** Keras 3's error for `set_weights` before `build`. */
export function notBuiltError(): StateError {
  return new StateError(
    'InvalidState',
    'You are calling `set_weights()` on an optimizer that has not yet been built. Please call `optimizer.build(trainable_variables)` to create the optimizer weights before calling `set_weights()`.',
  );
}
