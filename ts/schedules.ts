// Learning-rate schedules (Keras' `tf.keras.optimizers.schedules`, TF 2.4). A schedule is called
// with the optimizer's `iterations` before the step's increment (cast to float32) and returns the
// learning rate.
//
// The built-in schedules compute in float32 like TF: every intermediate result is rounded with
// `Math.fround`. `+ - * /` on float32 operands through double and one rounding are exact float32
// ops; `pow`, `exp`, `log` and `cos` are computed in double and rounded once, so they can differ
// from TF's float32 libm by about 1 ulp (the values agree with TF 2.4.4 within 1e-6 relative).
//
// Like Keras 2.4, no schedule checks `decay_steps > 0` (or `first_decay_steps > 0`): a zero or
// negative value gives what TF gives (e.g. NaN at step 0 or Infinity/0 later), not an error.
// Arguments of the wrong type or non-finite numbers are refused with a typed error (Keras would
// accept them at construction and fail or produce NaN at the first call).
import { ArgumentError, ConfigError, HyperparameterError } from './errors.js';
import { describeValue } from './values.js';

/** Keras' serialized form of an object: `{class_name, config}`. */
export interface Serialized {
  class_name: string;
  config: Record<string, unknown>;
}

/** Base class of learning-rate schedules; subclass it for a custom schedule. */
export abstract class LearningRateSchedule {
  /** Keras class name used by `serialize` (defaults to the JS class name). Only a class's own
   * `className` counts, so a subclass of a built-in schedule serializes under its own name. */
  static className?: string;

  /** The learning rate at `step` (the optimizer's iterations, as a float32). */
  abstract call(step: number): number;

  /** Keras config of the schedule. */
  abstract getConfig(): Record<string, unknown>;

  /** Keras' `from_config`: `new cls(config)`. Subclasses with positional arguments override it. */
  static fromConfig(this: new (config: never) => LearningRateSchedule, config: Record<string, unknown>): LearningRateSchedule {
    return new this(config as never);
  }
}

/** Schedule classes registered by the user with `registerSchedule`, by Keras class name. */
const scheduleRegistry = new Map<string, typeof LearningRateSchedule>();

/** Makes a schedule class known to `deserializeSchedule` under its Keras class name (Keras'
 * `register_keras_serializable`). The built-in schedules need no registration. */
export function registerSchedule(cls: typeof LearningRateSchedule, className = scheduleClassName(cls)): void {
  scheduleRegistry.set(className, cls);
}

/** The Keras class name of a schedule class: its own static `className`, else its JS name. */
function scheduleClassName(cls: typeof LearningRateSchedule): string {
  return Object.prototype.hasOwnProperty.call(cls, 'className') && typeof cls.className === 'string' ? cls.className : cls.name;
}

/** Keras' `schedules.serialize`: `{class_name, config}`. */
export function serializeSchedule(s: LearningRateSchedule): Serialized {
  return { class_name: scheduleClassName(s.constructor as typeof LearningRateSchedule), config: s.getConfig() };
}

/**
 * Keras' `schedules.deserialize`. The class name is resolved case-sensitively, as TF 2.4 does:
 * first in `customObjects` (user classes by name), then among classes passed to
 * `registerSchedule`, then among the built-in schedules. An unknown name throws
 * `ConfigError('UnknownClass', 'Unknown decay: <name>')` (TF 2.4.4's message).
 */
export function deserializeSchedule(config: Serialized, customObjects: Record<string, unknown> = {}): LearningRateSchedule {
  if (config === null || typeof config !== 'object' || Array.isArray(config) || !('class_name' in config) || !('config' in config)) {
    throw new ConfigError('InvalidConfig', `Improper config format: ${describeValue(config)}`);
  }
  const name = config.class_name;
  if (typeof name !== 'string') throw new ConfigError('InvalidConfig', `Improper config format: class_name must be a string, got ${describeValue(name)}`);
  const custom = customObjects != null && hasOwn(customObjects, name) ? customObjects[name] : undefined;
  const cls = custom ?? scheduleRegistry.get(name) ?? (hasOwn(BUILTIN_SCHEDULES, name) ? BUILTIN_SCHEDULES[name] : undefined);
  if (cls === undefined) throw new ConfigError('UnknownClass', `Unknown decay: ${name}`);
  const fromConfig = typeof cls === 'function' ? (cls as { fromConfig?: unknown }).fromConfig : undefined;
  if (typeof fromConfig !== 'function') {
    throw new ConfigError('InvalidConfig', `custom object '${name}' is not a LearningRateSchedule class (it has no static fromConfig)`);
  }
  const s: unknown = fromConfig.call(cls, config.config);
  if (!(s instanceof LearningRateSchedule)) {
    throw new ConfigError('InvalidConfig', `${name}.fromConfig did not return a LearningRateSchedule`);
  }
  return s;
}

