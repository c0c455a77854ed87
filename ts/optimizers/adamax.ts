// Keras' Adamax.
import { BaseOptimizerOptions, HyperValue, Optimizer, OptimizerSpec } from '../optimizer/index.js';

export interface AdamaxOptions extends BaseOptimizerOptions {
  learningRate?: HyperValue;
  beta1?: HyperValue;
  beta2?: HyperValue;
  /** 0 becomes 1e-7, as in Keras. */
  epsilon?: HyperValue;
}

const SPEC: OptimizerSpec = {
  className: 'Adamax',
  config: [
    ['learning_rate', 0.001],
    ['decay', 0],
    ['beta_1', 0.9],
    ['beta_2', 0.999],
    ['epsilon', 1e-7],
  ],
};

/** Adamax (Adam with the infinity norm), TF 2.4's `ApplyAdaMax` kernel; sparse updates are lazy
 * (only the indexed rows change). Slots: `m`, then `v`. */
export class Adamax extends Optimizer {
  constructor(options: AdamaxOptions = {}) {
    super(SPEC, options as Record<string, unknown>);
  }
  declare beta1: HyperValue;
  declare beta2: HyperValue;
  declare epsilon: HyperValue;
}
