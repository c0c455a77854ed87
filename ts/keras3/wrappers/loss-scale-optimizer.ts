// Keras 3's `keras.optimizers.LossScaleOptimizer`: dynamic loss scaling around any Keras 3
// optimizer. A step whose gradients are all finite applies the inner optimizer to `g / scale`
// and counts it; after `dynamicGrowthSteps` such steps in a row the scale doubles. A step with
// any NaN or ±Infinity changes no variable and no slot: the scale halves and the count restarts.
import { ArgumentError, ConfigError, HyperparameterError } from '../../errors.js';
import { IndexedSlices } from '../../tensor.js';
import type { Variable } from '../../tensor.js';
import type { ApplyGradientsOptions, Gradient, StepResult, WeightValue } from '../../optimizer/types.js';
import { readList } from '../../optimizer/step.js';
import { describeValue } from '../../values.js';
import { Optimizer } from '../optimizer.js';
import { autoName } from '../names.js';
import { checkName } from '../options.js';
import type { Keras3Value } from '../types.js';
import type { OptimizerVariable } from '../weights.js';
import { asPairs, nonFiniteIndices, readGradientPairs } from './gradients.js';
import type { ReadPair } from './gradients.js';
import { OptimizerWrapper, deserializeInner, notBuiltError, ownVariable, readInteger, readScalar, serializeInner } from './shared.js';
import type { SerializedOptimizer } from '../serialization.js';

/** The options of {@link LossScaleOptimizer}: Keras 3's arguments in camelCase. */
export interface LossScaleOptimizerOptions {
  /** The optimizer that applies the unscaled gradients (any Keras 3 class of simdopt/keras3). Its
   * `lossScaleFactor` is set to null, as Keras 3 does. */
  innerOptimizer: Optimizer;
  /**
   * The loss scale before the first step.
   * @default 32768
   */
  initialScale?: number;
  /**
   * Finite steps in a row after which the scale doubles.
   * @default 2000
   */
  dynamicGrowthSteps?: number;
  /**
   * The name (variable paths start with it); must not contain `/`.
   * @default 'loss_scale_optimizer' (numbered from the second instance)
   */
  name?: string | null;
  /** Must be true (Keras 3 refuses `dynamic=False`). @default true */
  dynamic?: boolean;
}

/** LossScaleOptimizer's Keras 3 config, as `getConfig()` returns it. */
export interface LossScaleOptimizerConfig {
  /** The name. */
  name: string;
  /** The inner optimizer, serialized (Keras 3's format). */
  inner_optimizer: SerializedOptimizer;
  /** See {@link LossScaleOptimizerOptions.initialScale}. */
  initial_scale: number;
  /** See {@link LossScaleOptimizerOptions.dynamicGrowthSteps}. */
  dynamic_growth_steps: number;
}

/** Base options Keras 3's LossScaleOptimizer accepts only at their defaults (camelCase and config key). */
const BASE_DEFAULTS: ReadonlyArray<readonly [string, string, unknown]> = [
  ['weightDecay', 'weight_decay', null],
  ['clipnorm', 'clipnorm', null],
  ['globalClipnorm', 'global_clipnorm', null],
  ['clipvalue', 'clipvalue', null],
  ['useEma', 'use_ema', false],
  ['emaMomentum', 'ema_momentum', 0.99],
  ['emaOverwriteFrequency', 'ema_overwrite_frequency', null],
  ['lossScaleFactor', 'loss_scale_factor', null],
  ['gradientAccumulationSteps', 'gradient_accumulation_steps', null],
];

/**
 * Keras 3's `LossScaleOptimizer` (dynamic loss scaling). Multiply the loss by
 * {@link LossScaleOptimizer.scaleLoss} before taking gradients and pass the scaled gradients to
 * {@link LossScaleOptimizer.applyGradients}: each finite step applies `g / dynamicScale` with the
 * inner optimizer; `dynamicGrowthSteps` finite steps in a row double the scale; a step with any
 * non-finite gradient element halves it and changes nothing else (variables, slots and the inner
 * optimizer's `iterations` stay bit-identical).
 *
 * Its variables (Keras 3's order and paths): `<name>/iteration` (stays 0, as Keras'),
 * `<name>/learning_rate` (0), `<name>/step_counter`, `<name>/dynamic_scale`, then the inner
 * optimizer's, whose slots get this optimizer's name in front when it builds them
 * (`loss_scale_optimizer/adam/dense_kernel_momentum`).
 */