// ---- argument checking -----------------------------------------------------------------------

type ParamKind = 'number' | 'boolean' | 'name' | 'numbers';

/** One constructor argument: Keras (snake_case) key, camelCase option key, kind, default
 * (`undefined` = required). */
type Param = readonly [snake: string, camel: string, kind: ParamKind, dflt?: number | boolean | null];

function hasOwn(o: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, key);
}

function checkNumber(cls: string, key: string, v: unknown): number {
  if (typeof v !== 'number') throw new ArgumentError('InvalidArgument', `${cls}: \`${key}\` must be a number, got ${describeValue(v)}`);
  if (!Number.isFinite(v)) throw new HyperparameterError('InvalidHyperparameter', `${cls}: \`${key}\` must be a finite number, got ${v}`);
  return v;
}

/**
 * Reads and checks constructor options (camelCase keys). Returns the values by Keras key, with
 * defaults filled in. Unknown keys → ConfigError('UnknownOption'); missing required or
 * wrongly typed arguments → ArgumentError; non-finite numbers → HyperparameterError.
 */
function readOptions(cls: string, params: readonly Param[], options: unknown): Record<string, unknown> {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ArgumentError('InvalidArgument', `${cls}: expected an options object, got ${describeValue(options)}`);
  }
  const opts = options as Record<string, unknown>;
  for (const key of Object.keys(opts)) {
    if (!params.some((p) => p[1] === key)) {
      throw new ConfigError('UnknownOption', `${cls}: unexpected keyword argument \`${key}\``);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [snake, camel, kind, dflt] of params) {
    let v = opts[camel];
    if (v === undefined) {
      if (dflt === undefined && kind !== 'name') {
        throw new ArgumentError('InvalidArgument', `${cls}: missing required argument \`${camel}\``);
      }
      v = dflt ?? null;
    }
    switch (kind) {
      case 'number':
        out[snake] = checkNumber(cls, camel, v);
        break;
      case 'boolean':
        if (typeof v !== 'boolean') throw new ArgumentError('InvalidArgument', `${cls}: \`${camel}\` must be a boolean, got ${describeValue(v)}`);
        out[snake] = v;
        break;
      case 'name':
        if (v !== null && typeof v !== 'string') throw new ArgumentError('InvalidArgument', `${cls}: \`name\` must be a string or null, got ${describeValue(v)}`);
        out[snake] = v;
        break;
      case 'numbers': {
        if (!Array.isArray(v) && !ArrayBuffer.isView(v)) {
          throw new ArgumentError('InvalidArgument', `${cls}: \`${camel}\` must be an array of numbers, got ${describeValue(v)}`);
        }
        const arr = Array.from(v as ArrayLike<unknown>);
        arr.forEach((x, i) => checkNumber(cls, `${camel}[${i}]`, x));
        out[snake] = arr as number[];
        break;
      }
    }
  }
  return out;
}

/** Keras' `from_config` → constructor options: snake_case keys become camelCase ones; an unknown
 * key is refused like Keras' `cls(**config)` does (ConfigError 'UnknownOption'). */
function optionsFromConfig(cls: string, params: readonly Param[], config: unknown): Record<string, unknown> {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new ConfigError('InvalidConfig', `${cls}: a schedule config must be an object, got ${describeValue(config)}`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(config as Record<string, unknown>)) {
    const p = params.find((q) => q[0] === key);
    if (!p) throw new ConfigError('UnknownOption', `${cls}: __init__() got an unexpected keyword argument '${key}'`);
    out[p[1]] = v;
  }
  return out;
}

function checkStep(step: unknown): number {
  if (typeof step !== 'number') throw new ArgumentError('InvalidArgument', `a schedule step must be a number, got ${describeValue(step)}`);
  return Math.fround(step);
}

// ---- float32 arithmetic ----------------------------------------------------------------------

