// Rust rule: crates/simdopt-core/src/rules/rmsprop.rs. Keras' RMSprop: plain, with momentum, centered.
import { BaseOptimizerConfig, BaseOptimizerOptions, constructorOptions, HyperValue, kerasMomentum, KERAS1_WEIGHTS, Optimizer, OptimizerSpec } from '../optimizer/index.js';

/** The options of {@link RMSprop}: Keras' constructor arguments in camelCase, plus those of every optimizer. */
export interface RMSpropOptions extends BaseOptimizerOptions {
  /**
   * The step size: a number, a function called at each step, or a {@link LearningRateSchedule}
   * of the iteration count (Keras' `learning_rate`).
   * @default 0.001
   */
  learningRate?: HyperValue;
  /**
   * Discounting factor of the squared-gradient average.
   * @default 0.9
   */
  rho?: HyperValue;
  /**
   * In [0, 1]. A momentum > 0 (or a function) at construction creates a `momentum` slot and
   * selects TF's fused kernels (ε inside the square root); without it the update is Keras'
   * Python one (ε outside). The choice is fixed at construction, as in Keras.
   * @default 0
   */
  momentum?: HyperValue;
  /**
   * A small constant for numerical stability; 0 becomes 1e-7, as in Keras.
   * @default 1e-7
   */
  epsilon?: HyperValue;
  /**
   * Normalizes by the estimated variance of the gradient (an `mg` slot per variable).
   * @default false
   */
  centered?: boolean;
}

/** RMSprop's Keras config, as `getConfig()` returns it. */
export type RMSpropConfig = BaseOptimizerConfig & {
  /** {@link RMSpropOptions.rho}. */
  rho: number;
  /** {@link RMSpropOptions.momentum}. */
  momentum: number;
  /** {@link RMSpropOptions.epsilon}. */
  epsilon: number;
  /** {@link RMSpropOptions.centered}. */
  centered: boolean;
};

/** Keras' positional order of the constructor arguments. */
const POSITIONAL = ['learningRate', 'rho', 'momentum', 'epsilon', 'centered', 'name'] as const;

const SPEC: OptimizerSpec = {
  callableMomentum: true,
  keras1Weights: KERAS1_WEIGHTS.prependIterations,
  className: 'RMSprop',
  config: [
    ['learning_rate', 0.001],
    ['decay', 0],
    ['rho', 0.9],
    ['momentum', 0],
    ['epsilon', 1e-7],
    ['centered', false],
  ],
  slots: [{ name: 'rms' }, { name: 'momentum', when: kerasMomentum }, { name: 'mg', when: (c) => c.centered === true }],
};

/** RMSprop (Hinton), TF 2.4's kernels and Keras' Python update. Slots: `rms`, then `momentum`
 * (with momentum), then `mg` (centered).
 *
 * @example
 * ```ts
 * await ready();
 * const w = new Variable(new Float32Array([1, 2, 3, 4]), { name: 'w' });
 * const opt = new RMSprop({ learningRate: 0.001, momentum: 0.9, centered: true });
 * opt.applyGradients([[new Float32Array([0.1, 0.2, 0.3, 0.4]), w]]);
 * ```
 */
export class RMSprop extends Optimizer {
  /** How the optimizer machinery sees the class: Keras class name, config defaults, slots. */
  static readonly spec: OptimizerSpec = SPEC;
  /**
   * @param options - See {@link RMSpropOptions}.
   */
  constructor(options?: RMSpropOptions);
  /** Keras' positional arguments, as Keras and tfjs users write them: `new RMSprop(0.01)`. */
  constructor(learningRate?: HyperValue, rho?: HyperValue, momentum?: HyperValue, epsilon?: HyperValue, centered?: boolean, name?: string);
  constructor(...args: unknown[]) {
    super(SPEC, constructorOptions('RMSprop', POSITIONAL, args));
  }
  /** The current {@link RMSpropOptions.rho}: read it, or set a number, function or schedule for the next steps. */
  declare rho: HyperValue;
  /** The current {@link RMSpropOptions.momentum}: read it, or set a number, function or schedule for the next steps. */
  declare momentum: HyperValue;
  /** The current {@link RMSpropOptions.epsilon}: read it, or set a number, function or schedule for the next steps. */
  declare epsilon: HyperValue;
  /** {@link RMSpropOptions.centered}, fixed at construction (read-only, as in Keras). */
  declare readonly centered: boolean;

  /** Keras' `get_config()` (snake_case keys, Keras' order). */
  override getConfig(): RMSpropConfig {
    return super.getConfig() as RMSpropConfig;
  }
}
