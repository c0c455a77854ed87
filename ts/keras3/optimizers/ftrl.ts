// Keras 3's Ftrl (`keras.optimizers.Ftrl`); its rule is the core registry's keras3-family Ftrl.
import { HyperparameterError } from '../../errors.js';
import { pyFloatRepr } from '../python.js';
import { BuiltinOptimizer } from './builtin.js';
import type { Keras3Spec } from '../options.js';
import type { Keras3BaseConfig, Keras3BaseOptions, Keras3Value } from '../types.js';

/** The options of {@link Ftrl}: Keras 3's arguments in camelCase, plus those of every optimizer. */
export interface FtrlOptions extends Keras3BaseOptions {
  /**
   * The step size: a number, a schedule of the step, or a zero-argument function.
   * @default 0.001
   */
  learningRate?: Keras3Value;
  /**
   * Controls how the learning rate decreases during training; <= 0.
   * @default -0.5
   */
  learningRatePower?: number;
  /**
   * Starting value of the accumulators; >= 0.
   * @default 0.1
   */
  initialAccumulatorValue?: number;
  /**
   * L1 regularization; >= 0.
   * @default 0.0
   */
  l1RegularizationStrength?: number;
  /**
   * L2 regularization; >= 0.
   * @default 0.0
   */
  l2RegularizationStrength?: number;
  /**
   * L2 shrinkage regularization (on the gradient only); >= 0.
   * @default 0.0
   */
  l2ShrinkageRegularizationStrength?: number;
  /**
   * The beta of the per-coordinate learning rate.
   * @default 0.0
   */
  beta?: number;
}

/** Ftrl's Keras 3 config, as `getConfig()` returns it. */
export type FtrlConfig = Keras3BaseConfig & {
  /** {@link FtrlOptions.learningRatePower}. */
  learning_rate_power: number;
  /** {@link FtrlOptions.initialAccumulatorValue}. */
  initial_accumulator_value: number;
  /** {@link FtrlOptions.l1RegularizationStrength}. */
  l1_regularization_strength: number;
  /** {@link FtrlOptions.l2RegularizationStrength}. */
  l2_regularization_strength: number;
  /** {@link FtrlOptions.l2ShrinkageRegularizationStrength}. */
  l2_shrinkage_regularization_strength: number;
  /** {@link FtrlOptions.beta}. */
  beta: number;
};

const SPEC: Keras3Spec = {
  className: 'Ftrl',
  config: [
    ['learning_rate', 0.001],
    ['learning_rate_power', -0.5],
    ['initial_accumulator_value', 0.1],
    ['l1_regularization_strength', 0.0],
    ['l2_regularization_strength', 0.0],
    ['l2_shrinkage_regularization_strength', 0.0],
    ['beta', 0.0],
  ],
  slots: [{ name: 'accumulator' }, { name: 'linear' }],
  check: (c) => {
    const power = c.learning_rate_power as number;
    if (power > 0)
      throw new HyperparameterError('InvalidHyperparameter', `\`learning_rate_power\` needs to be negative or zero. Received: learning_rate_power=${pyFloatRepr(power)}.`);
    for (const key of ['initial_accumulator_value', 'l1_regularization_strength', 'l2_regularization_strength', 'l2_shrinkage_regularization_strength']) {
      const v = c[key] as number;
      if (v < 0) throw new HyperparameterError('InvalidHyperparameter', `\`${key}\` needs to be positive or zero. Received: ${key}=${pyFloatRepr(v)}.`);
    }
  },
};

/**
 * Keras 3's Ftrl (McMahan et al.), with L1, L2 and L2-shrinkage regularization.
 *
 * @example
 * ```ts
 * await ready();
 * const w = new Variable(new Float32Array([1, 2]), { name: 'dense/kernel' });
 * const opt = new Ftrl({ learningRate: 0.05, l1RegularizationStrength: 0.01 });
 * opt.applyGradients([[new Float32Array([0.1, -0.2]), w]]);
 * ```
 */
export class Ftrl extends BuiltinOptimizer<FtrlOptions, FtrlConfig> {
  /** How the base class sees the class: Keras class name, config defaults, slots. */
  static readonly spec: Keras3Spec = SPEC;
  /** {@link FtrlOptions.learningRatePower}. */
  declare learningRatePower: number;
  /** {@link FtrlOptions.initialAccumulatorValue}. */
  declare initialAccumulatorValue: number;
  /** {@link FtrlOptions.l1RegularizationStrength}. */
  declare l1RegularizationStrength: number;
  /** {@link FtrlOptions.l2RegularizationStrength}. */
  declare l2RegularizationStrength: number;
  /** {@link FtrlOptions.l2ShrinkageRegularizationStrength}. */
  declare l2ShrinkageRegularizationStrength: number;
  /** {@link FtrlOptions.beta}. */
  declare beta: number;
}
