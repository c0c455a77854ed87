// Rust rule: crates/simdopt-core/src/rules/adamax.rs. Keras' Adamax.
import { BaseOptimizerConfig, BaseOptimizerOptions, constructorOptions, HyperValue, Optimizer, OptimizerSpec } from '../optimizer/index.js';

/** The options of {@link Adamax}: Keras' constructor arguments in camelCase, plus those of every optimizer. */
export interface AdamaxOptions extends BaseOptimizerOptions {
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
   * Decay rate of the exponentially weighted infinity norm (Keras' `beta_2`).
   * @default 0.999
   */
  beta2?: HyperValue;
  /**
   * A small constant for numerical stability; 0 becomes 1e-7, as in Keras.
   * @default 1e-7
   */
  epsilon?: HyperValue;
}

/** Adamax's Keras config, as `getConfig()` returns it. */
export type AdamaxConfig = BaseOptimizerConfig & {
  /** {@link AdamaxOptions.beta1}. */
  beta_1: number;
  /** {@link AdamaxOptions.beta2}. */
  beta_2: number;
  /** {@link AdamaxOptions.epsilon}. */
  epsilon: number;
};

/** Keras' positional order of the constructor arguments. */
const POSITIONAL = ['learningRate', 'beta1', 'beta2', 'epsilon', 'name'] as const;

const SPEC: OptimizerSpec = {
  className: 'Adamax',
  config: [
    ['learning_rate', 0.001],
    ['decay', 0],
    ['beta_1', 0.9],
    ['beta_2', 0.999],
    ['epsilon', 1e-7],
  ],
  slots: [{ name: 'm' }, { name: 'v' }],
};

/** Adamax (Adam with the infinity norm), TF 2.4's `ApplyAdaMax` kernel; sparse updates are lazy
 * (only the indexed rows change). Slots: `m`, then `v`.
 *
 * @example
 * ```ts
 * await ready();
 * const w = new Variable(new Float32Array([1, 2, 3, 4]), { name: 'w' });
 * const opt = new Adamax({ learningRate: 0.002 });
 * opt.applyGradients([[new Float32Array([0.1, 0.2, 0.3, 0.4]), w]]);
 * ```
 */
export class Adamax extends Optimizer {
  /** How the optimizer machinery sees the class: Keras class name, config defaults, slots. */
  static readonly spec: OptimizerSpec = SPEC;
  /**
   * @param options - See {@link AdamaxOptions}.
   */
  constructor(options?: AdamaxOptions);
  /** Keras' positional arguments, as Keras and tfjs users write them: `new Adamax(0.01)`. */
  constructor(learningRate?: HyperValue, beta1?: HyperValue, beta2?: HyperValue, epsilon?: HyperValue, name?: string);
  constructor(...args: unknown[]) {
    super(SPEC, constructorOptions('Adamax', POSITIONAL, args));
  }
  /** The current {@link AdamaxOptions.beta1}: read it, or set a number, function or schedule for the next steps. */
  declare beta1: HyperValue;
  /** The current {@link AdamaxOptions.beta2}: read it, or set a number, function or schedule for the next steps. */
  declare beta2: HyperValue;
  /** The current {@link AdamaxOptions.epsilon}: read it, or set a number, function or schedule for the next steps. */
  declare epsilon: HyperValue;

  /** Keras' `get_config()` (snake_case keys, Keras' order). */
  override getConfig(): AdamaxConfig {
    return super.getConfig() as AdamaxConfig;
  }
}
