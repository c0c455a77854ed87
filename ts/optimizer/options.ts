// Options and config: how constructor options (camelCase) and Keras configs (snake_case) become
// an optimizer's hyperparameters, flags and clipping, checked as Keras checks them.
import { ArgumentError, ConfigError, HyperparameterError } from '../errors.js';
import { LearningRateSchedule, deserializeSchedule, Serialized } from '../schedules/index.js';
import { describeValue } from '../values.js';
import { camelCase, didYouMean, snakeCase } from '../keys.js';
import { checkHyper, isCoreHyper, kerasValue } from './hyperparameters.js';
import { checkAggregator, checkTransformers } from './hooks.js';
import type { GradientAggregator, GradientTransformer, HyperValue, OptimizerSpec } from './types.js';
import type { SlotDtype } from './slot-dtype.js';

/** Keras-1 weight lists that Keras 2.4's `set_weights` still accepts. */
export const KERAS1_WEIGHTS = {
  /** RMSprop, Adagrad, Adadelta: no `iterations`; one weight short, a leading 0 is added. */
  prependIterations: (ws: unknown[], expected: number): unknown[] => (ws.length + 1 === expected ? [0, ...ws] : ws),
  /** Adam: Keras 1 always stored `vhat`; a list of 3n+1 weights is cut to this optimizer's. */
  dropVhat: (ws: unknown[], expected: number): unknown[] => {
    const n = Math.floor((expected - 1) / 2);
    return ws.length === 3 * n + 1 && ws.length > expected ? ws.slice(0, expected) : ws;
  },
};

/** Keras' `_momentum = callable(momentum) or momentum > 0` (SGD, RMSprop): whether the class
 * keeps a `momentum` slot. */
export function kerasMomentum(config: Readonly<Record<string, unknown>>): boolean {
  const m = config.momentum;
  return typeof m === 'function' || (typeof m === 'number' && m > 0);
}

/** A number as Python's `repr(float)` writes it (`1.0`, `0.1`), for Keras' messages. */
export function pyFloat(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  return Number.isInteger(v) && Math.abs(v) < 1e16 ? v.toFixed(1) : String(v);
}

/** Checks that constructor options are an object (or absent); returns them. */
export function optionsObject<T>(options: T): T {
  if (options === undefined) return {} as T;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ArgumentError('InvalidArgument', `optimizer options must be an object, got ${describeValue(options)}`);
  }
  return options;
}

/**
 * Constructor arguments as Keras and tfjs users write them: one options object
 * (`new Adam({ learningRate: 0.01 })`), or the arguments in Keras' positional order
 * (`new Adam(0.01)`, `new SGD(0.1, 0.9, true)`). Returns the options object.
 */
export function constructorOptions(className: string, positional: readonly string[], args: readonly unknown[]): Record<string, unknown> {
  const first = args[0];
  // An object (or null, or an array: refused there) is the options object; a number, function
  // or schedule starts the positional arguments.
  if (args.length <= 1 && (first === undefined || first === null || (typeof first === 'object' && !(first instanceof LearningRateSchedule)))) {
    return optionsObject(first as Record<string, unknown> | undefined) ?? {};
  }
  if (args.length > positional.length) {
    throw new ArgumentError('InvalidArgument', `${className} takes one options object or at most ${positional.length} arguments (${positional.join(', ')}), got ${args.length}`);
  }
  const options: Record<string, unknown> = {};
  args.forEach((v, i) => {
    if (v !== undefined) options[positional[i]] = v;
  });
  return options;
}

// ---- clipping ----------------------------------------------------------------------------

export const CLIP_KEYS = ['clipnorm', 'clipvalue', 'global_clipnorm'] as const;
export type ClipKey = (typeof CLIP_KEYS)[number];
export type Clipping = { clipvalue?: number; clipnorm?: number; global_clipnorm?: number };

/** Keras' check 4 texts: a clip option together with `gradient_transformers`. */
export const TRANSFORMERS_CLASH: Record<ClipKey, string> = {
  clipnorm: '`clipnorm` cannot be set when `gradient_transformers` is set. Instead, use the `gradient_transformers` to specify clipping and other transformations.',
  // Keras' global_clipnorm setter reuses the clipnorm text.
  global_clipnorm: '`clipnorm` cannot be set when `gradient_transformers` is set. Instead, use the `gradient_transformers` to specify clipping and other transformations.',
  clipvalue: '`clipvalue` cannot be set when `gradient_transformers` is set. Instead, use the `gradient_transformers` to specify clipping and other transformations.',
};

