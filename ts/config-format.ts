// Which Keras the optimizer config given to the root `deserialize` / `get` comes from, so that
// TF 2.4 configs keep loading exactly as before, OptimizerV2 configs written by later TensorFlow
// versions load into the same TF 2.4 classes, and Keras 3 configs reach `simdopt/keras3`.
//
//   TF 2.4–2.10 (OptimizerV2)   {class_name, config: {name, learning_rate, decay, ...}}
//   tf-keras `.legacy`          the same inside {module: 'keras.optimizers.legacy', ..., registered_name}
//   TF 2.11–2.15 (new)          {module: 'keras.optimizers', ..., config: {..., jit_compile, is_legacy_optimizer: false}}
//   Keras 3                     {module: 'keras.optimizers', class_name, config: {..., loss_scale_factor, ...}, registered_name}
//
// Every value of the user's config object is read once, here: the result holds a plain copy of
// the inner config that the loaders use.
import { ConfigError } from './errors.js';
import { describeValue } from './values.js';

/**
 * Base keys that OptimizerV2 (TF 2.4–2.10) never wrote, with the value that means "off" in a
 * config otherwise OptimizerV2's. `ema_momentum` and `ema_overwrite_frequency` do nothing
 * without `use_ema`, so any value of theirs is "off" then.
 */
const NEWER_KEYS: Readonly<Record<string, (v: unknown, c: Record<string, unknown>) => boolean>> = {
  weight_decay: (v) => v === null,
  use_ema: (v) => v === false,
  ema_momentum: (v, c) => c.use_ema !== true || v === 0.99,
  ema_overwrite_frequency: (v, c) => c.use_ema !== true || v === null,
  loss_scale_factor: (v) => v === null,
  gradient_accumulation_steps: (v) => v === null,
  // TF 2.11–2.15: an XLA flag (no effect here) and the format marker itself.
  jit_compile: (v) => typeof v === 'boolean',
  is_legacy_optimizer: (v) => v === true,
};

/** Optimizer classes only `simdopt/keras3` has (lower case, as Keras matches names). */
const KERAS3_ONLY_CLASSES: ReadonlySet<string> = new Set(
  ['AdamW', 'Lion', 'Lamb', 'Adafactor', 'Muon', 'ScheduleFreeAdamW', 'LossScaleOptimizer', 'MultiOptimizer'].map((c) => c.toLowerCase()),
);

/** The format of a serialized optimizer, with the values read from it (`raw`: its config as written). */
export type OptimizerConfigFormat =
  /** A config for the TF 2.4 classes (`config` without the newer keys and without the wrapper). */
  | { kind: 'tf24'; className: string; config: Record<string, unknown>; raw: Record<string, unknown> }
  /** A Keras 3 (or TF 2.11–2.15) config: `serialized` is what `simdopt/keras3`'s `deserialize` reads. */
  | { kind: 'keras3'; className: string; serialized: Record<string, unknown>; reason: string; raw: Record<string, unknown> };

/** A config value in a message: numbers, booleans and null as written, anything else described. */
function shown(v: unknown): string {
  return v === null || typeof v === 'number' || typeof v === 'boolean' ? String(v) : describeValue(v);
}

function plainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Sorts a serialized optimizer into the TF 2.4 family or Keras 3's. An OptimizerV2 config (it
 * writes `decay`; or tf-keras' `keras.optimizers.legacy` module; or `is_legacy_optimizer: true`)
 * is TF 2.4's when every key newer than TF 2.4 holds its "off" value, which is then dropped; a
 * newer key that is on throws a ConfigError naming it. A config with Keras 3's `module` /
 * `registered_name`, keys only Keras 3 (or TF 2.11–2.15) writes, or a class only Keras 3 has, is
 * Keras 3's (TF 2.11–2.15's `jit_compile` and `is_legacy_optimizer: false` are dropped: they
 * change no number, and Keras 3 refuses them).
 */
export function optimizerConfigFormat(serialized: unknown): OptimizerConfigFormat {
  if (!plainObject(serialized)) throw new ConfigError('InvalidConfig', `expected {class_name, config}, got ${describeValue(serialized)}`);
  const outer: Record<string, unknown> = { ...serialized };
  const className = outer.class_name;
  if (typeof className !== 'string') throw new ConfigError('InvalidConfig', `expected {class_name, config}, got ${describeValue(serialized)}`);
  const rawInner = outer.config ?? {};
  if (!plainObject(rawInner)) throw new ConfigError('InvalidConfig', `${className}: config must be an object, got ${describeValue(rawInner)}`);
  // `raw`: the config as written (for a user class); `config`: the copy the format rules edit.
  const raw: Record<string, unknown> = { ...rawInner };
  const config: Record<string, unknown> = { ...raw };
  const wrapped = 'module' in outer || 'registered_name' in outer;
  const newer = Object.keys(config).filter((k) => Object.prototype.hasOwnProperty.call(NEWER_KEYS, k));
  const keras3 = (reason: string): OptimizerConfigFormat => {
    if (config.is_legacy_optimizer === false || 'jit_compile' in config) {
      delete config.is_legacy_optimizer;
      delete config.jit_compile;
    }
    return { kind: 'keras3', className, serialized: { ...outer, config }, reason, raw };
  };
  if (KERAS3_ONLY_CLASSES.has(className.toLowerCase())) return keras3(`a Keras 3 class: only Keras 3 has ${className}`);

  const optimizerV2 = outer.module === 'keras.optimizers.legacy' || config.is_legacy_optimizer === true || (!wrapped && 'decay' in config);
  if (optimizerV2) {
    for (const key of newer) {
      if (!NEWER_KEYS[key](config[key], config)) {
        throw new ConfigError(
          'InvalidConfig',
          `${className}: an OptimizerV2 (TF 2.4–2.10) config with \`${key}\`=${shown(config[key])}: the TF 2.4 classes of 'simdopt' have no \`${key}\`. Load it with \`deserialize\` from 'simdopt/keras3' (Keras 3's ${className}).`,
        );
      }
      delete config[key];
    }
    return { kind: 'tf24', className, config, raw };
  }
  const tf211 = ['jit_compile', 'is_legacy_optimizer'].filter((k) => k in config);
  if (tf211.length > 0) return keras3(`a TF 2.11–2.15 config (${tf211.join(', ')}); its optimizers are Keras 3's`);
  if (wrapped) return keras3(`a Keras 3 config (module ${typeof outer.module === 'string' ? `'${outer.module}'` : describeValue(outer.module)})`);
  if (newer.length > 0) return keras3(`a Keras 3 config (keys TF 2.4 does not have: ${newer.join(', ')})`);
  return { kind: 'tf24', className, config, raw };
}
