// Keras 3's Adamax (`keras.optimizers.Adamax`); its rule is the core registry's keras3-family Adamax.
import { BuiltinOptimizer } from './builtin.js';
import type { Keras3Spec } from '../options.js';
import type { Keras3BaseConfig, Keras3BaseOptions, Keras3Value } from '../types.js';

/** The options of {@link Adamax}: Keras 3's arguments in camelCase, plus those of every optimizer. */
export interface AdamaxOptions extends Keras3BaseOptions {
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
   * Decay rate of the exponentially weighted infinity norm.
   * @default 0.999
   */
  beta2?: number;
  /**
   * A small constant for numerical stability.
   * @default 1e-7
   */
  epsilon?: number;
}

/** Adamax's Keras 3 config, as `getConfig()` returns it. */
export type AdamaxConfig = Keras3BaseConfig & {
  /** {@link AdamaxOptions.beta1}. */
  beta_1: number;
  /** {@link AdamaxOptions.beta2}. */
  beta_2: number;
  /** {@link AdamaxOptions.epsilon}. */
  epsilon: number;
};

const SPEC: Keras3Spec = {
  className: 'Adamax',
  config: [
    ['learning_rate', 0.001],
    ['beta_1', 0.9],
    ['beta_2', 0.999],
    ['epsilon', 1e-7],
  ],
  slots: [{ name: 'momentum' }, { name: 'norm' }],
};

/**
 * Adamax, the infinity-norm variant of Adam, Keras 3's formulas.
 *
 * @example
 * ```ts
 * await ready();
 * const w = new Variable(new Float32Array([1, 2]), { name: 'dense/kernel' });
 * const opt = new Adamax({ learningRate: 2e-3 });
 * opt.applyGradients([[new Float32Array([0.1, -0.2]), w]]);
 * ```
 */
export class Adamax extends BuiltinOptimizer<AdamaxOptions, AdamaxConfig> {
  /** How the base class sees the class: Keras class name, config defaults, slots. */
  static readonly spec: Keras3Spec = SPEC;
  /** {@link AdamaxOptions.beta1}. */
  declare beta1: number;
  /** {@link AdamaxOptions.beta2}. */
  declare beta2: number;
  /** {@link AdamaxOptions.epsilon}. */
  declare epsilon: number;
}