export class LossScaleOptimizer extends OptimizerWrapper {
  /** The name (Keras' `name`). */
  readonly name: string;
  /** The optimizer that applies the unscaled gradients. */
  readonly innerOptimizer: Optimizer;
  /** See {@link LossScaleOptimizerOptions.initialScale}. */
  readonly initialScale: number;
  /** See {@link LossScaleOptimizerOptions.dynamicGrowthSteps}. */
  readonly dynamicGrowthSteps: number;
  private scale: number;
  private counter = 0;
  private built = false;
  /** Whether the inner optimizer's slots were made inside this one (their paths then start with its name). */
  private scoped = false;
  /** Its own `iteration` and `learning_rate` variables (Keras never changes them; setWeights can). */
  private ownIteration = 0n;
  private ownLearningRate = 0;

  /** @param options - See {@link LossScaleOptimizerOptions}. */
  constructor(options: LossScaleOptimizerOptions);
  /** Keras' positional form: `new LossScaleOptimizer(inner, 1024, 1000)`. */
  constructor(innerOptimizer: Optimizer, initialScale?: number, dynamicGrowthSteps?: number, name?: string | null);
  constructor(...args: unknown[]) {
    super();
    const o = lsoOptions(args);
    this.innerOptimizer = o.inner;
    this.initialScale = o.initialScale;
    this.dynamicGrowthSteps = o.growth;
    this.scale = Math.fround(o.initialScale);
    // Keras 3 sets the inner optimizer's loss_scale_factor to None: the scale is this one's.
    o.inner.setLossScaleFactor(null);
    this.name = o.name ?? autoName('LossScaleOptimizer');
  }

  /** `'LossScaleOptimizer'`. */
  override get className(): string {
    return 'LossScaleOptimizer';
  }

  /** The current loss scale (Keras' `dynamic_scale` variable; `initialScale` before the first step). */
  get dynamicScale(): number {
    return this.scale;
  }

  /** Finite steps since the scale last changed (Keras' `step_counter`). */
  get stepCounter(): number {
    return this.counter;
  }

  /** The inner optimizer's `iterations` (as Keras 3 reports it). */
  get iterations(): number {
    return this.innerOptimizer.iterations;
  }

  /** The inner optimizer's learning rate. */
  get learningRate(): Keras3Value {
    return this.innerOptimizer.learningRate;
  }
  /** Sets the inner optimizer's learning rate. */
  set learningRate(v: Keras3Value) {
    this.innerOptimizer.learningRate = v;
  }

  /** Keras' `scale_loss(loss)`: `loss * dynamicScale` in float32 (`initialScale` before the first step). */
  scaleLoss(loss: number): number {
    if (typeof loss !== 'number') throw new ArgumentError('InvalidArgument', `scaleLoss expects a number, got ${describeValue(loss)}`);
    return Math.fround(Math.fround(loss) * (this.built ? this.scale : Math.fround(this.initialScale)));
  }

  /** Keras' `build(var_list)`: builds the inner optimizer on these variables (inside this one's scope). */
  build(variables: readonly Variable[]): void {
    if (this.built) return;
    const vars = readList(variables as Iterable<Variable>, 'LossScaleOptimizer.build expects an array of Variables');
    const innerWasBuilt = this.innerOptimizer.built;
    this.innerOptimizer.build(vars);
    this.scoped = !innerWasBuilt;
    this.built = true;
  }

