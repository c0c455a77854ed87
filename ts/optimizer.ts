// The Keras `OptimizerV2` API over the wasm core. The core holds the state (iterations, slots)
// and does the maths; this class converts options and configs and writes each step's
// gradients into the step frame, then makes one call.
import { call, core, heapFloat32, heapInt32, heapUint32, viewFloat32 } from './wasm/loader.js';
import { COMMAND_WORDS, KIND_DENSE_STAGED, KIND_DENSE_TENSOR, KIND_NONE, KIND_SPARSE, reserveFrame } from './frame.js';
import { ArgumentError, ConfigError, HyperparameterError, SimdoptError, SlotError, StateError, WeightsError } from './errors.js';
import { IndexedSlices, Tensor, Variable, WasmTensor } from './tensor.js';
import { describeValue, isNumeric, rowSize } from './values.js';
import { LearningRateSchedule, Serialized, deserializeSchedule, serializeSchedule } from './schedules.js';

/** A hyperparameter: a number, a zero-argument function called at each step, or (for the
 * learning rate) a schedule called with the iteration. */
export type HyperValue = number | (() => number) | LearningRateSchedule;

/** A gradient: values (copied into WASM memory), a WASM-side [[Tensor]] (no copy), a sparse
 * [[IndexedSlices]], or null/undefined for a variable without a gradient (skipped). */
export type Gradient = Float32Array | readonly number[] | Tensor | IndexedSlices | null | undefined;

/** A gradient as the gradient hooks and custom optimizers see it. */
export type HookGradient = Float32Array | IndexedSlices;

/** `[gradient, variable]` pairs as the gradient hooks receive them (no null gradients). */
export type GradsAndVars = Array<[HookGradient, Variable]>;

/** Keras' `gradient_transformers` entry: `fn(grads_and_vars) -> grads_and_vars`. It must return
 * one pair per pair given, for the same variables in the same order. */
export type GradientTransformer = (gradsAndVars: GradsAndVars) => ReadonlyArray<readonly [HookGradient | readonly number[], Variable]>;

/** Keras' `gradient_aggregator`: `fn(grads_and_vars) -> grads_and_vars`, run first (only when
 * `experimentalAggregateGradients` is true). Same contract as a [[GradientTransformer]]. */
export type GradientAggregator = GradientTransformer;

/**
 * Where `minimize` gets its loss value and gradients (JavaScript has no autodiff). It must
 * evaluate the loss first, then resolve the variables with `varList()` (Keras' order: a callable
 * `var_list` may create variables during the first loss evaluation), then compute one gradient
 * per variable, in `varList()` order.
 */
export type GradientSource<L = any> = (loss: L, varList: () => readonly Variable[]) => { loss: number; grads: readonly Gradient[] };

/** Options of `minimize`: a gradient source plus those of `applyGradients`. */
export interface MinimizeOptions<L = any> extends ApplyGradientsOptions {
  /** The gradient source of this call (else the optimizer's `gradientSource`). */
  gradientSource?: GradientSource<L>;
}

/** What `resourceApplyDense` / `resourceApplySparse` of a custom optimizer receive besides the
 * gradient: Keras' `apply_state` for the step. Custom entries may be added by `prepareLocal`. */
export interface ApplyState {
  /** The step's learning rate (schedule called with `iterations`, legacy `decay` applied), f32. */
  lrT: number;
  /** `iterations` before this step's increment (Keras' `t`). */
  iterations: number;
  [key: string]: unknown;
}

/** A variable that has slots in an optimizer (as checkpoints save it). */
export interface SlotVariableInfo {
  /** The variable's name when its slots were made (it is part of the weight names). */
  name: string;
  /** Its shape, or null if it had been disposed when the state was saved. */
  shape: number[] | null;
  /** Its number of elements (= of each of its slots). */
  size: number;
}

/** An initializer of `addSlot` / `addWeight`: a constant, `'zeros'`, `'ones'`, or a function of
 * the shape returning the values (or a constant). */
export type Initializer = number | 'zeros' | 'ones' | ((shape: readonly number[]) => ArrayLike<number> | number);

/** Options every optimizer takes (Keras' base keyword arguments, in camelCase). */
export interface BaseOptimizerOptions {
  name?: string;
  /** Keras' `gradient_aggregator` (see [[GradientAggregator]]). Not part of the config. */
  gradientAggregator?: GradientAggregator | null;
  /** Keras' `gradient_transformers`, run in list order after clipping; exclusive with the clip
   * options. Not part of the config. */
  gradientTransformers?: readonly GradientTransformer[] | null;
  /** Clip each gradient element to [-clipvalue, clipvalue]. */
  clipvalue?: number;
  /** Clip each gradient to this L2 norm. */
  clipnorm?: number;
  /** Clip all gradients of a step together to this global L2 norm. */
  globalClipnorm?: number;
  /** Legacy inverse-time decay: lr / (1 + decay * iterations). */
  decay?: number;
  /** Legacy alias of `learningRate`; wins over it, as in Keras. */
  lr?: HyperValue;
}

export interface ApplyGradientsOptions {
  /** Keras' `experimental_aggregate_gradients`; with a single replica it changes nothing. */
  experimentalAggregateGradients?: boolean;
  /** Check every gradient for NaN and ±Infinity first (one read pass in the core) and, if any
   * has one, skip the whole step: no variable, slot or `iterations` changes. Defaults to the
   * optimizer's `skipNonFinite` property (false: non-finite values propagate, as in Keras). */
  skipNonFinite?: boolean;
  /** Called when this step is skipped (instead of the optimizer's `onNonFinite`). */
  onNonFinite?: (step: NonFiniteStep) => void;
}

/** What `applyGradients` did. */
export interface StepResult {
  /** False only when the step was skipped for non-finite gradients (`skipNonFinite`). */
  readonly applied: boolean;
  /** Positions, in the list given, of the gradients that hold NaN or ±Infinity (empty when applied). */
  readonly nonFiniteIndices: readonly number[];
  /** The variables of those gradients. */
  readonly nonFiniteVariables: readonly Variable[];
}

/** A step skipped for non-finite gradients, as `onNonFinite` receives it. */
export interface NonFiniteStep extends StepResult {
  readonly optimizer: Optimizer;
  /** `iterations`, unchanged by the skipped step. */
  readonly iterations: number;
}

/** The result of every applied step (shared and frozen: a step allocates nothing). */
const APPLIED: StepResult = Object.freeze({ applied: true, nonFiniteIndices: Object.freeze([]), nonFiniteVariables: Object.freeze([]) });

/** One Keras config entry of an optimizer: its snake_case key and default. */
export type ConfigDefault = number | boolean;

/** A weight as `getWeights` returns it: iterations as int64, every other weight as f32. */
export type WeightValue = Float32Array | BigInt64Array;

/** Describes an optimizer class for the generic machinery below. */
export interface OptimizerSpec {
  /** Keras class name. */
  className: string;
  /** Config keys after `name` and the clip keys, in Keras' get_config order, with defaults.
   * Numbers are hyperparameters (settable, may be functions); booleans are fixed flags. */
  config: ReadonlyArray<readonly [string, ConfigDefault]>;
  /** Whether the legacy `lr` option is honoured (Keras' Ftrl ignores it). */
  acceptsLr?: boolean;
  /** Keras' `_momentum` flag: a function `momentum` selects the momentum kernel (SGD, RMSprop). */
  callableMomentum?: boolean;
  /** How `setWeights` reads a Keras-1 weight list (see `KERAS1_WEIGHTS`). */
  keras1Weights?: (ws: unknown[], expected: number) => unknown[];
}

