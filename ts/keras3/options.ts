// Keras 3's constructor arguments: the base options every class takes (`BaseOptimizer.__init__`)
// and each class's own, checked in Keras' order with Keras' messages, and what the core
// optimizer is created with (the Keras 3 family of its registry, with the stages as options).
import { call, core } from '../wasm/loader.js';
import { ArgumentError, ConfigError, HyperparameterError } from '../errors.js';
import { didYouMean, snakeCase, camelCase } from '../keys.js';
import { LearningRateSchedule } from '../schedules/index.js';
import { describeValue } from '../values.js';
import type { OptimizerSpec } from '../optimizer/index.js';
import type { HyperValue } from '../optimizer/types.js';
import type { ParsedOptions } from '../optimizer/options.js';
import { parseSlotDtype } from '../optimizer/slot-dtype.js';
import { autoName } from './names.js';
import { deserializeNested } from './nested.js';
import type { ScheduledValue } from './nested.js';
import { pyFloatRepr, pyRepr, pyStr } from './python.js';
import type { WeightPath } from './weights.js';

/** Describes a Keras 3 optimizer class for the base class. */
export interface Keras3Spec extends OptimizerSpec {
  /** Default of `weight_decay` (AdamW: 0.004); absent: None. */
  weightDecay?: number;
  /** Whether `weight_decay` must be given a value (AdamW: None is an error). */
  requiresWeightDecay?: boolean;
  /** The class's own checks, with Keras' messages (on the class's options, snake_case keys). */
  check?: (config: Readonly<Record<string, unknown>>) => void;
  /** Class options that stay in TypeScript (not numbers or flags the core takes): key → default. */
  extra?: ReadonlyArray<readonly [string, unknown]>;
  /** How the class names its slot paths (default: Keras' `<optimizer>/<variable path>_<slot>`). */
  weightPath?: WeightPath;
  /** Number options whose None (null) is not their default (Muon's `rms_rate`): the core takes NaN for None. */
  nullable?: readonly string[];
}

/** The base options of Keras 3, as read from the constructor options. */
export interface Keras3Base {
  weightDecay: ScheduledValue | null;
  clipnorm: number | null;
  clipvalue: number | null;
  globalClipnorm: number | null;
  useEma: boolean;
  emaMomentum: number;
  emaOverwriteFrequency: number | null;
  lossScaleFactor: number | null;
  gradientAccumulationSteps: number | null;
  /** The class's `extra` options. */
  extra: Map<string, unknown>;
}

/** Keras 3's base keyword arguments (camelCase), in `get_config` order after `learning_rate`. */
export const BASE_KEYS = [
  'weightDecay',
  'clipnorm',
  'globalClipnorm',
  'clipvalue',
  'useEma',
  'emaMomentum',
  'emaOverwriteFrequency',
  'lossScaleFactor',
  'gradientAccumulationSteps',
] as const;

const LR_MESSAGE =
  'Argument `learning_rate` should be float, or an instance of LearningRateSchedule, or a callable (that takes in the current iteration value and returns the corresponding learning rate value). Received instead: learning_rate=';

/** A finite number or absent (undefined or null: None). */
function optionalNumber(key: string, v: unknown): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number') throw new ArgumentError('InvalidArgument', `\`${key}\` must be a number or None, got ${describeValue(v)}`);
  if (!Number.isFinite(v)) throw new HyperparameterError('InvalidHyperparameter', `\`${key}\` must be a finite number, got ${pyFloatRepr(v)}`);
  return v;
}

