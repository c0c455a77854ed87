// Keras' `tf.keras.optimizers.serialize / deserialize / get`: configs in Keras' own format
// (`{class_name, config}`, snake_case keys), so configs move between Python Keras and here.
import { optimizerConfigFormat } from './config-format.js';
import { ConfigError } from './errors.js';
import { Optimizer } from './optimizer/index.js';
import { describeValue } from './values.js';
import { Serialized } from './schedules/index.js';
import { BuiltinOptimizerClass, optimizerClasses } from './optimizers/index.js';

/** Built-in optimizers by lower-case Keras class name (Keras matches them case-insensitively,
 * so `rmsprop` also serves Keras' `RMSProp` alias). */
const BUILTINS: ReadonlyMap<string, BuiltinOptimizerClass> = new Map(optimizerClasses.map((c) => [c.spec.className.toLowerCase(), c]));

/** `{class_name, config}` of an optimizer; a Keras 3 optimizer (`simdopt/keras3`) in Keras 3's
 * format, `{module, class_name, config, registered_name}`. */
export function serialize(optimizer: Optimizer): Serialized {
  // Only simdopt/keras3's classes have a module, and importing them set the loader.
  if (typeof (optimizer as { kerasModule?: unknown }).kerasModule === 'string' && keras3Loader) return keras3Loader.serialize(optimizer);
  return { class_name: optimizer.className, config: optimizer.getConfig() };
}

/**
 * What `simdopt/keras3` registers when it is imported, so that the root `deserialize` / `get` can
 * hand it Keras 3 configs without the root entry importing the Keras 3 family.
 * @internal
 */
export interface Keras3Loader {
  /** `simdopt/keras3`'s `deserialize` (an Optimizer, or one of its wrappers). */
  deserialize(serialized: Record<string, unknown>, customObjects: Record<string, unknown>): unknown;
  /** `simdopt/keras3`'s `serialize` (Keras 3's format; a custom class's registered name). */
  serialize(optimizer: Optimizer): Serialized;
}

let keras3Loader: Keras3Loader | undefined;

/** Called by `simdopt/keras3` when it is imported. @internal */
export function setKeras3Loader(loader: Keras3Loader): void {
  keras3Loader = loader;
}

/**
 * Builds an optimizer from a serialized one; built-in names match case-insensitively, user
 * classes come from `customObjects`.
 *
 * - `{class_name, config}` as TF 2.4 writes it: the TF 2.4 class, as always.
 * - An OptimizerV2 config of TF 2.5–2.10 (or tf-keras' `keras.optimizers.legacy`): the TF 2.4
 *   class, when every key TF 2.4 did not have holds its "off" value (`weight_decay: null`,
 *   `use_ema: false`, ...); otherwise a ConfigError naming the key.
 * - A Keras 3 config (`module` / `registered_name`, keys only Keras 3 writes such as `use_ema`,
 *   or a class only Keras 3 has such as `AdamW`), or a TF 2.11–2.15 one: the `simdopt/keras3`
 *   class, once `simdopt/keras3` has been imported (the root entry does not load the Keras 3
 *   family by itself); before that, a ConfigError saying to import it.
 */
export function deserialize(config: Serialized & { module?: string | null; registered_name?: string | null }, customObjects: Record<string, unknown> = {}): Optimizer {
  if (customObjects === null || typeof customObjects !== 'object') {
    throw new ConfigError('InvalidConfig', `customObjects must be an object, got ${describeValue(customObjects)}`);
  }
  const format = optimizerConfigFormat(config);
  const custom = Object.prototype.hasOwnProperty.call(customObjects, format.className) ? customObjects[format.className] : undefined;
  const rootClass = typeof custom === 'function' && (custom as { prototype?: unknown }).prototype instanceof Optimizer;
  if (format.kind === 'keras3' && !rootClass) {
    if (keras3Loader) {
      const opt = keras3Loader.deserialize(format.serialized, customObjects);
      // LossScaleOptimizer / MultiOptimizer are not Optimizers: simdopt/keras3's deserialize returns them.
      if (!(opt instanceof Optimizer)) {
        throw new ConfigError('InvalidConfig', `${format.className}: a Keras 3 wrapper optimizer; load it with \`deserialize\` from 'simdopt/keras3'`);
      }
      return opt;
    }
    throw new ConfigError(
      'InvalidConfig',
      `${format.className}: ${format.reason}; the root entry 'simdopt' has TF 2.4's classes. Import 'simdopt/keras3' and use its deserialize (once imported, this deserialize and get load Keras 3 configs too).`,
    );
  }
  if (custom !== undefined && !rootClass) {
    throw new ConfigError('InvalidConfig', `custom object '${format.className}' is not an Optimizer class, got ${describeValue(custom)}`);
  }
  const cls = (custom as BuiltinOptimizerClass | undefined) ?? BUILTINS.get(format.className.toLowerCase());
  if (!cls) throw new ConfigError('UnknownClass', `Unknown optimizer: ${format.className}`);
  // A user class gets its config as written (its own keys may share a name with Keras 3's).
  const inner = format.kind === 'tf24' && custom === undefined ? format.config : format.raw;
  const opt: unknown = cls.fromConfig(inner, customObjects);
  if (!(opt instanceof Optimizer)) throw new ConfigError('InvalidConfig', `${format.className}.fromConfig did not return an Optimizer`);
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
