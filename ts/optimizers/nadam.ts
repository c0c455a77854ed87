// Rust rule: crates/simdopt-core/src/rules/nadam.rs. Keras' Nadam.
import { HyperparameterError } from '../errors.js';
import { BaseOptimizerConfig, BaseOptimizerOptions, constructorOptions, HyperValue, Optimizer, OptimizerSpec } from '../optimizer/index.js';
import { LearningRateSchedule } from '../schedules/index.js';

/** The options of {@link Nadam}: Keras' constructor arguments in camelCase, plus those of every optimizer. */
export interface NadamOptions extends Omit<BaseOptimizerOptions, 'decay' | 'lr'> {
  /**
   * The step size: a number or a function called at each step; not a
   * {@link LearningRateSchedule} (refused, as in Keras).
   * @default 0.001
   */
  learningRate?: number | (() => number);
  /** Legacy alias of `learningRate`. */
  lr?: number | (() => number);
  /**
   * Decay rate of the first-moment estimates (Keras' `beta_1`).
   * @default 0.9
   */
  beta1?: HyperValue;
  /**
   * Decay rate of the second-moment estimates (Keras' `beta_2`).
   * @default 0.999
   */
  beta2?: HyperValue;
  /**
   * A small constant for numerical stability; 0 becomes 1e-7, as in Keras.
   * @default 1e-7
   */
  epsilon?: HyperValue;
  /**
   * Keras' `schedule_decay`: shapes the momentum schedule `mu_t`, never the learning rate. It is
   * the config's (and the `decay` property's) `decay`.
   * @default 0.004
   */
  scheduleDecay?: HyperValue;
  /** Ignored, as in Keras (it is overwritten by `scheduleDecay`). */
  decay?: HyperValue;
}

/** Nadam's Keras config, as `getConfig()` returns it. */
export type NadamConfig = BaseOptimizerConfig & {
  /** {@link NadamOptions.beta1}. */
  beta_1: number;
  /** {@link NadamOptions.beta2}. */
  beta_2: number;
  /** {@link NadamOptions.epsilon}. */
  epsilon: number;
};

/** Keras' positional order of the constructor arguments. */
const POSITIONAL = ['learningRate', 'beta1', 'beta2', 'epsilon', 'name'] as const;

const SPEC: OptimizerSpec = {
  className: 'Nadam',
  config: [
    ['learning_rate', 0.001],
    ['decay', 0.004],
    ['beta_1', 0.9],
    ['beta_2', 0.999],
    ['epsilon', 1e-7],
  ],
  slots: [{ name: 'm' }, { name: 'v' }],
};

const NO_SCHEDULES = 'The Nadam optimizer does not support tf.keras.optimizers.LearningRateSchedules as the learning rate.';

/**
 * Nadam (Adam with Nesterov momentum, Dozat), Keras' Python update. Weights: `iterations`,
 * `momentum_cache` (the product of the momentum schedule so far), then `m`, then `v`.
 *
 * `decay` is the `schedule_decay`: it is not a learning-rate decay. TF 2.4 has a round-trip bug
 * here: its `get_config()` writes `decay: <schedule_decay>`, and its `from_config` passes
 * `decay=`, which the constructor overwrites with the default 0.004. `Nadam.fromConfig` (and so
 * `deserialize`) keeps the config's `decay`, so configs written by either side load with the
 * schedule decay they were saved with.
 *
 * @example
 * ```ts
 * await ready();
 * const w = new Variable(new Float32Array([1, 2, 3, 4]), { name: 'w' });
 * const opt = new Nadam({ learningRate: 0.002, scheduleDecay: 0.004 });
 * opt.applyGradients([[new Float32Array([0.1, 0.2, 0.3, 0.4]), w]]);
 * ```
 */
export class Nadam extends Optimizer {
  /** How the optimizer machinery sees the class: Keras class name, config defaults, slots. */
  static readonly spec: OptimizerSpec = SPEC;
  /**
   * @param options - See {@link NadamOptions}.
   */
  constructor(options?: NadamOptions);
  /** Keras' positional arguments, as Keras and tfjs users write them: `new Nadam(0.01)`. */
  constructor(learningRate?: number | (() => number), beta1?: HyperValue, beta2?: HyperValue, epsilon?: HyperValue, name?: string);
  constructor(...args: unknown[]) {
    const options = constructorOptions('Nadam', POSITIONAL, args) as NadamOptions;
    const { scheduleDecay, decay: ignored, ...rest } = options;
    void ignored;
    if (options.learningRate instanceof LearningRateSchedule || (options.lr as unknown) instanceof LearningRateSchedule) {
      throw new HyperparameterError('InvalidHyperparameter', NO_SCHEDULES);
    }
    super(SPEC, { ...rest, decay: scheduleDecay ?? 0.004 } as Record<string, unknown>);
  }

  /** Keras' `from_config`, except that a config's `decay` is kept as the schedule decay (see the
   * class notes). */
  static override fromConfig<T extends Optimizer>(
    this: new (options: Record<string, unknown>) => T,
    config: Record<string, unknown>,
    customObjects: Record<string, unknown> = {},
  ): T {
    let c = config;
    if (config !== null && typeof config === 'object' && !Array.isArray(config) && 'decay' in config && !('schedule_decay' in config)) {
      const { decay, ...rest } = config;
      c = { ...rest, schedule_decay: decay };
    }
    return super.fromConfig(c, customObjects) as T;
  }

  /** Refuses a LearningRateSchedule for `learning_rate`, as Keras' constructor does. */
  override setHyper(key: string, value: HyperValue): void {
    if (value instanceof LearningRateSchedule && (key === 'learning_rate' || key === 'learningRate' || key === 'lr')) {
      throw new HyperparameterError('InvalidHyperparameter', NO_SCHEDULES);
    }
    super.setHyper(key, value);
  }

  /** The current {@link NadamOptions.beta1}: read it, or set a number, function or schedule for the next steps. */
  declare beta1: HyperValue;
  /** The current {@link NadamOptions.beta2}: read it, or set a number, function or schedule for the next steps. */
  declare beta2: HyperValue;
  /** The current {@link NadamOptions.epsilon}: read it, or set a number, function or schedule for the next steps. */
  declare epsilon: HyperValue;
  /** The schedule decay (the same value as `decay`). */
  get scheduleDecay(): HyperValue {
    return this.getHyper('decay');
  }
  /** Sets the schedule decay for the next steps. */
  set scheduleDecay(v: HyperValue) {
    this.setHyper('decay', v);
  }

  /** Keras' `get_config()` (snake_case keys, Keras' order). */
  override getConfig(): NadamConfig {
    return super.getConfig() as NadamConfig;
  }
}
