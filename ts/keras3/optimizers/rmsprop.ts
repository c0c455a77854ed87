// Keras 3's RMSprop (`keras.optimizers.RMSprop`); its rule is the core registry's keras3-family RMSprop.
import { BuiltinOptimizer } from './builtin.js';
import type { Keras3Spec } from '../options.js';
import type { Keras3BaseConfig, Keras3BaseOptions, Keras3Value } from '../types.js';

/** The options of {@link RMSprop}: Keras 3's arguments in camelCase, plus those of every optimizer. */
export interface RMSpropOptions extends Keras3BaseOptions {
  /**
   * The step size: a number, a schedule of the step, or a zero-argument function.
   * @default 0.001
   */
  learningRate?: Keras3Value;
  /**
   * Discounting factor of the squared-gradient average.
   * @default 0.9
   */
  rho?: number;
  /**
   * Momentum; 0 keeps no momentum slot.
   * @default 0.0
   */
  momentum?: number;
  /**
   * Added inside the square root (Keras 3).
   * @default 1e-7
   */
  epsilon?: number;
  /**
   * Normalize by the estimated variance of the gradient (an `average_gradient` slot).
   * @default false
   */
  centered?: boolean;
}

/** RMSprop's Keras 3 config, as `getConfig()` returns it. */
export type RMSpropConfig = Keras3BaseConfig & {
  /** {@link RMSpropOptions.rho}. */
  rho: number;
  /** {@link RMSpropOptions.momentum}. */
  momentum: number;
  /** {@link RMSpropOptions.epsilon}. */
  epsilon: number;
  /** {@link RMSpropOptions.centered}. */
  centered: boolean;
};

const SPEC: Keras3Spec = {
  className: 'RMSprop',
  config: [
    ['learning_rate', 0.001],
    ['rho', 0.9],
    ['momentum', 0.0],
    ['epsilon', 1e-7],
    ['centered', false],
  ],
  slots: [
    { name: 'velocity' },
    { name: 'momentum', when: (c) => typeof c.momentum === 'number' && c.momentum > 0 },
    { name: 'average_gradient', when: (c) => c.centered === true },
  ],
};

/**
 * Keras 3's RMSprop: epsilon inside the square root, `sqrt(v - mg² + eps)` when centered.
 *
 * @example
 * ```ts
 * await ready();
 * const w = new Variable(new Float32Array([1, 2]), { name: 'dense/kernel' });
 * const opt = new RMSprop({ learningRate: 0.01, rho: 0.9, centered: true });
 * opt.applyGradients([[new Float32Array([0.1, -0.2]), w]]);
 * ```
 */
export class RMSprop extends BuiltinOptimizer<RMSpropOptions, RMSpropConfig> {
  /** How the base class sees the class: Keras class name, config defaults, slots. */
  static readonly spec: Keras3Spec = SPEC;
  /** {@link RMSpropOptions.rho}. */
  declare rho: number;
  /** {@link RMSpropOptions.momentum}. */
  declare momentum: number;
  /** {@link RMSpropOptions.epsilon}. */
  declare epsilon: number;
  /** {@link RMSpropOptions.centered} (fixed at construction). */
  declare readonly centered: boolean;
}