/** Keras-1 weight lists that Keras 2.4's `set_weights` still accepts. */
export const KERAS1_WEIGHTS = {
  /** RMSprop, Adagrad, Adadelta: no `iterations`; one weight short, a leading 0 is added. */
  prependIterations: (ws: unknown[], expected: number): unknown[] => (ws.length + 1 === expected ? [0, ...ws] : ws),
  /** Adam: Keras 1 always stored `vhat`; a list of 3n+1 weights is cut to this optimizer's. */
  dropVhat: (ws: unknown[], expected: number): unknown[] => {
    const n = Math.floor((expected - 1) / 2);
    return ws.length === 3 * n + 1 && ws.length > expected ? ws.slice(0, expected) : ws;
  },
};

/** Keras' `epsilon or backend.epsilon()`: an epsilon of 0 becomes 1e-7. */
function kerasValue(key: string, v: unknown): unknown {
  return key === 'epsilon' && v === 0 ? 1e-7 : v;
}

const accessorsInstalled = new WeakSet<object>();

/**
 * Gives an optimizer class a camelCase property per config key (`opt.beta1`, `opt.amsgrad`):
 * hyperparameters read and write through getHyper/setHyper, flags are read-only. Subclasses
 * only `declare` them for their types.
 */
function installAccessors(proto: object, spec: OptimizerSpec): void {
  if (accessorsInstalled.has(proto)) return;
  accessorsInstalled.add(proto);
  for (const [key, dflt] of spec.config) {
    const name = camelCase(key);
    if (name in proto) continue;
    Object.defineProperty(
      proto,
      name,
      typeof dflt === 'boolean'
        ? { configurable: true, get(this: Optimizer) { return (this as unknown as { flag(k: string): boolean }).flag(key); } }
        : {
            configurable: true,
            get(this: Optimizer) { return this.getHyper(key); },
            set(this: Optimizer, v: HyperValue) { this.setHyper(key, v); },
          },
    );
  }
}

const CLIP_KEYS = ['clipnorm', 'clipvalue', 'global_clipnorm'] as const;
/** Keras' check 4 texts: a clip option together with `gradient_transformers`. */
const TRANSFORMERS_CLASH: Record<(typeof CLIP_KEYS)[number], string> = {
  clipnorm: '`clipnorm` cannot be set when `gradient_transformers` is set. Instead, use the `gradient_transformers` to specify clipping and other transformations.',
  // Keras' global_clipnorm setter reuses the clipnorm text.
  global_clipnorm: '`clipnorm` cannot be set when `gradient_transformers` is set. Instead, use the `gradient_transformers` to specify clipping and other transformations.',
  clipvalue: '`clipvalue` cannot be set when `gradient_transformers` is set. Instead, use the `gradient_transformers` to specify clipping and other transformations.',
};
/** Hyperparameters a custom optimizer keeps in the core (the rest stay in JavaScript). */
const CORE_BASE_HYPERS = new Set(['learning_rate', 'decay']);
const BASE_OPTION_KEYS = new Set(['name', 'clipvalue', 'clipnorm', 'global_clipnorm', 'decay', 'lr']);

/** `beta_1` → `beta1`, `learning_rate` → `learningRate`. */
export function camelCase(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** `beta1` → `beta_1`, `learningRate` → `learning_rate`. */
export function snakeCase(key: string): string {
  return key.replace(/([A-Z])/g, '_$1').replace(/([a-z])([0-9])/g, '$1_$2').toLowerCase();
}

const registry = new FinalizationRegistry<number>((id) => {
  try {
    core().optimizer_dispose(id);
  } catch {
    // Never throw from a finalizer (the core may have failed meanwhile).
  }
});

/** Checks that constructor options are an object (or absent); returns them. */
export function optionsObject<T>(options: T): T {
  if (options === undefined) return {} as T;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ArgumentError('InvalidArgument', `optimizer options must be an object, got ${describeValue(options)}`);
  }
  return options;
}

/**
 * Base class of every optimizer (Keras' `OptimizerV2`). Create one with its subclass
 * (`new Adam({...})`) after `await ready()`.
 */
export abstract class Optimizer {
  readonly name: string;
  /** @internal handle of the core optimizer */
  protected readonly id: number;
  private readonly spec: OptimizerSpec;
  private readonly hypers = new Map<string, HyperValue>();
  /** Keys of the function and schedule hyperparameters (recomputed after `setHyper`). */
  private dynamicKeys: string[] | null = null;
  private readonly flags = new Map<string, boolean>();
  private clip: { clipvalue?: number; clipnorm?: number; global_clipnorm?: number } = {};
  private disposed = false;
  /** Default of `applyGradients`' `skipNonFinite` option: check gradients for NaN/±Inf and skip
   * steps that have any. Not part of the Keras config. */
  skipNonFinite = false;
  /** Called with every step skipped for non-finite gradients (unless the call has its own). */
  onNonFinite: ((step: NonFiniteStep) => void) | undefined = undefined;
  private skipped = 0;
  /** Default gradient source of `minimize` (see [[GradientSource]]). */
  gradientSource: GradientSource | undefined = undefined;
  private aggregatorFn: GradientAggregator | undefined = undefined;
  private transformerFns: readonly GradientTransformer[] = [];
  /** Whether this is a custom optimizer (a subclass implementing `resourceApplyDense` /
   * `resourceApplySparse`): its update runs in JavaScript, its slots and weights live here. */
  private readonly custom: boolean;
  private readonly customSlotNames: string[] = [];
  private readonly customSlots = new Map<Variable, Map<string, Tensor>>();
  /** Weights after `iterations`, in creation order (custom optimizers). */
  private readonly customWeights: Array<{ name: string; tensor: Tensor }> = [];
  /** For each `createSlots` call that made weights: how many variables got their first slot
   * (the weight order, replayed by checkpoints; the core keeps the same for built-ins). */
  private readonly customSlotBatches: number[] = [];