const f = Math.fround;
/** TF's `tf.constant(math.pi)`: π as a float32. */
const PI_F32 = Math.fround(Math.PI);

/** float32 `pow` with C's special cases (`pow(1, NaN) = 1`, `pow(-1, ±inf) = 1`, which JS's
 * `Math.pow` gives as NaN). */
function powf(x: number, y: number): number {
  if (x === 1 || y === 0) return 1;
  if (x === -1 && (y === Infinity || y === -Infinity)) return 1;
  return f(Math.pow(x, y));
}

/** Eigen's `minimum` (`b < a ? b : a`). */
function minf(a: number, b: number): number {
  return b < a ? b : a;
}

// ---- ExponentialDecay ------------------------------------------------------------------------

export interface ExponentialDecayOptions {
  initialLearningRate: number;
  /** Not checked to be > 0 (Keras 2.4 does not). */
  decaySteps: number;
  decayRate: number;
  /** Decay at discrete intervals (`floor(step / decaySteps)`). Default false. */
  staircase?: boolean;
  name?: string | null;
}

export type ExponentialDecayConfig = {
  initial_learning_rate: number;
  decay_steps: number;
  decay_rate: number;
  staircase: boolean;
  name: string | null;
};

const EXPONENTIAL_PARAMS: readonly Param[] = [
  ['initial_learning_rate', 'initialLearningRate', 'number'],
  ['decay_steps', 'decaySteps', 'number'],
  ['decay_rate', 'decayRate', 'number'],
  ['staircase', 'staircase', 'boolean', false],
  ['name', 'name', 'name', null],
];

/** `initialLearningRate * decayRate ^ (step / decaySteps)` (the exponent floored if `staircase`). */
export class ExponentialDecay extends LearningRateSchedule {
  static override className = 'ExponentialDecay';
  readonly initialLearningRate: number;
  readonly decaySteps: number;
  readonly decayRate: number;
  readonly staircase: boolean;
  readonly name: string | null;

  constructor(options: ExponentialDecayOptions) {
    super();
    const c = readOptions('ExponentialDecay', EXPONENTIAL_PARAMS, options);
    this.initialLearningRate = c.initial_learning_rate as number;
    this.decaySteps = c.decay_steps as number;
    this.decayRate = c.decay_rate as number;
    this.staircase = c.staircase as boolean;
    this.name = c.name as string | null;
  }

  call(step: number): number {
    const s = checkStep(step);
    let p = f(s / f(this.decaySteps));
    if (this.staircase) p = Math.floor(p);
    return f(f(this.initialLearningRate) * powf(f(this.decayRate), p));
  }

  getConfig(): ExponentialDecayConfig {
    return {
      initial_learning_rate: this.initialLearningRate,
      decay_steps: this.decaySteps,
      decay_rate: this.decayRate,
      staircase: this.staircase,
      name: this.name,
    };
  }

  static override fromConfig(config: Record<string, unknown>): ExponentialDecay {
    return new this(optionsFromConfig('ExponentialDecay', EXPONENTIAL_PARAMS, config) as unknown as ExponentialDecayOptions);
  }
}

// ---- PiecewiseConstantDecay ------------------------------------------------------------------

export interface PiecewiseConstantDecayOptions {
  /** Increasing step boundaries (not checked, as in Keras). At least one is needed. */
  boundaries: readonly number[];
  /** One more value than boundaries. */
  values: readonly number[];
  name?: string | null;
}

export type PiecewiseConstantDecayConfig = {
  boundaries: number[];
  values: number[];
  name: string | null;
};

const PIECEWISE_PARAMS: readonly Param[] = [
  ['boundaries', 'boundaries', 'numbers'],
  ['values', 'values', 'numbers'],
  ['name', 'name', 'name', null],
];

/**
 * `values[0]` for `step <= boundaries[0]`, `values[i]` for `boundaries[i-1] < step <= boundaries[i]`,
 * `values[values.length-1]` after the last boundary. Boundaries are compared as float32 (TF casts
 * them to the step's dtype); the value is returned as float32.
 *
 * Differences from Keras 2.4: empty `boundaries` are refused at construction (Keras accepts them
 * and fails on the first call); non-increasing boundaries are not checked (Keras' `tf.case` with
 * `exclusive=True` would fail at the call when two intervals match; here the first match wins).
 */
