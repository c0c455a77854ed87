// Keras' `tf.keras.optimizers.serialize / deserialize / get`: configs in Keras' own format
// (`{class_name, config}`, snake_case keys), so configs move between Python Keras and here.
import { ConfigError } from './errors.js';
import { Optimizer } from './optimizer/index.js';
import { describeValue } from './values.js';
import { Serialized } from './schedules/index.js';
import { BuiltinOptimizerClass, optimizerClasses } from './optimizers/index.js';
import { deserialize as deserializeKeras3 } from './keras3/serialization.js';

/** Built-in optimizers by lower-case Keras class name (Keras matches them case-insensitively,
 * so `rmsprop` also serves Keras' `RMSProp` alias). */
const BUILTINS: ReadonlyMap<string, BuiltinOptimizerClass> = new Map(optimizerClasses.map((c) => [c.spec.className.toLowerCase(), c]));

/** `{class_name, config}` of an optimizer; a Keras 3 optimizer (`simdopt/keras3`) in Keras 3's
 * format, `{module, class_name, config, registered_name}`. */
export function serialize(optimizer: Optimizer): Serialized {
  const module = (optimizer as { kerasModule?: unknown }).kerasModule;
  if (typeof module === 'string') return { module, class_name: optimizer.className, config: optimizer.getConfig(), registered_name: null } as Serialized;
  return { class_name: optimizer.className, config: optimizer.getConfig() };
}

/** Builds an optimizer from `{class_name, config}`; built-in names match case-insensitively,
 * user classes come from `customObjects`. */
export function deserialize(config: Serialized, customObjects: Record<string, unknown> = {}): Optimizer {
  if (config === null || typeof config !== 'object' || typeof config.class_name !== 'string') {
    throw new ConfigError('InvalidConfig', `expected {class_name, config}, got ${describeValue(config)}`);
  }
  if (customObjects === null || typeof customObjects !== 'object') {
    throw new ConfigError('InvalidConfig', `customObjects must be an object, got ${describeValue(customObjects)}`);
  }
  // Keras 3 writes the module: such a config is a class of simdopt/keras3.
  if (typeof (config as { module?: unknown }).module === 'string') return deserializeKeras3(config as Parameters<typeof deserializeKeras3>[0], customObjects);
  const custom = Object.prototype.hasOwnProperty.call(customObjects, config.class_name) ? customObjects[config.class_name] : undefined;
  if (custom !== undefined && !(typeof custom === 'function' && (custom as { prototype?: unknown }).prototype instanceof Optimizer)) {
    throw new ConfigError('InvalidConfig', `custom object '${config.class_name}' is not an Optimizer class, got ${describeValue(custom)}`);
  }
  const cls = (custom as BuiltinOptimizerClass | undefined) ?? BUILTINS.get(config.class_name.toLowerCase());
  if (!cls) throw new ConfigError('UnknownClass', `Unknown optimizer: ${config.class_name}`);
  const opt: unknown = cls.fromConfig(config.config ?? {}, customObjects);
  if (!(opt instanceof Optimizer)) throw new ConfigError('InvalidConfig', `${config.class_name}.fromConfig did not return an Optimizer`);
  return opt;
}

/** Keras' `optimizers.get`: an optimizer is returned as is, a name or `{class_name, config}` is
 * deserialized. */
export function get(identifier: Optimizer | string | Serialized): Optimizer {
  if (identifier instanceof Optimizer) return identifier;
  if (typeof identifier === 'string') return deserialize({ class_name: identifier, config: {} });
  if (identifier && typeof identifier === 'object') return deserialize(identifier);
  throw new ConfigError('InvalidConfig', `Could not interpret optimizer identifier: ${describeValue(identifier)}`);
}