  protected constructor(spec: OptimizerSpec, options: Record<string, unknown>) {
    options = optionsObject(options);
    this.spec = spec;
    const known = new Map(spec.config.map(([k, d]) => [camelCase(k), [k, d] as const]));
    for (const key of Object.keys(options ?? {})) {
      const v = options[key];
      if (v === undefined) continue;
      if (!known.has(key) && !BASE_OPTION_KEYS.has(snakeCase(key)) && key !== 'globalClipnorm' && key !== 'gradientAggregator' && key !== 'gradientTransformers') {
        throw new ConfigError('UnknownOption', `Unexpected keyword argument passed to optimizer: ${snakeCase(key)}`);
      }
    }
    if (options.name !== undefined && options.name !== null && typeof options.name !== 'string') {
      throw new ArgumentError('InvalidArgument', `\`name\` must be a string, got ${describeValue(options.name)}`);
    }
    this.name = typeof options.name === 'string' && options.name ? options.name : spec.className;
    if (typeof options.lr === 'number' && options.lr < 0) {
      // Keras checks its legacy kwargs (not `learning_rate`) for negative values.
      throw new HyperparameterError('InvalidHyperparameter', `Expected lr >= 0, received: ${pyFloat(options.lr)}`);
    }
    const lrAlias = spec.acceptsLr !== false ? (options.lr as HyperValue | undefined) : undefined;
    this.custom = isCustomClass(new.target.prototype);
    if (options.gradientAggregator != null) this.aggregatorFn = checkAggregator(options.gradientAggregator);
    if (options.gradientTransformers != null) this.transformerFns = checkTransformers(options.gradientTransformers);

    const keys: string[] = [];
    const values: number[] = [];
    for (const [key, dflt] of spec.config) {
      let v = options[camelCase(key)];
      if (key === 'learning_rate' && lrAlias !== undefined) v = lrAlias;
      if (typeof dflt === 'boolean') {
        if (v !== undefined && typeof v !== 'boolean') {
          throw new ArgumentError('InvalidArgument', `\`${key}\` must be a boolean, got ${describeValue(v)}`);
        }
        const flag = (v as boolean | undefined) ?? dflt;
        this.flags.set(key, flag);
        if (this.custom) continue;
        keys.push(key);
        values.push(flag ? 1 : 0);
        continue;
      }
      const hv = checkHyper(key, kerasValue(key, v ?? dflt));
      this.hypers.set(key, hv);
      if (typeof hv === 'number' && (!this.custom || CORE_BASE_HYPERS.has(key))) {
        keys.push(key);
        values.push(hv);
      } else if (typeof hv === 'function' && key === 'momentum' && spec.callableMomentum && !this.custom) {
        // Keras: `_momentum = callable(momentum) or momentum > 0`. The core fixes its kernel from
        // the momentum it is built with: built with 1, it gets the function's value every step.
        keys.push(key);
        values.push(1);
      }
    }
    for (const key of CLIP_KEYS) {
      const v = options[camelCase(key)];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'number') throw new ArgumentError('InvalidArgument', `\`${key}\` must be a number, got ${describeValue(v)}`);
      if (v < 0) throw new HyperparameterError('InvalidHyperparameter', `Expected ${key} >= 0, received: ${pyFloat(v)}`);
      this.clip[key] = v;
      keys.push(key);
      values.push(v);
    }
    // Keras' setter order: clipnorm, global_clipnorm, then clipvalue.
    if (this.transformerFns.length > 0) {
      for (const key of ['clipnorm', 'global_clipnorm', 'clipvalue'] as const) {
        if (this.clip[key] !== undefined) throw new HyperparameterError('InvalidHyperparameter', TRANSFORMERS_CLASH[key]);
      }
    }
    const c = core();
    // A custom optimizer's core optimizer is a plain SGD without slots: it holds `iterations`, the
    // learning rate, `decay` and the clipping, and validates and clips each step's gradients.
    this.id = call(() => c.optimizer_create(this.custom ? 'SGD' : spec.className, this.name, keys, new Float32Array(values)));
    registry.register(this, this.id, this);
    installAccessors(new.target.prototype, spec);
  }

  /**
   * Keras' `from_config`: `lr` becomes `learning_rate`, a schedule dict is deserialized
   * (`customObjects` resolves user schedule classes), unknown keys are refused.
   */
  static fromConfig<T extends Optimizer>(
    this: new (options: Record<string, unknown>) => T,
    config: Record<string, unknown>,
    customObjects: Record<string, unknown> = {},
  ): T {
    if (config === null || typeof config !== 'object' || Array.isArray(config)) {
      throw new ConfigError('InvalidConfig', `an optimizer config must be an object, got ${describeValue(config)}`);
    }
    const options: Record<string, unknown> = Object.create(null);
    for (const key of Object.keys(config)) {
      let v = config[key];
      const k = key === 'lr' ? 'learning_rate' : key;
      if (k === 'learning_rate' && v !== null && typeof v === 'object') v = deserializeSchedule(v as Serialized, customObjects);
      options[camelCase(k)] = v === null ? undefined : v;
    }
    return new this(options);
  }

  /** Keras class name (`'Adam'`). */
  get className(): string {
    return this.spec.className;
  }

  private live(): number {
    if (this.disposed) throw new StateError('Disposed', `optimizer '${this.name}' has been disposed`);
    return this.id;
  }

  // ---- hyperparameters -----------------------------------------------------------------

  /** The current value of a hyperparameter as given (number, function or schedule). */
  getHyper(key: string): HyperValue {
    const v = this.hypers.get(this.kerasKey(key));
    if (v === undefined) throw new ConfigError('UnknownHyperparameter', `unknown hyperparameter \`${key}\` for ${this.className}`);
    return v;
  }

  /** The Keras key of a hyperparameter given by its Keras or camelCase name. */
  private kerasKey(key: string): string {
    if (typeof key !== 'string') throw new ArgumentError('InvalidArgument', `a hyperparameter name must be a string, got ${describeValue(key)}`);
    if (this.hypers.has(key)) return key;
    for (const k of this.hypers.keys()) if (camelCase(k) === key) return k;
    return key;
  }

  /** Sets a hyperparameter (Keras' `_set_hyper`). A number is validated now; a function or
   * schedule is called at each step. */
  setHyper(key: string, value: HyperValue): void {
    this.live();
    const k = this.kerasKey(key);
    if (!this.hypers.has(k)) throw new ConfigError('UnknownHyperparameter', `unknown hyperparameter \`${key}\` for ${this.className}`);
    const v = checkHyper(k, kerasValue(k, value));
    if (typeof v === 'number' && this.inCore(k)) call(() => core().optimizer_set_hyper(this.live(), k, v));
    this.hypers.set(k, v);
    this.dynamicKeys = null;
  }

  get learningRate(): HyperValue {
    return this.getHyper('learning_rate');
  }
  set learningRate(v: HyperValue) {
    this.setHyper('learning_rate', v);
  }
  /** Keras' `lr` alias of `learningRate`. */
  get lr(): HyperValue {
    return this.learningRate;
  }
  set lr(v: HyperValue) {
    this.learningRate = v;
  }
  get decay(): HyperValue {
    return this.getHyper('decay');
  }
  set decay(v: HyperValue) {
    this.setHyper('decay', v);
  }

  /** Whether a hyperparameter lives in the core (all of a built-in's; a custom optimizer's
   * `learning_rate` and `decay`). */
  private inCore(key: string): boolean {
    return !this.custom || CORE_BASE_HYPERS.has(key);
  }

  /**
   * The value of a hyperparameter for this step (Keras' `_get_hyper`), rounded to f32 as Keras'
   * float32 hyper variables are: a function is called, a schedule is called with `iterations`.
   */
  getHyperValue(key: string): number {
    const v = this.getHyper(key);
    const x = typeof v === 'number' ? v : v instanceof LearningRateSchedule ? v.call(Math.fround(this.iterations)) : v();
    if (typeof x !== 'number') throw new HyperparameterError('InvalidHyperparameter', `hyperparameter \`${key}\` returned ${describeValue(x)}, not a number`);
    return Math.fround(x);
  }

  /** A fixed boolean option (`amsgrad`, `nesterov`, `centered`). */
  protected flag(key: string): boolean {
    return this.flags.get(key)!;
  }

  // ---- clipping ------------------------------------------------------------------------

  get clipvalue(): number | undefined {
    return this.clip.clipvalue;
  }
  set clipvalue(v: number | undefined) {
    this.clipClash('clipvalue', v);
    this.setClip({ ...this.clip, clipvalue: v });
  }
  get clipnorm(): number | undefined {
    return this.clip.clipnorm;
  }
  set clipnorm(v: number | undefined) {
    this.clipClash('clipnorm', v);
    this.setClip({ ...this.clip, clipnorm: v });
  }
  get globalClipnorm(): number | undefined {
    return this.clip.global_clipnorm;
  }
  set globalClipnorm(v: number | undefined) {
    this.clipClash('global_clipnorm', v);
    this.setClip({ ...this.clip, global_clipnorm: v });
  }

  /** Keras' check 4 in the clip setters. */
  private clipClash(key: (typeof CLIP_KEYS)[number], v: unknown): void {
    if (v !== undefined && v !== null && this.transformerFns.length > 0) throw new HyperparameterError('InvalidHyperparameter', TRANSFORMERS_CLASH[key]);
  }

  // ---- gradient hooks ------------------------------------------------------------------

  /** Keras' `gradient_aggregator`: run first in `applyGradients` (when
   * `experimentalAggregateGradients` is true), before clipping. Not part of the config. */
  get gradientAggregator(): GradientAggregator | undefined {
    return this.aggregatorFn;
  }
  set gradientAggregator(f: GradientAggregator | undefined) {
    this.aggregatorFn = f == null ? undefined : checkAggregator(f);
  }

  /** Keras' `gradient_transformers`: run in list order after clipping (exclusive with the clip
   * options). Not part of the config. */
  get gradientTransformers(): readonly GradientTransformer[] {
    return this.transformerFns;
  }
  set gradientTransformers(list: readonly GradientTransformer[] | undefined) {
    const fns = list == null ? [] : checkTransformers(list);
    if (fns.length > 0) for (const key of CLIP_KEYS) if (this.clip[key] !== undefined) throw new HyperparameterError('InvalidHyperparameter', TRANSFORMERS_CLASH[key]);
    this.transformerFns = fns;
  }

  /**
   * Runs the aggregator and the transformers over the non-null gradients (as Float32Array or
   * IndexedSlices), checks what they return and gives the list back with the same positions.
   */
  private runGradientHooks(pairs: ReadonlyArray<readonly [Gradient, Variable]>, aggregate: boolean): Array<readonly [Gradient, Variable]> {
    let kept: GradsAndVars = [];
    for (let i = 0; i < pairs.length; i++) {
      const pair = checkPair(pairs[i], i);
      const v = pair[1];
      const g = pair[0];
      if (g === null || g === undefined) continue;
      kept.push([hookGradient(g, v), v]);
    }
    if (kept.length === 0) return pairs as Array<readonly [Gradient, Variable]>;
    if (aggregate && this.aggregatorFn) kept = checkHookResult(this.aggregatorFn(kept), kept, 'gradientAggregator');
    for (let t = 0; t < this.transformerFns.length; t++) kept = checkHookResult(this.transformerFns[t](kept), kept, `gradientTransformers[${t}]`);
    let k = 0;
    return pairs.map((p) => (p[0] === null || p[0] === undefined ? p : kept[k++]));
  }

  /**
   * Keras' `minimize(loss, var_list)`: the gradient source (the call's `gradientSource` option, or
   * the optimizer's `gradientSource` property) evaluates the loss, resolves `varList` (a list, or
   * a function called once, after the loss) and computes the gradients; they are then applied
   * with `applyGradients` (which takes the other options). Returns the loss.
   */
  minimize<L>(loss: L, varList: readonly Variable[] | (() => readonly Variable[]), options?: MinimizeOptions<L>): number {
    this.live();
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      throw new ArgumentError('InvalidArgument', `minimize options must be an object, got ${describeValue(options)}`);
    }
    const source = options?.gradientSource ?? this.gradientSource;
    if (source === undefined || source === null) {
      throw new ArgumentError(
        'InvalidArgument',
        'minimize needs a gradient source (JavaScript has no autodiff): pass { gradientSource } or set optimizer.gradientSource, e.g. finiteDifferenceGradients, or tfjsGradientSource from simdopt/tfjs',
      );
    }
    if (typeof source !== 'function') throw new ArgumentError('InvalidArgument', `a gradient source must be a function, got ${describeValue(source)}`);
    if (typeof varList !== 'function' && !Array.isArray(varList)) {
      throw new ArgumentError('InvalidArgument', `minimize expects var_list as an array of Variables or a function returning one, got ${describeValue(varList)}`);
    }
    let vars: readonly Variable[] | undefined;
    const resolve = (): readonly Variable[] => {
      if (vars) return vars;
      const list = typeof varList === 'function' ? varList() : varList;
      if (!Array.isArray(list)) throw new ArgumentError('InvalidArgument', `var_list must give an array of Variables, got ${describeValue(list)}`);
      list.forEach((v, i) => {
        if (!(v instanceof Tensor)) throw new ArgumentError('InvalidArgument', `var_list entry ${i} is ${describeValue(v)}, not a Variable`);
      });
      return (vars = Object.freeze([...list]) as readonly Variable[]);
    };
    const out = source(loss, resolve);
    if (out === null || typeof out !== 'object' || !Array.isArray(out.grads)) {
      throw new ArgumentError('InvalidArgument', `the gradient source must return { loss, grads }, got ${describeValue(out)}`);
    }
    if (typeof out.loss !== 'number') throw new ArgumentError('InvalidArgument', `the gradient source returned a loss of ${describeValue(out.loss)}, not a number`);
    const vs = resolve();
    if (out.grads.length !== vs.length) {
      throw new ArgumentError('InvalidArgument', `the gradient source returned ${out.grads.length} gradients for ${vs.length} variables`);
    }
    const { gradientSource: _ignored, ...applyOptions } = options ?? {};
    this.applyGradients(
      vs.map((v, i) => [out.grads[i], v] as const),
      options === undefined ? undefined : applyOptions,
    );
    return out.loss;
  }

  private setClip(c: { clipvalue?: number; clipnorm?: number; global_clipnorm?: number }): void {
    for (const key of CLIP_KEYS) {
      const v = c[key];
      if (v !== undefined && v !== null && typeof v !== 'number') throw new ArgumentError('InvalidArgument', `\`${key}\` must be a number, got ${describeValue(v)}`);
    }
    call(() => core().optimizer_set_clipping(this.live(), c.clipvalue ?? undefined, c.clipnorm ?? undefined, c.global_clipnorm ?? undefined));
    this.clip = c;
  }

  // ---- steps ---------------------------------------------------------------------------

  /** Number of steps applied (Keras' `iterations`). */
  get iterations(): number {
    return call(() => core().optimizer_iterations(this.live()));
  }
  set iterations(v: number) {
    if (!Number.isSafeInteger(v) || v < 0) throw new ArgumentError('InvalidArgument', `iterations must be a non-negative safe integer, got ${describeValue(v)}`);
    call(() => core().optimizer_set_iterations(this.live(), v));
  }

  /**
   * Applies gradients to variables (Keras' `apply_gradients`): one step, one call into wasm for
   * all variables. Pairs whose gradient is null are skipped; an empty list does nothing. On
   * any error nothing changes. With `skipNonFinite` (option or property), a step with a NaN or
   * ±Infinity in any gradient is skipped as a whole and reported.
   */
  applyGradients(gradsAndVars: Iterable<readonly [Gradient, Variable]>, options?: ApplyGradientsOptions): StepResult {
    const guarded = options === undefined ? this.skipNonFinite : stepOptions(options, this.skipNonFinite);
    const id = this.live();
    let pairs = Array.isArray(gradsAndVars) ? (gradsAndVars as ReadonlyArray<readonly [Gradient, Variable]>) : iterate(gradsAndVars);
    const n = pairs.length;
    if (n === 0) return APPLIED;
    // Keras' order: aggregator, then clipping (in the core), then transformers; clipping and
    // transformers never both apply, so the hooks run here first. (Two field reads when unset.)
    if (this.aggregatorFn !== undefined || this.transformerFns.length !== 0) {
      const aggregate = options?.experimentalAggregateGradients ?? true;
      if ((aggregate && this.aggregatorFn !== undefined) || this.transformerFns.length !== 0) pairs = this.runGradientHooks(pairs, aggregate);
    }
    // A custom optimizer's gradients are all staged (the core clips them in place).
    if (this.custom) pairs = stageCopies(pairs);

    // The hot loops index pairs rather than destructure them, and nothing below allocates per
    // step: destructuring and closures would make JS garbage on every step.
    let values = 0;
    let indices = 0;
    let constrained = false;
    for (let i = 0; i < n; i++) {
      const pair = checkPair(pairs[i], i);
      const g = pair[0];
      const v = pair[1];
      if (v.isDisposed) throw new StateError('Disposed', `variable '${v.name}' has been disposed`);
      if (g === null || g === undefined) continue;
      // (A plain Tensor has no `constraint`: one property read instead of an instanceof.)
      if (v.constraint) constrained = true;
      if (g instanceof Tensor) {
        if (g.isDisposed) throw new StateError('Disposed', `the gradient tensor of '${v.name}' has been disposed`);
        continue;
      }
      if (g instanceof IndexedSlices) {
        if (v instanceof Variable && v.constraint) throw new StateError('InvalidState', 'Cannot use a constraint function on a sparse variable.');
        values += g.values.length;
        indices += g.indices.length;
      } else if (g instanceof Float32Array) {
        values += g.length;
      } else if (Array.isArray(g) && isNumeric(g)) {
        values += g.length;
      } else {
        throw new ArgumentError('InvalidArgument', `the gradient of '${v.name}' must be a Float32Array, number[], Tensor, IndexedSlices or null; got ${describeValue(g)}`);
      }
    }

    // Function and schedule hyperparameters run user code, which may itself use the frame (or
    // grow memory): call them before this step's frame is written.
    this.resolveDynamicHypers(id);
    const frame = reserveFrame(n * COMMAND_WORDS, values, indices);
    const u32 = heapUint32();
    const f32 = heapFloat32();
    const i32 = heapInt32();
    let w = frame.commands;
    let vo = 0;
    let io = 0;
    for (let i = 0; i < n; i++) {
      const pair = pairs[i];
      const g = pair[0];
      const v = pair[1];
      u32[w] = v.handleIndex;
      u32[w + 1] = v.handleGeneration;
      if (g === null || g === undefined) {
        u32[w + 2] = KIND_NONE;
      } else if (g instanceof Tensor) {
        u32[w + 2] = KIND_DENSE_TENSOR;
        u32[w + 3] = g.handleIndex;
        u32[w + 4] = g.handleGeneration;
      } else if (g instanceof IndexedSlices) {
        f32.set(g.values, frame.values + vo);
        i32.set(g.indices, frame.indices + io);
        u32[w + 2] = KIND_SPARSE;
        u32[w + 3] = vo;
        u32[w + 4] = g.values.length;
        u32[w + 5] = io;
        u32[w + 6] = g.indices.length;
        vo += g.values.length;
        io += g.indices.length;
      } else {
        f32.set(g as ArrayLike<number>, frame.values + vo);
        u32[w + 2] = KIND_DENSE_STAGED;
        u32[w + 3] = vo;
        u32[w + 4] = g.length;
        vo += g.length;
      }
      w += COMMAND_WORDS;
    }
    if (this.custom) return this.applyCustom(id, pairs, frame.values, guarded, options);
    if (!guarded) {
      if (core().optimizer_apply(id, n) !== 0) throwStepError();
    } else {
      const status = core().optimizer_apply_checked(id, n);
      if (status === 1) throwStepError();
      if (status === 2) return this.skipStep(pairs, options);
    }
    if (constrained) this.applyConstraints(pairs);
    return APPLIED;
  }

  // ---- custom optimizers ---------------------------------------------------------------

  /** The step of a custom optimizer, after its gradients were staged in the frame (at word
   * `valuesBase`): the core validates and clips them; the hooks update the variables. */
  private applyCustom(
    id: number,
    pairs: ReadonlyArray<readonly [Gradient, Variable]>,
    valuesBase: number,
    guarded: boolean,
    options: ApplyGradientsOptions | undefined,
  ): StepResult {
    const c = core();
    const status = c.optimizer_prepare(id, pairs.length, guarded);
    if (status === 1) throwStepError();
    if (status === 2) return this.skipStep(pairs, options);
    // Copy the clipped gradients out before any user code runs (it may use the frame).
    const f32 = heapFloat32();
    const grads: Array<Float32Array | IndexedSlices | null> = [];
    let vo = valuesBase;
    for (const [g] of pairs) {
      if (g === null || g === undefined) {
        grads.push(null);
      } else if (g instanceof IndexedSlices) {
        grads.push(new IndexedSlices(f32.slice(vo, vo + g.values.length), g.indices));
        vo += g.values.length;
      } else {
        const len = (g as ArrayLike<number>).length;
        grads.push(f32.slice(vo, vo + len));
        vo += len;
      }
    }
    const lrT = call(() => c.optimizer_current_lr(id));
    const iterations = this.iterations;
    const withGrads = pairs.filter((_, i) => grads[i] !== null).map((p) => p[1]);
    this.createCustomSlots(withGrads);
    const applyState: ApplyState = { lrT, iterations };
    this.prepareLocal(applyState);
    pairs.forEach(([, v], i) => {
      const g = grads[i];
      if (g === null) return;
      if (g instanceof IndexedSlices) {
        const { values, indices } = deduplicate(g.values, g.indices, rowSize(v.shape));
        this.resourceApplySparse(values, v, indices, applyState);
      } else {
        this.resourceApplyDense(g, v, applyState);
        if (v instanceof Variable && v.constraint) {
          const out = v.constraint(v.value);
          if (out) v.assign(out);
        }
      }
    });
    call(() => c.optimizer_set_iterations(id, iterations + 1));
    return APPLIED;
  }

  /**
   * Keras' `_create_slots(var_list)`: a custom optimizer creates its slots here with `addSlot`
   * (called at every step with the variables that have gradients; `addSlot` creates a slot once).
   */
  protected createSlots(_vars: readonly Variable[]): void {}

  /** Keras' `_prepare_local`: computes per-step values into `applyState` (custom optimizers). */
  protected prepareLocal(_applyState: ApplyState): void {}

  /** Keras' `_resource_apply_dense`: updates `variable` with a dense gradient (already
   * aggregated, clipped and transformed). Implement it to write a custom optimizer. */
  protected resourceApplyDense(_grad: Float32Array, variable: Variable, _applyState: ApplyState): void {
    throw new StateError('InvalidState', `${this.className} does not implement resourceApplyDense (dense gradient for '${variable.name}')`);
  }

  /** Keras' `_resource_apply_sparse`: updates rows `indices` of `variable` (duplicates already
   * summed, first-occurrence order; `values` holds one row per index). */
  protected resourceApplySparse(_values: Float32Array, variable: Variable, _indices: Int32Array, _applyState: ApplyState): void {
    throw new StateError('InvalidState', `${this.className} does not implement resourceApplySparse (sparse gradient for '${variable.name}')`);
  }

  /**
   * Keras' `add_slot(var, slot_name, initializer)` (custom optimizers): creates the slot once,
   * shaped like the variable, and returns it (a live view of its values).
   */
  protected addSlot(variable: Variable, slotName: string, initializer: Initializer = 'zeros'): SlotVariable {
    this.live();
    this.requireCustom('addSlot');
    if (!(variable instanceof Tensor)) throw new ArgumentError('InvalidArgument', `addSlot expects a Variable, got ${describeValue(variable)}`);
    if (typeof slotName !== 'string' || !slotName) throw new ArgumentError('InvalidArgument', `a slot name must be a non-empty string, got ${describeValue(slotName)}`);
    let slots = this.customSlots.get(variable);
    if (!slots?.has(slotName)) {
      const t = initialized(variable.shape, initializer, `${this.name}/${variable.name}/${slotName}`);
      if (!slots) this.customSlots.set(variable, (slots = new Map()));
      slots.set(slotName, t);
      if (!this.customSlotNames.includes(slotName)) this.customSlotNames.push(slotName);
      this.customWeights.push({ name: `${variable.name}/${slotName}`, tensor: t });
    }
    return this.getSlot(variable, slotName);
  }

  /**
   * Keras' `add_weight(name, shape, initializer)` (custom optimizers): an optimizer-wide weight,
   * appended to the weights after those created before it. The tensor belongs to the optimizer.
   */
  protected addWeight(name: string, shape: readonly number[] = [], initializer: Initializer = 'zeros'): Tensor {
    this.live();
    this.requireCustom('addWeight');
    if (typeof name !== 'string' || !name) throw new ArgumentError('InvalidArgument', `a weight name must be a non-empty string, got ${describeValue(name)}`);
    if (this.customWeights.some((w) => w.name === name)) throw new ArgumentError('InvalidArgument', `${this.name} already has a weight named '${name}'`);
    const t = initialized(shape, initializer, `${this.name}/${name}`);
    this.customWeights.push({ name, tensor: t });
    return t;
  }

  private requireCustom(what: string): void {
    if (!this.custom) throw new StateError('InvalidState', `${what} is for custom optimizers (subclasses implementing resourceApplyDense); ${this.className} keeps its state in the core`);
  }

  /**
   * Creates the weights of `vars` now, as Keras' `_create_all_weights(var_list)` (the first step
   * would): the slots of variables that have none yet, in the given order. Useful before
   * `setWeights` on a fresh optimizer.
   */
  build(vars: readonly Variable[]): void {
    const id = this.live();
    if (!Array.isArray(vars) || vars.some((v) => !(v instanceof Tensor))) throw new ArgumentError('InvalidArgument', `build expects an array of Variables, got ${describeValue(vars)}`);
    this.createSlotsOf(id, [...vars]);
  }

  /** The slots of `vars` that have none yet: the subclass's `createSlots`, or the core's. */
  private createSlotsOf(id: number, vars: readonly Variable[]): void {
    if (this.custom) this.createCustomSlots(vars);
    else call(() => core().optimizer_create_slots(id, vars.flatMap((v) => [v.handleIndex, v.handleGeneration])));
  }

  private createCustomSlots(vars: readonly Variable[]): void {
    const slotted = this.customSlots.size;
    const weights = this.customWeights.length;
    this.createSlots(vars);
    if (this.customWeights.length > weights) this.customSlotBatches.push(this.customSlots.size - slotted);
  }

  /**
   * @internal The variables with slots, in the order they got them, and how many got them in
   * each slot-creating step: what fixes the order of the weights (checkpoints save it).
   */
  slotLayout(): { variables: SlotVariableInfo[]; batches: number[] } {
    const id = this.live();
    if (this.custom) {
      const variables = [...this.customSlots.keys()].map((v) => ({ name: v.name, shape: [...v.shape], size: v.size }));
      return { variables, batches: [...this.customSlotBatches] };
    }
    const c = core();
    const handles = call(() => c.optimizer_slot_variables(id));
    const names = call(() => c.optimizer_slot_variable_names(id));
    const variables = names.map((name, i) => {
      const [index, generation, size] = [handles[3 * i], handles[3 * i + 1], handles[3 * i + 2]];
      let shape: number[] | null = null;
      try {
        shape = Array.from(c.tensor_shape(index, generation));
      } catch (e) {
        // A variable disposed since it got its slots: the slots stay, the shape is gone.
        if (!(e instanceof Error) || !/^UnknownTensor/.test(e.message)) throw SimdoptError.fromCore(e);
      }
      return { name, shape, size };
    });
    return { variables, batches: Array.from(call(() => c.optimizer_slot_batches(id))) };
  }

  /** @internal Recreates the slots of `vars` batch by batch, as `slotLayout` gave them. */
  restoreSlotLayout(vars: readonly Variable[], batches: readonly number[]): void {
    const id = this.live();
    let first = 0;
    for (const n of batches) {
      this.createSlotsOf(id, vars.slice(first, first + n));
      first += n;
    }
  }

  /** Steps skipped for non-finite gradients so far (`skipNonFinite`). */
  get skippedSteps(): number {
    return this.skipped;
  }

  private skipStep(pairs: ReadonlyArray<readonly [Gradient, Variable]>, options: ApplyGradientsOptions | undefined): StepResult {
    const nonFiniteIndices = Object.freeze(Array.from(core().take_non_finite()));
    const step: NonFiniteStep = Object.freeze({
      applied: false,
      nonFiniteIndices,
      nonFiniteVariables: Object.freeze(nonFiniteIndices.map((i) => pairs[i][1])),
      optimizer: this,
      iterations: this.iterations,
    });
    this.skipped++;
    const report = options?.onNonFinite ?? this.onNonFinite;
    if (report) report(step);
    return step;
  }

  /** Calls function and schedule hyperparameters for this step and hands the values to the core.
   * (No closure in here, so a step with only numbers allocates no closure context.) */
  private resolveDynamicHypers(id: number): void {
    const keys = this.dynamicKeys ?? (this.dynamicKeys = dynamicHyperKeys(this.hypers));
    for (let i = 0; i < keys.length; i++) this.resolveHyper(id, keys[i]);
  }

  private resolveHyper(id: number, key: string): void {
    if (!this.inCore(key)) return; // a custom optimizer reads its own with getHyperValue
    const v = this.hypers.get(key) as Exclude<HyperValue, number>;
    const value = v instanceof LearningRateSchedule ? v.call(Math.fround(this.iterations)) : v();
    if (typeof value !== 'number') {
      throw new HyperparameterError('InvalidHyperparameter', `hyperparameter \`${key}\` returned ${describeValue(value)}, not a number`);
    }
    call(() => core().optimizer_set_hyper(id, key, value));
  }

  /** Keras applies `var.constraint` to the updated value after a dense update. */
  private applyConstraints(pairs: ReadonlyArray<readonly [Gradient, Variable]>): void {
    for (const [g, v] of pairs) {
      if (g == null || !(v instanceof Variable) || !v.constraint) continue;
      const out = v.constraint(v.value);
      if (out) v.assign(out);
    }
  }

  // ---- slots and weights ---------------------------------------------------------------

  /** Slot names in creation order (Keras' `get_slot_names`). */
  getSlotNames(): string[] {
    if (this.custom) return (this.live(), [...this.customSlotNames]);
    return call(() => core().optimizer_slot_names(this.live()));
  }

  /** A slot of a variable (Keras' `get_slot`): a live view of optimizer state. */
  getSlot(variable: Variable, slotName: string): SlotVariable {
    const id = this.live();
    if (!(variable instanceof Tensor)) throw new ArgumentError('InvalidArgument', `getSlot expects a Variable, got ${describeValue(variable)}`);
    if (typeof slotName !== 'string') throw new ArgumentError('InvalidArgument', `a slot name must be a string, got ${describeValue(slotName)}`);
    const c = core();
    if (this.custom) {
      const t = this.customSlots.get(variable)?.get(slotName);
      if (!t) throw new SlotError('UnknownSlot', `no slot '${slotName}' for variable '${variable.name}'`);
      return new SlotVariable(this, variable, slotName, () => {
        this.live();
        return call(() => c.tensor_ptr(t.handleIndex, t.handleGeneration));
      });
    }
    call(() => c.optimizer_slot_view(id, variable.handleIndex, variable.handleGeneration, slotName));
    return new SlotVariable(this, variable, slotName, () => {
      const [ptr] = call(() => c.optimizer_slot_view(this.live(), variable.handleIndex, variable.handleGeneration, slotName));
      return ptr;
    });
  }

  /** Keras names of the weights (`Adam/iter:0`, `Adam/w/m:0`, ...), in `getWeights` order. */
  getWeightNames(): string[] {
    if (this.custom) return (this.live(), [`${this.name}/iter:0`, ...this.customWeights.map((w) => `${this.name}/${w.name}:0`)]);
    return call(() => core().optimizer_weight_names(this.live()));
  }

  /** Copies of the weights: `iterations` (int64) first, then the slots in creation order. */
  getWeights(): WeightValue[] {
    const id = this.live();
    const c = core();
    if (this.custom) return [BigInt64Array.of(BigInt(this.iterations)), ...this.customWeights.map((w) => w.tensor.read())];
    const count = c.optimizer_weight_names(id).length;
    const out: WeightValue[] = [BigInt64Array.of(BigInt(this.iterations))];
    for (let i = 1; i < count; i++) {
      const [ptr, len] = call(() => c.optimizer_weight_view(id, i));
      out.push(viewFloat32(ptr, len).slice());
    }
    return out;
  }

  /** Sets every weight, in `getWeights` order (Keras' `set_weights`). Checks the count and
   * every size before writing anything. */
  setWeights(weights: ReadonlyArray<WeightValue | ArrayLike<number> | number | bigint>): void {
    const id = this.live();
    const expected = this.getWeightNames().length;
    const given = Array.isArray(weights) ? weights : iterate(weights as Iterable<unknown>, 'setWeights expects an array of weights');
    const ws = this.spec.keras1Weights ? this.spec.keras1Weights([...given], expected) : [...given];
    if (ws.length !== expected) {
      throw new WeightsError(
        'WeightCount',
        `You called \`set_weights(weights)\` on optimizer ${this.name} with a  weight list of length ${ws.length}, but the optimizer was expecting ${expected} weights.`,
      );
    }
    if (ws.length === 0) return;
    const iterations = toIterations(ws[0]);
    const rest = ws.slice(1).map((w, i) => {
      if (!isNumeric(w)) {
        throw new WeightsError('WeightShape', `weight ${i + 1} must be an array of numbers, got ${describeValue(w)}`);
      }
      return w as ArrayLike<number>;
    });
    if (this.custom) {
      rest.forEach((w, i) => {
        const t = this.customWeights[i].tensor;
        if (w.length !== t.size) throw new WeightsError('WeightShape', `Optimizer weight shape [${t.shape.join(', ')}] (${t.size} values) not compatible with provided weight of ${w.length} values (weight ${i + 1})`);
      });
      rest.forEach((w, i) => this.customWeights[i].tensor.assign(w));
      this.iterations = iterations;
      return;
    }
    const total = rest.reduce((s, w) => s + w.length, 0);
    const frame = reserveFrame(rest.length, total, 0);
    const u32 = heapUint32();
    const f32 = heapFloat32();
    let off = frame.values;
    rest.forEach((w, i) => {
      u32[frame.commands + i] = w.length;
      f32.set(w, off);
      off += w.length;
    });
    call(() => core().optimizer_set_weights(id, iterations, rest.length));
  }

  // ---- config --------------------------------------------------------------------------

  /** Keras' `get_config()`: snake_case keys in Keras' order. */
  getConfig(): Record<string, unknown> {
    const config: Record<string, unknown> = { name: this.name };
    for (const key of CLIP_KEYS) if (this.clip[key] !== undefined) config[key] = this.clip[key];
    for (const [key] of this.spec.config) {
      config[key] = this.flags.has(key) ? this.flags.get(key) : serializeHyper(this.hypers.get(key)!);
    }
    return config;
  }

  /** Frees the optimizer's WASM memory (its slots). Later use throws. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    registry.unregister(this);
    for (const w of this.customWeights) w.tensor.dispose();
    core().optimizer_dispose(this.id);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }
}

/** A slot of an optimizer for one variable (`getSlot`). Its values live in the optimizer. */
export class SlotVariable extends WasmTensor {
  readonly optimizer: Optimizer;
  readonly variable: Variable;
  readonly slotName: string;
  private readonly locate: () => number;