/**
 * The one rule for a clip option, in the constructor, the setters, `fromConfig` and checkpoints
 * (which go through the constructor): absent (undefined or null), or a finite number >= 0. Keras
 * refuses negative values; an infinite or NaN bound is refused too, as an infinite learning rate
 * is: it could not be saved (JSON has no Infinity) and would read back as no clipping.
 */
export function checkClip(key: ClipKey, v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number') throw new ArgumentError('InvalidArgument', `\`${key}\` must be a number, got ${describeValue(v)}`);
  if (v < 0) throw new HyperparameterError('InvalidHyperparameter', `Expected ${key} >= 0, received: ${pyFloat(v)}`);
  if (!Number.isFinite(v)) throw new HyperparameterError('InvalidHyperparameter', `Expected ${key} to be a finite number >= 0, received: ${pyFloat(v)}`);
  return v;
}

// ---- constructor options ------------------------------------------------------------------

const BASE_OPTION_KEYS = new Set(['name', 'clipvalue', 'clipnorm', 'global_clipnorm', 'decay', 'lr']);

/** What the constructor options of an optimizer say, checked. */
export interface ParsedOptions {
  name: string;
  hypers: Map<string, HyperValue>;
  flags: Map<string, boolean>;
  clip: Clipping;
  aggregator: GradientAggregator | undefined;
  transformers: readonly GradientTransformer[];
  /** What the core optimizer is created with: keys and values (numbers and flags). */
  coreKeys: string[];
  coreValues: number[];
  /** Whether the class is a custom optimizer by its API's own hooks (Keras 3: `updateStep`);
   * absent: by TF 2.4's (`resourceApplyDense` / `resourceApplySparse`). */
  custom?: boolean;
  /** Creates the core optimizer (default: the class of `spec.className` in the core's registry). */
  create?: (name: string, keys: string[], values: Float32Array) => number;
  /** The `slotDtype` option when the parser read it (else the constructor reads it). */
  slotDtype?: SlotDtype;
}

/** Reads an optimizer's constructor options ({@link parseOptions} for TF 2.4's classes). */
export type OptionsParser = (spec: OptimizerSpec, options: Record<string, unknown>, custom: boolean) => ParsedOptions;

/**
 * Reads constructor options as Keras' `OptimizerV2.__init__` and the subclass's do: unknown
 * keys refused, the legacy `lr` alias, Keras' checks on hyperparameters and clip options.
 * `custom`: a custom optimizer keeps only `learning_rate` and `decay` in the core.
 */
