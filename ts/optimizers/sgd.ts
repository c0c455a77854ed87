// Keras' SGD: plain, momentum and Nesterov momentum.
import { BaseOptimizerOptions, HyperValue, Optimizer, OptimizerSpec } from '../optimizer.js';

export interface SGDOptions extends BaseOptimizerOptions {
  learningRate?: HyperValue;
  /** In [0, 1]; a momentum > 0 creates a `momentum` slot per variable. */
  momentum?: HyperValue;
  nesterov?: boolean;
}

const SPEC: OptimizerSpec = {
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
  get momentum(): HyperValue {
    return this.getHyper('momentum');
  }
  set momentum(v: HyperValue) {
    this.setHyper('momentum', v);
  }
  get nesterov(): boolean {
    return this.flag('nesterov');
  }
}