  /** @internal */
  constructor(optimizer: Optimizer, variable: Variable, slotName: string, locate: () => number) {
    super(variable.shape, `${optimizer.name}/${variable.name}/${slotName}`);
    this.optimizer = optimizer;
    this.variable = variable;
    this.slotName = slotName;
    this.locate = locate;
  }

  protected pointer(): number {
    return this.locate();
  }
}

/** Whether a prototype (a subclass of Optimizer) implements the update hooks itself. */
function isCustomClass(proto: object): boolean {
  const base = Optimizer.prototype as unknown as Record<string, unknown>;
  const p = proto as Record<string, unknown>;
  return p.resourceApplyDense !== base.resourceApplyDense || p.resourceApplySparse !== base.resourceApplySparse;
}

/** A gradient as hooks see it: Float32Array (a copy of a Tensor's values) or IndexedSlices. */
function hookGradient(g: Gradient, v: Variable): HookGradient {
  if (g instanceof IndexedSlices || g instanceof Float32Array) return g;
  if (g instanceof Tensor) {
    if (g.isDisposed) throw new StateError('Disposed', `the gradient tensor of '${v.name}' has been disposed`);
    return g.read();
  }
  if (Array.isArray(g) && isNumeric(g)) return Float32Array.from(g);
  throw new ArgumentError('InvalidArgument', `the gradient of '${v.name}' must be a Float32Array, number[], Tensor, IndexedSlices or null; got ${describeValue(g)}`);
}

