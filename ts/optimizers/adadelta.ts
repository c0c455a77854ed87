// Keras' Adadelta.
import { BaseOptimizerOptions, KERAS1_WEIGHTS, HyperValue, Optimizer, OptimizerSpec } from '../optimizer/index.js';

export interface AdadeltaOptions extends BaseOptimizerOptions {
  learningRate?: HyperValue;
  /** Decay rate of both accumulators. */
  rho?: HyperValue;
  /** 0 becomes 1e-7, as in Keras. */
  epsilon?: HyperValue;
}

const SPEC: OptimizerSpec = {
  keras1Weights: KERAS1_WEIGHTS.prependIterations,
  className: 'Adadelta',
  config: [
    ['learning_rate', 0.001],
    ['decay', 0],
    ['rho', 0.95],
    ['epsilon', 1e-7],
  ],
};

/** Adadelta (Zeiler), TF 2.4's `ApplyAdadelta` kernels. Slots: `accum_grad`, then `accum_var`. */
export class Adadelta extends Optimizer {
  constructor(options: AdadeltaOptions = {}) {
    super(SPEC, options as Record<string, unknown>);
  }
  declare rho: HyperValue;
  declare epsilon: HyperValue;
}
