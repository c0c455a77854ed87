// The hyperparameters of Adam's moments, which Keras 3's Adam, AdamW, Adamax, Nadam and Lamb take
// with the same names and defaults (the core's `Betas`, crates/simdopt-core/src/rules/keras3).
import type { Keras3Spec } from '../options.js';
import type { Keras3BaseConfig, Keras3BaseOptions, Keras3Value } from '../types.js';
import { BuiltinOptimizer } from './builtin.js';

/** The options of the classes on Adam's moments (Adam, AdamW, Adamax, Nadam, Lamb): Keras 3's
 * arguments in camelCase, plus those of every optimizer. */
export interface MomentOptions extends Keras3BaseOptions {
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
   * Decay rate of the second-moment estimates (Adamax: of the exponentially weighted infinity norm).
   * @default 0.999
   */
  beta2?: number;
  /**
   * Added to the denominator (outside the square root), for numerical stability.
   * @default 1e-7
   */
  epsilon?: number;
}

/** The Keras 3 config of the classes on Adam's moments, as `getConfig()` returns it. */
export type MomentConfig = Keras3BaseConfig & {
  /** {@link MomentOptions.beta1}. */
  beta_1: number;
  /** {@link MomentOptions.beta2}. */
  beta_2: number;
  /** {@link MomentOptions.epsilon}. */
  epsilon: number;
};

/** Their config keys and defaults, in Keras' order. */
export const MOMENT_CONFIG: Keras3Spec['config'] = [
  ['learning_rate', 0.001],
  ['beta_1', 0.9],
  ['beta_2', 0.999],
  ['epsilon', 1e-7],
];

/** A class on Adam's moments: their accessors. */
export abstract class MomentOptimizer<Options extends MomentOptions, Config extends MomentConfig> extends BuiltinOptimizer<Options, Config> {
  /** {@link MomentOptions.beta1}. */
  declare beta1: number;
  /** {@link MomentOptions.beta2}. */
  declare beta2: number;
  /** {@link MomentOptions.epsilon}. */
  declare epsilon: number;
}
