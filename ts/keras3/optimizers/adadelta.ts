// Keras 3's Adadelta (`keras.optimizers.Adadelta`); its rule is the core registry's keras3-family Adadelta.
import { BuiltinOptimizer } from './builtin.js';
import type { Keras3Spec } from '../options.js';
import type { Keras3BaseConfig, Keras3BaseOptions, Keras3Value } from '../types.js';

/** The options of {@link Adadelta}: Keras 3's arguments in camelCase, plus those of every optimizer. */
export interface AdadeltaOptions extends Keras3BaseOptions {
  /**
   * The step size: a number, a schedule of the step, or a zero-argument function.
   * @default 0.001
   */
  learningRate?: Keras3Value;
  /**
   * Decay rate of the averages.
   * @default 0.95
   */
  rho?: number;
  /**
   * A small constant for numerical stability.
   * @default 1e-7
   */
  epsilon?: number;
}

/** Adadelta's Keras 3 config, as `getConfig()` returns it. */
export type AdadeltaConfig = Keras3BaseConfig & {
  /** {@link AdadeltaOptions.rho}. */
  rho: number;
  /** {@link AdadeltaOptions.epsilon}. */
  epsilon: number;
};

const SPEC: Keras3Spec = {
  className: 'Adadelta',
  config: [
    ['learning_rate', 0.001],
    ['rho', 0.95],
    ['epsilon', 1e-7],
  ],
  slots: [{ name: 'accumulated_grad' }, { name: 'accumulated_delta_var' }],
};

/**
 * Adadelta (Zeiler), Keras 3's formulas.
 *
 * @example
 * ```ts
 * await ready();
 * const w = new Variable(new Float32Array([1, 2]), { name: 'dense/kernel' });
 * const opt = new Adadelta({ learningRate: 1.0, rho: 0.95 });
 * opt.applyGradients([[new Float32Array([0.1, -0.2]), w]]);
 * ```
 */
export class Adadelta extends BuiltinOptimizer<AdadeltaOptions, AdadeltaConfig> {
  /** How the base class sees the class: Keras class name, config defaults, slots. */
  static readonly spec: Keras3Spec = SPEC;
  /** {@link AdadeltaOptions.rho}. */
  declare rho: number;
  /** {@link AdadeltaOptions.epsilon}. */
  declare epsilon: number;
}
