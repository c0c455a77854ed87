// Rust rule: crates/simdopt-core/src/rules/keras3/schedule_free.rs. Keras 3's ScheduleFreeAdamW
// (Defazio et al., 2024).
import { HyperparameterError } from '../../errors.js';
import { BuiltinOptimizer } from './builtin.js';
import type { Keras3Spec } from '../options.js';
import type { Keras3BaseConfig, Keras3BaseOptions, Keras3Value } from '../types.js';

/** The options of {@link ScheduleFreeAdamW}: Keras 3's arguments in camelCase, plus those of every optimizer. */
export interface ScheduleFreeAdamWOptions extends Keras3BaseOptions {
  /**
   * The step size: a number, a schedule of the step, or a zero-argument function.
   * @default 0.0025
   */
  learningRate?: Keras3Value;
  /**
   * Interpolation between the averaged iterate and `z` (the schedule-free momentum).
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
   * @default 1e-8
   */
  epsilon?: number;
  /**
   * Steps of linear learning-rate warmup (0: none).
   * @default 0
   */
  warmupSteps?: number;
}

/** ScheduleFreeAdamW's Keras 3 config, as `getConfig()` returns it. */
export type ScheduleFreeAdamWConfig = Keras3BaseConfig & {
  /** {@link ScheduleFreeAdamWOptions.beta1}. */
  beta_1: number;
  /** {@link ScheduleFreeAdamWOptions.beta2}. */
  beta_2: number;
  /** {@link ScheduleFreeAdamWOptions.epsilon}. */
  epsilon: number;
  /** {@link ScheduleFreeAdamWOptions.warmupSteps}. */
  warmup_steps: number;
};

const SPEC: Keras3Spec = {
  className: 'ScheduleFreeAdamW',
  config: [
    ['learning_rate', 0.0025],
    ['beta_1', 0.9],
    ['beta_2', 0.999],
    ['epsilon', 1e-8],
    ['warmup_steps', 0],
  ],
  slots: [{ name: 'momentum' }, { name: 'velocity' }],
  check: (c) => {
    const w = c.warmup_steps as number;
    if (!Number.isInteger(w)) throw new HyperparameterError('InvalidHyperparameter', `\`warmup_steps\` must be an integer. Received: warmup_steps=${w}`);
  },
};

/**
 * Schedule-free AdamW: the `momentum` slot holds `z` (it starts as a copy of the variable), the
 * variable holds `y = (1 - beta1) z + beta1 x`, where `x` averages the `z`s; `z` takes Adam-style
 * steps `lr * g / (sqrt(v̂) + epsilon)`. No learning-rate schedule is needed.
 *
 * @example
 * ```ts
 * await ready();
 * const w = new Variable(new Float32Array([1, 2]), { name: 'dense/kernel' });
 * const opt = new ScheduleFreeAdamW({ learningRate: 0.0025, warmupSteps: 100 });
 * opt.applyGradients([[new Float32Array([0.1, -0.2]), w]]);
 * ```
 */
export class ScheduleFreeAdamW extends BuiltinOptimizer<ScheduleFreeAdamWOptions, ScheduleFreeAdamWConfig> {
  /** How the base class sees the class: Keras class name, config defaults, slots. */
  static readonly spec: Keras3Spec = SPEC;
  /** {@link ScheduleFreeAdamWOptions.beta1}. */
  declare beta1: number;
  /** {@link ScheduleFreeAdamWOptions.beta2}. */
  declare beta2: number;
  /** {@link ScheduleFreeAdamWOptions.epsilon}. */
  declare epsilon: number;
  /** {@link ScheduleFreeAdamWOptions.warmupSteps}. */
  declare warmupSteps: number;
}
