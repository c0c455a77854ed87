// Keras 3's Nadam (`keras.optimizers.Nadam`); its rule is the core registry's keras3-family Nadam.
import { BuiltinOptimizer } from './builtin.js';
import type { Keras3Spec } from '../options.js';
import type { Keras3BaseConfig, Keras3BaseOptions, Keras3Value } from '../types.js';

/** The options of {@link Nadam}: Keras 3's arguments in camelCase, plus those of every optimizer. */
export interface NadamOptions extends Keras3BaseOptions {
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
   * A small constant for numerical stability.
   * @default 1e-7
   */
  epsilon?: number;
}

/** Nadam's Keras 3 config, as `getConfig()` returns it. */
export type NadamConfig = Keras3BaseConfig & {
  /** {@link NadamOptions.beta1}. */
  beta_1: number;
  /** {@link NadamOptions.beta2}. */
  beta_2: number;
  /** {@link NadamOptions.epsilon}. */
  epsilon: number;
};

const SPEC: Keras3Spec = {
  className: 'Nadam',
  config: [
    ['learning_rate', 0.001],
    ['beta_1', 0.9],
    ['beta_2', 0.999],
    ['epsilon', 1e-7],
  ],
  slots: [{ name: 'momentum' }, { name: 'velocity' }],
};

/**
 * Keras 3's Nadam (Adam with Nesterov momentum): the momentum cache `u_t = beta1 * (1 - 0.5 * 0.96^t)` and its running product `u_product`, an optimizer variable.
 *
 * @example
 * ```ts
 * await ready();
 * const w = new Variable(new Float32Array([1, 2]), { name: 'dense/kernel' });
 * const opt = new Nadam({ learningRate: 2e-3 });
 * opt.applyGradients([[new Float32Array([0.1, -0.2]), w]]);
 * ```
 */
export class Nadam extends BuiltinOptimizer<NadamOptions, NadamConfig> {
  /** How the base class sees the class: Keras class name, config defaults, slots. */
  static readonly spec: Keras3Spec = SPEC;
  /** {@link NadamOptions.beta1}. */
  declare beta1: number;
  /** {@link NadamOptions.beta2}. */
  declare beta2: number;
  /** {@link NadamOptions.epsilon}. */
  declare epsilon: number;
}