/** A learning rate (or weight decay): a finite number, a schedule or a zero-argument function. */
export function checkScheduled(key: string, v: unknown): ScheduledValue {
  if (v instanceof LearningRateSchedule) return v;
  if (typeof v === 'function') {
    if (v.length !== 0) throw new HyperparameterError('InvalidHyperparameter', `\`${key}\` as a function must take no argument (Keras calls it with none)`);
    return v as () => number;
  }
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'number') throw new HyperparameterError('InvalidHyperparameter', `\`${key}\` must be a finite number, got ${pyFloatRepr(v)}`);
  if (key === 'learning_rate') throw new HyperparameterError('InvalidHyperparameter', LR_MESSAGE + pyStr(v));
  throw new HyperparameterError('InvalidHyperparameter', `Argument \`${key}\` must be a float, a LearningRateSchedule or a zero-argument function. Received: ${key}=${pyStr(v)}`);
}

/** Checks a name as Keras 3 does (a variable path starts with it). */
export function checkName(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new ArgumentError('InvalidArgument', `\`name\` must be a string, got ${describeValue(v)}`);
  if (v.includes('/')) throw new ArgumentError('InvalidArgument', `Argument \`name\` must be a string and cannot contain character \`/\`. Received: name=${v}`);
  return v;
}

/** Keras 3's `BaseOptimizer.__init__` checks on the base options, in its order. */
function readBase(spec: Keras3Spec, o: Record<string, unknown>): Keras3Base {
  const gas = optionalNumber('gradient_accumulation_steps', o.gradientAccumulationSteps);
  if (gas) {
    // Keras accepts a non-integer here (and then counts with it); a count of calls must be whole.
    if (!(gas >= 2) || !Number.isInteger(gas)) {
      throw new HyperparameterError('InvalidHyperparameter', `\`gradient_accumulation_steps\` must be an integer >= 2. Received: gradient_accumulation_steps=${pyRepr(gas)}`);
    }
  }
  const useEma = o.useEma ?? false;
  if (typeof useEma !== 'boolean') throw new ArgumentError('InvalidArgument', `\`use_ema\` must be a boolean, got ${describeValue(useEma)}`);
  const emaMomentum = optionalNumber('ema_momentum', o.emaMomentum) ?? 0.99;
  const freq = optionalNumber('ema_overwrite_frequency', o.emaOverwriteFrequency);
  if (useEma) {
    if (emaMomentum > 1 || emaMomentum < 0) {
      throw new HyperparameterError('InvalidHyperparameter', `\`ema_momentum\` must be in the range [0, 1]. Received: ema_momentum=${pyRepr(emaMomentum)}`);
    }
    if (freq && (!Number.isInteger(freq) || freq < 1)) {
      throw new HyperparameterError('InvalidHyperparameter', `\`ema_overwrite_frequency\` must be an integer >= 1 or None. Received: ema_overwrite_frequency=${pyRepr(freq)}`);
    }
  }
  const clipnorm = optionalNumber('clipnorm', o.clipnorm);
  const clipvalue = optionalNumber('clipvalue', o.clipvalue);
  const globalClipnorm = optionalNumber('global_clipnorm', o.globalClipnorm);
  if ([clipnorm, clipvalue, globalClipnorm].filter((c) => c !== null).length > 1) {
    const s = (c: number | null) => (c === null ? 'None' : pyFloatRepr(c));
    throw new HyperparameterError(
      'InvalidHyperparameter',
      `Only one of \`clipnorm\`, \`clipvalue\` and \`global_clipnorm\` can be set. Received: clipnorm=${s(clipnorm)}, clipvalue=${s(clipvalue)}, global_clipnorm=${s(globalClipnorm)}`,
    );
  }
  const lossScaleFactor = optionalNumber('loss_scale_factor', o.lossScaleFactor);
  if (lossScaleFactor === 0) throw new HyperparameterError('InvalidHyperparameter', '`loss_scale_factor` must not be 0 (every gradient would be divided by it)');
  const wdGiven = o.weightDecay === undefined ? spec.weightDecay : o.weightDecay;
  const weightDecay = wdGiven === undefined || wdGiven === null ? null : checkScheduled('weight_decay', wdGiven);
  if (spec.requiresWeightDecay && weightDecay === null) {
    throw new HyperparameterError('InvalidHyperparameter', `Argument \`weight_decay\` must be a float. Received: weight_decay=None`);
  }
  const extra = new Map<string, unknown>();
  for (const [key, dflt] of spec.extra ?? []) extra.set(key, o[camelCase(key)] === undefined ? dflt : o[camelCase(key)]);
  return { weightDecay, clipnorm, clipvalue, globalClipnorm, useEma, emaMomentum, emaOverwriteFrequency: freq, lossScaleFactor, gradientAccumulationSteps: gas, extra };
}