export function parseOptions(spec: OptimizerSpec, options: Record<string, unknown>, custom: boolean): ParsedOptions {
  const known = new Map(spec.config.map(([k, d]) => [camelCase(k), [k, d] as const]));
  for (const key of Object.keys(options ?? {})) {
    const v = options[key];
    if (v === undefined) continue;
    if (
      !known.has(key) &&
      !BASE_OPTION_KEYS.has(snakeCase(key)) &&
      key !== 'globalClipnorm' &&
      key !== 'gradientAggregator' &&
      key !== 'gradientTransformers' &&
      key !== 'slotDtype'
    ) {
      const isOption = (k: string) => known.has(k) || BASE_OPTION_KEYS.has(snakeCase(k)) || k === 'globalClipnorm';
      throw new ConfigError('UnknownOption', `Unexpected keyword argument passed to optimizer: ${snakeCase(key)}${didYouMean(key, isOption)}`);
    }
  }
  if (options.name !== undefined && options.name !== null && typeof options.name !== 'string') {
    throw new ArgumentError('InvalidArgument', `\`name\` must be a string, got ${describeValue(options.name)}`);
  }
  const name = typeof options.name === 'string' && options.name ? options.name : spec.className;
  if (typeof options.lr === 'number' && options.lr < 0) {
    // Keras checks its legacy kwargs (not `learning_rate`) for negative values.
    throw new HyperparameterError('InvalidHyperparameter', `Expected lr >= 0, received: ${pyFloat(options.lr)}`);
  }
  const lrAlias = spec.acceptsLr !== false ? (options.lr as HyperValue | undefined) : undefined;
  const aggregator = options.gradientAggregator != null ? checkAggregator(options.gradientAggregator) : undefined;
  const transformers = options.gradientTransformers != null ? checkTransformers(options.gradientTransformers) : [];

  const hypers = new Map<string, HyperValue>();
  const flags = new Map<string, boolean>();
  const clip: Clipping = {};
  const coreKeys: string[] = [];
  const coreValues: number[] = [];
  for (const [key, dflt] of spec.config) {
    let v = options[camelCase(key)];
    if (key === 'learning_rate' && lrAlias !== undefined) v = lrAlias;
    if (typeof dflt === 'boolean') {
      if (v !== undefined && typeof v !== 'boolean') {
        throw new ArgumentError('InvalidArgument', `\`${key}\` must be a boolean, got ${describeValue(v)}`);
      }
      const flag = (v as boolean | undefined) ?? dflt;
      flags.set(key, flag);
      if (custom) continue;
      coreKeys.push(key);
      coreValues.push(flag ? 1 : 0);
      continue;
    }
    const hv = checkHyper(key, kerasValue(key, v ?? dflt));
    hypers.set(key, hv);
    if (typeof hv === 'number' && isCoreHyper(key, custom)) {
      coreKeys.push(key);
      coreValues.push(hv);
    } else if (typeof hv === 'function' && key === 'momentum' && spec.callableMomentum && !custom) {
      // Keras: `_momentum = callable(momentum) or momentum > 0`. The core fixes its kernel from
      // the momentum it is built with: built with 1, it gets the function's value every step.
      coreKeys.push(key);
      coreValues.push(1);
    }
  }
  for (const key of CLIP_KEYS) {
    const v = checkClip(key, options[camelCase(key)]);
    if (v === undefined) continue;
    clip[key] = v;
    coreKeys.push(key);
    coreValues.push(v);
  }
  // Keras' setter order: clipnorm, global_clipnorm, then clipvalue.
  if (transformers.length > 0) {
    for (const key of ['clipnorm', 'global_clipnorm', 'clipvalue'] as const) {
      if (clip[key] !== undefined) throw new HyperparameterError('InvalidHyperparameter', TRANSFORMERS_CLASH[key]);
    }
  }
  return { name, hypers, flags, clip, aggregator, transformers, coreKeys, coreValues };
}

/** Keras' `from_config` → constructor options: `lr` becomes `learning_rate`, a schedule dict is
 * deserialized (`customObjects` resolves user schedule classes), null means the default. */
export function optionsFromConfig(config: Record<string, unknown>, customObjects: Record<string, unknown>): Record<string, unknown> {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new ConfigError('InvalidConfig', `an optimizer config must be an object, got ${describeValue(config)}`);
  }
  const options: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(config)) {
    let v = config[key];
    const k = key === 'lr' ? 'learning_rate' : key;
    if (k === 'learning_rate' && v !== null && typeof v === 'object') v = deserializeSchedule(v as Serialized, customObjects);
    options[camelCase(k)] = v === null ? undefined : v;
  }
  return options;
}

// ---- accessors ----------------------------------------------------------------------------

/** What the accessors below call on an optimizer. */
interface HyperAccess {
  getHyper(key: string): HyperValue;
  setHyper(key: string, v: HyperValue): void;
}

const accessorsInstalled = new WeakSet<object>();

/**
 * Gives an optimizer class a camelCase property per config key (`opt.beta1`, `opt.amsgrad`):
 * hyperparameters read and write through getHyper/setHyper, flags are read-only. Subclasses
 * only `declare` them for their types.
 */
export function installAccessors(proto: object, spec: OptimizerSpec, readFlag: (o: object, key: string) => boolean): void {
  if (accessorsInstalled.has(proto)) return;
  accessorsInstalled.add(proto);
  for (const [key, dflt] of spec.config) {
    const name = camelCase(key);
    if (name in proto) continue;
    Object.defineProperty(
      proto,
      name,
      typeof dflt === 'boolean'
        ? {
            configurable: true,
            get(this: object) {
              return readFlag(this, key);
            },
          }
        : {
            configurable: true,
            get(this: HyperAccess) {
              return this.getHyper(key);
            },
            set(this: HyperAccess, v: HyperValue) {
              this.setHyper(key, v);
            },
          },
    );
  }
}
