// Keras 3's Adam (`keras.optimizers.Adam`); its rule is the core registry's keras3-family Adam.
import { BuiltinOptimizer } from './builtin.js';
import type { Keras3Spec } from '../options.js';
import type { Keras3BaseConfig, Keras3BaseOptions, Keras3Value } from '../types.js';

/** The options of {@link Adam}: Keras 3's arguments in camelCase, plus those of every optimizer. */
export interface AdamOptions extends Keras3BaseOptions {
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
  /**
   * The AMSGrad variant: a `velocity_hat` slot keeps the maximum second moment.
   * @default false
   */
  amsgrad?: boolean;
}

/** Adam's Keras 3 config, as `getConfig()` returns it. */
export type AdamConfig = Keras3BaseConfig & {
  /** {@link AdamOptions.beta1}. */
  beta_1: number;
  /** {@link AdamOptions.beta2}. */
  beta_2: number;
  /** {@link AdamOptions.epsilon}. */
  epsilon: number;
  /** {@link AdamOptions.amsgrad}. */
  amsgrad: boolean;
};

/** Adam's config keys and defaults (AdamW shares them). */
export const ADAM_CONFIG: Keras3Spec['config'] = [
  ['learning_rate', 0.001],
  ['beta_1', 0.9],
  ['beta_2', 0.999],
  ['epsilon', 1e-7],
  ['amsgrad', false],
];

/** Adam's slots (AdamW shares them). */
export const ADAM_SLOTS: Keras3Spec['slots'] = [{ name: 'momentum' }, { name: 'velocity' }, { name: 'velocity_hat', when: (c) => c.amsgrad === true }];

const SPEC: Keras3Spec = { className: 'Adam', config: ADAM_CONFIG, slots: ADAM_SLOTS };

/**
 * Adam (Kingma & Ba), Keras 3's formulas.
 *
 * @example
 * ```ts
 * await ready();
 * const w = new Variable(new Float32Array([1, 2]), { name: 'dense/kernel' });
 * const opt = new Adam({ learningRate: 1e-3, amsgrad: true });
 * opt.applyGradients([[new Float32Array([0.1, -0.2]), w]]);
 * ```
 */
export class Adam extends BuiltinOptimizer<AdamOptions, AdamConfig> {
  /** How the base class sees the class: Keras class name, config defaults, slots. */
  static readonly spec: Keras3Spec = SPEC;
  /** {@link AdamOptions.beta1}. */
  declare beta1: number;
  /** {@link AdamOptions.beta2}. */
  declare beta2: number;
  /** {@link AdamOptions.epsilon}. */
  declare epsilon: number;
  /** {@link AdamOptions.amsgrad} (fixed at construction). */
  declare readonly amsgrad: boolean;
}
