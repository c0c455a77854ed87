// The built-in learning-rate schedules (Keras' `tf.keras.optimizers.schedules`, TF 2.4). A schedule
// is called with the optimizer's `iterations` before the step's increment (cast to float32) and
// returns the learning rate.
//
// Each schedule is declared once: its arguments (a table for declared.ts: checks, properties,
// config), its options and properties with their TSDoc (the API reference), and its math, a pure
// function of math.ts. The math is float32 like TF's (the values agree with TF 2.4.4 within 1e-6
// relative; math.ts says why not always bit for bit).
//
// Like Keras 2.4, no schedule checks `decay_steps > 0` (or `first_decay_steps > 0`): a zero or
// negative value gives what TF gives (e.g. NaN at step 0 or Infinity/0 later), not an error.
// Arguments of the wrong type or non-finite numbers are refused with a typed error (Keras would
// accept them at construction and fail or produce NaN at the first call).
import { ArgumentError, HyperparameterError } from '../errors.js';
import { describeValue } from '../values.js';
import { ConfigOf, DeclaredSchedule, ScheduleDeclaration, checkStep, scheduleOptions } from './declared.js';
import {
  cosineDecay,
  cosineDecayRestarts,
  exponentialDecay,
  inverseTimeDecay,
  linearCosineDecay,
  noisyLinearCosineDecay,
  piecewiseConstantDecay,
  polynomialDecay,
} from './math.js';

// ---- ExponentialDecay ------------------------------------------------------------------------

/** The options of {@link ExponentialDecay}: Keras' arguments in camelCase. */
export interface ExponentialDecayOptions {
  /** The learning rate at step 0. */
  initialLearningRate: number;
  /** Not checked to be > 0 (Keras 2.4 does not). */
  decaySteps: number;
  /** The decay factor per `decaySteps` steps. */
  decayRate: number;
  /**
   * Decay at discrete intervals (`floor(step / decaySteps)`).
   * @default false
   */
  staircase?: boolean;
  /**
   * A name (Keras' `name`).
   * @default null
   */
  name?: string | null;
}

const EXPONENTIAL_PARAMS = [
  ['initial_learning_rate', 'number'],
  ['decay_steps', 'number'],
  ['decay_rate', 'number'],
  ['staircase', 'boolean', false],
  ['name', 'name', null],
] as const;

/** ExponentialDecay's Keras config (snake_case keys), as `getConfig()` returns it. */
export type ExponentialDecayConfig = ConfigOf<typeof EXPONENTIAL_PARAMS>;

/** `initialLearningRate * decayRate ^ (step / decaySteps)` (the exponent floored if `staircase`). */
export class ExponentialDecay extends DeclaredSchedule<ExponentialDecayConfig> {
  static override className = 'ExponentialDecay';
  /** @internal */
  static readonly declaration: ScheduleDeclaration = { className: 'ExponentialDecay', params: EXPONENTIAL_PARAMS };
  /** See {@link ExponentialDecayOptions.initialLearningRate}. */
  declare readonly initialLearningRate: number;
  /** See {@link ExponentialDecayOptions.decaySteps}. */
  declare readonly decaySteps: number;
  /** See {@link ExponentialDecayOptions.decayRate}. */
  declare readonly decayRate: number;
  /** See {@link ExponentialDecayOptions.staircase}. */
  declare readonly staircase: boolean;

  /** @param options - See {@link ExponentialDecayOptions}. */
  constructor(options: ExponentialDecayOptions);
  /** Keras' positional arguments, as Keras and tfjs users write them: `new ExponentialDecay(0.1, 1000, 0.96)`. */
  constructor(initialLearningRate: number, decaySteps: number, decayRate: number, staircase?: boolean, name?: string | null);
  constructor(...args: unknown[]) {
    super(...args);
  }

  call(step: number): number {
    return exponentialDecay(checkStep(step), this);
  }
}

// ---- PiecewiseConstantDecay ------------------------------------------------------------------

