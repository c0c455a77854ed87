// Keras 3's `keras.optimizers.MultiOptimizer`: each variable is updated by the optimizer an
// OptimizerMap gives for its path; one call applies every sub-optimizer to its own variables.
import { ArgumentError, ConfigError, StateError } from '../../errors.js';
import type { Variable } from '../../tensor.js';
import type { ApplyGradientsOptions, Gradient, StepResult, WeightValue } from '../../optimizer/types.js';
import { readList } from '../../optimizer/step.js';
import { describeValue } from '../../values.js';
import { Optimizer } from '../optimizer.js';
import { autoName } from '../names.js';
import { checkName } from '../options.js';
import type { OptimizerVariable } from '../weights.js';
import { asPairs, readGradientPairs } from './gradients.js';
import type { ReadPair } from './gradients.js';
import { OptimizerMap } from './optimizer-map.js';
import type { OptimizerMapConfig } from './optimizer-map.js';
import { OptimizerWrapper, notBuiltError, ownVariable, readInteger, readScalar } from './shared.js';

/** The options of {@link MultiOptimizer}: Keras 3's arguments in camelCase. */
export interface MultiOptimizerOptions {
  /** Which optimizer updates which variable. */
  optimizerMap: OptimizerMap;
  /**
   * Set on every sub-optimizer (also null: a sub-optimizer's own factor is replaced, as in Keras 3).
   * @default null
   */
  lossScaleFactor?: number | null;
  /**
   * The name; must not contain `/`.
   * @default 'multi_optimizer' (numbered from the second instance)
   */
  name?: string | null;
}

/** An OptimizerMap serialized as Keras 3 writes it. */
export interface SerializedOptimizerMap {
  /** `'keras.optimizers'`. */
  module: string;
  /** `'OptimizerMap'`. */
  class_name: 'OptimizerMap';
  /** Its `getConfig()`. */
  config: OptimizerMapConfig;
  /** `null` (a Keras class). */
  registered_name: null;
}

/** MultiOptimizer's Keras 3 config, as `getConfig()` returns it. */
export interface MultiOptimizerConfig {
  /** The OptimizerMap, serialized. */
  optimizer_map: SerializedOptimizerMap;
  /** See {@link MultiOptimizerOptions.lossScaleFactor}. */
  loss_scale_factor: number | null;
  /** The name. */
  name: string;
}

/**
 * Keras 3's `MultiOptimizer`: the variables of one model updated by different optimizers. At
 * the first step (or `build`) each variable is given to the optimizer its path selects in the
 * {@link OptimizerMap}; each step then applies every sub-optimizer to its variables' gradients
 * and counts one iteration. The sub-optimizers are the map's, in insertion order, then the default
 * optimizer. Its variables: `<name>/iteration`, `<name>/learning_rate` (0), then each
 * sub-optimizer's (also one that got no variable).
 *
 * Before anything changes, a step checks every gradient against its variable and refuses a
 * sub-optimizer whose gradients are all null (Keras 3 raises then too, after updating the
 * sub-optimizers before it).
 */
export class MultiOptimizer extends OptimizerWrapper {
  /** The name (Keras' `name`). */
  readonly name: string;
  /** Which optimizer updates which variable. */
  readonly optimizerMap: OptimizerMap;
  private readonly inner: Optimizer[] = [];
  private factor: number | null;
  /** Variable → index of its sub-optimizer, once built. */
  private routes: Map<Variable, number> | null = null;
  private count = 0;
  private ownLearningRate = 0;

  /** @param options - See {@link MultiOptimizerOptions}. */
  constructor(options: MultiOptimizerOptions);
  /** Keras' positional form: `new MultiOptimizer(map, null, 'multi')`. */
  constructor(optimizerMap: OptimizerMap, lossScaleFactor?: number | null, name?: string | null);
  constructor(...args: unknown[]) {
    super();
    const first = args[0];
    const o: Record<string, unknown> =
      first instanceof OptimizerMap || args.length !== 1 || first === null || typeof first !== 'object'
        ? { optimizerMap: first, lossScaleFactor: args[1], name: args[2] }
        : { ...(first as Record<string, unknown>) };
    const { optimizerMap, lossScaleFactor = null, name = null, ...rest } = o;
    const unknown = Object.keys(rest).filter((k) => rest[k] !== undefined);
    if (unknown.length > 0) throw new ConfigError('UnknownOption', `Argument(s) not recognized: ${unknown.join(', ')}`);
    if (!(optimizerMap instanceof OptimizerMap))
      throw new ArgumentError('InvalidArgument', `MultiOptimizer: \`optimizerMap\` must be an OptimizerMap, got ${describeValue(optimizerMap)}`);
    if (lossScaleFactor !== null && (typeof lossScaleFactor !== 'number' || !Number.isFinite(lossScaleFactor) || lossScaleFactor === 0)) {
      throw new ArgumentError('InvalidArgument', `MultiOptimizer: \`lossScaleFactor\` must be a finite non-zero number or null, got ${describeValue(lossScaleFactor)}`);
    }
    const checkedName = checkName(name);
    this.optimizerMap = optimizerMap;
    for (const opt of [...optimizerMap.values(), optimizerMap.defaultOptimizer]) if (!this.inner.includes(opt)) this.inner.push(opt);
    // Keras 3 gives every sub-optimizer the wrapper's loss_scale_factor, None included.
    for (const opt of this.inner) opt.setLossScaleFactor(lossScaleFactor as number | null);
    this.factor = lossScaleFactor as number | null;
    this.name = checkedName ?? autoName('MultiOptimizer');
  }

