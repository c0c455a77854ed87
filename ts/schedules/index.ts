// Learning-rate schedules: the base class, Keras' serialize / deserialize, the built-in ones.
import { ConfigError } from '../errors.js';
import { describeValue } from '../values.js';
import { LearningRateSchedule, Serialized, scheduleRegistry } from './schedule.js';
import {
  CosineDecay,
  CosineDecayRestarts,
  ExponentialDecay,
  InverseTimeDecay,
  LinearCosineDecay,
  NoisyLinearCosineDecay,
  PiecewiseConstantDecay,
  PolynomialDecay,
} from './builtins.js';

export { LearningRateSchedule, registerSchedule, serializeSchedule } from './schedule.js';
export type { Serialized } from './schedule.js';
export * from './builtins.js';

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
  const custom = customObjects != null && Object.prototype.hasOwnProperty.call(customObjects, name) ? customObjects[name] : undefined;
  const cls = custom ?? scheduleRegistry.get(name) ?? (Object.prototype.hasOwnProperty.call(BUILTIN_SCHEDULES, name) ? BUILTIN_SCHEDULES[name] : undefined);
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