/** The options of {@link PiecewiseConstantDecay}: Keras' arguments in camelCase. */
export interface PiecewiseConstantDecayOptions {
  /** Increasing step boundaries (not checked, as in Keras). At least one is needed. */
  boundaries: readonly number[];
  /** One more value than boundaries. */
  values: readonly number[];
  /**
   * A name (Keras' `name`).
   * @default null
   */
  name?: string | null;
}

const PIECEWISE_PARAMS = [
  ['boundaries', 'numbers'],
  ['values', 'numbers'],
  ['name', 'name', null],
] as const;

/** PiecewiseConstantDecay's Keras config (snake_case keys), as `getConfig()` returns it. */
export type PiecewiseConstantDecayConfig = ConfigOf<typeof PIECEWISE_PARAMS>;

/**
 * `values[0]` for `step <= boundaries[0]`, `values[i]` for `boundaries[i-1] < step <= boundaries[i]`,
 * `values[values.length-1]` after the last boundary. Boundaries are compared as float32 (TF casts
 * them to the step's dtype); the value is returned as float32.
 *
 * Differences from Keras 2.4: empty `boundaries` are refused at construction (Keras accepts them
 * and fails on the first call); non-increasing boundaries are not checked (Keras' `tf.case` with
 * `exclusive=True` would fail at the call when two intervals match; here the first match wins).
 */
export class PiecewiseConstantDecay extends DeclaredSchedule<PiecewiseConstantDecayConfig> {
  static override className = 'PiecewiseConstantDecay';
  /** @internal */
  static readonly declaration: ScheduleDeclaration = {
    className: 'PiecewiseConstantDecay',
    params: PIECEWISE_PARAMS,
    check({ boundaries, values }) {
      if ((boundaries as number[]).length !== (values as number[]).length - 1) {
        throw new HyperparameterError('InvalidHyperparameter', 'The length of boundaries should be 1 less than the length of values');
      }
      if ((boundaries as number[]).length === 0) throw new HyperparameterError('InvalidHyperparameter', 'PiecewiseConstantDecay needs at least one boundary');
    },
  };
  /** See {@link PiecewiseConstantDecayOptions.boundaries}. */
  declare readonly boundaries: readonly number[];
  /** See {@link PiecewiseConstantDecayOptions.values}. */
  declare readonly values: readonly number[];

  /** @param options - See {@link PiecewiseConstantDecayOptions}. */
  constructor(options: PiecewiseConstantDecayOptions);
  /** Keras' positional arguments, as Keras and tfjs users write them: `new PiecewiseConstantDecay([1000, 2000], [0.1, 0.01, 0.001])`. */
  constructor(boundaries: readonly number[], values: readonly number[], name?: string | null);
  constructor(...args: unknown[]) {
    super(...args);
  }

  call(step: number): number {
    return piecewiseConstantDecay(checkStep(step), this);
  }
}

// ---- PolynomialDecay -------------------------------------------------------------------------

/** The options of {@link PolynomialDecay}: Keras' arguments in camelCase. */
export interface PolynomialDecayOptions {
  /** The learning rate at step 0. */
  initialLearningRate: number;
  /** Not checked to be > 0 (Keras 2.4 does not). */
  decaySteps: number;
  /**
   * The learning rate at the end of the decay.
   * @default 0.0001
   */
  endLearningRate?: number;
  /**
   * The power of the polynomial.
   * @default 1
   */
  power?: number;
  /**
   * Restart after `decaySteps` (with the next multiple of it as horizon).
   * @default false
   */
  cycle?: boolean;
  /**
   * A name (Keras' `name`).
   * @default null
   */
  name?: string | null;
}

const POLYNOMIAL_PARAMS = [
  ['initial_learning_rate', 'number'],
  ['decay_steps', 'number'],
  ['end_learning_rate', 'number', 0.0001],
  ['power', 'number', 1.0],
  ['cycle', 'boolean', false],
  ['name', 'name', null],
] as const;

