// Rust rule: crates/simdopt-core/src/rules/keras3/lamb.rs. Keras 3's Lamb (You et al., 2019).
import { BuiltinOptimizer } from './builtin.js';
import type { Keras3Spec } from '../options.js';
import type { Keras3BaseConfig, Keras3BaseOptions, Keras3Value } from '../types.js';

/** The options of {@link Lamb}: Keras 3's arguments in camelCase, plus those of every optimizer. */
export interface LambOptions extends Keras3BaseOptions {
  /**
   * The step size: a number, a schedule of the step, or a zero-argument function.
   * @default 0.001
   */
  learningRate?: Keras3Value;
  /**
   * Decay rate of the first-moment estimates.
   * @default 0.9
   */
  beta1?: number;
  /**
   * Decay rate of the second-moment estimates.
   * @default 0.999
   */
  beta2?: number;
  /**
   * Added to the denominator (outside the square root).
   * @default 1e-7
   */
  epsilon?: number;
}

/** Lamb's Keras 3 config, as `getConfig()` returns it. */
export type LambConfig = Keras3BaseConfig & {
  /** {@link LambOptions.beta1}. */
  beta_1: number;
  /** {@link LambOptions.beta2}. */
  beta_2: number;
  /** {@link LambOptions.epsilon}. */
  epsilon: number;
};

const SPEC: Keras3Spec = {
  className: 'Lamb',
  config: [
    ['learning_rate', 0.001],
    ['beta_1', 0.9],
    ['beta_2', 0.999],
    ['epsilon', 1e-7],
  ],
  slots: [{ name: 'momentum' }, { name: 'velocity' }],
};

/**
 * Lamb: Adam's moments and update `u = m̂ / (sqrt(v̂) + epsilon)`, scaled per variable by the
 * trust ratio `‖var‖ / ‖u‖` (1 when either norm is 0): `var -= ratio * lr * u`.
 *
 * @example
 * ```ts
 * await ready();
 * const w = new Variable(new Float32Array([1, 2]), { name: 'dense/kernel' });
 * const opt = new Lamb({ learningRate: 1e-3, weightDecay: 0.01 });
 * opt.applyGradients([[new Float32Array([0.1, -0.2]), w]]);
 * ```
 */
export class Lamb extends BuiltinOptimizer<LambOptions, LambConfig> {
  /** How the base class sees the class: Keras class name, config defaults, slots. */
  static readonly spec: Keras3Spec = SPEC;
  /** {@link LambOptions.beta1}. */
  declare beta1: number;
  /** {@link LambOptions.beta2}. */
  declare beta2: number;
  /** {@link LambOptions.epsilon}. */
  declare epsilon: number;
}
