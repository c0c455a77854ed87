// Keras' SGD: plain, momentum and Nesterov momentum.
import { BaseOptimizerOptions, HyperValue, Optimizer, OptimizerSpec } from '../optimizer/index.js';

export interface SGDOptions extends BaseOptimizerOptions {
  learningRate?: HyperValue;
  /** In [0, 1]; a momentum > 0 (or a function) at construction creates a `momentum` slot per
   * variable and selects the momentum kernel, fixed at construction as in Keras. */
  momentum?: HyperValue;
  nesterov?: boolean;
}

const SPEC: OptimizerSpec = {
  callableMomentum: true,
  className: 'SGD',
  config: [
    ['learning_rate', 0.01],
    ['decay', 0],
    ['momentum', 0],
    ['nesterov', false],
  ],
};

/** Gradient descent with optional (Nesterov) momentum. */
export class SGD extends Optimizer {
  constructor(options: SGDOptions = {}) {
    super(SPEC, options as Record<string, unknown>);
  }
  declare momentum: HyperValue;
  declare readonly nesterov: boolean;
}