  /**
   * One step with scaled gradients (`null` = Python's None). Gradients all finite: the inner
   * optimizer applies `g / dynamicScale`, then the count advances (or the scale doubles). Any
   * NaN or ±Infinity: nothing is applied, the scale halves and the count restarts; the result
   * says `applied: false` and which gradients were non-finite. Bad input throws before anything
   * changes.
   */
  applyGradients(gradsAndVars: Iterable<readonly [Gradient, Variable]>, options?: ApplyGradientsOptions): StepResult {
    const pairs = readGradientPairs(gradsAndVars, 'LossScaleOptimizer');
    if (!this.built) this.build(pairs.map((p) => p.variable));
    const bad = nonFiniteIndices(pairs);
    if (bad.length > 0) {
      this.counter = 0;
      this.scale = Math.fround(this.scale * 0.5);
      return { applied: false, nonFiniteIndices: bad, nonFiniteVariables: bad.map((i) => pairs[i].variable) };
    }
    const result = this.innerOptimizer.applyGradients(asPairs(unscaled(pairs, this.scale)), options);
    if (this.counter === this.dynamicGrowthSteps - 1) {
      this.counter = 0;
      this.scale = Math.fround(this.scale * 2);
    } else {
      this.counter += 1;
    }
    return result;
  }

  /** Keras' `finalize_variable_values`: the inner optimizer's (EMA averages copied in with `useEma`). */
  finalizeVariableValues(variables: readonly Variable[]): void {
    this.innerOptimizer.finalizeVariableValues(variables);
  }

  /** Keras 3's `optimizer.variables`: this optimizer's four (two before it is built), then the inner optimizer's. */
  override get variables(): OptimizerVariable[] {
    const own = [
      ownVariable(`${this.name}/iteration`, 'int64', BigInt64Array.of(this.ownIteration)),
      ownVariable(`${this.name}/learning_rate`, 'float32', Float32Array.of(this.ownLearningRate)),
    ];
    if (this.built) {
      own.push(ownVariable(`${this.name}/step_counter`, 'int64', BigInt64Array.of(BigInt(this.counter))));
      own.push(ownVariable(`${this.name}/dynamic_scale`, 'float32', Float32Array.of(this.scale)));
    }
    const innerName = this.innerOptimizer.name;
    const unscoped = new Set([`${innerName}/iteration`, `${innerName}/learning_rate`]);
    const inner = this.innerOptimizer.variables.map((v) => (this.scoped && !unscoped.has(v.path) ? ownVariable(`${this.name}/${v.path}`, v.dtype, v.value, v.shape) : v));
    return [...own, ...inner];
  }

  /**
   * Keras' `set_weights`, in {@link LossScaleOptimizer.variables} order (a shorter list sets the
   * first ones). Every weight is read and checked before anything is written.
   */
  setWeights(weights: ReadonlyArray<WeightValue | ArrayLike<number> | number | bigint>): void {
    const given = readList(weights as Iterable<unknown>, 'setWeights expects an array of weights');
    if (!this.built) {
      throw notBuiltError();
    }
    const own = given.slice(0, 4);
    const iteration = own.length > 0 ? BigInt(readInteger(own[0], 'iteration')) : this.ownIteration;
    const lr = own.length > 1 ? readScalar(own[1], 'learning_rate') : this.ownLearningRate;
    const counter = own.length > 2 ? readInteger(own[2], 'step_counter') : this.counter;
    const scale = own.length > 3 ? readScalar(own[3], 'dynamic_scale') : this.scale;
    if (given.length > 4) this.innerOptimizer.setWeights(given.slice(4) as WeightValue[]);
    this.ownIteration = iteration;
    this.ownLearningRate = lr;
    this.counter = counter;
    this.scale = scale;
  }

  /** Keras 3's `get_config()`: name, the serialized inner optimizer, initial scale, growth steps. */
  getConfig(): LossScaleOptimizerConfig {
    return { name: this.name, inner_optimizer: serializeInner(this.innerOptimizer), initial_scale: this.initialScale, dynamic_growth_steps: this.dynamicGrowthSteps };
  }