/** The core's stage options of these base options (weight decay given as a schedule or function
 * starts at 0: it is set before each step). */
export function stageKeys(b: Keras3Base): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  const clip = (key: string, v: number | null) => {
    // Keras clips only with a value > 0 (`if self.clipnorm and self.clipnorm > 0`).
    if (v !== null && v > 0) out.push([key, v]);
  };
  clip('clipnorm', b.clipnorm);
  clip('clipvalue', b.clipvalue);
  clip('global_clipnorm', b.globalClipnorm);
  if (b.weightDecay !== null) out.push(['weight_decay', typeof b.weightDecay === 'number' ? b.weightDecay : 0]);
  if (b.useEma) {
    out.push(['use_ema', 1], ['ema_momentum', b.emaMomentum]);
    if (b.emaOverwriteFrequency) out.push(['ema_overwrite_frequency', b.emaOverwriteFrequency]);
  }
  if (b.lossScaleFactor !== null) out.push(['loss_scale_factor', b.lossScaleFactor]);
  if (b.gradientAccumulationSteps) out.push(['gradient_accumulation_steps', b.gradientAccumulationSteps]);
  return out;
}

/** Creates the core optimizer of a Keras 3 class (the keras3 family of the core's registry), or
 * of a custom one (`custom`: the external rule, whose update runs in JavaScript). */
export function createCoreOptimizer(className: string, name: string, keys: string[], values: Float32Array, custom = false): number {
  if (custom) return call(() => core().optimizer_create_external_keras3(name, keys, values));
  return call(() => core().optimizer_create_in('keras3', className, name, keys, values));
}

/**
 * The options parser of the Keras 3 base class: unknown keys refused with Keras' message
 * (`decay` is accepted and ignored, as Keras ignores it), the base options checked, the class's
 * numbers and flags read. `out` receives the base options the class keeps. `custom`: a custom
 * optimizer (`updateStep` in JavaScript) keeps its own options out of the core.
 */
