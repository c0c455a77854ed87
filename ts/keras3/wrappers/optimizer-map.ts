// Keras 3's `keras.optimizers.OptimizerMap`: which optimizer updates which variable, by the
// variable's path (a simdopt Variable's `name`): an exact key first, else the one key that
// matches the whole path as a regular expression (Python's `re.fullmatch`), else the default.
import { ArgumentError, ConfigError, HyperparameterError } from '../../errors.js';
import { describeValue } from '../../values.js';
import { Optimizer } from '../optimizer.js';
import { deserializeInner, serializeInner } from './shared.js';
import type { SerializedOptimizer } from '../serialization.js';

/** OptimizerMap's Keras 3 config, as `getConfig()` returns it. */
export interface OptimizerMapConfig {
  /** The default optimizer, serialized. */
  default_optimizer: SerializedOptimizer;
  /** Key (exact path or pattern) → serialized optimizer, in insertion order. */
  optimizer_map: Record<string, SerializedOptimizer>;
}

/** Keras' `re.fullmatch(pattern, path)` as a JavaScript RegExp (`(?P<name>` becomes `(?<name>`). */
function fullMatcher(pattern: string): RegExp {
  try {
    return new RegExp(`^(?:${pattern.replace(/\(\?P</g, '(?<').replace(/\(\?P=(\w+)\)/g, '\\k<$1>')})$`);
  } catch (e) {
    throw new HyperparameterError('InvalidHyperparameter', `OptimizerMap: key '${pattern}' is not a valid regular expression (${(e as Error).message})`);
  }
}

/**
 * Keras 3's `OptimizerMap(default_optimizer, optimizer_map)`: a map from variable paths or
 * patterns to Keras 3 optimizers, for {@link MultiOptimizer}. {@link OptimizerMap.get} finds a
 * path's optimizer as Keras does: the entry whose key equals the path; else the single entry
 * whose key, as a regular expression, matches the whole path (two matches are an error); else
 * the default optimizer.
 */
export class OptimizerMap {
  /** The optimizer of every variable no key selects. */
  readonly defaultOptimizer: Optimizer;
  private readonly entries = new Map<string, Optimizer>();
  private readonly matchers = new Map<string, RegExp>();

  /**
   * @param defaultOptimizer - The optimizer of the variables no key selects.
   * @param optimizerMap - Initial entries (an object or a Map), added in their order.
   */
  constructor(defaultOptimizer: Optimizer, optimizerMap?: Record<string, Optimizer> | ReadonlyMap<string, Optimizer> | null) {
    if (!(defaultOptimizer instanceof Optimizer)) {
      throw new ArgumentError('InvalidArgument', `default_optimizer must be a Keras Optimizer instance. Received: ${describeValue(defaultOptimizer)}`);
    }
    this.defaultOptimizer = defaultOptimizer;
    if (optimizerMap === null || optimizerMap === undefined) return;
    const isMap = optimizerMap instanceof Map;
    if (!isMap && (typeof optimizerMap !== 'object' || Array.isArray(optimizerMap))) {
      throw new ArgumentError('InvalidArgument', `optimizer_map must be a dictionary. Received: ${describeValue(optimizerMap)}`);
    }
    const list = isMap ? [...(optimizerMap as ReadonlyMap<string, Optimizer>)] : Object.entries(optimizerMap as Record<string, Optimizer>);
    for (const [key, opt] of list) this.set(key, opt);
  }

  /** Adds an entry (Keras' `map[key] = optimizer`): a new key, a Keras 3 optimizer that is not a wrapper. */
  set(key: string, optimizer: Optimizer): void {
    if (typeof key === 'string' && this.entries.has(key)) {
      throw new HyperparameterError(
        'InvalidHyperparameter',
        `'${key}' already exists in the OptimizerMap with value ${this.entries.get(key)!.name}. Please make sure to not use duplicated keys.`,
      );
    }
    if (typeof key !== 'string') throw new ArgumentError('InvalidArgument', `key must be a string. Received: ${describeValue(key)}`);
    if (!(optimizer instanceof Optimizer)) {
      const kind = (optimizer as { className?: unknown } | null)?.className;
      if (kind === 'LossScaleOptimizer') throw new ArgumentError('InvalidArgument', 'optimizer cannot be LossScaleOptimizer.');
      if (kind === 'MultiOptimizer') throw new ArgumentError('InvalidArgument', 'optimizer cannot be MultiOptimizer.');
      throw new ArgumentError('InvalidArgument', `optimizer must be a Keras Optimizer instance. Received: ${describeValue(optimizer)}`);
    }
    this.entries.set(key, optimizer);
  }

  /** Removes an entry (Keras' `del map[key]`); false if there was none. */
  delete(key: string): boolean {
    this.matchers.delete(key);
    return this.entries.delete(key);
  }

  /** The number of entries (the default optimizer not counted, as Keras' `len`). */
  get size(): number {
    return this.entries.size;
  }

  /** The keys, in insertion order. */
  keys(): string[] {
    return [...this.entries.keys()];
  }

  /** The entries' optimizers, in insertion order (a repeated optimizer repeats). */
  values(): Optimizer[] {
    return [...this.entries.values()];
  }

  /** The optimizer of a variable path: exact key, else the one fully matching pattern, else the default. */
  get(path: string): Optimizer {
    const exact = this.entries.get(path);
    if (exact !== undefined) return exact;
    const matching = [...this.entries.keys()].filter((k) => this.matcher(k).test(path));
    if (matching.length > 1) throw new HyperparameterError('InvalidHyperparameter', `Multiple optimizers assigned to variable ${path}.`);
    return matching.length === 1 ? this.entries.get(matching[0])! : this.defaultOptimizer;
  }

  private matcher(key: string): RegExp {
    let m = this.matchers.get(key);
    if (m === undefined) this.matchers.set(key, (m = fullMatcher(key)));
    return m;
  }

  /** Keras 3's `get_config()`: the default optimizer and the entries, serialized. */
  getConfig(): OptimizerMapConfig {
    const map: Record<string, SerializedOptimizer> = {};
    for (const [k, opt] of this.entries) map[k] = serializeInner(opt);
    return { default_optimizer: serializeInner(this.defaultOptimizer), optimizer_map: map };
  }

  /** Keras 3's `from_config`: every optimizer deserialized (`customObjects` for user classes). */
  static fromConfig(config: Record<string, unknown>, customObjects: Record<string, unknown> = {}): OptimizerMap {
    if (config === null || typeof config !== 'object' || Array.isArray(config))
      throw new ConfigError('InvalidConfig', `OptimizerMap: a config must be an object, got ${describeValue(config)}`);
    const { default_optimizer: dflt, optimizer_map: map } = config;
    if (dflt === undefined) throw new ConfigError('InvalidConfig', "OptimizerMap config without 'default_optimizer'");
    if (map !== null && map !== undefined && (typeof map !== 'object' || Array.isArray(map))) {
      throw new ConfigError('InvalidConfig', `OptimizerMap: optimizer_map must be an object, got ${describeValue(map)}`);
    }
    const entries = new Map<string, Optimizer>();
    for (const [k, v] of Object.entries((map ?? {}) as Record<string, unknown>)) entries.set(k, deserializeInner(v, customObjects, 'OptimizerMap'));
    return new OptimizerMap(deserializeInner(dflt, customObjects, 'OptimizerMap'), entries);
  }
}
