// Rust rule: crates/simdopt-core/src/rules/lion.rs. Keras 3's Lion (Chen et al., 2023).
import { HyperparameterError } from '../../errors.js';
import { BuiltinOptimizer } from './builtin.js';
import { pyFloatRepr } from '../python.js';
import type { Keras3Spec } from '../options.js';
import type { Keras3BaseConfig, Keras3BaseOptions, Keras3Value } from '../types.js';

/** The options of {@link Lion}: Keras 3's arguments in camelCase, plus those of every optimizer. */
export interface LionOptions extends Keras3BaseOptions {
  /**
   * The step size: a number, a schedule of the step, or a zero-argument function.
   * @default 0.001
   */
  learningRate?: Keras3Value;
  /**
   * Mixes the gradient into the momentum for the step's sign; in (0, 1].
   * @default 0.9
   */
  beta1?: number;
  /**
   * Decay rate of the momentum.
   * @default 0.99
   */
  beta2?: number;
}

/** Lion's Keras 3 config, as `getConfig()` returns it. */
export type LionConfig = Keras3BaseConfig & {
  /** {@link LionOptions.beta1}. */
  beta_1: number;
  /** {@link LionOptions.beta2}. */
  beta_2: number;
};

const SPEC: Keras3Spec = {
  className: 'Lion',
  config: [
    ['learning_rate', 0.001],
    ['beta_1', 0.9],
    ['beta_2', 0.99],
  ],
  slots: [{ name: 'momentum' }],
  check: (c) => {
    const b = c.beta_1 as number;
    if (b <= 0 || b > 1) {
      throw new HyperparameterError(
        'InvalidHyperparameter',
        `Argument \`beta_1\` must be in the [0, 1] range. Otherwise, the optimizer degenerates to SignSGD. Received: beta_1=${pyFloatRepr(b)}.`,
      );
    }
  },
};

/**
 * Lion: `var -= lr * sign(beta1 * m + (1 - beta1) * g)`, then `m = beta2 * m + (1 - beta2) * g`.
 *
 * @example
 * ```ts
 * await ready();
 * const w = new Variable(new Float32Array([1, 2]), { name: 'dense/kernel' });
 * const opt = new Lion({ learningRate: 1e-4, weightDecay: 0.01 });
 * opt.applyGradients([[new Float32Array([0.1, -0.2]), w]]);
 * ```
 */
export class Lion extends BuiltinOptimizer<LionOptions, LionConfig> {
  /** How the base class sees the class: Keras class name, config defaults, slots. */
  static readonly spec: Keras3Spec = SPEC;
  /** {@link LionOptions.beta1}. */
  declare beta1: number;
  /** {@link LionOptions.beta2}. */
  declare beta2: number;
}
