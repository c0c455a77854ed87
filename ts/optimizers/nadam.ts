// Keras' Nadam.
import { HyperparameterError } from '../errors.js';
import { BaseOptimizerOptions, HyperValue, Optimizer, OptimizerSpec, optionsObject } from '../optimizer/index.js';
import { LearningRateSchedule } from '../schedules/index.js';

export interface NadamOptions extends Omit<BaseOptimizerOptions, 'decay' | 'lr'> {
  /** A number or a function; not a LearningRateSchedule (refused, as in Keras). */
  learningRate?: number | (() => number);
  /** Legacy alias of `learningRate`. */
  lr?: number | (() => number);
  beta1?: HyperValue;
  beta2?: HyperValue;
  /** 0 becomes 1e-7, as in Keras. */
  epsilon?: HyperValue;
  /** Keras' `schedule_decay` (default 0.004): shapes the momentum schedule `mu_t`, never the
   * learning rate. It is the config's (and the `decay` property's) `decay`. */
  scheduleDecay?: HyperValue;
  /** Ignored, as in Keras (it is overwritten by `scheduleDecay`). */
  decay?: HyperValue;
}

const SPEC: OptimizerSpec = {
  className: 'Nadam',
  config: [
    ['learning_rate', 0.001],
    ['decay', 0.004],
    ['beta_1', 0.9],
    ['beta_2', 0.999],
    ['epsilon', 1e-7],
  ],
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
 */
export class Nadam extends Optimizer {
  constructor(options: NadamOptions = {}) {
    options = optionsObject(options);
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

  declare beta1: HyperValue;
  declare beta2: HyperValue;
  declare epsilon: HyperValue;
  /** The schedule decay (the same value as `decay`). */
  get scheduleDecay(): HyperValue {
    return this.getHyper('decay');
  }
  set scheduleDecay(v: HyperValue) {
    this.setHyper('decay', v);
  }
}