export class PiecewiseConstantDecay extends LearningRateSchedule {
  static override className = 'PiecewiseConstantDecay';
  readonly boundaries: readonly number[];
  readonly values: readonly number[];
  readonly name: string | null;

  constructor(options: PiecewiseConstantDecayOptions) {
    super();
    const c = readOptions('PiecewiseConstantDecay', PIECEWISE_PARAMS, options);
    const boundaries = c.boundaries as number[];
    const values = c.values as number[];
    if (boundaries.length !== values.length - 1) {
      throw new HyperparameterError('InvalidHyperparameter', 'The length of boundaries should be 1 less than the length of values');
    }
    if (boundaries.length === 0) {
      throw new HyperparameterError('InvalidHyperparameter', 'PiecewiseConstantDecay needs at least one boundary');
    }
    this.boundaries = Object.freeze(boundaries);
    this.values = Object.freeze(values);
    this.name = c.name as string | null;
  }

  call(step: number): number {
    const s = checkStep(step);
    const b = this.boundaries;
    const v = this.values;
    if (s <= f(b[0])) return f(v[0]);
    if (s > f(b[b.length - 1])) return f(v[v.length - 1]);
    for (let i = 1; i < b.length; i++) {
      if (s > f(b[i - 1]) && s <= f(b[i])) return f(v[i]);
    }
    return f(v[0]); // tf.case's default (a NaN step)
  }

  getConfig(): PiecewiseConstantDecayConfig {
    return { boundaries: [...this.boundaries], values: [...this.values], name: this.name };
  }

  static override fromConfig(config: Record<string, unknown>): PiecewiseConstantDecay {
    return new this(optionsFromConfig('PiecewiseConstantDecay', PIECEWISE_PARAMS, config) as unknown as PiecewiseConstantDecayOptions);
  }
}

// ---- PolynomialDecay -------------------------------------------------------------------------

export interface PolynomialDecayOptions {
  initialLearningRate: number;
  /** Not checked to be > 0 (Keras 2.4 does not). */
  decaySteps: number;
  /** Default 0.0001. */
  endLearningRate?: number;
  /** Default 1. */
  power?: number;
  /** Restart after `decaySteps` (with the next multiple of it as horizon). Default false. */
  cycle?: boolean;
  name?: string | null;
}

export type PolynomialDecayConfig = {
  initial_learning_rate: number;
  decay_steps: number;
  end_learning_rate: number;
  power: number;
  cycle: boolean;
  name: string | null;
};

const POLYNOMIAL_PARAMS: readonly Param[] = [
  ['initial_learning_rate', 'initialLearningRate', 'number'],
  ['decay_steps', 'decaySteps', 'number'],
  ['end_learning_rate', 'endLearningRate', 'number', 0.0001],
  ['power', 'power', 'number', 1.0],
  ['cycle', 'cycle', 'boolean', false],
  ['name', 'name', 'name', null],
];

/** `(lr0 - end) * (1 - step / D) ^ power + end`; without `cycle` the step stops at `D = decaySteps`,
 * with `cycle` `D = decaySteps * ceil(step / decaySteps)` (1× at step 0). */
export class PolynomialDecay extends LearningRateSchedule {
  static override className = 'PolynomialDecay';
  readonly initialLearningRate: number;
  readonly decaySteps: number;
  readonly endLearningRate: number;
  readonly power: number;
  readonly cycle: boolean;
  readonly name: string | null;

  constructor(options: PolynomialDecayOptions) {
    super();
    const c = readOptions('PolynomialDecay', POLYNOMIAL_PARAMS, options);
    this.initialLearningRate = c.initial_learning_rate as number;
    this.decaySteps = c.decay_steps as number;
    this.endLearningRate = c.end_learning_rate as number;
    this.power = c.power as number;
    this.cycle = c.cycle as boolean;
    this.name = c.name as string | null;
  }

  call(step: number): number {
    let s = checkStep(step);
    const lr0 = f(this.initialLearningRate);
    const end = f(this.endLearningRate);
    let d = f(this.decaySteps);
    if (this.cycle) {
      const multiplier = s === 0 ? 1 : Math.ceil(f(s / d));
      d = f(d * multiplier);
    } else {
      s = minf(s, d);
    }
    const p = f(s / d);
    return f(f(f(lr0 - end) * powf(f(1 - p), f(this.power))) + end);
  }

