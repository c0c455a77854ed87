// Values nested in a Keras 3 optimizer config: a learning rate (or, simdopt's extension, a
// weight decay) given as a schedule or a zero-argument function. Written as Keras 3 writes them
// (`{module, class_name, config, registered_name}`; a function as `{module: 'builtins',
// class_name: 'function', config: <its name>, registered_name: 'function'}`), read back through
// the user's `customObjects` first, then the registered Keras 3 objects.
import { ConfigError } from '../errors.js';
import { LearningRateSchedule } from '../schedules/index.js';
import { scheduleClassName } from '../schedules/schedule.js';
import { describeValue } from '../values.js';
import { Keras3Serialized, entryOf, keras3Entry } from './registry.js';

/** A learning rate or weight decay: a number, a schedule of the step, or a function called at each step. */
export type ScheduledValue = number | LearningRateSchedule | (() => number);

/** How Keras 3 writes a schedule or function value in a config. */
export function serializeNested(v: LearningRateSchedule | (() => number)): Keras3Serialized {
  if (typeof v === 'function') return { module: 'builtins', class_name: 'function', config: v.name, registered_name: 'function' };
  const entry = entryOf(v);
  if (entry) return { module: entry.module, class_name: entry.className, config: entry.getConfig ? entry.getConfig(v) : v.getConfig(), registered_name: null };
  // A user schedule: Keras writes its class as registered (`customObjects` resolves it).
  const name = scheduleClassName(v.constructor as typeof LearningRateSchedule);
  return { module: null, class_name: name, config: v.getConfig(), registered_name: name };
}

function own(o: Record<string, unknown>, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(o, key) ? o[key] : undefined;
}

/**
 * Reads a nested `{module, class_name, config, registered_name}` (the value of config key `key`)
 * back into a schedule or function. A dict without `module` is refused, as Keras 3 refuses it (a
 * TF 2 / tf.keras config: Keras 3 writes the module).
 */
export function deserializeNested(key: string, value: Record<string, unknown>, customObjects: Record<string, unknown>): LearningRateSchedule | (() => number) {
  const className = own(value, 'class_name');
  const module = own(value, 'module');
  const config = own(value, 'config');
  if (typeof className !== 'string') throw new ConfigError('InvalidConfig', `\`${key}\` must be a number or a serialized object {module, class_name, config}, got ${describeValue(value)}`);
  const registered = own(value, 'registered_name');
  if (module === 'builtins' && className === 'function') {
    const fn = typeof config === 'string' ? own(customObjects, config) : undefined;
    if (typeof fn !== 'function') {
      throw new ConfigError('UnknownClass', `Could not locate function '${String(config)}' (the \`${key}\` of the config): pass it in customObjects, as Keras' custom_objects.`);
    }
    return fn as () => number;
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new ConfigError('InvalidConfig', `the \`${key}\` object ${className} has no config object, got ${describeValue(config)}`);
  }
  const custom = own(customObjects, typeof registered === 'string' ? registered : className) ?? own(customObjects, className);
  let made: unknown;
  if (custom !== undefined) {
    const fromConfig = typeof custom === 'function' ? (custom as { fromConfig?: unknown }).fromConfig : undefined;
    if (typeof fromConfig !== 'function') throw new ConfigError('InvalidConfig', `custom object '${className}' has no static fromConfig, got ${describeValue(custom)}`);
    made = fromConfig.call(custom, config, customObjects);
  } else {
    if (module === undefined) {
      throw new ConfigError(
        'InvalidConfig',
        `the \`${key}\` ${className} has no \`module\` (a TF 2 / tf.keras config?): Keras 3 writes {module, class_name, config, registered_name} and cannot read it either`,
      );
    }
    const entry = keras3Entry(module, className);
    if (!entry) throw new ConfigError('UnknownClass', `Could not locate class '${className}' (the \`${key}\` of the config): pass it in customObjects, or import the module that registers it.`);
    made = entry.fromConfig(config as Record<string, unknown>, customObjects);
  }
  if (!(made instanceof LearningRateSchedule)) throw new ConfigError('InvalidConfig', `the \`${key}\` ${className} is not a LearningRateSchedule, got ${describeValue(made)}`);
  return made;
}