/** Checks what an aggregator or transformer returned: one pair per pair given, same variables. */
function checkHookResult(out: unknown, before: GradsAndVars, who: string): GradsAndVars {
  if (!Array.isArray(out) || out.length !== before.length) {
    throw new ArgumentError('InvalidArgument', `${who} must return a list of ${before.length} [gradient, variable] pairs, got ${describeValue(out)}`);
  }
  return out.map((pair: unknown, i): [HookGradient, Variable] => {
    const v = before[i][1];
    if (!Array.isArray(pair) || pair.length !== 2) throw new ArgumentError('InvalidArgument', `${who} returned ${describeValue(pair)} at position ${i}, not a [gradient, variable] pair`);
    if (pair[1] !== v) throw new ArgumentError('InvalidArgument', `${who} returned ${pair[1] instanceof Tensor ? `variable '${pair[1].name}'` : describeValue(pair[1])} at position ${i}, where '${v.name}' was given`);
    const g: unknown = pair[0];
    if (g === null || g === undefined || g instanceof Tensor) throw new ArgumentError('InvalidArgument', `${who} returned ${describeValue(g)} as the gradient of '${v.name}'; expected a Float32Array or IndexedSlices`);
    return [hookGradient(g as Gradient, v), v];
  });
}

function checkAggregator(f: unknown): GradientAggregator {
  if (typeof f !== 'function') throw new ArgumentError('InvalidArgument', `\`gradientAggregator\` must be a function, got ${describeValue(f)}`);
  return f as GradientAggregator;
}