  getConfig(): PolynomialDecayConfig {
    return {
      initial_learning_rate: this.initialLearningRate,
      decay_steps: this.decaySteps,
      end_learning_rate: this.endLearningRate,
      power: this.power,
      cycle: this.cycle,
      name: this.name,
    };
  }

  static override fromConfig(config: Record<string, unknown>): PolynomialDecay {
    return new this(optionsFromConfig('PolynomialDecay', POLYNOMIAL_PARAMS, config) as unknown as PolynomialDecayOptions);
  }
}

// ---- InverseTimeDecay ------------------------------------------------------------------------

export interface InverseTimeDecayOptions {
  initialLearningRate: number;
  /** Not checked to be > 0 (Keras 2.4 does not). */
  decaySteps: number;
  decayRate: number;
  /** Decay at discrete intervals (`floor(step / decaySteps)`). Default false. */
  staircase?: boolean;
  name?: string | null;
}

export type InverseTimeDecayConfig = ExponentialDecayConfig;

const INVERSE_TIME_PARAMS = EXPONENTIAL_PARAMS;

/** `initialLearningRate / (1 + decayRate * step / decaySteps)` (the quotient floored if `staircase`). */
export class InverseTimeDecay extends LearningRateSchedule {
  static override className = 'InverseTimeDecay';
  readonly initialLearningRate: number;
  readonly decaySteps: number;
  readonly decayRate: number;
  readonly staircase: boolean;
  readonly name: string | null;

  constructor(options: InverseTimeDecayOptions) {
    super();
    const c = readOptions('InverseTimeDecay', INVERSE_TIME_PARAMS, options);
    this.initialLearningRate = c.initial_learning_rate as number;
    this.decaySteps = c.decay_steps as number;
    this.decayRate = c.decay_rate as number;
    this.staircase = c.staircase as boolean;
    this.name = c.name as string | null;
  }

  call(step: number): number {
    const s = checkStep(step);
    let p = f(s / f(this.decaySteps));
    if (this.staircase) p = Math.floor(p);
    const denom = f(1 + f(f(this.decayRate) * p));
    return f(f(this.initialLearningRate) / denom);
  }

  getConfig(): InverseTimeDecayConfig {
    return {
      initial_learning_rate: this.initialLearningRate,
      decay_steps: this.decaySteps,
      decay_rate: this.decayRate,
      staircase: this.staircase,
      name: this.name,
    };
  }

  static override fromConfig(config: Record<string, unknown>): InverseTimeDecay {
    return new this(optionsFromConfig('InverseTimeDecay', INVERSE_TIME_PARAMS, config) as unknown as InverseTimeDecayOptions);
  }
}

// ---- CosineDecay -----------------------------------------------------------------------------

export interface CosineDecayOptions {
  initialLearningRate: number;
  /** Not checked to be > 0 (Keras 2.4 does not). */
  decaySteps: number;
  /** Minimum learning rate as a fraction of `initialLearningRate`. Default 0. */
  alpha?: number;
  name?: string | null;
}

export type CosineDecayConfig = {
  initial_learning_rate: number;
  decay_steps: number;
  alpha: number;
  name: string | null;
};

const COSINE_PARAMS: readonly Param[] = [
  ['initial_learning_rate', 'initialLearningRate', 'number'],
  ['decay_steps', 'decaySteps', 'number'],
  ['alpha', 'alpha', 'number', 0.0],
  ['name', 'name', 'name', null],
];

/** `lr0 * ((1 - alpha) * 0.5 * (1 + cos(π * min(step, D) / D)) + alpha)` (SGDR without restarts).
 * In TF 2.4 it is exported as `tf.keras.experimental.CosineDecay`. */
export class CosineDecay extends LearningRateSchedule {
  static override className = 'CosineDecay';
  readonly initialLearningRate: number;
  readonly decaySteps: number;
  readonly alpha: number;
  readonly name: string | null;

  constructor(options: CosineDecayOptions) {
    super();
    const c = readOptions('CosineDecay', COSINE_PARAMS, options);
    this.initialLearningRate = c.initial_learning_rate as number;
    this.decaySteps = c.decay_steps as number;
    this.alpha = c.alpha as number;
    this.name = c.name as string | null;
  }

