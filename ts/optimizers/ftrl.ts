// Rust rule: crates/simdopt-core/src/rules/ftrl.rs. Keras' Ftrl.
import { BaseOptimizerConfig, BaseOptimizerOptions, constructorOptions, HyperValue, Optimizer, OptimizerSpec } from '../optimizer/index.js';

/** The options of {@link Ftrl}: Keras' constructor arguments in camelCase, plus those of every optimizer. */
export interface FtrlOptions extends Omit<BaseOptimizerOptions, 'lr'> {
  /**
   * The step size: a number, a function called at each step, or a {@link LearningRateSchedule}
   * of the iteration count (Keras' `learning_rate`).
   * @default 0.001
   */
  learningRate?: HyperValue;
  /** Ignored, as in Keras' Ftrl (only `learningRate` counts). */
  lr?: HyperValue;
  /**
   * How the learning rate shrinks as the accumulator grows; <= 0. -0.5 is TF's square-root
   * special case, 0 a fixed learning rate.
   * @default -0.5
   */
  learningRatePower?: HyperValue;
  /**
   * Starting value of the `accumulator` slots; >= 0. Applies to slots created after it is set.
   * @default 0.1
   */
  initialAccumulatorValue?: HyperValue;
  /**
   * L1 regularization, >= 0.
   * @default 0
   */
  l1RegularizationStrength?: HyperValue;
  /**
   * L2 regularization, >= 0.
   * @default 0
   */
  l2RegularizationStrength?: HyperValue;
  /**
   * L2 shrinkage (a penalty on the weights, not on the update), >= 0. See the class notes.
   * @default 0
   */
  l2ShrinkageRegularizationStrength?: HyperValue;
  /**
   * Added to the L2 term as `beta / (2 * learningRate)`.
   * @default 0
   */
  beta?: HyperValue;
}

/** Ftrl's Keras config, as `getConfig()` returns it. */
export type FtrlConfig = BaseOptimizerConfig & {
  /** {@link FtrlOptions.initialAccumulatorValue}. */
  initial_accumulator_value: number;
  /** {@link FtrlOptions.learningRatePower}. */
  learning_rate_power: number;
  /** {@link FtrlOptions.l1RegularizationStrength}. */
  l1_regularization_strength: number;
  /** {@link FtrlOptions.l2RegularizationStrength}. */
  l2_regularization_strength: number;
  /** {@link FtrlOptions.beta}. */
  beta: number;
  /** {@link FtrlOptions.l2ShrinkageRegularizationStrength}. */
  l2_shrinkage_regularization_strength: number;
};

/** Keras' positional order of the constructor arguments. */
const POSITIONAL = [
  'learningRate',
  'learningRatePower',
  'initialAccumulatorValue',
  'l1RegularizationStrength',
  'l2RegularizationStrength',
  'name',
  'l2ShrinkageRegularizationStrength',
  'beta',
] as const;

const SPEC: OptimizerSpec = {
  className: 'Ftrl',
  acceptsLr: false,
  config: [
    ['learning_rate', 0.001],
    ['decay', 0],
    ['initial_accumulator_value', 0.1],
    ['learning_rate_power', -0.5],
    ['l1_regularization_strength', 0],
    ['l2_regularization_strength', 0],
    ['beta', 0],
    ['l2_shrinkage_regularization_strength', 0],
  ],
  slots: [{ name: 'accumulator' }, { name: 'linear' }],
};

/**
 * FTRL-proximal (McMahan et al.), TF 2.4's `ApplyFtrl(V2)` kernels. Slots, interleaved per
 * variable: `accumulator`, `linear`.
 *
 * Like TF 2.4.4 on CPU, a dense update with `l2ShrinkageRegularizationStrength > 0` runs TF's
 * "multiply linear by lr" kernel (a dispatch bug of TF 2.4): the `linear` slot then holds
 * `learningRate * z`. With a constant learning rate the variables are the same as with the
 * documented update; with a changing one (decay, schedules) they follow TF's.
 *
 * @example
 * ```ts
 * await ready();
 * const w = new Variable(new Float32Array([1, 2, 3, 4]), { name: 'w' });
 * const opt = new Ftrl({ learningRate: 0.05, l1RegularizationStrength: 0.001 });
 * opt.applyGradients([[new Float32Array([0.1, 0.2, 0.3, 0.4]), w]]);
 * ```
 */
export class Ftrl extends Optimizer {
  /** How the optimizer machinery sees the class: Keras class name, config defaults, slots. */
  static readonly spec: OptimizerSpec = SPEC;
  /**
   * @param options - See {@link FtrlOptions}.
   */
  constructor(options?: FtrlOptions);
  /** Keras' positional arguments, as Keras and tfjs users write them: `new Ftrl(0.05)`. */
  constructor(
    learningRate?: HyperValue,
    learningRatePower?: HyperValue,
    initialAccumulatorValue?: HyperValue,
    l1RegularizationStrength?: HyperValue,
    l2RegularizationStrength?: HyperValue,
    name?: string,
    l2ShrinkageRegularizationStrength?: HyperValue,
    beta?: HyperValue,
  );
  constructor(...args: unknown[]) {
    super(SPEC, constructorOptions('Ftrl', POSITIONAL, args));
  }
  /** The current {@link FtrlOptions.learningRatePower}: read it, or set a number, function or schedule for the next steps. */
  declare learningRatePower: HyperValue;
  /** The current {@link FtrlOptions.initialAccumulatorValue}: read it, or set a number, function or schedule for the next steps. */
  declare initialAccumulatorValue: HyperValue;
  /** The current {@link FtrlOptions.l1RegularizationStrength}: read it, or set a number, function or schedule for the next steps. */
  declare l1RegularizationStrength: HyperValue;
  /** The current {@link FtrlOptions.l2RegularizationStrength}: read it, or set a number, function or schedule for the next steps. */
  declare l2RegularizationStrength: HyperValue;
  /** The current {@link FtrlOptions.l2ShrinkageRegularizationStrength}: read it, or set a number, function or schedule for the next steps. */
  declare l2ShrinkageRegularizationStrength: HyperValue;
  /** The current {@link FtrlOptions.beta}: read it, or set a number, function or schedule for the next steps. */
  declare beta: HyperValue;

  /** Keras' `get_config()` (snake_case keys, Keras' order). */
  override getConfig(): FtrlConfig {
    return super.getConfig() as FtrlConfig;
  }
}
