// Keras' Adamax.
import { BaseOptimizerOptions, HyperValue, Optimizer, OptimizerSpec } from '../optimizer.js';

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
    super(SPEC, { ...options, epsilon: options.epsilon === 0 ? 1e-7 : options.epsilon } as Record<string, unknown>);
  }
  get beta1(): HyperValue {
    return this.getHyper('beta_1');
  }
  set beta1(v: HyperValue) {
    this.setHyper('beta_1', v);
  }
  get beta2(): HyperValue {
    return this.getHyper('beta_2');
  }
  set beta2(v: HyperValue) {
    this.setHyper('beta_2', v);
  }
  get epsilon(): HyperValue {
    return this.getHyper('epsilon');
  }
  set epsilon(v: HyperValue) {
    this.setHyper('epsilon', v === 0 ? 1e-7 : v);
  }
}
