// Keras' Adagrad.
import { BaseOptimizerOptions, KERAS1_WEIGHTS, HyperValue, Optimizer, OptimizerSpec } from '../optimizer/index.js';

export interface AdagradOptions extends BaseOptimizerOptions {
  learningRate?: HyperValue;
  /** Starting value of the `accumulator` slots; must be >= 0. Applies to slots created after it
   * is set. */
  initialAccumulatorValue?: HyperValue;
  /** 0 becomes 1e-7, as in Keras. */
  epsilon?: HyperValue;
}

const SPEC: OptimizerSpec = {
  keras1Weights: KERAS1_WEIGHTS.prependIterations,
  className: 'Adagrad',
  config: [
    ['learning_rate', 0.001],
    ['decay', 0],
    ['initial_accumulator_value', 0.1],
    ['epsilon', 1e-7],
  ],
};

/** Adagrad (Duchi et al.), TF 2.4's `ApplyAdagradV2` kernels. Slot: `accumulator`. */
export class Adagrad extends Optimizer {
  constructor(options: AdagradOptions = {}) {
    super(SPEC, options as Record<string, unknown>);
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
      config !== null && typeof config === 'object' && !Array.isArray(config) && !('initial_accumulator_value' in config)
        ? { ...config, initial_accumulator_value: 0.1 }
        : config;
    return super.fromConfig(withDefault, customObjects) as T;
  }

  declare initialAccumulatorValue: HyperValue;
  declare epsilon: HyperValue;
}