function checkTransformers(list: unknown): readonly GradientTransformer[] {
  if (!Array.isArray(list)) throw new ArgumentError('InvalidArgument', `\`gradientTransformers\` must be an array of functions, got ${describeValue(list)}`);
  list.forEach((f, i) => {
    if (typeof f !== 'function') throw new ArgumentError('InvalidArgument', `gradientTransformers[${i}] must be a function, got ${describeValue(f)}`);
  });
  return Object.freeze([...list]) as readonly GradientTransformer[];
}

/** The pairs with every Tensor gradient replaced by a copy of its values (custom optimizers:
 * the core clips staged gradients in place, never a caller's tensor). */
function stageCopies(pairs: ReadonlyArray<readonly [Gradient, Variable]>): ReadonlyArray<readonly [Gradient, Variable]> {
  return pairs.map((p) => {
    if (!Array.isArray(p) || !(p[0] instanceof Tensor)) return p;
    if (p[0].isDisposed) throw new StateError('Disposed', `the gradient tensor of '${(p[1] as Variable)?.name}' has been disposed`);
    return [p[0].read(), p[1]] as const;
  });
}

/** Keras' `_deduplicate_indexed_slices`: unique rows in first-occurrence order, values summed
 * in occurrence order in f32 (as the core does for built-ins). */
