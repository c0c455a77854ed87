// Keras' Adadelta.
import { BaseOptimizerOptions, HyperValue, Optimizer, OptimizerSpec } from '../optimizer.js';

export interface AdadeltaOptions extends BaseOptimizerOptions {
  learningRate?: HyperValue;
  /** Decay rate of both accumulators. */
  rho?: HyperValue;
  /** 0 becomes 1e-7, as in Keras. */
  epsilon?: HyperValue;
}

const SPEC: OptimizerSpec = {
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
    super(SPEC, { ...options, epsilon: options.epsilon === 0 ? 1e-7 : options.epsilon } as Record<string, unknown>);
  }
  get rho(): HyperValue {
    return this.getHyper('rho');
  }
  set rho(v: HyperValue) {
    this.setHyper('rho', v);
  }
  get epsilon(): HyperValue {
    return this.getHyper('epsilon');
  }
  set epsilon(v: HyperValue) {
    this.setHyper('epsilon', v === 0 ? 1e-7 : v);
  }

  /** Keras-1 weight lists have no `iterations`: one weight short, a leading 0 is added. */
  protected override adaptWeights(ws: unknown[]): unknown[] {
    return ws.length + 1 === this.getWeightNames().length ? [0, ...ws] : ws;
  }
}
