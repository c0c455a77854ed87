// The Keras 3 objects `serialize` and `deserialize` know besides the optimizer classes:
// learning-rate schedules, wrappers, user classes. Each is registered under its Keras module and
// class name; `serialize` finds an instance's entry by its class (or a parent class), so a config
// nested in an optimizer's (a schedule-valued `learning_rate` or `weight_decay`) is written as
// `{module, class_name, config, registered_name}` and read back by `deserialize`.
// (A leaf module: the optimizer base and the classes import it, it imports none of them.)
import { ConfigError } from '../errors.js';
import { describeValue } from '../values.js';

/** Keras 3's serialized form of an object (`keras.saving.serialize_keras_object`). */
export interface Keras3Serialized {
  /** The Keras module (`keras.optimizers`, `keras.optimizers.schedules`); null for user classes. */
  module: string | null;
  /** The class name (`Adam`, `CosineDecay`). */
  class_name: string;
  /** Its config (snake_case keys). For a function (`module: 'builtins'`), its name. */
  config: Record<string, unknown> | string;
  /** The name the class is registered under (null for Keras' own classes). */
  registered_name: string | null;
}

/** A class `serialize` and `deserialize` know (see {@link registerKeras3Object}). */
export interface Keras3ObjectEntry {
  /** Keras module of the class (`keras.optimizers.schedules`). */
  module: string;
  /** Keras class name. */
  className: string;
  /** The JavaScript class: an instance of it (or of a subclass without an entry) serializes under this entry. */
  cls: abstract new (...args: never[]) => object;
  /** Builds an instance from a config (nested objects in it still serialized). */
  fromConfig(config: Record<string, unknown>, customObjects: Record<string, unknown>): object;
  /** The instance's config (default: its `getConfig()`). */
  getConfig?(instance: object): Record<string, unknown>;
}

const byName = new Map<string, Keras3ObjectEntry>();
const byClass = new Map<unknown, Keras3ObjectEntry>();

/**
 * Makes a class known to `serialize` / `deserialize` of `simdopt/keras3` under its Keras module
 * and class name (schedules, wrappers; a later registration of the same name replaces it).
 */
export function registerKeras3Object(entry: Keras3ObjectEntry): void {
  if (entry === null || typeof entry !== 'object' || typeof entry.module !== 'string' || typeof entry.className !== 'string' || typeof entry.cls !== 'function') {
    throw new ConfigError('InvalidConfig', `registerKeras3Object expects {module, className, cls, fromConfig}, got ${describeValue(entry)}`);
  }
  if (typeof entry.fromConfig !== 'function') throw new ConfigError('InvalidConfig', `registerKeras3Object: ${entry.className} has no fromConfig`);
  byName.set(`${entry.module}:${entry.className}`, entry);
  byClass.set(entry.cls, entry);
}

/** The entry of `module` + `className`, or (module unknown or not Keras') of the class name in
 * any Keras module; undefined if none. */
export function keras3Entry(module: unknown, className: string): Keras3ObjectEntry | undefined {
  if (typeof module === 'string') {
    const exact = byName.get(`${module}:${className}`);
    if (exact) return exact;
  }
  for (const e of byName.values()) if (e.className === className) return e;
  // Keras' deserialize lowercases optimizer class names (`lossscaleoptimizer`).
  const lower = className.toLowerCase();
  for (const e of byName.values()) if (e.className.toLowerCase() === lower) return e;
  return undefined;
}

/** The entry of an instance's class or nearest registered parent class. */
export function entryOf(x: object): Keras3ObjectEntry | undefined {
  for (let p: unknown = Object.getPrototypeOf(x); p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    const e = byClass.get((p as { constructor: unknown }).constructor);
    if (e) return e;
  }
  return undefined;
}