export function keras3Parser(spec: Keras3Spec, out: { base?: Keras3Base }, custom = false): (s: OptimizerSpec, options: Record<string, unknown>) => ParsedOptions {
  return (_s, given) => {
    // Every option is read once (a getter or Proxy answers once).
    const options: Record<string, unknown> = Object.create(null);
    for (const k of Object.keys(given)) options[k] = given[k];
    const classKeys = new Map(spec.config.map(([k, d]) => [camelCase(k), [k, d] as const]));
    const known = (k: string) =>
      classKeys.has(k) ||
      (BASE_KEYS as readonly string[]).includes(k) ||
      k === 'name' ||
      k === 'decay' ||
      k === 'slotDtype' ||
      (spec.extra ?? []).some(([e]) => camelCase(e) === k);
    const unknown = Object.keys(options).filter((k) => options[k] !== undefined && !known(k));
    if (unknown.length > 0) {
      const kwargs = `{${unknown.map((k) => `${pyRepr(snakeCase(k))}: ${pyRepr(options[k])}`).join(', ')}}`;
      throw new ConfigError('UnknownOption', `Argument(s) not recognized: ${kwargs}${didYouMean(unknown[0], known)}`);
    }
    const decay = options.decay;
    if (decay !== undefined && decay !== null && typeof decay !== 'number')
      throw new ArgumentError('InvalidArgument', `\`decay\` must be a number or None, got ${describeValue(decay)}`);
    const givenName = checkName(options.name);
    const base = readBase(spec, options);
    // simdopt's slot storage (not a Keras option: never in the config).
    const slotDtype = parseSlotDtype(options.slotDtype);
    if (custom && slotDtype !== 'float32') {
      // The variables a custom class's `build` adds are the ones its `updateStep` assigns in f32.
      throw new ConfigError(
        'UnsupportedSlotDtype',
        `optimizer '${spec.className}' is a custom optimizer: its variables are float32, slotDtype '${slotDtype}' is for the built-in optimizers with moment slots`,
      );
    }
    const hypers = new Map<string, HyperValue>();
    const flags = new Map<string, boolean>();
    const coreKeys: string[] = [];
    const coreValues: number[] = [];
    const classConfig: Record<string, unknown> = {};
    for (const [key, dflt] of spec.config) {
      const v = options[camelCase(key)] === undefined ? dflt : options[camelCase(key)];
      if (key === 'learning_rate') {
        const lr = checkScheduled(key, v);
        hypers.set(key, lr);
        if (typeof lr === 'number') {
          coreKeys.push(key);
          coreValues.push(lr);
        }
        continue;
      }
      classConfig[key] = v;
      if (v === null && spec.nullable?.includes(key)) {
        hypers.set(key, NaN);
        coreKeys.push(key);
        coreValues.push(NaN);
        continue;
      }
      if (typeof dflt === 'boolean') {
        if (typeof v !== 'boolean') throw new ArgumentError('InvalidArgument', `\`${key}\` must be a boolean, got ${describeValue(v)}`);
        flags.set(key, v);
        coreKeys.push(key);
        coreValues.push(v ? 1 : 0);
        continue;
      }
      if (typeof v !== 'number') throw new ArgumentError('InvalidArgument', `\`${key}\` must be a number, got ${describeValue(v)}`);
      if (!Number.isFinite(v)) throw new HyperparameterError('InvalidHyperparameter', `\`${key}\` must be a finite number, got ${pyFloatRepr(v)}`);
      hypers.set(key, v);
      coreKeys.push(key);
      coreValues.push(v);
    }
    for (const [k, v] of base.extra) classConfig[k] = v;
    spec.check?.(classConfig);
    for (const [k, v] of stageKeys(base)) {
      coreKeys.push(k);
      coreValues.push(v);
    }
    // A weight decay whose default is a number (Muon's 0.004) given as None: NaN tells the core.
    if (base.weightDecay === null && spec.weightDecay !== undefined) {
      coreKeys.push('weight_decay');
      coreValues.push(NaN);
    }
    out.base = base;
    const name = givenName ?? autoName(spec.className);
    const create = (n: string, keys: string[], values: Float32Array) => createCoreOptimizer(spec.className, n, keys, values, custom);
    // A custom class's own options stay in TypeScript: its core optimizer takes the base ones.
    const inCore = coreKeys.map((k) => !custom || k === 'learning_rate' || !classKeys.has(camelCase(k)));
    const keys = coreKeys.filter((_, i) => inCore[i]);
    const values = coreValues.filter((_, i) => inCore[i]);
    return { name, hypers, flags, clip: {}, aggregator: undefined, transformers: [], coreKeys: keys, coreValues: values, create, custom, slotDtype };
  };
}

/**
 * Keras 3's `from_config` arguments: snake_case keys as camelCase options, each read once; a
 * serialized schedule or function for `learning_rate` or `weight_decay` is read back
 * (`customObjects` first). Unknown keys stay, for the constructor to refuse with Keras' message.
 */
export function configToOptions(config: Record<string, unknown>, customObjects: Record<string, unknown>): Record<string, unknown> {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new ConfigError('InvalidConfig', `an optimizer config must be an object, got ${describeValue(config)}`);
  }
  const options: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(config)) {
    const v = config[key];
    options[camelCase(key)] =
      (key === 'learning_rate' || key === 'weight_decay') && v !== null && typeof v === 'object' ? deserializeNested(key, v as Record<string, unknown>, customObjects) : v;
  }
  return options;
}
