// Keras' Ftrl.
import { BaseOptimizerOptions, HyperValue, Optimizer, OptimizerSpec } from '../optimizer/index.js';

export interface FtrlOptions extends Omit<BaseOptimizerOptions, 'lr'> {
  learningRate?: HyperValue;
  /** Ignored, as in Keras' Ftrl (only `learningRate` counts). */
  lr?: HyperValue;
  /** <= 0; -0.5 (the default) is TF's square-root special case, 0 a fixed learning rate. */
  learningRatePower?: HyperValue;
  /** Starting value of the `accumulator` slots; >= 0. Applies to slots created after it is set. */
  initialAccumulatorValue?: HyperValue;
  /** L1 regularization, >= 0. */
  l1RegularizationStrength?: HyperValue;
  /** L2 regularization, >= 0. */
  l2RegularizationStrength?: HyperValue;
  /** L2 shrinkage (a penalty on the weights, not on the update), >= 0. See the class notes. */
  l2ShrinkageRegularizationStrength?: HyperValue;
  /** Added to the L2 term as `beta / (2 * learningRate)`. */
  beta?: HyperValue;
}

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
};

/**
 * FTRL-proximal (McMahan et al.), TF 2.4's `ApplyFtrl(V2)` kernels. Slots, interleaved per
 * variable: `accumulator`, `linear`.
 *
 * Like TF 2.4.4 on CPU, a dense update with `l2ShrinkageRegularizationStrength > 0` runs TF's
 * "multiply linear by lr" kernel (a dispatch bug of TF 2.4): the `linear` slot then holds
 * `learningRate * z`. With a constant learning rate the variables are the same as with the
 * documented update; with a changing one (decay, schedules) they follow TF's.
 */
export class Ftrl extends Optimizer {
  constructor(options: FtrlOptions = {}) {
    super(SPEC, options as Record<string, unknown>);
  }
  declare learningRatePower: HyperValue;
  declare initialAccumulatorValue: HyperValue;
  declare l1RegularizationStrength: HyperValue;
  declare l2RegularizationStrength: HyperValue;
  declare l2ShrinkageRegularizationStrength: HyperValue;
  declare beta: HyperValue;
}