/** PolynomialDecay's Keras config (snake_case keys), as `getConfig()` returns it. */
export type PolynomialDecayConfig = ConfigOf<typeof POLYNOMIAL_PARAMS>;

/** `(lr0 - end) * (1 - step / D) ^ power + end`; without `cycle` the step stops at `D = decaySteps`,
 * with `cycle` `D = decaySteps * ceil(step / decaySteps)` (1× at step 0). */
export class PolynomialDecay extends DeclaredSchedule<PolynomialDecayConfig> {
  static override className = 'PolynomialDecay';
  /** @internal */
  static readonly declaration: ScheduleDeclaration = { className: 'PolynomialDecay', params: POLYNOMIAL_PARAMS };
  /** See {@link PolynomialDecayOptions.initialLearningRate}. */
  declare readonly initialLearningRate: number;
  /** See {@link PolynomialDecayOptions.decaySteps}. */
  declare readonly decaySteps: number;
  /** See {@link PolynomialDecayOptions.endLearningRate}. */
  declare readonly endLearningRate: number;
  /** See {@link PolynomialDecayOptions.power}. */
  declare readonly power: number;
  /** See {@link PolynomialDecayOptions.cycle}. */
  declare readonly cycle: boolean;

  /** @param options - See {@link PolynomialDecayOptions}. */
  constructor(options: PolynomialDecayOptions);
  /** Keras' positional arguments, as Keras and tfjs users write them: `new PolynomialDecay(0.1, 1000)`. */
  constructor(initialLearningRate: number, decaySteps: number, endLearningRate?: number, power?: number, cycle?: boolean, name?: string | null);
  constructor(...args: unknown[]) {
    super(...args);
  }

  call(step: number): number {
    return polynomialDecay(checkStep(step), this);
  }
}

// ---- InverseTimeDecay ------------------------------------------------------------------------

/** The options of {@link InverseTimeDecay}: those of {@link ExponentialDecay}. */
export type InverseTimeDecayOptions = ExponentialDecayOptions;
/** InverseTimeDecay's Keras config (snake_case keys), as `getConfig()` returns it. */
export type InverseTimeDecayConfig = ExponentialDecayConfig;

/** `initialLearningRate / (1 + decayRate * step / decaySteps)` (the quotient floored if `staircase`). */
export class InverseTimeDecay extends DeclaredSchedule<InverseTimeDecayConfig> {
  static override className = 'InverseTimeDecay';
  /** @internal */
  static readonly declaration: ScheduleDeclaration = { className: 'InverseTimeDecay', params: EXPONENTIAL_PARAMS };
  /** See {@link ExponentialDecayOptions.initialLearningRate}. */
  declare readonly initialLearningRate: number;
  /** See {@link ExponentialDecayOptions.decaySteps}. */
  declare readonly decaySteps: number;
  /** See {@link ExponentialDecayOptions.decayRate}. */
  declare readonly decayRate: number;
  /** See {@link ExponentialDecayOptions.staircase}. */
  declare readonly staircase: boolean;

  /** @param options - See {@link InverseTimeDecayOptions}. */
  constructor(options: InverseTimeDecayOptions);
  /** Keras' positional arguments, as Keras and tfjs users write them: `new InverseTimeDecay(0.1, 1000, 0.5)`. */
  constructor(initialLearningRate: number, decaySteps: number, decayRate: number, staircase?: boolean, name?: string | null);
  constructor(...args: unknown[]) {
    super(...args);
  }

  call(step: number): number {
    return inverseTimeDecay(checkStep(step), this);
  }
}

// ---- CosineDecay -----------------------------------------------------------------------------

/** The options of {@link CosineDecay}: Keras' arguments in camelCase. */
export interface CosineDecayOptions {
  /** The learning rate at step 0. */
  initialLearningRate: number;
  /** Not checked to be > 0 (Keras 2.4 does not). */
  decaySteps: number;
  /**
   * Minimum learning rate as a fraction of `initialLearningRate`.
   * @default 0
   */
  alpha?: number;
  /**
   * A name (Keras' `name`).
   * @default null
   */
  name?: string | null;
}

