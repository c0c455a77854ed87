// Keras 3's AdamW (`keras.optimizers.AdamW`): Adam's options and config with a weight decay that
// defaults to 0.004 and must be given; its rule is the core registry's keras3-family AdamW.
import { MomentOptimizer } from './moments.js';
import type { Keras3Spec } from '../options.js';
import { ADAM_CONFIG, ADAM_SLOTS } from './adam.js';
import type { AdamConfig, AdamOptions } from './adam.js';

/** The options of {@link AdamW}: Adam's; `weightDecay` defaults to 0.004 and cannot be null. */
export type AdamWOptions = AdamOptions;

/** AdamW's Keras 3 config, as `getConfig()` returns it (Adam's keys). */
export type AdamWConfig = AdamConfig;

const SPEC: Keras3Spec = {
  className: 'AdamW',
  config: ADAM_CONFIG,
  slots: ADAM_SLOTS,
  weightDecay: 0.004,
  requiresWeightDecay: true,
};

/**
 * AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, `var -= var * weightDecay * lr`
 * before each update (default 0.004).
 *
 * @example
 * ```ts
 * await ready();
 * const w = new Variable(new Float32Array([1, 2]), { name: 'dense/kernel' });
 * const opt = new AdamW({ learningRate: 1e-3, weightDecay: 0.01 });
 * opt.applyGradients([[new Float32Array([0.1, -0.2]), w]]);
 * ```
 */
export class AdamW extends MomentOptimizer<AdamWOptions, AdamWConfig> {
  /** How the base class sees the class: Keras class name, config defaults, slots. */
  static readonly spec: Keras3Spec = SPEC;
  /** {@link AdamOptions.amsgrad} (fixed at construction). */
  declare readonly amsgrad: boolean;
}
