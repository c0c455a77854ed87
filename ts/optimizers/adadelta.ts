// Rust rule: crates/simdopt-core/src/rules/adadelta.rs. Keras' Adadelta.
import { BaseOptimizerConfig, BaseOptimizerOptions, constructorOptions, HyperValue, KERAS1_WEIGHTS, Optimizer, OptimizerSpec } from '../optimizer/index.js';

/** The options of {@link Adadelta}: Keras' constructor arguments in camelCase, plus those of every optimizer. */
export interface AdadeltaOptions extends BaseOptimizerOptions {
  /**
   * The step size: a number, a function called at each step, or a {@link LearningRateSchedule}
   * of the iteration count (Keras' `learning_rate`). Keras' Adadelta default is 0.001; the paper's
   * method corresponds to 1.
   * @default 0.001
   */
  learningRate?: HyperValue;
  /**
   * Decay rate of both accumulators.
   * @default 0.95
   */
  rho?: HyperValue;
  /**
   * A small constant for numerical stability; 0 becomes 1e-7, as in Keras.
   * @default 1e-7
   */
  epsilon?: HyperValue;
}

/** Adadelta's Keras config, as `getConfig()` returns it. */
export type AdadeltaConfig = BaseOptimizerConfig & {
  /** {@link AdadeltaOptions.rho}. */
  rho: number;
  /** {@link AdadeltaOptions.epsilon}. */
  epsilon: number;
};

/** Keras' positional order of the constructor arguments. */
const POSITIONAL = ['learningRate', 'rho', 'epsilon', 'name'] as const;

const SPEC: OptimizerSpec = {
  keras1Weights: KERAS1_WEIGHTS.prependIterations,
  className: 'Adadelta',
  config: [
    ['learning_rate', 0.001],
    ['decay', 0],
    ['rho', 0.95],
    ['epsilon', 1e-7],
  ],
  slots: [{ name: 'accum_grad' }, { name: 'accum_var' }],
};

/**
 * Adadelta (Zeiler), TF 2.4's `ApplyAdadelta` kernels. Slots: `accum_grad`, then `accum_var`.
 *
 * @example
 * ```ts
 * await ready();
 * const w = new Variable(new Float32Array([1, 2, 3, 4]), { name: 'w' });
 * const opt = new Adadelta({ learningRate: 1, rho: 0.95 });
 * opt.applyGradients([[new Float32Array([0.1, 0.2, 0.3, 0.4]), w]]);
 * ```
 */
export class Adadelta extends Optimizer {
  /** How the optimizer machinery sees the class: Keras class name, config defaults, slots. */
  static readonly spec: OptimizerSpec = SPEC;
  /**
   * @param options - See {@link AdadeltaOptions}.
   */
  constructor(options?: AdadeltaOptions);
  /** Keras' positional arguments, as Keras and tfjs users write them: `new Adadelta(0.01)`. */
  constructor(learningRate?: HyperValue, rho?: HyperValue, epsilon?: HyperValue, name?: string);
  constructor(...args: unknown[]) {
    super(SPEC, constructorOptions('Adadelta', POSITIONAL, args));
  }
  /** The current {@link AdadeltaOptions.rho}: read it, or set a number, function or schedule for the next steps. */
  declare rho: HyperValue;
  /** The current {@link AdadeltaOptions.epsilon}: read it, or set a number, function or schedule for the next steps. */
  declare epsilon: HyperValue;

  /** Keras' `get_config()` (snake_case keys, Keras' order). */
  override getConfig(): AdadeltaConfig {
    return super.getConfig() as AdadeltaConfig;
  }
}