const COSINE_PARAMS = [
  ['initial_learning_rate', 'number'],
  ['decay_steps', 'number'],
  ['alpha', 'number', 0.0],
  ['name', 'name', null],
] as const;

/** CosineDecay's Keras config (snake_case keys), as `getConfig()` returns it. */
export type CosineDecayConfig = ConfigOf<typeof COSINE_PARAMS>;

/** `lr0 * ((1 - alpha) * 0.5 * (1 + cos(π * min(step, D) / D)) + alpha)` (SGDR without restarts).
 * In TF 2.4 it is exported as `tf.keras.experimental.CosineDecay`. */
export class CosineDecay extends DeclaredSchedule<CosineDecayConfig> {
  static override className = 'CosineDecay';
  /** @internal */
  static readonly declaration: ScheduleDeclaration = { className: 'CosineDecay', params: COSINE_PARAMS };
  /** See {@link CosineDecayOptions.initialLearningRate}. */
  declare readonly initialLearningRate: number;
  /** See {@link CosineDecayOptions.decaySteps}. */
  declare readonly decaySteps: number;
  /** See {@link CosineDecayOptions.alpha}. */
  declare readonly alpha: number;

  /** @param options - See {@link CosineDecayOptions}. */
  constructor(options: CosineDecayOptions);
  /** Keras' positional arguments, as Keras and tfjs users write them: `new CosineDecay(0.1, 1000)`. */
  constructor(initialLearningRate: number, decaySteps: number, alpha?: number, name?: string | null);
  constructor(...args: unknown[]) {
    super(...args);
  }

  call(step: number): number {
    return cosineDecay(checkStep(step), this);
  }
}

// ---- CosineDecayRestarts ---------------------------------------------------------------------

/** The options of {@link CosineDecayRestarts}: Keras' arguments in camelCase. */
export interface CosineDecayRestartsOptions {
  /** The learning rate at step 0. */
  initialLearningRate: number;
  /** Length of the first period. Not checked to be > 0 (Keras 2.4 does not). */
  firstDecaySteps: number;
  /**
   * Each period is `tMul` times longer than the one before.
   * @default 2
   */
  tMul?: number;
  /**
   * Each restart starts at `mMul` times the previous start.
   * @default 1
   */
  mMul?: number;
  /**
   * Minimum learning rate as a fraction of `initialLearningRate` (not scaled by `mMul`).
   * @default 0
   */
  alpha?: number;
  /**
   * A name (Keras' `name`).
   * @default null
   */
  name?: string | null;
}

const COSINE_RESTARTS_PARAMS = [
  ['initial_learning_rate', 'number'],
  ['first_decay_steps', 'number'],
  ['t_mul', 'number', 2.0],
  ['m_mul', 'number', 1.0],
  ['alpha', 'number', 0.0],
  ['name', 'name', null],
] as const;

/** CosineDecayRestarts's Keras config (snake_case keys), as `getConfig()` returns it. */
export type CosineDecayRestartsConfig = ConfigOf<typeof COSINE_RESTARTS_PARAMS>;

/** Cosine decay with warm restarts (SGDR, Loshchilov & Hutter). In TF 2.4 it is exported as
 * `tf.keras.experimental.CosineDecayRestarts`. */
export class CosineDecayRestarts extends DeclaredSchedule<CosineDecayRestartsConfig> {
  static override className = 'CosineDecayRestarts';
  /** @internal */
  static readonly declaration: ScheduleDeclaration = { className: 'CosineDecayRestarts', params: COSINE_RESTARTS_PARAMS };
  /** See {@link CosineDecayRestartsOptions.initialLearningRate}. */
  declare readonly initialLearningRate: number;
  /** See {@link CosineDecayRestartsOptions.firstDecaySteps}. */
  declare readonly firstDecaySteps: number;
  /** See {@link CosineDecayRestartsOptions.tMul}. */
  declare readonly tMul: number;
  /** See {@link CosineDecayRestartsOptions.mMul}. */
  declare readonly mMul: number;
  /** See {@link CosineDecayRestartsOptions.alpha}. */
  declare readonly alpha: number;

