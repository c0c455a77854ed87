// Keras 3.15.1's learning-rate schedules (`keras.optimizers.schedules`) for simdopt/keras3.
//
// Where Keras 3 computes what TF 2.4 computed (ExponentialDecay, PolynomialDecay,
// InverseTimeDecay, CosineDecayRestarts, and CosineDecay without warmup), the class extends the
// TF 2.4 class of ts/schedules/ and keeps its float32 arithmetic; only the declaration differs:
// Keras 3's default names ('ExponentialDecay', 'PiecewiseConstant', 'SGDRDecay', ...) and its
// `decay_steps > 0` check. PiecewiseConstantDecay (sums every matching piece) and CosineDecay
// (linear warmup to `warmup_target`) compute Keras 3's own formulas here.
//
// Keras 3 calls a schedule with the optimizer's raw `_iterations` (an integer: it counts
// micro-steps under gradient accumulation); the schedules cast it to float32.
import { HyperparameterError } from '../../errors.js';
import * as tf24 from '../../schedules/builtins.js';
import { DeclaredSchedule, ScheduleDeclaration, checkStep, f, minf } from '../../schedules/declared.js';
import { cosineDecay } from '../../schedules/math.js';

/** Keras 3's `Argument \`decay_steps\` must be > 0. Received: decay_steps=0` check. */
function positive(key: string): (args: Record<string, unknown>) => void {
  return (args) => {
    const v = args[key] as number;
    if (!(v > 0)) throw new HyperparameterError('InvalidHyperparameter', `Argument \`${key}\` must be > 0. Received: ${key}=${v}`);
  };
}

/** The constructor arguments as the TF 2.4 class takes them (same positions, same options). */
type Args<T> = [T];

// ---- ExponentialDecay ------------------------------------------------------------------------

/** The options of {@link ExponentialDecay}: Keras 3's arguments in camelCase. */
export interface ExponentialDecayOptions extends Omit<tf24.ExponentialDecayOptions, 'name' | 'decaySteps'> {
  /** Must be > 0 (Keras 3 checks it). */
  decaySteps: number;
  /**
   * A name (Keras' `name`).
   * @default 'ExponentialDecay'
   */
  name?: string | null;
}

/** `initialLearningRate * decayRate ^ (step / decaySteps)` (the exponent floored if `staircase`),
 * Keras 3's `keras.optimizers.schedules.ExponentialDecay`. */
export class ExponentialDecay extends tf24.ExponentialDecay {
  static override className = 'ExponentialDecay';
  /** @internal */
  static override readonly declaration: ScheduleDeclaration = {
    className: 'ExponentialDecay',
    params: [
      ['initial_learning_rate', 'number'],
      ['decay_steps', 'number'],
      ['decay_rate', 'number'],
      ['staircase', 'boolean', false],
      ['name', 'name', 'ExponentialDecay'],
    ],
    check: positive('decay_steps'),
  };

  /** @param options - See {@link ExponentialDecayOptions}. */
  constructor(options: ExponentialDecayOptions);
  /** Keras' positional arguments: `new ExponentialDecay(0.1, 1000, 0.96)`. */
  constructor(initialLearningRate: number, decaySteps: number, decayRate: number, staircase?: boolean, name?: string | null);
  constructor(...args: unknown[]) {
    super(...(args as Args<ExponentialDecayOptions>));
  }
}

// ---- PiecewiseConstantDecay ------------------------------------------------------------------

/** The options of {@link PiecewiseConstantDecay}: Keras 3's arguments in camelCase. */
export interface PiecewiseConstantDecayOptions extends Omit<tf24.PiecewiseConstantDecayOptions, 'name'> {
  /**
   * A name (Keras' `name`).
   * @default 'PiecewiseConstant'
   */
  name?: string | null;
}

