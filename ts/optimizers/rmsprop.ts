// Keras' RMSprop: plain, with momentum, centered.
import { BaseOptimizerOptions, KERAS1_WEIGHTS, HyperValue, Optimizer, OptimizerSpec } from '../optimizer/index.js';

export interface RMSpropOptions extends BaseOptimizerOptions {
  learningRate?: HyperValue;
  /** Discounting factor of the squared-gradient average. */
  rho?: HyperValue;
  /** In [0, 1]. A momentum > 0 (or a function) at construction creates a `momentum` slot and
   * selects TF's fused kernels (ε inside the square root); without it the update is Keras'
   * Python one (ε outside). The choice is fixed at construction, as in Keras. */
  momentum?: HyperValue;
  /** 0 becomes 1e-7, as in Keras. */
  epsilon?: HyperValue;
  /** Normalizes by the estimated variance of the gradient (an `mg` slot per variable). */
  centered?: boolean;
}

const SPEC: OptimizerSpec = {
  callableMomentum: true,
  keras1Weights: KERAS1_WEIGHTS.prependIterations,
  className: 'RMSprop',
  config: [
    ['learning_rate', 0.001],
    ['decay', 0],
    ['rho', 0.9],
    ['momentum', 0],
    ['epsilon', 1e-7],
    ['centered', false],
  ],
};

/** RMSprop (Hinton), TF 2.4's kernels and Keras' Python update. Slots: `rms`, then `momentum`
 * (with momentum), then `mg` (centered). */
export class RMSprop extends Optimizer {
  constructor(options: RMSpropOptions = {}) {
    super(SPEC, options as Record<string, unknown>);
  }
  declare rho: HyperValue;
  declare momentum: HyperValue;
  declare epsilon: HyperValue;
  declare readonly centered: boolean;
}
