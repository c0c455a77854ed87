// The base class of learning-rate schedules, their Keras serialized form, and the user classes
// registered for deserialization.
/** Keras' serialized form of an object: `{class_name, config}`. */
export interface Serialized {
  /** The class name (`'Adam'`, `'ExponentialDecay'`). */
  class_name: string;
  /** Its config (snake_case keys). */
  config: Record<string, unknown>;
}

/** Base class of learning-rate schedules; subclass it for a custom schedule. */
export abstract class LearningRateSchedule {
  /** Keras class name used by `serialize` (defaults to the JS class name). Only a class's own
   * `className` counts, so a subclass of a built-in schedule serializes under its own name. */
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

/** Schedule classes registered by the user with `registerSchedule`, by Keras class name. */
export const scheduleRegistry = new Map<string, typeof LearningRateSchedule>();

/** Makes a schedule class known to `deserializeSchedule` under its Keras class name (Keras'
 * `register_keras_serializable`). The built-in schedules need no registration. */
export function registerSchedule(cls: typeof LearningRateSchedule, className = scheduleClassName(cls)): void {
  scheduleRegistry.set(className, cls);
}

/** The Keras class name of a schedule class: its own static `className`, else its JS name. */
export function scheduleClassName(cls: typeof LearningRateSchedule): string {
  return Object.prototype.hasOwnProperty.call(cls, 'className') && typeof cls.className === 'string' ? cls.className : cls.name;
}

/** Keras' `schedules.serialize`: `{class_name, config}`. */
export function serializeSchedule(s: LearningRateSchedule): Serialized {
  return { class_name: scheduleClassName(s.constructor as typeof LearningRateSchedule), config: s.getConfig() };
}