  /** @param options - See {@link CosineDecayRestartsOptions}. */
  constructor(options: CosineDecayRestartsOptions);
  /** Keras' positional arguments, as Keras and tfjs users write them: `new CosineDecayRestarts(0.1, 1000)`. */
  constructor(initialLearningRate: number, firstDecaySteps: number, tMul?: number, mMul?: number, alpha?: number, name?: string | null);
  constructor(...args: unknown[]) {
    super(...args);
  }

  call(step: number): number {
    return cosineDecayRestarts(checkStep(step), this);
  }
}

// ---- LinearCosineDecay -----------------------------------------------------------------------

/** The options of {@link LinearCosineDecay}: Keras' arguments in camelCase. */
export interface LinearCosineDecayOptions {
  /** The learning rate at step 0. */
  initialLearningRate: number;
  /** Not checked to be > 0 (Keras 2.4 does not). */
  decaySteps: number;
  /**
   * Periods of the cosine part over `decaySteps`.
   * @default 0.5
   */
  numPeriods?: number;
  /**
   * The minimum learning rate, as a fraction of `initialLearningRate`.
   * @default 0
   */
  alpha?: number;
  /**
   * Added to the decayed cosine.
   * @default 0.001
   */
  beta?: number;
  /**
   * A name (Keras' `name`).
   * @default null
   */
  name?: string | null;
}

const LINEAR_COSINE_PARAMS = [
  ['initial_learning_rate', 'number'],
  ['decay_steps', 'number'],
  ['num_periods', 'number', 0.5],
  ['alpha', 'number', 0.0],
  ['beta', 'number', 0.001],
  ['name', 'name', null],
] as const;

/** LinearCosineDecay's Keras config (snake_case keys), as `getConfig()` returns it. */
export type LinearCosineDecayConfig = ConfigOf<typeof LINEAR_COSINE_PARAMS>;

/** Linear cosine decay (Bello et al. 2017): with `k = min(step, D)`,
 * `lr0 * ((alpha + (D - k) / D) * 0.5 * (1 + cos(π * 2 * numPeriods * k / D)) + beta)`.
 * In TF 2.4 it is `tf.keras.experimental.LinearCosineDecay`. */
export class LinearCosineDecay extends DeclaredSchedule<LinearCosineDecayConfig> {
  static override className = 'LinearCosineDecay';
  /** @internal */
  static readonly declaration: ScheduleDeclaration = { className: 'LinearCosineDecay', params: LINEAR_COSINE_PARAMS };
  /** See {@link LinearCosineDecayOptions.initialLearningRate}. */
  declare readonly initialLearningRate: number;
  /** See {@link LinearCosineDecayOptions.decaySteps}. */
  declare readonly decaySteps: number;
  /** See {@link LinearCosineDecayOptions.numPeriods}. */
  declare readonly numPeriods: number;
  /** See {@link LinearCosineDecayOptions.alpha}. */
  declare readonly alpha: number;
  /** See {@link LinearCosineDecayOptions.beta}. */
  declare readonly beta: number;

  /** @param options - See {@link LinearCosineDecayOptions}. */
  constructor(options: LinearCosineDecayOptions);
  /** Keras' positional arguments, as Keras and tfjs users write them: `new LinearCosineDecay(0.1, 1000)`. */
  constructor(initialLearningRate: number, decaySteps: number, numPeriods?: number, alpha?: number, beta?: number, name?: string | null);
  constructor(...args: unknown[]) {
    super(...args);
  }

  call(step: number): number {
    return linearCosineDecay(checkStep(step), this);
  }
}

