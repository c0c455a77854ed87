// Keras 3's Nadam (`keras.optimizers.Nadam`); its rule is the core registry's keras3-family Nadam.
import type { Keras3Spec } from '../options.js';
import { MOMENT_CONFIG, MomentOptimizer } from './moments.js';
import type { MomentConfig, MomentOptions } from './moments.js';

/** The options of {@link Nadam}: those of the classes on Adam's moments. */
export type NadamOptions = MomentOptions;

/** Nadam's Keras 3 config, as `getConfig()` returns it. */
export type NadamConfig = MomentConfig;

const SPEC: Keras3Spec = {
  className: 'Nadam',
  config: MOMENT_CONFIG,
  slots: [{ name: 'momentum' }, { name: 'velocity' }],
};

/**
 * Keras 3's Nadam (Adam with Nesterov momentum): the momentum cache `u_t = beta1 * (1 - 0.5 * 0.96^t)` and its running product `u_product`, an optimizer variable.
 *
 * @example
 * ```ts
 * await ready();
 * const w = new Variable(new Float32Array([1, 2]), { name: 'dense/kernel' });
 * const opt = new Nadam({ learningRate: 2e-3 });
 * opt.applyGradients([[new Float32Array([0.1, -0.2]), w]]);
 * ```
 */
export class Nadam extends MomentOptimizer<NadamOptions, NadamConfig> {
  /** How the base class sees the class: Keras class name, config defaults, slots. */
  static readonly spec: Keras3Spec = SPEC;
}
