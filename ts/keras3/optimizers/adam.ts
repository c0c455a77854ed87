// Keras 3's Adam (`keras.optimizers.Adam`); its rule is the core registry's keras3-family Adam.
import type { Keras3Spec } from '../options.js';
import { MOMENT_CONFIG, MomentOptimizer } from './moments.js';
import type { MomentConfig, MomentOptions } from './moments.js';

/** The options of {@link Adam}: those of the classes on Adam's moments, and `amsgrad`. */
export interface AdamOptions extends MomentOptions {
  /**
   * The AMSGrad variant: a `velocity_hat` slot keeps the maximum second moment.
   * @default false
   */
  amsgrad?: boolean;
}

/** Adam's Keras 3 config, as `getConfig()` returns it. */
export type AdamConfig = MomentConfig & {
  /** {@link AdamOptions.amsgrad}. */
  amsgrad: boolean;
};

/** Adam's config keys and defaults (AdamW shares them). */
export const ADAM_CONFIG: Keras3Spec['config'] = [...MOMENT_CONFIG, ['amsgrad', false]];

/** Adam's slots (AdamW shares them). */
export const ADAM_SLOTS: Keras3Spec['slots'] = [{ name: 'momentum' }, { name: 'velocity' }, { name: 'velocity_hat', when: (c) => c.amsgrad === true }];

const SPEC: Keras3Spec = { className: 'Adam', config: ADAM_CONFIG, slots: ADAM_SLOTS };

/**
 * Adam (Kingma & Ba), Keras 3's formulas.
 *
 * @example
 * ```ts
 * await ready();
 * const w = new Variable(new Float32Array([1, 2]), { name: 'dense/kernel' });
 * const opt = new Adam({ learningRate: 1e-3, amsgrad: true });
 * opt.applyGradients([[new Float32Array([0.1, -0.2]), w]]);
 * ```
 */
export class Adam extends MomentOptimizer<AdamOptions, AdamConfig> {
  /** How the base class sees the class: Keras class name, config defaults, slots. */
  static readonly spec: Keras3Spec = SPEC;
  /** {@link AdamOptions.amsgrad} (fixed at construction). */
  declare readonly amsgrad: boolean;
}
