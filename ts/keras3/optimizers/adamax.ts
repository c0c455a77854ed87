// Keras 3's Adamax (`keras.optimizers.Adamax`); its rule is the core registry's keras3-family Adamax.
import type { Keras3Spec } from '../options.js';
import { MOMENT_CONFIG, MomentOptimizer } from './moments.js';
import type { MomentConfig, MomentOptions } from './moments.js';

/** The options of {@link Adamax}: those of the classes on Adam's moments. */
export type AdamaxOptions = MomentOptions;

/** Adamax's Keras 3 config, as `getConfig()` returns it. */
export type AdamaxConfig = MomentConfig;

const SPEC: Keras3Spec = {
  className: 'Adamax',
  config: MOMENT_CONFIG,
  slots: [{ name: 'momentum' }, { name: 'norm' }],
};

/**
 * Adamax, the infinity-norm variant of Adam, Keras 3's formulas.
 *
 * @example
 * ```ts
 * await ready();
 * const w = new Variable(new Float32Array([1, 2]), { name: 'dense/kernel' });
 * const opt = new Adamax({ learningRate: 2e-3 });
 * opt.applyGradients([[new Float32Array([0.1, -0.2]), w]]);
 * ```
 */
export class Adamax extends MomentOptimizer<AdamaxOptions, AdamaxConfig> {
  /** How the base class sees the class: Keras class name, config defaults, slots. */
  static readonly spec: Keras3Spec = SPEC;
}
