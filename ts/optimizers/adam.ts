// Keras' Adam, with optional AMSGrad.
import { BaseOptimizerOptions, HyperValue, Optimizer, OptimizerSpec } from '../optimizer.js';

export interface AdamOptions extends BaseOptimizerOptions {
  learningRate?: HyperValue;
  beta1?: HyperValue;
  beta2?: HyperValue;
  /** 0 becomes 1e-7, as in Keras. */
  epsilon?: HyperValue;
  amsgrad?: boolean;
}

const SPEC: OptimizerSpec = {
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
  get amsgrad(): boolean {
    return this.flag('amsgrad');
  }

  /** Keras-1 Adam always stored `vhat`: a list of 3n+1 weights is cut to this optimizer's. */
  protected override adaptWeights(ws: unknown[]): unknown[] {
    const count = this.getWeightNames().length;
    const n = Math.floor((count - 1) / 2);
    return ws.length === 3 * n + 1 && ws.length > count ? ws.slice(0, count) : ws;
  }
}