  call(step: number): number {
    const d = f(this.decaySteps);
    const s = minf(checkStep(step), d);
    const fraction = f(s / d);
    const cosine = f(0.5 * f(1 + f(Math.cos(f(PI_F32 * fraction)))));
    // Keras computes `(1 - self.alpha)` on the Python number, then casts it to float32.
    const decayed = f(f(f(1 - this.alpha) * cosine) + f(this.alpha));
    return f(f(this.initialLearningRate) * decayed);
  }

  getConfig(): CosineDecayConfig {
    return { initial_learning_rate: this.initialLearningRate, decay_steps: this.decaySteps, alpha: this.alpha, name: this.name };
  }

  static override fromConfig(config: Record<string, unknown>): CosineDecay {
    return new this(optionsFromConfig('CosineDecay', COSINE_PARAMS, config) as unknown as CosineDecayOptions);
  }
}

// ---- CosineDecayRestarts ---------------------------------------------------------------------

export interface CosineDecayRestartsOptions {
  initialLearningRate: number;
  /** Length of the first period. Not checked to be > 0 (Keras 2.4 does not). */
  firstDecaySteps: number;
  /** Each period is `tMul` times longer than the one before. Default 2. */
  tMul?: number;
  /** Each restart starts at `mMul` times the previous start. Default 1. */
  mMul?: number;
  /** Minimum learning rate as a fraction of `initialLearningRate` (not scaled by `mMul`). Default 0. */
  alpha?: number;
  name?: string | null;
}

export type CosineDecayRestartsConfig = {
  initial_learning_rate: number;
  first_decay_steps: number;
  t_mul: number;
  m_mul: number;
  alpha: number;
  name: string | null;
};

const COSINE_RESTARTS_PARAMS: readonly Param[] = [
  ['initial_learning_rate', 'initialLearningRate', 'number'],
  ['first_decay_steps', 'firstDecaySteps', 'number'],
  ['t_mul', 'tMul', 'number', 2.0],
  ['m_mul', 'mMul', 'number', 1.0],
  ['alpha', 'alpha', 'number', 0.0],
  ['name', 'name', 'name', null],
];

/** Cosine decay with warm restarts (SGDR, Loshchilov & Hutter). In TF 2.4 it is exported as
 * `tf.keras.experimental.CosineDecayRestarts`. */
export class CosineDecayRestarts extends LearningRateSchedule {
  static override className = 'CosineDecayRestarts';
  readonly initialLearningRate: number;
  readonly firstDecaySteps: number;
  readonly tMul: number;
  readonly mMul: number;
  readonly alpha: number;
  readonly name: string | null;

  constructor(options: CosineDecayRestartsOptions) {
    super();
    const c = readOptions('CosineDecayRestarts', COSINE_RESTARTS_PARAMS, options);
    this.initialLearningRate = c.initial_learning_rate as number;
    this.firstDecaySteps = c.first_decay_steps as number;
    this.tMul = c.t_mul as number;
    this.mMul = c.m_mul as number;
    this.alpha = c.alpha as number;
    this.name = c.name as string | null;
  }

  call(step: number): number {
    const s = checkStep(step);
    const alpha = f(this.alpha);
    const tMul = f(this.tMul);
    const mMul = f(this.mMul);
    let fraction = f(s / f(this.firstDecaySteps));
    let restart: number;
    if (tMul === 1) {
      restart = Math.floor(fraction);
      fraction = f(fraction - restart);
    } else {
      restart = Math.floor(f(f(Math.log(f(1 - f(fraction * f(1 - tMul))))) / f(Math.log(tMul))));
      const tPow = powf(tMul, restart);
      const sumR = f(f(1 - tPow) / f(1 - tMul));
      fraction = f(f(fraction - sumR) / tPow);
    }
    const mFac = powf(mMul, restart);
    const cosine = f(f(0.5 * mFac) * f(1 + f(Math.cos(f(PI_F32 * fraction)))));
    const decayed = f(f(f(1 - alpha) * cosine) + alpha);
    return f(f(this.initialLearningRate) * decayed);
  }

  getConfig(): CosineDecayRestartsConfig {
    return {
      initial_learning_rate: this.initialLearningRate,
      first_decay_steps: this.firstDecaySteps,
      t_mul: this.tMul,
      m_mul: this.mMul,
      alpha: this.alpha,
      name: this.name,
    };
  }