  /** `'MultiOptimizer'`. */
  override get className(): string {
    return 'MultiOptimizer';
  }

  /** The sub-optimizers, in Keras 3's order (the map's, then the default). */
  get optimizers(): Optimizer[] {
    return [...this.inner];
  }

  /** The steps applied (this optimizer's own `iterations`). */
  get iterations(): number {
    return this.count;
  }

  /** Whether the variables have been assigned to the sub-optimizers (first step or `build`). */
  get built(): boolean {
    return this.routes !== null;
  }

  /** Keras 3 has no learning rate on a MultiOptimizer: reading it throws (use a sub-optimizer's). */
  get learningRate(): never {
    throw new ArgumentError('InvalidArgument', 'Learning rate cannot be accessed on a MultiOptimizer. Access the learning rate on the individual sub-optimizers instead.');
  }
  /** Setting it throws too. */
  set learningRate(_v: unknown) {
    throw new ArgumentError('InvalidArgument', 'Learning rate cannot be set on a MultiOptimizer. Set the learning rate on the individual sub-optimizers instead.');
  }

  /** Keras 3's `loss_scale_factor`: also every sub-optimizer's. */
  get lossScaleFactor(): number | null {
    return this.factor;
  }

  /**
   * Keras' `build(var_list)`: gives each variable to the optimizer the map selects for its path
   * (its `name`) and builds every sub-optimizer on its variables. Errors (two patterns match, a
   * path the map cannot resolve) change nothing.
   */
  build(variables: readonly Variable[]): void {
    if (this.routes !== null) return;
    const vars = readList(variables as Iterable<Variable>, 'MultiOptimizer.build expects an array of Variables');
    const routes = new Map<Variable, number>();
    const groups: Variable[][] = this.inner.map(() => []);
    for (const v of vars) {
      const opt = this.optimizerMap.get(v.name);
      const k = this.inner.indexOf(opt);
      routes.set(v, k);
      groups[k].push(v);
    }
    this.inner.forEach((opt, k) => {
      if (groups[k].length > 0) opt.build(groups[k]);
    });
    this.routes = routes;
  }

  /**
   * One step: each gradient goes to its variable's sub-optimizer, which applies its share; then
   * `iterations` advances. The first call builds (see {@link MultiOptimizer.build}). Every
   * gradient is read and checked first; a sub-optimizer whose gradients are all null throws
   * Keras 3's `No gradients provided for any variable.` before any update.
   */
  applyGradients(gradsAndVars: Iterable<readonly [Gradient, Variable]>, options?: ApplyGradientsOptions): StepResult {
    const pairs = readGradientPairs(gradsAndVars, 'MultiOptimizer');
    if (pairs.length === 0) return { applied: true, nonFiniteIndices: [], nonFiniteVariables: [] };
    if (this.routes === null) this.build(pairs.map((p) => p.variable));
    const routes = this.routes!;
    if (pairs.length !== routes.size) {
      throw new ArgumentError('InvalidArgument', `Gradients must match trainable variables one-to-one. Received ${pairs.length} gradients and ${routes.size} variables.`);
    }
    const shares: ReadPair[][] = this.inner.map(() => []);
    for (const p of pairs) {
      const k = routes.get(p.variable);
      if (k === undefined) {
        throw new ArgumentError(
          'InvalidArgument',
          `Unknown variable: <Variable path=${p.variable.name}>. This optimizer can only be called for the variables it was originally built with.`,
        );
      }
      shares[k].push(p);
    }
    if (shares.some((s) => s.length > 0 && s.every((p) => p.gradient === null))) {
      throw new ArgumentError('InvalidArgument', 'No gradients provided for any variable.');
    }
    const skipped: number[] = [];
    this.inner.forEach((opt, k) => {
      if (shares[k].length === 0) return;
      const r = opt.applyGradients(asPairs(shares[k]), options);
      if (!r.applied) for (const v of r.nonFiniteVariables) skipped.push(pairs.findIndex((p) => p.variable === v));
    });
    this.count += 1;
    return { applied: skipped.length === 0, nonFiniteIndices: skipped, nonFiniteVariables: skipped.map((i) => pairs[i].variable) };
  }

