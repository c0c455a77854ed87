// Keras 3's Adagrad (`keras.optimizers.Adagrad`); its rule is the core registry's keras3-family Adagrad.
import { BuiltinOptimizer } from './builtin.js';
import type { Keras3Spec } from '../options.js';
import type { Keras3BaseConfig, Keras3BaseOptions, Keras3Value } from '../types.js';

/** The options of {@link Adagrad}: Keras 3's arguments in camelCase, plus those of every optimizer. */
export interface AdagradOptions extends Keras3BaseOptions {
  /**
   * The step size: a number, a schedule of the step, or a zero-argument function.
   * @default 0.001
   */
  learningRate?: Keras3Value;
  /**
   * Starting value of the accumulators.
   * @default 0.1
   */
  initialAccumulatorValue?: number;
  /**
   * Added inside the square root (Keras 3).
   * @default 1e-7
   */
  epsilon?: number;
}

/** Adagrad's Keras 3 config, as `getConfig()` returns it. */
export type AdagradConfig = Keras3BaseConfig & {
  /** {@link AdagradOptions.initialAccumulatorValue}. */
  initial_accumulator_value: number;
  /** {@link AdagradOptions.epsilon}. */
  epsilon: number;
};

const SPEC: Keras3Spec = {
  className: 'Adagrad',
  config: [
    ['learning_rate', 0.001],
    ['initial_accumulator_value', 0.1],
    ['epsilon', 1e-7],
  ],
  slots: [{ name: 'accumulator' }],
};

/**
 * Keras 3's Adagrad: `var -= lr * g / sqrt(acc + eps)` (epsilon inside the root).
 *
 * @example
 * ```ts
 * await ready();
 * const w = new Variable(new Float32Array([1, 2]), { name: 'dense/kernel' });
 * const opt = new Adagrad({ learningRate: 0.01 });
 * opt.applyGradients([[new Float32Array([0.1, -0.2]), w]]);
 * ```
 */
export class Adagrad extends BuiltinOptimizer<AdagradOptions, AdagradConfig> {
  /** How the base class sees the class: Keras class name, config defaults, slots. */
  static readonly spec: Keras3Spec = SPEC;
  /** {@link AdagradOptions.initialAccumulatorValue}. */
  declare initialAccumulatorValue: number;
  /** {@link AdagradOptions.epsilon}. */
  declare epsilon: number;
}
