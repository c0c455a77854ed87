// Rust rule: crates/simdopt-core/src/rules/sgd.rs. Keras' SGD: plain, momentum and Nesterov momentum.
import { BaseOptimizerConfig, BaseOptimizerOptions, constructorOptions, HyperValue, kerasMomentum, Optimizer, OptimizerSpec } from '../optimizer/index.js';

/** The options of {@link SGD}: Keras' constructor arguments in camelCase, plus those of every optimizer. */
export interface SGDOptions extends BaseOptimizerOptions {
  /**
   * The step size: a number, a function called at each step, or a {@link LearningRateSchedule}
   * of the iteration count (Keras' `learning_rate`).
   * @default 0.01
   */
  learningRate?: HyperValue;
  /**
   * In [0, 1]: accelerates descent in the relevant direction. A momentum > 0 (or a function) at
   * construction creates a `momentum` slot per variable and selects the momentum kernel, fixed
   * at construction as in Keras.
   * @default 0
   */
  momentum?: HyperValue;
  /**
   * Nesterov momentum.
   * @default false
   */
  nesterov?: boolean;
}

/** SGD's Keras config, as `getConfig()` returns it. */
export type SGDConfig = BaseOptimizerConfig & {
  /** {@link SGDOptions.momentum}. */
  momentum: number;
  /** {@link SGDOptions.nesterov}. */
  nesterov: boolean;
};

/** Keras' positional order of the constructor arguments. */
const POSITIONAL = ['learningRate', 'momentum', 'nesterov', 'name'] as const;

const SPEC: OptimizerSpec = {
  callableMomentum: true,
  className: 'SGD',
  config: [
    ['learning_rate', 0.01],
    ['decay', 0],
    ['momentum', 0],
    ['nesterov', false],
  ],
  slots: [{ name: 'momentum', when: kerasMomentum }],
};

/**
 * Gradient descent with optional (Nesterov) momentum.
 *
 * @example
 * ```ts
 * await ready();
 * const w = new Variable(new Float32Array([1, 2, 3, 4]), { name: 'w' });
 * const opt = new SGD({ learningRate: 0.1, momentum: 0.9, nesterov: true });
 * opt.applyGradients([[new Float32Array([0.1, 0.2, 0.3, 0.4]), w]]);
 * ```
 */
export class SGD extends Optimizer {
  /** How the optimizer machinery sees the class: Keras class name, config defaults, slots. */
  static readonly spec: OptimizerSpec = SPEC;
  /**
   * @param options - See {@link SGDOptions}.
   */
  constructor(options?: SGDOptions);
  /** Keras' positional arguments, as Keras and tfjs users write them: `new SGD(0.01)`. */
  constructor(learningRate?: HyperValue, momentum?: HyperValue, nesterov?: boolean, name?: string);
  constructor(...args: unknown[]) {
    super(SPEC, constructorOptions('SGD', POSITIONAL, args));
  }
  /** The current {@link SGDOptions.momentum}: read it, or set a number, function or schedule for the next steps. */
  declare momentum: HyperValue;
  /** {@link SGDOptions.nesterov}, fixed at construction (read-only, as in Keras). */
  declare readonly nesterov: boolean;

  /** Keras' `get_config()` (snake_case keys, Keras' order). */
  override getConfig(): SGDConfig {
    return super.getConfig() as SGDConfig;
  }
}