  /** Keras' `finalize_variable_values`: each sub-optimizer finalizes its own variables. */
  finalizeVariableValues(variables: readonly Variable[]): void {
    const vars = readList(variables as Iterable<Variable>, 'finalizeVariableValues expects an array of Variables');
    const routes = this.routes;
    if (routes === null) throw new StateError('InvalidState', 'MultiOptimizer.finalizeVariableValues: the optimizer has not been built');
    const groups: Variable[][] = this.inner.map(() => []);
    for (const v of vars) {
      const k = routes.get(v);
      if (k === undefined) throw new ArgumentError('InvalidArgument', `Unknown variable: ${describeValue(v)}`);
      groups[k].push(v);
    }
    this.inner.forEach((opt, k) => {
      if (groups[k].length > 0) opt.finalizeVariableValues(groups[k]);
    });
  }

  /** Keras 3's `optimizer.variables`: its `iteration` and `learning_rate` (0), then every sub-optimizer's. */
  override get variables(): OptimizerVariable[] {
    const own = [
      ownVariable(`${this.name}/iteration`, 'int64', BigInt64Array.of(BigInt(this.count))),
      ownVariable(`${this.name}/learning_rate`, 'float32', Float32Array.of(this.ownLearningRate)),
    ];
    return [...own, ...this.inner.flatMap((opt) => opt.variables)];
  }

  /**
   * Keras 3's `set_weights`: its two, then each sub-optimizer's share in order (a shorter list sets
   * the first ones). A share its sub-optimizer refuses throws with every weight as it was.
   */
  setWeights(weights: ReadonlyArray<WeightValue | ArrayLike<number> | number | bigint>): void {
    const given = readList(weights as Iterable<unknown>, 'setWeights expects an array of weights');
    if (this.routes === null) {
      throw notBuiltError();
    }
    const count = given.length > 0 ? readInteger(given[0], 'iteration') : this.count;
    const lr = given.length > 1 ? readScalar(given[1], 'learning_rate') : this.ownLearningRate;
    // A later share that is refused must not leave earlier sub-optimizers changed: they are put back.
    const before = this.inner.map((opt) => opt.getWeights());
    let at = 2;
    let written = 0;
    try {
      for (const opt of this.inner) {
        const n = opt.variables.length;
        if (n > 0 && at < given.length) opt.setWeights(given.slice(at, at + n) as WeightValue[]);
        at += n;
        written += 1;
      }
    } catch (e) {
      for (let k = 0; k < written; k++) this.inner[k].setWeights(before[k]);
      throw e;
    }
    this.count = count;
    this.ownLearningRate = lr;
  }

  /** Keras 3's `get_config()`: the serialized OptimizerMap, the loss scale factor, the name. */
  getConfig(): MultiOptimizerConfig {
    return {
      optimizer_map: { module: 'keras.optimizers', class_name: 'OptimizerMap', config: this.optimizerMap.getConfig(), registered_name: null },
      loss_scale_factor: this.factor,
      name: this.name,
    };
  }

  /** Keras 3's `from_config`: the OptimizerMap and its optimizers deserialized. */
  static fromConfig(config: Record<string, unknown>, customObjects: Record<string, unknown> = {}): MultiOptimizer {
    if (config === null || typeof config !== 'object' || Array.isArray(config)) {
      throw new ConfigError('InvalidConfig', `MultiOptimizer: a config must be an object, got ${describeValue(config)}`);
    }
    const { optimizer_map: map, loss_scale_factor, name, ...rest } = config;
    if (map === undefined) throw new ConfigError('InvalidConfig', "MultiOptimizer config without 'optimizer_map' (Keras 3: KeyError: 'optimizer_map')");
    const inner = map !== null && typeof map === 'object' && !Array.isArray(map) ? (map as Record<string, unknown>).config : undefined;
    if (inner === null || typeof inner !== 'object' || Array.isArray(inner))
      throw new ConfigError('InvalidConfig', `MultiOptimizer: optimizer_map must be a serialized OptimizerMap, got ${describeValue(map)}`);
    const options: Record<string, unknown> = {
      optimizerMap: OptimizerMap.fromConfig(inner as Record<string, unknown>, customObjects),
      lossScaleFactor: loss_scale_factor,
      name,
      ...rest,
    };
    return new MultiOptimizer(options as unknown as MultiOptimizerOptions);
  }

  /** Frees every sub-optimizer's core state. */
  dispose(): void {
    for (const opt of this.inner) opt.dispose();
  }
}