  static override fromConfig(config: Record<string, unknown>): CosineDecayRestarts {
    return new this(optionsFromConfig('CosineDecayRestarts', COSINE_RESTARTS_PARAMS, config) as unknown as CosineDecayRestartsOptions);
  }
}

// ---- LinearCosineDecay -----------------------------------------------------------------------

export interface LinearCosineDecayOptions {
  initialLearningRate: number;
  /** Not checked to be > 0 (Keras 2.4 does not). */
  decaySteps: number;
  /** Default 0.5. */
  numPeriods?: number;
  /** Default 0. */
  alpha?: number;
  /** Default 0.001. */
  beta?: number;
  name?: string | null;
}

export type LinearCosineDecayConfig = {
  initial_learning_rate: number;
  decay_steps: number;
  num_periods: number;
  alpha: number;
  beta: number;
  name: string | null;
};

const LINEAR_COSINE_PARAMS: readonly Param[] = [
  ['initial_learning_rate', 'initialLearningRate', 'number'],
  ['decay_steps', 'decaySteps', 'number'],
  ['num_periods', 'numPeriods', 'number', 0.5],
  ['alpha', 'alpha', 'number', 0.0],
  ['beta', 'beta', 'number', 0.001],
  ['name', 'name', 'name', null],
];

/** Linear cosine decay (Bello et al. 2017): with `k = min(step, D)`,
 * `lr0 * ((alpha + (D - k) / D) * 0.5 * (1 + cos(π * 2 * numPeriods * k / D)) + beta)`.
 * In TF 2.4 it is `tf.keras.experimental.LinearCosineDecay`. */
export class LinearCosineDecay extends LearningRateSchedule {
  static override className = 'LinearCosineDecay';
  readonly initialLearningRate: number;
  readonly decaySteps: number;
  readonly numPeriods: number;
  readonly alpha: number;
  readonly beta: number;
  readonly name: string | null;

  constructor(options: LinearCosineDecayOptions) {
    super();
    const c = readOptions('LinearCosineDecay', LINEAR_COSINE_PARAMS, options);
    this.initialLearningRate = c.initial_learning_rate as number;
    this.decaySteps = c.decay_steps as number;
    this.numPeriods = c.num_periods as number;
    this.alpha = c.alpha as number;
    this.beta = c.beta as number;
    this.name = c.name as string | null;
  }

  call(step: number): number {
    const d = f(this.decaySteps);
    const s = minf(checkStep(step), d);
    const linear = f(f(d - s) / d);
    return linearCosine(this.initialLearningRate, d, s, linear, this.numPeriods, this.alpha, this.beta);
  }

  getConfig(): LinearCosineDecayConfig {
    return {
      initial_learning_rate: this.initialLearningRate,
      decay_steps: this.decaySteps,
      num_periods: this.numPeriods,
      alpha: this.alpha,
      beta: this.beta,
      name: this.name,
    };
  }

  static override fromConfig(config: Record<string, unknown>): LinearCosineDecay {
    return new this(optionsFromConfig('LinearCosineDecay', LINEAR_COSINE_PARAMS, config) as unknown as LinearCosineDecayOptions);
  }
}

/** The shared tail of (Noisy)LinearCosineDecay, in TF's float32 op order. */
function linearCosine(lr0: number, d: number, s: number, linear: number, numPeriods: number, alpha: number, beta: number): number {
  const completed = f(s / d);
  const fraction = f(f(2 * f(numPeriods)) * completed);
  const cosine = f(0.5 * f(1 + f(Math.cos(f(PI_F32 * fraction)))));
  const decayed = f(f(f(f(alpha) + linear) * cosine) + f(beta));
  return f(f(lr0) * decayed);
}

// ---- NoisyLinearCosineDecay ------------------------------------------------------------------

export interface NoisyLinearCosineDecayOptions extends LinearCosineDecayOptions {
  /** Default 1. */
  initialVariance?: number;
  /** Default 0.55. */
  varianceDecay?: number;
  /** Seed of the noise generator (not part of the Keras config). Without it the noise is
   * seeded from `Math.random()`. */
  seed?: number;
}

export type NoisyLinearCosineDecayConfig = {
  initial_learning_rate: number;
  decay_steps: number;
  initial_variance: number;
  variance_decay: number;
  num_periods: number;
  alpha: number;
  beta: number;
  name: string | null;
};

