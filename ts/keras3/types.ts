// The public types of the Keras 3 classes' options and configs.
import type { LearningRateSchedule } from '../schedules/index.js';
import type { Serialized } from '../schedules/index.js';

/** A learning rate or weight decay: a number, a schedule of the step count, or a zero-argument
 * function called before each step. */
export type Keras3Value = number | LearningRateSchedule | (() => number);

/** The options every Keras 3 optimizer takes (Keras 3's base keyword arguments, in camelCase;
 * null means Python's None). */
export interface Keras3BaseOptions {
  /**
   * The optimizer's name (variable paths start with it); must not contain `/`.
   * @default the class name in snake_case, numbered from the second instance (`adam`, `adam_1`)
   */
  name?: string | null;
  /**
   * Decoupled weight decay: `var -= var * weightDecay * lr` before each update. A number, or
   * (simdopt extension, not in Keras 3) a {@link LearningRateSchedule} of the step or a
   * zero-argument function, resolved before each step and serialized like a schedule-valued
   * learning rate.
   * @default null (AdamW and Muon: 0.004)
   */
  weightDecay?: Keras3Value | null;
  /** Clip each gradient to this L2 norm (applied when > 0). At most one clip option. */
  clipnorm?: number | null;
  /** Clip each gradient element to [-clipvalue, clipvalue] (applied when > 0). */
  clipvalue?: number | null;
  /** Clip all gradients together to this global L2 norm (applied when > 0). */
  globalClipnorm?: number | null;
  /**
   * Keep an exponential moving average of the variables (`finalizeVariableValues` copies it in).
   * @default false
   */
  useEma?: boolean;
  /**
   * `average = emaMomentum * average + (1 - emaMomentum) * variable` (with `useEma`).
   * @default 0.99
   */
  emaMomentum?: number;
  /** With `useEma`: every that many updates, the variables are set to their averages. */
  emaOverwriteFrequency?: number | null;
  /** Gradients are divided by it first (the loss was multiplied by it). */
  lossScaleFactor?: number | null;
  /** Update every N-th call with the mean of the N gradients (N >= 2). */
  gradientAccumulationSteps?: number | null;
  /** Accepted and ignored, as Keras 3 ignores it (it warns). */
  decay?: number | null;
  /**
   * simdopt's storage of the moment slots, as on the root classes: `'float32'` (Keras' numbers),
   * `'bfloat16'` or `'int8'` (block-wise 8-bit); variables under 4,096 elements keep f32 slots,
   * and the EMA averages and gradient accumulators are always f32. For SGD (with momentum),
   * RMSprop, Adam, AdamW, Adagrad, Adamax, Nadam and Lion; others throw a ConfigError
   * (`UnsupportedSlotDtype`) naming those. Not in the Keras config; checkpoints keep it.
   * @default 'float32'
   */
  slotDtype?: 'float32' | 'bfloat16' | 'int8';
}

/** What every Keras 3 optimizer's `getConfig()` holds (Keras 3's keys, in its order). */
export type Keras3BaseConfig = {
  /** The optimizer's name. */
  name: string;
  /** A number (its float32 value, as Keras writes it), or a serialized schedule or function. */
  learning_rate: number | Serialized | Record<string, unknown>;
  /** A number, null, or a serialized schedule or function (simdopt extension). */
  weight_decay: number | null | Record<string, unknown>;
  /** As given (null: off). */
  clipnorm: number | null;
  /** As given (null: off). */
  global_clipnorm: number | null;
  /** As given (null: off). */
  clipvalue: number | null;
  /** Whether EMA is on. */
  use_ema: boolean;
  /** The EMA momentum. */
  ema_momentum: number;
  /** The EMA overwrite frequency, or null. */
  ema_overwrite_frequency: number | null;
  /** The loss scale factor, or null. */
  loss_scale_factor: number | null;
  /** The accumulation steps, or null. */
  gradient_accumulation_steps: number | null;
};