/**
 * `values[0]` for `step <= boundaries[0]`, `values[i]` for `boundaries[i-1] < step <= boundaries[i]`,
 * `values[values.length-1]` after the last boundary; Keras 3's
 * `keras.optimizers.schedules.PiecewiseConstantDecay`.
 *
 * As Keras 3 computes it, the result is the float32 sum of every piece whose interval holds the
 * step, so unsorted boundaries add overlapping pieces (Keras 3 gives 0.4 for boundaries `[5, 2]`,
 * values `[0.1, 0.2, 0.3]` at step 3) instead of failing. Boundaries are cast to the step's type:
 * for an integer step (what an optimizer passes) they are truncated to integers, as Keras 3 casts
 * them to the int32 iteration counter. Empty `boundaries` are refused at construction (Keras 3
 * fails at the first call).
 */
export class PiecewiseConstantDecay extends DeclaredSchedule<tf24.PiecewiseConstantDecayConfig> {
  static override className = 'PiecewiseConstantDecay';
  /** @internal */
  static readonly declaration: ScheduleDeclaration = {
    className: 'PiecewiseConstantDecay',
    params: [
      ['boundaries', 'numbers'],
      ['values', 'numbers'],
      ['name', 'name', 'PiecewiseConstant'],
    ],
    check({ boundaries, values }) {
      const b = boundaries as number[];
      const v = values as number[];
      if (b.length !== v.length - 1) {
        throw new HyperparameterError(
          'InvalidHyperparameter',
          `The length of boundaries should be 1 less than the length of values. Received: boundaries=[${b.join(', ')}] of length ${b.length}, and values=[${v.join(', ')}] of length ${v.length}.`,
        );
      }
      if (b.length === 0) throw new HyperparameterError('InvalidHyperparameter', 'PiecewiseConstantDecay needs at least one boundary');
    },
  };
  /** Increasing step boundaries (not checked, as in Keras). */
  declare readonly boundaries: readonly number[];
  /** One more value than boundaries. */
  declare readonly values: readonly number[];

  /** @param options - See {@link PiecewiseConstantDecayOptions}. */
  constructor(options: PiecewiseConstantDecayOptions);
  /** Keras' positional arguments: `new PiecewiseConstantDecay([1000, 2000], [0.1, 0.01, 0.001])`. */
  constructor(boundaries: readonly number[], values: readonly number[], name?: string | null);
  constructor(...args: unknown[]) {
    super(...args);
  }

  call(step: number): number {
    const s = checkStep(step);
    const integerStep = Number.isInteger(s);
    const b = this.boundaries.map((x) => (integerStep ? Math.trunc(x) : f(x)));
    const v = this.values;
    // Keras 3's order of additions: the first piece, the last, then the inner ones.
    let result = 0;
    if (s <= b[0]) result = f(result + f(v[0]));
    if (s > b[b.length - 1]) result = f(result + f(v[v.length - 1]));
    for (let i = 1; i < b.length; i++) {
      if (s > b[i - 1] && s <= b[i]) result = f(result + f(v[i]));
    }
    return result;
  }
}

// ---- PolynomialDecay -------------------------------------------------------------------------

/** The options of {@link PolynomialDecay}: Keras 3's arguments in camelCase. */
export interface PolynomialDecayOptions extends Omit<tf24.PolynomialDecayOptions, 'name' | 'decaySteps'> {
  /** Must be > 0 (Keras 3 checks it). */
  decaySteps: number;
  /**
   * A name (Keras' `name`).
   * @default 'PolynomialDecay'
   */
  name?: string | null;
}

/** `(lr0 - end) * (1 - step / D) ^ power + end`; without `cycle` the step stops at `D = decaySteps`,
 * with `cycle` `D = decaySteps * ceil(step / decaySteps)` (1× at step 0). Keras 3's
 * `keras.optimizers.schedules.PolynomialDecay`. */
export class PolynomialDecay extends tf24.PolynomialDecay {
  static override className = 'PolynomialDecay';
  /** @internal */
  static override readonly declaration: ScheduleDeclaration = {
    className: 'PolynomialDecay',
    params: [
      ['initial_learning_rate', 'number'],
      ['decay_steps', 'number'],
      ['end_learning_rate', 'number', 0.0001],
      ['power', 'number', 1.0],
      ['cycle', 'boolean', false],
      ['name', 'name', 'PolynomialDecay'],
    ],
    check: positive('decay_steps'),
  };