const NOISY_LINEAR_COSINE_PARAMS: readonly Param[] = [
  ['initial_learning_rate', 'initialLearningRate', 'number'],
  ['decay_steps', 'decaySteps', 'number'],
  ['initial_variance', 'initialVariance', 'number', 1.0],
  ['variance_decay', 'varianceDecay', 'number', 0.55],
  ['num_periods', 'numPeriods', 'number', 0.5],
  ['alpha', 'alpha', 'number', 0.0],
  ['beta', 'beta', 'number', 0.001],
  ['name', 'name', 'name', null],
];

/**
 * LinearCosineDecay with Gaussian noise of variance `initialVariance / (1 + k)^varianceDecay`
 * added to the linear part. The noise comes from a seedable generator of its own (mulberry32 +
 * Box–Muller), so the values are random like TF's but **never reproduce TF's values** (TF uses
 * its own Philox stream). Each call draws new noise.
 */
export class NoisyLinearCosineDecay extends LearningRateSchedule {
  static override className = 'NoisyLinearCosineDecay';
  readonly initialLearningRate: number;
  readonly decaySteps: number;
  readonly initialVariance: number;
  readonly varianceDecay: number;
  readonly numPeriods: number;
  readonly alpha: number;
  readonly beta: number;
  readonly name: string | null;
  private rngState: number;

  constructor(options: NoisyLinearCosineDecayOptions) {
    super();
    const { seed, ...rest } = (options ?? {}) as NoisyLinearCosineDecayOptions;
    const c = readOptions('NoisyLinearCosineDecay', NOISY_LINEAR_COSINE_PARAMS, options === null || typeof options !== 'object' ? options : rest);
    if (seed !== undefined && (typeof seed !== 'number' || !Number.isFinite(seed))) {
      throw new ArgumentError('InvalidArgument', `NoisyLinearCosineDecay: \`seed\` must be a finite number, got ${describeValue(seed)}`);
    }
    this.initialLearningRate = c.initial_learning_rate as number;
    this.decaySteps = c.decay_steps as number;
    this.initialVariance = c.initial_variance as number;
    this.varianceDecay = c.variance_decay as number;
    this.numPeriods = c.num_periods as number;
    this.alpha = c.alpha as number;
    this.beta = c.beta as number;
    this.name = c.name as string | null;
    this.rngState = (seed ?? Math.floor(Math.random() * 2 ** 32)) >>> 0;
  }

  /** mulberry32: a uniform number in [0, 1). */
  private uniform(): number {
    let t = (this.rngState = (this.rngState + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A standard normal sample (Box–Muller). */
  private normal(): number {
    const u = 1 - this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
  }

  call(step: number): number {
    const d = f(this.decaySteps);
    const s = minf(checkStep(step), d);
    const linear = f(f(d - s) / d);
    const variance = f(f(this.initialVariance) / powf(f(1 + s), f(this.varianceDecay)));
    const std = f(Math.sqrt(variance));
    const noisy = f(linear + f(f(this.normal()) * std));
    return linearCosine(this.initialLearningRate, d, s, noisy, this.numPeriods, this.alpha, this.beta);
  }

  getConfig(): NoisyLinearCosineDecayConfig {
    return {
      initial_learning_rate: this.initialLearningRate,
      decay_steps: this.decaySteps,
      initial_variance: this.initialVariance,
      variance_decay: this.varianceDecay,
      num_periods: this.numPeriods,
      alpha: this.alpha,
      beta: this.beta,
      name: this.name,
    };
  }

  static override fromConfig(config: Record<string, unknown>): NoisyLinearCosineDecay {
    return new this(optionsFromConfig('NoisyLinearCosineDecay', NOISY_LINEAR_COSINE_PARAMS, config) as unknown as NoisyLinearCosineDecayOptions);
  }
}

// ---- built-in registry -----------------------------------------------------------------------

/** The built-in schedules by Keras class name (what Keras' `deserialize` finds among the module's
 * classes). A plain object literal, so importing this module has no side effects. */
const BUILTIN_SCHEDULES: Readonly<Record<string, { fromConfig(config: Record<string, unknown>): LearningRateSchedule }>> = {
  ExponentialDecay,
  PiecewiseConstantDecay,
  PolynomialDecay,
  InverseTimeDecay,
  CosineDecay,
  CosineDecayRestarts,
  LinearCosineDecay,
  NoisyLinearCosineDecay,
};
