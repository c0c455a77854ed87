// Keras' Adamax.
import { BaseOptimizerOptions, HyperValue, Optimizer, OptimizerSpec } from '../optimizer/index.js';

/** The options of {@link Adamax}: Keras' constructor arguments in camelCase, plus those of every optimizer. */
export interface AdamaxOptions extends BaseOptimizerOptions {
  /**
   * The step size: a number, a function called at each step, or a {@link LearningRateSchedule}
   * of the iteration count (Keras' `learning_rate`).
   * @default 0.001
   */
  learningRate?: HyperValue;
  /**
   * Decay rate of the first-moment estimates (Keras' `beta_1`).
   * @default 0.9
   */
  beta1?: HyperValue;
  /**
   * Decay rate of the exponentially weighted infinity norm (Keras' `beta_2`).
   * @default 0.999
   */
  beta2?: HyperValue;
  /**
   * A small constant for numerical stability; 0 becomes 1e-7, as in Keras.
   * @default 1e-7
   */
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
 * (only the indexed rows change). Slots: `m`, then `v`.
 *
 * @example
 * ```ts
 * await ready();
 * const w = new Variable(new Float32Array([1, 2, 3, 4]), { name: 'w' });
 * const opt = new Adamax({ learningRate: 0.002 });
 * opt.applyGradients([[new Float32Array([0.1, 0.2, 0.3, 0.4]), w]]);
 * ```
 */
export class Adamax extends Optimizer {
  constructor(options: AdamaxOptions = {}) {
    super(SPEC, options as Record<string, unknown>);
  }
  /** The current {@link AdamaxOptions.beta1}: read it, or set a number, function or schedule for the next steps. */
  declare beta1: HyperValue;
  /** The current {@link AdamaxOptions.beta2}: read it, or set a number, function or schedule for the next steps. */
  declare beta2: HyperValue;
  /** The current {@link AdamaxOptions.epsilon}: read it, or set a number, function or schedule for the next steps. */
  declare epsilon: HyperValue;
}