// ---- NoisyLinearCosineDecay ------------------------------------------------------------------

/** The options of {@link NoisyLinearCosineDecay}: Keras' arguments in camelCase. */
export interface NoisyLinearCosineDecayOptions extends LinearCosineDecayOptions {
  /**
   * The initial variance of the noise.
   * @default 1
   */
  initialVariance?: number;
  /**
   * How fast the variance of the noise decays.
   * @default 0.55
   */
  varianceDecay?: number;
  /** Seed of the noise generator (not part of the Keras config). Without it the noise is
   * seeded from `Math.random()`. */
  seed?: number;
}

const NOISY_LINEAR_COSINE_PARAMS = [
  ['initial_learning_rate', 'number'],
  ['decay_steps', 'number'],
  ['initial_variance', 'number', 1.0],
  ['variance_decay', 'number', 0.55],
  ['num_periods', 'number', 0.5],
  ['alpha', 'number', 0.0],
  ['beta', 'number', 0.001],
  ['name', 'name', null],
] as const;

/** NoisyLinearCosineDecay's Keras config (snake_case keys), as `getConfig()` returns it. */
export type NoisyLinearCosineDecayConfig = ConfigOf<typeof NOISY_LINEAR_COSINE_PARAMS>;

/**
 * LinearCosineDecay with Gaussian noise of variance `initialVariance / (1 + k)^varianceDecay`
 * added to the linear part. The noise comes from a seedable generator of its own (mulberry32 +
 * Box–Muller), so the values are random like TF's but **never reproduce TF's values** (TF uses
 * its own Philox stream). Each call draws new noise.
 */
export class NoisyLinearCosineDecay extends DeclaredSchedule<NoisyLinearCosineDecayConfig> {
  static override className = 'NoisyLinearCosineDecay';
  /** @internal */
  static readonly declaration: ScheduleDeclaration = { className: 'NoisyLinearCosineDecay', params: NOISY_LINEAR_COSINE_PARAMS };
  /** See {@link NoisyLinearCosineDecayOptions.initialLearningRate}. */
  declare readonly initialLearningRate: number;
  /** See {@link NoisyLinearCosineDecayOptions.decaySteps}. */
  declare readonly decaySteps: number;
  /** See {@link NoisyLinearCosineDecayOptions.initialVariance}. */
  declare readonly initialVariance: number;
  /** See {@link NoisyLinearCosineDecayOptions.varianceDecay}. */
  declare readonly varianceDecay: number;
  /** See {@link NoisyLinearCosineDecayOptions.numPeriods}. */
  declare readonly numPeriods: number;
  /** See {@link NoisyLinearCosineDecayOptions.alpha}. */
  declare readonly alpha: number;
  /** See {@link NoisyLinearCosineDecayOptions.beta}. */
  declare readonly beta: number;
  private rngState: number;

  /** @param options - See {@link NoisyLinearCosineDecayOptions}. */
  constructor(options: NoisyLinearCosineDecayOptions);
  /** Keras' positional arguments, as Keras and tfjs users write them: `new NoisyLinearCosineDecay(0.1, 1000)`. */
  constructor(
    initialLearningRate: number,
    decaySteps: number,
    initialVariance?: number,
    varianceDecay?: number,
    numPeriods?: number,
    alpha?: number,
    beta?: number,
    name?: string | null,
  );
  constructor(...args: unknown[]) {
    // `seed` is an option but not an argument of the config.
    const { seed, ...rest } = scheduleOptions(NoisyLinearCosineDecay.declaration, args) as NoisyLinearCosineDecayOptions;
    super(rest);
    if (seed !== undefined && (typeof seed !== 'number' || !Number.isFinite(seed))) {
      throw new ArgumentError('InvalidArgument', `NoisyLinearCosineDecay: \`seed\` must be a finite number, got ${describeValue(seed)}`);
    }
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
    const s = checkStep(step);
    return noisyLinearCosineDecay(s, this, this.normal());
  }
}
