// Rust rule: crates/simdopt-core/src/rules/adam.rs. Keras' Adam, with optional AMSGrad.
import { BaseOptimizerConfig, BaseOptimizerOptions, constructorOptions, HyperValue, KERAS1_WEIGHTS, Optimizer, OptimizerSpec } from '../optimizer/index.js';

/** The options of {@link Adam}: Keras' constructor arguments in camelCase, plus those of every optimizer. */
export interface AdamOptions extends BaseOptimizerOptions {
  /**
   * The step size: a number, a function called at each step, or a {@link LearningRateSchedule}
   * of the iteration count (Keras' `learning_rate`).
   * @default 0.001
   */
  learningRate?: HyperValue;
  /**
   * Decay rate of the first-moment estimates (Keras' `beta_1`).
   * @default 0.9
   */
  beta1?: HyperValue;
  /**
   * Decay rate of the second-moment estimates (Keras' `beta_2`).
   * @default 0.999
   */
  beta2?: HyperValue;
  /**
   * A small constant for numerical stability; 0 becomes 1e-7, as in Keras.
   * @default 1e-7
   */
  epsilon?: HyperValue;
  /**
   * The AMSGrad variant (Reddi et al.): a `vhat` slot keeps the maximum of the second moments.
   * @default false
   */
  amsgrad?: boolean;
}

/** Adam's Keras config, as `getConfig()` returns it. */
export type AdamConfig = BaseOptimizerConfig & {
  /** {@link AdamOptions.beta1}. */
  beta_1: number;
  /** {@link AdamOptions.beta2}. */
  beta_2: number;
  /** {@link AdamOptions.epsilon}. */
  epsilon: number;
  /** {@link AdamOptions.amsgrad}. */
  amsgrad: boolean;
};

/** Keras' positional order of the constructor arguments. */
const POSITIONAL = ['learningRate', 'beta1', 'beta2', 'epsilon', 'amsgrad', 'name'] as const;

const SPEC: OptimizerSpec = {
  keras1Weights: KERAS1_WEIGHTS.dropVhat,
  className: 'Adam',
  config: [
    ['learning_rate', 0.001],
    ['decay', 0],
    ['beta_1', 0.9],
    ['beta_2', 0.999],
    ['epsilon', 1e-7],
    ['amsgrad', false],
  ],
  slots: [{ name: 'm' }, { name: 'v' }, { name: 'vhat', when: (c) => c.amsgrad === true }],
};

/**
 * Adam (Kingma & Ba), TF 2.4's fused kernel.
 *
 * @example
 * ```ts
 * await ready();
 * const w = new Variable(new Float32Array([1, 2, 3, 4]), { name: 'w' });
 * const opt = new Adam({ learningRate: 0.01, amsgrad: true });
 * opt.applyGradients([[new Float32Array([0.1, 0.2, 0.3, 0.4]), w]]);
 * ```
 */
export class Adam extends Optimizer {
  /** How the optimizer machinery sees the class: Keras class name, config defaults, slots. */
  static readonly spec: OptimizerSpec = SPEC;
  /**
   * @param options - See {@link AdamOptions}.
   */
  constructor(options?: AdamOptions);
  /** Keras' positional arguments, as Keras and tfjs users write them: `new Adam(0.01)`. */
  constructor(learningRate?: HyperValue, beta1?: HyperValue, beta2?: HyperValue, epsilon?: HyperValue, amsgrad?: boolean, name?: string);
  constructor(...args: unknown[]) {
    super(SPEC, constructorOptions('Adam', POSITIONAL, args));
  }
  /** The current {@link AdamOptions.beta1}: read it, or set a number, function or schedule for the next steps. */
  declare beta1: HyperValue;
  /** The current {@link AdamOptions.beta2}: read it, or set a number, function or schedule for the next steps. */
  declare beta2: HyperValue;
  /** The current {@link AdamOptions.epsilon}: read it, or set a number, function or schedule for the next steps. */
  declare epsilon: HyperValue;
  /** {@link AdamOptions.amsgrad}, fixed at construction (read-only, as in Keras). */
  declare readonly amsgrad: boolean;

  /** Keras' `get_config()` (snake_case keys, Keras' order). */
  override getConfig(): AdamConfig {
    return super.getConfig() as AdamConfig;
  }
}
