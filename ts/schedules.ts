// Learning-rate schedules (Keras' `tf.keras.optimizers.schedules`). A schedule is called with
import { ConfigError } from './errors.js';
// the optimizer's `iterations` before the step's increment and returns the learning rate.

/** Keras' serialized form of an object: `{class_name, config}`. */
export interface Serialized {
  class_name: string;
  config: Record<string, unknown>;
}

/** Base class of learning-rate schedules; subclass it for a custom schedule. */
export abstract class LearningRateSchedule {
  /** Keras class name used by `serialize` (defaults to the JS class name). */
  static className?: string;

  /** The learning rate at `step` (the optimizer's iterations, as a float32). */
  abstract call(step: number): number;

  /** Keras config of the schedule. */
  abstract getConfig(): Record<string, unknown>;

  /** Keras' `from_config`: `new cls(config)`. Subclasses with positional arguments override it. */
  static fromConfig(this: new (config: never) => LearningRateSchedule, config: Record<string, unknown>): LearningRateSchedule {
    return new this(config as never);
  }
}

/** Schedule classes by Keras class name, for `deserializeSchedule`. */
const scheduleRegistry = new Map<string, typeof LearningRateSchedule>();

/** Makes a schedule class known to `deserializeSchedule` under its Keras class name. */
export function registerSchedule(cls: typeof LearningRateSchedule, className = cls.className ?? cls.name): void {
  scheduleRegistry.set(className, cls);
}

/** Keras' `schedules.serialize`: `{class_name, config}`. */
export function serializeSchedule(s: LearningRateSchedule): Serialized {
  const cls = s.constructor as typeof LearningRateSchedule;
  return { class_name: cls.className ?? cls.name, config: s.getConfig() };
}

/** Keras' `schedules.deserialize`; `customObjects` maps class names to user classes. */
export function deserializeSchedule(config: Serialized, customObjects: Record<string, unknown> = {}): LearningRateSchedule {
  const cls = (customObjects[config.class_name] as typeof LearningRateSchedule | undefined) ?? scheduleRegistry.get(config.class_name);
  if (!cls) throw new ConfigError('UnknownClass', `Unknown decay: ${config.class_name}`);
  return (cls as unknown as { fromConfig(c: Record<string, unknown>): LearningRateSchedule }).fromConfig(config.config ?? {});
}