  /** Keras 3's `from_config`: the inner optimizer is deserialized (`customObjects` for user classes). */
  static fromConfig(config: Record<string, unknown>, customObjects: Record<string, unknown> = {}): LossScaleOptimizer {
    if (config === null || typeof config !== 'object' || Array.isArray(config)) {
      throw new ConfigError('InvalidConfig', `LossScaleOptimizer: a config must be an object, got ${describeValue(config)}`);
    }
    const { inner_optimizer: inner, initial_scale, dynamic_growth_steps, name, ...rest } = config;
    if (inner === undefined) throw new ConfigError('InvalidConfig', "LossScaleOptimizer config without 'inner_optimizer' (Keras 3: KeyError: 'inner_optimizer')");
    const options: Record<string, unknown> = {
      innerOptimizer: deserializeInner(inner, customObjects, 'LossScaleOptimizer'),
      initialScale: initial_scale,
      dynamicGrowthSteps: dynamic_growth_steps,
      name,
    };
    for (const [k, v] of Object.entries(rest)) options[k] = v;
    return new LossScaleOptimizer(options as unknown as LossScaleOptimizerOptions);
  }

  /** Frees the inner optimizer's core state. */
  dispose(): void {
    this.innerOptimizer.dispose();
  }
}

/** `g / scale` in float32 (Keras' `ops.divide(g, scale)`), as new arrays. */
function unscaled(pairs: readonly ReadPair[], scale: number): ReadPair[] {
  const div = (a: Float32Array) => a.map((x) => x / scale);
  return pairs.map(({ gradient: g, variable }) => ({
    variable,
    gradient: g === null ? null : g instanceof IndexedSlices ? new IndexedSlices(div(g.values), g.indices, g.denseShape) : div(g),
  }));
}

interface ReadOptions {
  inner: Optimizer;
  initialScale: number;
  growth: number;
  name: string | null;
}

/** The constructor arguments, read once and checked as Keras 3 does (plus types and finiteness). */
function lsoOptions(args: readonly unknown[]): ReadOptions {
  const first = args[0];
  const opts: Record<string, unknown> =
    first instanceof Optimizer || args.length !== 1 || first === null || typeof first !== 'object'
      ? { innerOptimizer: first, initialScale: args[1], dynamicGrowthSteps: args[2], name: args[3] }
      : { ...(first as Record<string, unknown>) };
  const { innerOptimizer: inner, initialScale = 2 ** 15, dynamicGrowthSteps = 2000, name, dynamic = true, ...rest } = opts;
  if (dynamic !== true) {
    throw new HyperparameterError(
      'InvalidHyperparameter',
      'LossScaleOptimizer no longer supports `dynamic=False`. Instead, simply set `loss_scale_factor` directly on the `inner_optimizer`.',
    );
  }
  for (const [camel, key, dflt] of BASE_DEFAULTS) {
    for (const k of [camel, key]) {
      if (!(k in rest)) continue;
      const v = rest[k];
      delete rest[k];
      if (v !== dflt && !(dflt === null && v === undefined)) {
        throw new HyperparameterError('InvalidHyperparameter', `LossScaleOptimizer does not support \`${key}\`. Instead, set \`${key}\` on the \`inner_optimizer\`.`);
      }
    }
  }
  const unknown = Object.keys(rest).filter((k) => rest[k] !== undefined);
  if (unknown.length > 0) throw new ConfigError('UnknownOption', `LossScaleOptimizer does not support arguments: \`${unknown.join('`, `')}\`.`);
  if (!(inner instanceof Optimizer)) {
    throw new ArgumentError('InvalidArgument', `LossScaleOptimizer: \`innerOptimizer\` must be a Keras 3 optimizer of simdopt/keras3 (not a wrapper), got ${describeValue(inner)}`);
  }
  if (typeof initialScale !== 'number' || !Number.isFinite(initialScale) || !(initialScale > 0)) {
    throw new HyperparameterError('InvalidHyperparameter', `LossScaleOptimizer: \`initial_scale\` must be a finite number > 0, got ${describeValue(initialScale)}`);
  }
  if (typeof dynamicGrowthSteps !== 'number' || !Number.isSafeInteger(dynamicGrowthSteps) || dynamicGrowthSteps < 1) {
    throw new HyperparameterError('InvalidHyperparameter', `LossScaleOptimizer: \`dynamic_growth_steps\` must be an integer >= 1, got ${describeValue(dynamicGrowthSteps)}`);
  }
  return { inner, initialScale, growth: dynamicGrowthSteps, name: checkName(name ?? null) };
}