  /** @param options - See {@link PolynomialDecayOptions}. */
  constructor(options: PolynomialDecayOptions);
  /** Keras' positional arguments: `new PolynomialDecay(0.1, 1000)`. */
  constructor(initialLearningRate: number, decaySteps: number, endLearningRate?: number, power?: number, cycle?: boolean, name?: string | null);
  constructor(...args: unknown[]) {
    super(...(args as Args<PolynomialDecayOptions>));
  }
}

// ---- InverseTimeDecay ------------------------------------------------------------------------

/** The options of {@link InverseTimeDecay}: Keras 3's arguments in camelCase. */
export interface InverseTimeDecayOptions extends Omit<ExponentialDecayOptions, 'name'> {
  /**
   * A name (Keras' `name`).
   * @default 'InverseTimeDecay'
   */
  name?: string | null;
}

/** `initialLearningRate / (1 + decayRate * step / decaySteps)` (the quotient floored if
 * `staircase`), Keras 3's `keras.optimizers.schedules.InverseTimeDecay`. */
export class InverseTimeDecay extends tf24.InverseTimeDecay {
  static override className = 'InverseTimeDecay';
  /** @internal */
  static override readonly declaration: ScheduleDeclaration = {
    className: 'InverseTimeDecay',
    params: [
      ['initial_learning_rate', 'number'],
      ['decay_steps', 'number'],
      ['decay_rate', 'number'],
      ['staircase', 'boolean', false],
      ['name', 'name', 'InverseTimeDecay'],
    ],
    check: positive('decay_steps'),
  };

  /** @param options - See {@link InverseTimeDecayOptions}. */
  constructor(options: InverseTimeDecayOptions);
  /** Keras' positional arguments: `new InverseTimeDecay(0.1, 1000, 0.5)`. */
  constructor(initialLearningRate: number, decaySteps: number, decayRate: number, staircase?: boolean, name?: string | null);
  constructor(...args: unknown[]) {
    super(...(args as Args<InverseTimeDecayOptions>));
  }
}

// ---- CosineDecay -----------------------------------------------------------------------------

/** The options of {@link CosineDecay}: Keras 3's arguments in camelCase. */
export interface CosineDecayOptions {
  /** The learning rate at step 0 (where the warmup starts, if there is one). */
  initialLearningRate: number;
  /** Steps of the cosine decay (after the warmup). Must be > 0 (Keras 3 checks it). */
  decaySteps: number;
  /**
   * Minimum learning rate as a fraction of the rate the decay starts from.
   * @default 0
   */
  alpha?: number;
  /**
   * A name (Keras' `name`).
   * @default 'CosineDecay'
   */
  name?: string | null;
  /**
   * The learning rate the linear warmup reaches after `warmupSteps`; the decay then goes from it
   * to `warmupTarget * alpha`. `null`: no warmup (then `warmupSteps` is ignored, as in Keras 3).
   * @default null
   */
  warmupTarget?: number | null;
  /**
   * Steps of the linear warmup from `initialLearningRate` to `warmupTarget`.
   * @default 0
   */
  warmupSteps?: number;
}

/** CosineDecay's Keras 3 config (snake_case keys, Keras 3's order), as `getConfig()` returns it. */
export interface CosineDecayConfig {
  /** See {@link CosineDecayOptions.initialLearningRate}. */
  initial_learning_rate: number;
  /** See {@link CosineDecayOptions.decaySteps}. */
  decay_steps: number;
  /** See {@link CosineDecayOptions.alpha}. */
  alpha: number;
  /** See {@link CosineDecayOptions.name}. */
  name: string | null;
  /** See {@link CosineDecayOptions.warmupTarget}. */
  warmup_target: number | null;
  /** See {@link CosineDecayOptions.warmupSteps}. */
  warmup_steps: number;
}

/**
 * Keras 3's `keras.optimizers.schedules.CosineDecay`: with a `warmupTarget`, first a linear warmup
 * `initialLearningRate + (warmupTarget - initialLearningRate) * step / warmupSteps` for
 * `step < warmupSteps`, then the cosine decay from `warmupTarget` over `decaySteps`
 * (`lr * ((1 - alpha) * 0.5 * (1 + cos(π * k / decaySteps)) + alpha)`, `k` = steps since the
 * warmup, capped at `decaySteps`). Without one, the cosine decay from `initialLearningRate`.
 */
