// Keras 3's SGD (`keras.optimizers.SGD`); its rule is the core registry's keras3-family SGD.
import { HyperparameterError } from '../../errors.js';
import { BuiltinOptimizer } from './builtin.js';
import type { Keras3Spec } from '../options.js';
import type { Keras3BaseConfig, Keras3BaseOptions, Keras3Value } from '../types.js';

/** The options of {@link SGD}: Keras 3's arguments in camelCase, plus those of every optimizer. */
export interface SGDOptions extends Keras3BaseOptions {
  /**
   * The step size: a number, a schedule of the step, or a zero-argument function.
   * @default 0.01
   */
  learningRate?: Keras3Value;
  /**
   * Accelerates the descent: `m = momentum * m - lr * g`; in [0, 1]. 0 keeps no momentum slot.
   * @default 0.0
   */
  momentum?: number;
  /**
   * Nesterov momentum.
   * @default false
   */
  nesterov?: boolean;
}

/** SGD's Keras 3 config, as `getConfig()` returns it. */
export type SGDConfig = Keras3BaseConfig & {
  /** {@link SGDOptions.momentum}. */
  momentum: number;
  /** {@link SGDOptions.nesterov}. */
  nesterov: boolean;
};

const SPEC: Keras3Spec = {
  className: 'SGD',
  config: [
    ['learning_rate', 0.01],
    ['momentum', 0.0],
    ['nesterov', false],
  ],
  slots: [{ name: 'momentum', when: (c) => typeof c.momentum === 'number' && c.momentum > 0 }],
  check: (c) => {
    const m = c.momentum;
    if (typeof m !== 'number' || m < 0 || m > 1) throw new HyperparameterError('InvalidHyperparameter', '`momentum` must be a float between [0, 1].');
  },
};

/**
 * Gradient descent with optional (Nesterov) momentum, Keras 3's `SGD`.
 *
 * @example
 * ```ts
 * await ready();
 * const w = new Variable(new Float32Array([1, 2]), { name: 'dense/kernel' });
 * const opt = new SGD({ learningRate: 0.1, momentum: 0.9, nesterov: true });
 * opt.applyGradients([[new Float32Array([0.1, -0.2]), w]]);
 * ```
 */
export class SGD extends BuiltinOptimizer<SGDOptions, SGDConfig> {
  /** How the base class sees the class: Keras class name, config defaults, slots. */
  static readonly spec: Keras3Spec = SPEC;
  /** {@link SGDOptions.momentum}. */
  declare momentum: number;
  /** {@link SGDOptions.nesterov} (fixed at construction). */
  declare readonly nesterov: boolean;
}
