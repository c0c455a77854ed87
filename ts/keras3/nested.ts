// Values nested in a Keras 3 optimizer config: a learning rate (or, simdopt's extension, a
// weight decay) given as a schedule or a zero-argument function. A schedule is written and read
// as Keras 3's schedules module does (./schedules); a function as Keras writes one,
// `{module: 'builtins', class_name: 'function', config: <its name>, registered_name: 'function'}`,
// and read back from the user's `customObjects` by that name (as Keras' `custom_objects`).
import { ConfigError } from '../errors.js';
import { LearningRateSchedule } from '../schedules/index.js';
import { describeValue } from '../values.js';
import { Keras3Serialized, deserializeSchedule, serializeSchedule } from './schedules/index.js';

import type { Keras3Value } from './types.js';

/** A learning rate or weight decay (see {@link Keras3Value}). */
export type ScheduledValue = Keras3Value;

/** Keras' serialized form of a function (`config` is its name). */
export interface SerializedFunction {
  /** `'builtins'`. */
  module: 'builtins';
  /** `'function'`. */
  class_name: 'function';
  /** The function's name. */
  config: string;
  /** `'function'`. */
  registered_name: 'function';
}

/** How Keras 3 writes a schedule or function value in a config. */
export function serializeNested(v: LearningRateSchedule | (() => number)): Keras3Serialized | SerializedFunction {
  if (typeof v === 'function') return { module: 'builtins', class_name: 'function', config: v.name, registered_name: 'function' };
  return serializeSchedule(v);
}

/** Reads a nested serialized schedule or function (the value of config key `key`) back. */
export function deserializeNested(key: string, value: Record<string, unknown>, customObjects: Record<string, unknown>): LearningRateSchedule | (() => number) {
  if (value.module === 'builtins' && value.class_name === 'function') {
    const name = value.config;
    const fn = typeof name === 'string' && Object.prototype.hasOwnProperty.call(customObjects, name) ? customObjects[name] : undefined;
    if (typeof fn !== 'function') {
      throw new ConfigError(
        'UnknownClass',
        `Could not locate function '${typeof name === 'string' ? name : describeValue(name)}' (the \`${key}\` of the config): pass it in customObjects, as Keras' custom_objects.`,
      );
    }
    return fn as () => number;
  }
  return deserializeSchedule(value, customObjects);
}