export class CosineDecay extends DeclaredSchedule<CosineDecayConfig & Record<string, unknown>> {
  static override className = 'CosineDecay';
  /** @internal */
  static readonly declaration: ScheduleDeclaration = {
    className: 'CosineDecay',
    params: [
      ['initial_learning_rate', 'number'],
      ['decay_steps', 'number'],
      ['alpha', 'number', 0.0],
      ['name', 'name', 'CosineDecay'],
      ['warmup_target', 'optionalNumber', null],
      ['warmup_steps', 'number', 0],
    ],
    check: positive('decay_steps'),
  };
  /** See {@link CosineDecayOptions.initialLearningRate}. */
  declare readonly initialLearningRate: number;
  /** See {@link CosineDecayOptions.decaySteps}. */
  declare readonly decaySteps: number;
  /** See {@link CosineDecayOptions.alpha}. */
  declare readonly alpha: number;
  /** See {@link CosineDecayOptions.warmupTarget}. */
  declare readonly warmupTarget: number | null;
  /** See {@link CosineDecayOptions.warmupSteps}. */
  declare readonly warmupSteps: number;

  /** @param options - See {@link CosineDecayOptions}. */
  constructor(options: CosineDecayOptions);
  /** Keras' positional arguments: `new CosineDecay(0, 1000, 0, 'CosineDecay', 0.1, 100)`. */
  constructor(initialLearningRate: number, decaySteps: number, alpha?: number, name?: string | null, warmupTarget?: number | null, warmupSteps?: number);
  constructor(...args: unknown[]) {
    super(...args);
  }

  call(step: number): number {
    let s = checkStep(step);
    const lr0 = f(this.initialLearningRate);
    const d = f(this.decaySteps);
    if (this.warmupTarget === null) return cosineDecay(s, this);
    const target = f(this.warmupTarget);
    const warmup = f(this.warmupSteps);
    s = minf(s, f(d + warmup));
    if (s < warmup) return f(f(f(target - lr0) * f(s / warmup)) + lr0);
    return cosineDecay(f(s - warmup), { initialLearningRate: target, decaySteps: d, alpha: this.alpha });
  }
}

// ---- CosineDecayRestarts ---------------------------------------------------------------------

/** The options of {@link CosineDecayRestarts}: Keras 3's arguments in camelCase. */
export interface CosineDecayRestartsOptions extends Omit<tf24.CosineDecayRestartsOptions, 'name' | 'firstDecaySteps'> {
  /** Length of the first period. Must be > 0 (Keras 3 checks it). */
  firstDecaySteps: number;
  /**
   * A name (Keras' `name`).
   * @default 'SGDRDecay'
   */
  name?: string | null;
}

/** Cosine decay with warm restarts (SGDR, Loshchilov & Hutter), Keras 3's
 * `keras.optimizers.schedules.CosineDecayRestarts`. */
export class CosineDecayRestarts extends tf24.CosineDecayRestarts {
  static override className = 'CosineDecayRestarts';
  /** @internal */
  static override readonly declaration: ScheduleDeclaration = {
    className: 'CosineDecayRestarts',
    params: [
      ['initial_learning_rate', 'number'],
      ['first_decay_steps', 'number'],
      ['t_mul', 'number', 2.0],
      ['m_mul', 'number', 1.0],
      ['alpha', 'number', 0.0],
      ['name', 'name', 'SGDRDecay'],
    ],
    check: positive('first_decay_steps'),
  };

  /** @param options - See {@link CosineDecayRestartsOptions}. */
  constructor(options: CosineDecayRestartsOptions);
  /** Keras' positional arguments: `new CosineDecayRestarts(0.1, 1000)`. */
  constructor(initialLearningRate: number, firstDecaySteps: number, tMul?: number, mMul?: number, alpha?: number, name?: string | null);
  constructor(...args: unknown[]) {
    super(...(args as Args<CosineDecayRestartsOptions>));
  }
}
