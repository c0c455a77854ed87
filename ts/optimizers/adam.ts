// Keras' Adam, with optional AMSGrad.
import { BaseOptimizerOptions, KERAS1_WEIGHTS, HyperValue, Optimizer, OptimizerSpec } from '../optimizer/index.js';

export interface AdamOptions extends BaseOptimizerOptions {
  learningRate?: HyperValue;
  beta1?: HyperValue;
  beta2?: HyperValue;
  /** 0 becomes 1e-7, as in Keras. */
  epsilon?: HyperValue;
  amsgrad?: boolean;
}

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
};

/** Adam (Kingma & Ba), TF 2.4's fused kernel. */
export class Adam extends Optimizer {
  constructor(options: AdamOptions = {}) {
    super(SPEC, options as Record<string, unknown>);
  }
  declare beta1: HyperValue;
  declare beta2: HyperValue;
  declare epsilon: HyperValue;
  declare readonly amsgrad: boolean;
}