function deduplicate(values: Float32Array, indices: Int32Array, rowLen: number): { values: Float32Array; indices: Int32Array } {
  const first = new Map<number, number>();
  const rows: number[] = [];
  for (let k = 0; k < indices.length; k++) if (!first.has(indices[k])) first.set(indices[k], rows.push(indices[k]) - 1);
  if (rows.length === indices.length) return { values, indices: Int32Array.from(indices) };
  const summed = new Float32Array(rows.length * rowLen);
  for (let k = 0; k < indices.length; k++) {
    const u = first.get(indices[k])! * rowLen;
    for (let d = 0; d < rowLen; d++) summed[u + d] += values[k * rowLen + d];
  }
  return { values: summed, indices: Int32Array.from(rows) };
}

/** A tensor of `shape` filled by an initializer. */
function initialized(shape: readonly number[], init: Initializer, name: string): Tensor {
  let fill: ArrayLike<number> | number;
  if (init === 'zeros') fill = 0;
  else if (init === 'ones') fill = 1;
  else if (typeof init === 'number') fill = init;
  else if (typeof init === 'function') fill = init(Object.freeze([...shape]));
  else throw new ArgumentError('InvalidArgument', `an initializer must be a number, 'zeros', 'ones' or a function of the shape; got ${describeValue(init)}`);
  const t = Tensor.zeros(shape, name);
  try {
    t.assign(fill);
  } catch (e) {
    t.dispose();
    throw e;
  }
  return t;
}

