// Rust rule: crates/simdopt-core/src/rules/adagrad.rs. Keras' Adagrad.
import { BaseOptimizerConfig, BaseOptimizerOptions, constructorOptions, HyperValue, KERAS1_WEIGHTS, Optimizer, OptimizerSpec } from '../optimizer/index.js';

/** The options of {@link Adagrad}: Keras' constructor arguments in camelCase, plus those of every optimizer. */
export interface AdagradOptions extends BaseOptimizerOptions {
  /**
   * The step size: a number, a function called at each step, or a {@link LearningRateSchedule}
   * of the iteration count (Keras' `learning_rate`).
   * @default 0.001
   */
  learningRate?: HyperValue;
  /**
   * Starting value of the `accumulator` slots; must be >= 0. Applies to slots created after it
   * is set.
   * @default 0.1
   */
  initialAccumulatorValue?: HyperValue;
  /**
   * A small constant for numerical stability; 0 becomes 1e-7, as in Keras.
   * @default 1e-7
   */
  epsilon?: HyperValue;
}

/** Adagrad's Keras config, as `getConfig()` returns it. */
export type AdagradConfig = BaseOptimizerConfig & {
  /** {@link AdagradOptions.initialAccumulatorValue}. */
  initial_accumulator_value: number;
  /** {@link AdagradOptions.epsilon}. */
  epsilon: number;
};

/** Keras' positional order of the constructor arguments. */
const POSITIONAL = ['learningRate', 'initialAccumulatorValue', 'epsilon', 'name'] as const;

const SPEC: OptimizerSpec = {
  keras1Weights: KERAS1_WEIGHTS.prependIterations,
  className: 'Adagrad',
  config: [
    ['learning_rate', 0.001],
    ['decay', 0],
    ['initial_accumulator_value', 0.1],
    ['epsilon', 1e-7],
  ],
  slots: [{ name: 'accumulator' }],
};

/**
 * Adagrad (Duchi et al.), TF 2.4's `ApplyAdagradV2` kernels. Slot: `accumulator`.
 *
 * @example
 * ```ts
 * await ready();
 * const w = new Variable(new Float32Array([1, 2, 3, 4]), { name: 'w' });
 * const opt = new Adagrad({ learningRate: 0.01, initialAccumulatorValue: 0.1 });
 * opt.applyGradients([[new Float32Array([0.1, 0.2, 0.3, 0.4]), w]]);
 * ```
 */
export class Adagrad extends Optimizer {
  /** How the optimizer machinery sees the class: Keras class name, config defaults, slots. */
  static readonly spec: OptimizerSpec = SPEC;
  /**
   * @param options - See {@link AdagradOptions}.
   */
  constructor(options?: AdagradOptions);
  /** Keras' positional arguments, as Keras and tfjs users write them: `new Adagrad(0.01)`. */
  constructor(learningRate?: HyperValue, initialAccumulatorValue?: HyperValue, epsilon?: HyperValue, name?: string);
  constructor(...args: unknown[]) {
    super(SPEC, constructorOptions('Adagrad', POSITIONAL, args));
  }

  /**
   * Keras' `Adagrad.from_config`: a missing `initial_accumulator_value` is 0.1, `lr` is
   * `learning_rate`. Unlike TF 2.4 (whose override forgets to deserialize a schedule dict, so
   * an Adagrad with a schedule cannot be loaded back there), a `learning_rate` schedule dict is
   * deserialized like for every other optimizer.
   */
  static override fromConfig<T extends Optimizer>(
    this: new (options: Record<string, unknown>) => T,
    config: Record<string, unknown>,
    customObjects: Record<string, unknown> = {},
  ): T {
    const withDefault =
      config !== null && typeof config === 'object' && !Array.isArray(config) && !('initial_accumulator_value' in config) ? { ...config, initial_accumulator_value: 0.1 } : config;
    return super.fromConfig(withDefault, customObjects) as T;
  }

  /** The current {@link AdagradOptions.initialAccumulatorValue}: read it, or set a number, function or schedule for the next steps. */
  declare initialAccumulatorValue: HyperValue;
  /** The current {@link AdagradOptions.epsilon}: read it, or set a number, function or schedule for the next steps. */
  declare epsilon: HyperValue;

  /** Keras' `get_config()` (snake_case keys, Keras' order). */
  override getConfig(): AdagradConfig {
    return super.getConfig() as AdagradConfig;
  }
}
