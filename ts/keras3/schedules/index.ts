// Keras 3's learning-rate schedules for simdopt/keras3, and `keras.optimizers.schedules.serialize`
// / `deserialize` in Keras 3's format (`{module, class_name, config, registered_name}`).
import { ConfigError } from '../../errors.js';
import { LearningRateSchedule, scheduleClassName, scheduleRegistry } from '../../schedules/schedule.js';
import * as tf24 from '../../schedules/builtins.js';
import { describeValue } from '../../values.js';
import { CosineDecay, CosineDecayRestarts, ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay, PolynomialDecay } from './builtins.js';

export * from './builtins.js';

/** The module Keras 3 writes for its built-in schedules. */
export const SCHEDULES_MODULE = 'keras.optimizers.schedules';

/** Keras 3's serialized form of an object (`keras.saving.serialize_keras_object`). */
export interface Keras3Serialized {
  /** The Python module: `'keras.optimizers.schedules'` for a built-in schedule, `null` for a user class. */
  module: string | null;
  /** The class name (`'ExponentialDecay'`). */
  class_name: string;
  /** Its config (snake_case keys). */
  config: Record<string, unknown>;
  /** `null` for Keras' own classes; a user class's name, under which `deserialize` finds it in `customObjects`. */
  registered_name: string | null;
}

/** Keras 3's built-in schedules by class name (a plain object: importing this module has no side effects). */
const KERAS3_SCHEDULES: Readonly<Record<string, { fromConfig(config: Record<string, unknown>): LearningRateSchedule }>> = {
  ExponentialDecay,
  PiecewiseConstantDecay,
  PolynomialDecay,
  InverseTimeDecay,
  CosineDecay,
  CosineDecayRestarts,
};

/** Schedule classes Keras has under `keras.optimizers.schedules` (Keras 3's, and the TF 2.4 classes of
 * the root entry, which Keras 3 reads into its own class of that name). */
const BUILTIN_CLASSES: ReadonlySet<unknown> = new Set<unknown>([
  ...Object.values(KERAS3_SCHEDULES),
  tf24.ExponentialDecay,
  tf24.PiecewiseConstantDecay,
  tf24.PolynomialDecay,
  tf24.InverseTimeDecay,
  tf24.CosineDecay,
  tf24.CosineDecayRestarts,
]);

/**
 * Keras 3's `keras.optimizers.schedules.serialize`: `{module, class_name, config, registered_name}`.
 * A built-in schedule has module `'keras.optimizers.schedules'` and registered name `null`; a user
 * schedule class has module `null` and its class name as registered name (Keras 3 looks a
 * registered name up in `custom_objects` first, so Python code loads it with
 * `custom_objects={'<name>': cls}`).
 */
export function serializeSchedule(schedule: LearningRateSchedule): Keras3Serialized {
  if (!(schedule instanceof LearningRateSchedule)) {
    throw new ConfigError('InvalidConfig', `serializeSchedule expects a LearningRateSchedule, got ${describeValue(schedule)}`);
  }
  const cls = schedule.constructor as typeof LearningRateSchedule;
  const className = scheduleClassName(cls);
  const config = schedule.getConfig();
  if (BUILTIN_CLASSES.has(cls)) return { module: SCHEDULES_MODULE, class_name: className, config, registered_name: null };
  return { module: null, class_name: className, config, registered_name: className };
}

/**
 * Keras 3's `keras.optimizers.schedules.deserialize`. Reads Keras 3's format and the Keras 2 form
 * without `module`/`registered_name`. The class is found as Keras 3 finds it: in `customObjects`
 * under its registered name (else its class name), then among classes passed to
 * `registerSchedule`, then among Keras 3's built-in schedules (whose module, when given, must be
 * a `keras` module). An unknown class throws `ConfigError('UnknownClass')` with Keras 3's
 * "Could not locate class" message.
 */
export function deserializeSchedule(config: unknown, customObjects: Record<string, unknown> = {}): LearningRateSchedule {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new ConfigError('InvalidConfig', `Could not parse config: ${describeValue(config)}`);
  }
  const c = config as Record<string, unknown>;
  const className = c.class_name;
  const inner = c.config;
  const module = c.module;
  const registered = c.registered_name;
  if (typeof className !== 'string') throw new ConfigError('InvalidConfig', `Improper config format: class_name must be a string, got ${describeValue(className)}`);
  if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) {
    throw new ConfigError('InvalidConfig', `Expected 'config' to be a dict for ${className}, instead got ${describeValue(inner)}`);
  }
  if (customObjects === null || typeof customObjects !== 'object') {
    throw new ConfigError('InvalidConfig', `customObjects must be an object, got ${describeValue(customObjects)}`);
  }
  const lookupName = typeof registered === 'string' ? registered : className;
  const own = (name: string) => (Object.prototype.hasOwnProperty.call(customObjects, name) ? customObjects[name] : undefined);
  const kerasModule = module === undefined || module === null || (typeof module === 'string' && (module === 'keras' || module.startsWith('keras.')));
  const builtin = kerasModule && Object.prototype.hasOwnProperty.call(KERAS3_SCHEDULES, className) ? KERAS3_SCHEDULES[className] : undefined;
  const cls = own(lookupName) ?? own(className) ?? scheduleRegistry.get(lookupName) ?? scheduleRegistry.get(className) ?? builtin;
  if (cls === undefined) {
    throw new ConfigError(
      'UnknownClass',
      `Could not locate class '${className}'. Make sure custom classes are passed in \`customObjects\` or registered with \`registerSchedule\`.`,
    );
  }
  const fromConfig = typeof cls === 'function' ? (cls as { fromConfig?: unknown }).fromConfig : undefined;
  if (typeof fromConfig !== 'function') {
    throw new ConfigError('InvalidConfig', `Unable to reconstruct an instance of '${className}' because the class is missing a \`fromConfig()\` method`);
  }
  const s: unknown = fromConfig.call(cls, inner);
  if (!(s instanceof LearningRateSchedule)) throw new ConfigError('InvalidConfig', `${className}.fromConfig did not return a LearningRateSchedule`);
  return s;
}
