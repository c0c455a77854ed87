// Hyperparameters and schedules: the values an optimizer was given (numbers, zero-argument
// functions, a learning-rate schedule), Keras' checks on them, and how the function and schedule
// ones are resolved for each step and handed to the core.
import { call, core } from '../wasm/loader.js';
import { ArgumentError, ConfigError, HyperparameterError } from '../errors.js';
import { LearningRateSchedule, Serialized, serializeSchedule } from '../schedules/index.js';
import { describeValue } from '../values.js';
import { camelCase } from '../keys.js';
import type { HyperValue } from './types.js';

/** Keras' `epsilon or backend.epsilon()`: an epsilon of 0 becomes 1e-7. */
export function kerasValue(key: string, v: unknown): unknown {
  return key === 'epsilon' && v === 0 ? 1e-7 : v;
}

/** Hyperparameters a custom optimizer keeps in the core (the rest stay in JavaScript). */
const CORE_BASE_HYPERS = new Set(['learning_rate', 'decay']);

/** Whether a hyperparameter lives in the core: all of a built-in's; a custom optimizer's
 * `learning_rate` and `decay`. */
export function isCoreHyper(key: string, custom: boolean): boolean {
  return !custom || CORE_BASE_HYPERS.has(key);
}

/** Checks a hyperparameter value as Keras would use it. */
export function checkHyper(key: string, v: unknown): HyperValue {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new HyperparameterError('InvalidHyperparameter', `hyperparameter \`${key}\` must be a finite number, got ${v}`);
    return v;
  }
  if (v instanceof LearningRateSchedule) {
    if (key !== 'learning_rate') throw new HyperparameterError('InvalidHyperparameter', `only \`learning_rate\` can be a LearningRateSchedule, not \`${key}\``);
    return v;
  }
  if (typeof v === 'function') {
    if (v.length !== 0) throw new HyperparameterError('InvalidHyperparameter', `hyperparameter \`${key}\` must be a zero-argument function`);
    return v as () => number;
  }
  throw new HyperparameterError('InvalidHyperparameter', `hyperparameter \`${key}\` must be a number, a function or a LearningRateSchedule; got ${describeValue(v)}`);
}

/** Keras' `_serialize_hyperparameter`: schedules serialize, functions give their current value. */
export function serializeHyper(v: HyperValue): number | Serialized {
  if (typeof v === 'number') return v;
  if (v instanceof LearningRateSchedule) return serializeSchedule(v);
  return v();
}

/** The value a function or schedule hyperparameter gives at `iterations`, checked. */
function callHyper(key: string, v: Exclude<HyperValue, number>, iterations: () => number): number {
  const x: unknown = v instanceof LearningRateSchedule ? v.call(Math.fround(iterations())) : v();
  if (typeof x !== 'number') throw new HyperparameterError('InvalidHyperparameter', `hyperparameter \`${key}\` returned ${describeValue(x)}, not a number`);
  return x;
}

/** The hyperparameters of one optimizer, by Keras key, in config order. */
export class Hyperparameters {
  /** Keys of the function and schedule hyperparameters (recomputed after `set`). */
  private dynamicKeys: string[] | null = null;

  constructor(
    private readonly values: Map<string, HyperValue>,
    private readonly className: string,
    private readonly custom: boolean,
  ) {}

  /** The value as given (number, function or schedule). */
  get(key: string): HyperValue {
    const v = this.values.get(this.kerasKey(key));
    if (v === undefined) throw new ConfigError('UnknownHyperparameter', `unknown hyperparameter \`${key}\` for ${this.className}`);
    return v;
  }

  /** The Keras key of a hyperparameter given by its Keras or camelCase name. */
  private kerasKey(key: string): string {
    if (typeof key !== 'string') throw new ArgumentError('InvalidArgument', `a hyperparameter name must be a string, got ${describeValue(key)}`);
    if (this.values.has(key)) return key;
    for (const k of this.values.keys()) if (camelCase(k) === key) return k;
    return key;
  }

  /** Keras' `_set_hyper`: a number is validated and handed to the core (optimizer `id`) now; a
   * function or schedule is called at each step. */
  set(id: number, key: string, value: HyperValue): void {
    const k = this.kerasKey(key);
    if (!this.values.has(k)) throw new ConfigError('UnknownHyperparameter', `unknown hyperparameter \`${key}\` for ${this.className}`);
    const v = checkHyper(k, kerasValue(k, value));
    if (typeof v === 'number' && isCoreHyper(k, this.custom)) call(() => core().optimizer_set_hyper(id, k, v));
    this.values.set(k, v);
    this.dynamicKeys = null;
  }

  /** Keras' `_get_hyper` for this step, rounded to f32 as Keras' float32 hyper variables are. */
  valueAt(key: string, iterations: () => number): number {
    const v = this.get(key);
    return Math.fround(typeof v === 'number' ? v : callHyper(key, v, iterations));
  }

  /** Calls the function and schedule hyperparameters that live in the core and hands their
   * values to the core optimizer (`liveId` gives its id, or throws if the user code just run
   * disposed it). (No closure in here, so a step with only numbers allocates nothing.) */
  resolveForStep(liveId: () => number, iterations: () => number): void {
    const keys = this.dynamicKeys ?? (this.dynamicKeys = [...this.values.keys()].filter((k) => typeof this.values.get(k) !== 'number'));
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      if (!isCoreHyper(key, this.custom)) continue; // a custom optimizer reads its own with getHyperValue
      const value = callHyper(key, this.values.get(key) as Exclude<HyperValue, number>, iterations);
      const id = liveId();
      call(() => core().optimizer_set_hyper(id, key, value));
    }
  }

  /** The config entries `key → serialized value`. */
  serialized(key: string): number | Serialized {
    return serializeHyper(this.values.get(key)!);
  }
}
