// Rust rule: crates/simdopt-core/src/rules/keras3/adafactor.rs. Keras 3's Adafactor (Shazeer &
// Stern, 2018).
import { BuiltinOptimizer } from './builtin.js';
import type { Keras3Spec } from '../options.js';
import { kerasSlotPath } from '../weights.js';
import type { Keras3BaseConfig, Keras3BaseOptions, Keras3Value } from '../types.js';

/** The options of {@link Adafactor}: Keras 3's arguments in camelCase, plus those of every optimizer. */
export interface AdafactorOptions extends Keras3BaseOptions {
  /**
   * The step size (capped at `1/sqrt(t)`): a number, a schedule of the step, or a zero-argument function.
   * @default 0.001
   */
  learningRate?: Keras3Value;
  /**
   * The second-moment decay is `1 - t^beta2Decay`.
   * @default -0.8
   */
  beta2Decay?: number;
  /**
   * Added to the squared gradient.
   * @default 1e-30
   */
  epsilon1?: number;
  /**
   * The floor of the variable's RMS in the step size.
   * @default 1e-3
   */
  epsilon2?: number;
  /**
   * The update's RMS is clipped to this.
   * @default 1.0
   */
  clipThreshold?: number;
  /**
   * Kept for the config: in Keras 3.15.1 the step is `min(lr, 1/sqrt(t))` either way.
   * @default true
   */
  relativeStep?: boolean;
}

/** Adafactor's Keras 3 config, as `getConfig()` returns it. */
export type AdafactorConfig = Keras3BaseConfig & {
  /** {@link AdafactorOptions.beta2Decay}. */
  beta_2_decay: number;
  /** {@link AdafactorOptions.epsilon1}. */
  epsilon_1: number;
  /** {@link AdafactorOptions.epsilon2}. */
  epsilon_2: number;
  /** {@link AdafactorOptions.clipThreshold}. */
  clip_threshold: number;
  /** {@link AdafactorOptions.relativeStep}. */
  relative_step: boolean;
};

const SPEC: Keras3Spec = {
  className: 'Adafactor',
  config: [
    ['learning_rate', 0.001],
    ['beta_2_decay', -0.8],
    ['epsilon_1', 1e-30],
    ['epsilon_2', 1e-3],
    ['clip_threshold', 1.0],
    ['relative_step', true],
  ],
  slots: [{ name: 'r' }, { name: 'c' }, { name: 'velocity' }],
  // Keras names the factored second moments after the variable's name alone
  // (`adafactor/kernel`), the velocity as any slot (`adafactor/dense_kernel_velocity`).
  weightPath: (optimizer, variable, slot) =>
    slot === 'r' || slot === 'c' ? `${optimizer}/${variable.slice(variable.lastIndexOf('/') + 1)}` : kerasSlotPath(optimizer, variable, slot),
};

/**
 * Adafactor: second moments factored into row and column means for variables of rank ≥ 2 (over
 * their last two axes), no first moment, a step of `max(epsilon2, RMS(var)) * min(lr, 1/sqrt(t))`
 * and the update's RMS clipped to `clipThreshold`.
 *
 * @example
 * ```ts
 * await ready();
 * const w = new Variable(new Float32Array([1, 2, 3, 4]), { shape: [2, 2], name: 'dense/kernel' });
 * const opt = new Adafactor({ learningRate: 0.01 });
 * opt.applyGradients([[new Float32Array([0.1, -0.2, 0.3, 0.4]), w]]);
 * ```
 */
export class Adafactor extends BuiltinOptimizer<AdafactorOptions, AdafactorConfig> {
  /** How the base class sees the class: Keras class name, config defaults, slots. */
  static readonly spec: Keras3Spec = SPEC;
  /** {@link AdafactorOptions.beta2Decay}. */
  declare beta2Decay: number;
  /** {@link AdafactorOptions.epsilon1}. */
  declare epsilon1: number;
  /** {@link AdafactorOptions.epsilon2}. */
  declare epsilon2: number;
  /** {@link AdafactorOptions.clipThreshold}. */
  declare clipThreshold: number;
  /** {@link AdafactorOptions.relativeStep} (fixed at construction). */
  declare readonly relativeStep: boolean;
}