/** Throws the error of the step that just failed in the core. */
function throwStepError(): never {
  call(() => core().take_error());
  throw new StateError('InvalidState', 'the step failed without an error message');
}

/** Checks `applyGradients` options; returns whether the step is guarded. */
function stepOptions(o: ApplyGradientsOptions, dflt: boolean): boolean {
  if (o === null || typeof o !== 'object') throw new ArgumentError('InvalidArgument', `applyGradients options must be an object, got ${describeValue(o)}`);
  const { skipNonFinite, onNonFinite, experimentalAggregateGradients } = o;
  if (skipNonFinite !== undefined && typeof skipNonFinite !== 'boolean') throw new ArgumentError('InvalidArgument', `\`skipNonFinite\` must be a boolean, got ${describeValue(skipNonFinite)}`);
  if (onNonFinite !== undefined && typeof onNonFinite !== 'function') throw new ArgumentError('InvalidArgument', `\`onNonFinite\` must be a function, got ${describeValue(onNonFinite)}`);
  if (experimentalAggregateGradients !== undefined && typeof experimentalAggregateGradients !== 'boolean') {
    throw new ArgumentError('InvalidArgument', `\`experimentalAggregateGradients\` must be a boolean, got ${describeValue(experimentalAggregateGradients)}`);
  }
  return skipNonFinite ?? dflt;
}

/** An iterable as an array, or an ArgumentError (not a TypeError) for anything else. */
function iterate<T>(x: Iterable<T>, what = 'applyGradients expects a list of [gradient, variable] pairs'): T[] {
  if (x == null || typeof (x as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== 'function') {
    throw new ArgumentError('InvalidArgument', `${what}, got ${describeValue(x)}`);
  }
  return [...x];
}

function dynamicHyperKeys(hypers: Map<string, HyperValue>): string[] {
  return [...hypers.keys()].filter((k) => typeof hypers.get(k) !== 'number');
}

function checkHyper(key: string, v: unknown): HyperValue {
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
function serializeHyper(v: HyperValue): number | Serialized {
  if (typeof v === 'number') return v;
  if (v instanceof LearningRateSchedule) return serializeSchedule(v);
  return v();
}

function toIterations(w: unknown): number {
  const x = w instanceof BigInt64Array || ArrayBuffer.isView(w) || Array.isArray(w) ? (w as ArrayLike<number | bigint>)[0] : w;
  const n = typeof x === 'bigint' ? Number(x) : x;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new WeightsError('WeightShape', `weight 0 (iterations) must be a non-negative integer, got ${describeValue(w)}`);
  }
  return n;
}

/** A number as Python's `repr(float)` writes it (`1.0`, `0.1`), for Keras' messages. */
export function pyFloat(v: number): string {
  return Number.isInteger(v) && Math.abs(v) < 1e16 ? v.toFixed(1) : String(v);
}

/** One entry of an applyGradients list: a [gradient, variable] pair (the gradient is checked later). */
function checkPair(pair: unknown, i: number): readonly [Gradient, Variable] {
  if (!Array.isArray(pair) || pair.length !== 2) {
    throw new ArgumentError('InvalidArgument', `applyGradients expects [gradient, variable] pairs; entry ${i} is ${describeValue(pair)}`);
  }
  if (!(pair[1] instanceof Tensor)) throw new ArgumentError('InvalidArgument', `entry ${i}: the variable is ${describeValue(pair[1])}, not a Variable`);
  return pair as [Gradient, Variable];
}

export { SlotError };
