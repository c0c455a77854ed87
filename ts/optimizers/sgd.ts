// Keras' SGD: plain, momentum and Nesterov momentum.
import { BaseOptimizerOptions, HyperValue, Optimizer, OptimizerSpec, optionsObject } from '../optimizer.js';

export interface SGDOptions extends BaseOptimizerOptions {
  learningRate?: HyperValue;
  /** In [0, 1]; a momentum > 0 (or a function) at construction creates a `momentum` slot per
   * variable and selects the momentum kernel, fixed at construction as in Keras. */
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
    options = optionsObject(options);
    // Keras: `_momentum = callable(momentum) or momentum > 0`. The core fixes the flag from the
    // momentum it is built with, so a function momentum is built as 1, then set (and called at
    // every step, before the core sees a value).
    const fn = typeof options.momentum === 'function' ? options.momentum : undefined;
    super(SPEC, { ...options, momentum: fn ? 1 : options.momentum } as Record<string, unknown>);
    if (fn) {
      try {
        this.setHyper('momentum', fn);
      } catch (e) {
        this.dispose(); // a refused function (say, one taking arguments) must not leak the core optimizer
        throw e;
      }
    }
  }
  declare momentum: HyperValue;
  declare readonly nesterov: boolean;
}
