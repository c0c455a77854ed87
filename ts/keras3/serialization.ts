// Keras 3's `keras.optimizers.serialize / deserialize / get`: configs in Keras 3's format
// (`{module, class_name, config, registered_name}`), read whatever Keras 3 writes: class names
// match case-insensitively (as Keras lowercases them), `module` may be missing (TF 2.11-2.15's
// `{class_name, config}`) or another Keras module; user classes come from `customObjects`
// (by `registered_name`, then class name).
import { ConfigError } from '../errors.js';
import { describeValue } from '../values.js';
import { Optimizer } from './optimizer.js';
import { LossScaleOptimizer } from './wrappers/loss-scale-optimizer.js';
import { MultiOptimizer } from './wrappers/multi-optimizer.js';
import { Keras3OptimizerClass, keras3Classes } from './classes.js';
import type { Keras3Serialized } from './schedules/index.js';
import { pyStr, pythonJson } from './python.js';
import { registeredByClassName, registeredClass, registeredName } from './registration.js';

/** Keras 3's serialized optimizer. */
export interface SerializedOptimizer extends Keras3Serialized {
  /** Its `getConfig()`. */
  config: Record<string, unknown>;
}

/** Any optimizer of simdopt/keras3: a Keras 3 optimizer class, or a LossScaleOptimizer / MultiOptimizer around some. */
export type AnyOptimizer = Optimizer | LossScaleOptimizer | MultiOptimizer;

function isWrapper(x: unknown): x is LossScaleOptimizer | MultiOptimizer {
  return x instanceof LossScaleOptimizer || x instanceof MultiOptimizer;
}

/** Keras 3's `keras.optimizers.serialize(optimizer)`. */
export function serialize(optimizer: AnyOptimizer): SerializedOptimizer {
  if (isWrapper(optimizer)) return { module: 'keras.optimizers', class_name: optimizer.className, config: { ...optimizer.getConfig() }, registered_name: null };
  if (!(optimizer instanceof Optimizer)) throw new ConfigError('InvalidConfig', `serialize expects a Keras 3 optimizer of simdopt/keras3, got ${describeValue(optimizer)}`);
  if (optimizer.isCustom) {
    // As Keras writes a class defined in a script (`module` None): its registered name, or its class name.
    return { module: null, class_name: optimizer.className, config: optimizer.getConfig(), registered_name: registeredName(optimizer.constructor) ?? optimizer.className };
  }
  return { module: 'keras.optimizers', class_name: optimizer.className, config: optimizer.getConfig(), registered_name: null };
}

function own(o: object, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(o, key) ? (o as Record<string, unknown>)[key] : undefined;
}

/** The built-in class of a Keras class name, matched case-insensitively as Keras' deserialize
 * does (it lowercases the name). */
function builtin(className: string): { fromConfig(config: Record<string, unknown>, customObjects: Record<string, unknown>): AnyOptimizer } | undefined {
  const lower = className.toLowerCase();
  // The wrappers hold Keras 3 optimizers (their modules import this one: looked up when called).
  if (lower === 'lossscaleoptimizer') return LossScaleOptimizer;
  if (lower === 'multioptimizer') return MultiOptimizer;
  return keras3Classes.find((c) => c.spec.className.toLowerCase() === lower);
}

/**
 * Keras 3's `keras.optimizers.deserialize(config, custom_objects)`: builds the optimizer a
 * serialized config describes. Errors are ConfigErrors naming the problem; nothing is created.
 */
export function deserialize(config: Keras3Serialized | { class_name: string; config?: Record<string, unknown> }, customObjects: Record<string, unknown> = {}): AnyOptimizer {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new ConfigError('InvalidConfig', `expected {module, class_name, config, registered_name}, got ${describeValue(config)}`);
  }
  if (customObjects === null || typeof customObjects !== 'object') throw new ConfigError('InvalidConfig', `customObjects must be an object, got ${describeValue(customObjects)}`);
  const className = own(config, 'class_name');
  const registered = own(config, 'registered_name');
  const inner = own(config, 'config') ?? {};
  if (typeof className !== 'string') throw new ConfigError('InvalidConfig', `the config's class_name must be a string, got ${describeValue(className)}`);
  if (inner === null || typeof inner !== 'object' || Array.isArray(inner))
    throw new ConfigError('InvalidConfig', `the config of ${className} must be an object, got ${describeValue(inner)}`);
  // Keras: the registry by `registered_name` (the class name when the key is missing), then
  // `custom_objects` by registered name, then by class name.
  const key = registered === undefined ? className : registered;
  const custom =
    (typeof key === 'string' ? (registeredClass(key) ?? own(customObjects, key)) : undefined) ??
    own(customObjects, className) ??
    // (Older checkpoints store `registered_name: null`: a registered class is found by its class name.)
    (key === null ? registeredByClassName(className) : undefined);
  if (custom !== undefined && !(typeof custom === 'function' && (custom as { prototype?: unknown }).prototype instanceof Optimizer)) {
    throw new ConfigError('InvalidConfig', `custom object '${className}' is not a Keras 3 Optimizer class, got ${describeValue(custom)}`);
  }
  const cls = (custom as Keras3OptimizerClass | undefined) ?? builtin(className);
  if (!cls) throw new ConfigError('UnknownClass', `Could not interpret optimizer identifier: ${className}`);
  const opt: unknown = cls.fromConfig({ ...(inner as Record<string, unknown>) }, customObjects);
  if (!(opt instanceof Optimizer || isWrapper(opt))) throw new ConfigError('InvalidConfig', `${className}.fromConfig did not return a Keras 3 Optimizer`);
  return opt;
}

/**
 * Keras 3's `keras.optimizers.get(identifier)`: an optimizer is returned as is, a class name
 * (any case: `'adamw'`) or a serialized config is deserialized, null gives null.
 */
export function get<T extends AnyOptimizer>(identifier: T): T;
export function get(identifier: string | Keras3Serialized | { class_name: string; config?: Record<string, unknown> }): AnyOptimizer;
export function get(identifier: null | undefined): null;
export function get(identifier: unknown): AnyOptimizer | null {
  if (identifier === null || identifier === undefined) return null;
  if (identifier instanceof Optimizer || isWrapper(identifier)) return identifier;
  if (typeof identifier === 'string') {
    try {
      return deserialize({ class_name: identifier, config: {} });
    } catch (e) {
      if (e instanceof ConfigError && e.code === 'UnknownClass') throw new ConfigError('UnknownClass', `Could not interpret optimizer identifier: ${identifier}`);
      throw e;
    }
  }
  if (typeof identifier === 'object' && !Array.isArray(identifier)) return deserialize(identifier as Keras3Serialized);
  throw new ConfigError('InvalidConfig', `Could not interpret optimizer identifier: ${pyStr(identifier)}`);
}

/**
 * The JSON text Keras writes for a serialized object (`json.dumps`, as in `.keras` files):
 * Python's separators, floats as Python's `repr` (`128.0`, `1e-07`), the integer-valued keys
 * (`gradient_accumulation_steps`, `decay_steps`, ...) as integers.
 */
export function toKerasJson(serialized: Keras3Serialized | Record<string, unknown>): string {
  return pythonJson(serialized);
}
