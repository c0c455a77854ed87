// Rust rule: crates/simdopt-core/src/rules/keras3/lamb.rs. Keras 3's Lamb (You et al., 2019).
import type { Keras3Spec } from '../options.js';
import { MOMENT_CONFIG, MomentOptimizer } from './moments.js';
import type { MomentConfig, MomentOptions } from './moments.js';

/** The options of {@link Lamb}: those of the classes on Adam's moments. */
export type LambOptions = MomentOptions;

/** Lamb's Keras 3 config, as `getConfig()` returns it. */
export type LambConfig = MomentConfig;

const SPEC: Keras3Spec = {
  className: 'Lamb',
  config: MOMENT_CONFIG,
  slots: [{ name: 'momentum' }, { name: 'velocity' }],
};

/**
 * Lamb: Adam's moments and update `u = m̂ / (sqrt(v̂) + epsilon)`, scaled per variable by the
 * trust ratio `‖var‖ / ‖u‖` (1 when either norm is 0): `var -= ratio * lr * u`.
 *
 * @example
 * ```ts
 * await ready();
 * const w = new Variable(new Float32Array([1, 2]), { name: 'dense/kernel' });
 * const opt = new Lamb({ learningRate: 1e-3, weightDecay: 0.01 });
 * opt.applyGradients([[new Float32Array([0.1, -0.2]), w]]);
 * ```
 */
export class Lamb extends MomentOptimizer<LambOptions, LambConfig> {
  /** How the base class sees the class: Keras class name, config defaults, slots. */
  static readonly spec: Keras3Spec = SPEC;
}
