// The Keras `OptimizerV2` API over the wasm core. The core holds the state (iterations, slots)
// and does the maths; this class converts options and configs and writes each step's
// gradients into the step frame, then makes one call.
import { call, core, heapFloat32, heapInt32, heapUint32, viewFloat32 } from './wasm/loader.js';
import { COMMAND_WORDS, KIND_DENSE_STAGED, KIND_DENSE_TENSOR, KIND_NONE, KIND_SPARSE, reserveFrame } from './frame.js';
import { ArgumentError, ConfigError, HyperparameterError, SlotError, StateError, WeightsError } from './errors.js';
import { IndexedSlices, Tensor, Variable, WasmTensor, describeValue, isNumeric } from './tensor.js';
import { LearningRateSchedule, Serialized, deserializeSchedule, serializeSchedule } from './schedules.js';

/** A hyperparameter: a number, a zero-argument function called at each step, or (for the
 * learning rate) a schedule called with the iteration. */
export type HyperValue = number | (() => number) | LearningRateSchedule;

/** A gradient: values (copied into WASM memory), a WASM-side [[Tensor]] (no copy), a sparse
 * [[IndexedSlices]], or null/undefined for a variable without a gradient (skipped). */
export type Gradient = Float32Array | readonly number[] | Tensor | IndexedSlices | null | undefined;

/** Options every optimizer takes (Keras' base keyword arguments, in camelCase). */
export interface BaseOptimizerOptions {
  name?: string;
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
    throw new ArgumentError('InvalidArgument', `optimizer options must be an object, got ${describe(options)}`);
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

  protected constructor(spec: OptimizerSpec, options: Record<string, unknown>) {
    options = optionsObject(options);
    this.spec = spec;
    const known = new Map(spec.config.map(([k, d]) => [camelCase(k), [k, d] as const]));
    for (const key of Object.keys(options ?? {})) {
      const v = options[key];
      if (v === undefined) continue;
      if (!known.has(key) && !BASE_OPTION_KEYS.has(snakeCase(key)) && key !== 'globalClipnorm') {
        throw new ConfigError('UnknownOption', `Unexpected keyword argument passed to optimizer: ${snakeCase(key)}`);
      }
    }
    if (options.name !== undefined && options.name !== null && typeof options.name !== 'string') {
      throw new ArgumentError('InvalidArgument', `\`name\` must be a string, got ${describe(options.name)}`);
    }
    this.name = typeof options.name === 'string' && options.name ? options.name : spec.className;
    if (typeof options.lr === 'number' && options.lr < 0) {
      // Keras checks its legacy kwargs (not `learning_rate`) for negative values.
      throw new HyperparameterError('InvalidHyperparameter', `Expected lr >= 0, received: ${pyFloat(options.lr)}`);
    }
    const lrAlias = spec.acceptsLr !== false ? (options.lr as HyperValue | undefined) : undefined;

    const keys: string[] = [];
    const values: number[] = [];
    for (const [key, dflt] of spec.config) {
      let v = options[camelCase(key)];
      if (key === 'learning_rate' && lrAlias !== undefined) v = lrAlias;
      if (typeof dflt === 'boolean') {
        if (v !== undefined && typeof v !== 'boolean') {
          throw new ArgumentError('InvalidArgument', `\`${key}\` must be a boolean, got ${describe(v)}`);
        }
        const flag = (v as boolean | undefined) ?? dflt;
        this.flags.set(key, flag);
        keys.push(key);
        values.push(flag ? 1 : 0);
        continue;
      }
      const hv = checkHyper(key, kerasValue(key, v ?? dflt));
      this.hypers.set(key, hv);
      if (typeof hv === 'number') {
        keys.push(key);
        values.push(hv);
      }
    }
    for (const key of CLIP_KEYS) {
      const v = options[camelCase(key)];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'number') throw new ArgumentError('InvalidArgument', `\`${key}\` must be a number, got ${describe(v)}`);
      this.clip[key] = v;
      keys.push(key);
      values.push(v);
    }
    const c = core();
    this.id = call(() => c.optimizer_create(spec.className, this.name, keys, new Float32Array(values)));
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
      throw new ConfigError('InvalidConfig', `an optimizer config must be an object, got ${describe(config)}`);
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

  /** @internal The core handle (throws if disposed). */
  get handle(): number {
    return this.live();
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
    if (typeof key !== 'string') throw new ArgumentError('InvalidArgument', `a hyperparameter name must be a string, got ${describe(key)}`);
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
    if (typeof v === 'number') call(() => core().optimizer_set_hyper(this.live(), k, v));
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

  /** A fixed boolean option (`amsgrad`, `nesterov`, `centered`). */
  protected flag(key: string): boolean {
    return this.flags.get(key)!;
  }

  // ---- clipping ------------------------------------------------------------------------

  get clipvalue(): number | undefined {
    return this.clip.clipvalue;
  }
  set clipvalue(v: number | undefined) {
    this.setClip({ ...this.clip, clipvalue: v });
  }
  get clipnorm(): number | undefined {
    return this.clip.clipnorm;
  }
  set clipnorm(v: number | undefined) {
    this.setClip({ ...this.clip, clipnorm: v });
  }
  get globalClipnorm(): number | undefined {
    return this.clip.global_clipnorm;
  }
  set globalClipnorm(v: number | undefined) {
    this.setClip({ ...this.clip, global_clipnorm: v });
  }

  private setClip(c: { clipvalue?: number; clipnorm?: number; global_clipnorm?: number }): void {
    for (const key of CLIP_KEYS) {
      const v = c[key];
      if (v !== undefined && v !== null && typeof v !== 'number') throw new ArgumentError('InvalidArgument', `\`${key}\` must be a number, got ${describe(v)}`);
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
    if (!Number.isSafeInteger(v) || v < 0) throw new ArgumentError('InvalidArgument', `iterations must be a non-negative safe integer, got ${describe(v)}`);
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
    const pairs = Array.isArray(gradsAndVars) ? (gradsAndVars as ReadonlyArray<readonly [Gradient, Variable]>) : iterate(gradsAndVars);
    const n = pairs.length;
    if (n === 0) return APPLIED;

    // The hot loops index pairs rather than destructure them, and nothing below allocates per
    // step: destructuring and closures would make JS garbage on every step.
    let values = 0;
    let indices = 0;
    let constrained = false;
    for (let i = 0; i < n; i++) {
      const pair = pairs[i];
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new ArgumentError('InvalidArgument', `applyGradients expects [gradient, variable] pairs; entry ${i} is ${describe(pair)}`);
      }
      const g = pair[0] as Gradient;
      const v = pair[1] as Variable;
      if (!(v instanceof Tensor)) throw new ArgumentError('InvalidArgument', `entry ${i}: ${describe(v)} is not a Variable`);
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
        throw new ArgumentError('InvalidArgument', `the gradient of '${v.name}' must be a Float32Array, number[], Tensor, IndexedSlices or null; got ${describe(g)}`);
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
    const v = this.hypers.get(key) as Exclude<HyperValue, number>;
    const value = v instanceof LearningRateSchedule ? v.call(Math.fround(this.iterations)) : v();
    if (typeof value !== 'number') {
      throw new HyperparameterError('InvalidHyperparameter', `hyperparameter \`${key}\` returned ${describe(value)}, not a number`);
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
    return call(() => core().optimizer_slot_names(this.live()));
  }

  /** A slot of a variable (Keras' `get_slot`): a live view of optimizer state. */
  getSlot(variable: Variable, slotName: string): SlotVariable {
    const id = this.live();
    if (!(variable instanceof Tensor)) throw new ArgumentError('InvalidArgument', `getSlot expects a Variable, got ${describe(variable)}`);
    if (typeof slotName !== 'string') throw new ArgumentError('InvalidArgument', `a slot name must be a string, got ${describe(slotName)}`);
    const c = core();
    call(() => c.optimizer_slot_view(id, variable.handleIndex, variable.handleGeneration, slotName));
    return new SlotVariable(this, variable, slotName, () => {
      const [ptr] = call(() => c.optimizer_slot_view(this.live(), variable.handleIndex, variable.handleGeneration, slotName));
      return ptr;
    });
  }

  /** Keras names of the weights (`Adam/iter:0`, `Adam/w/m:0`, ...), in `getWeights` order. */
  getWeightNames(): string[] {
    return call(() => core().optimizer_weight_names(this.live()));
  }

  /** Copies of the weights: `iterations` (int64) first, then the slots in creation order. */
  getWeights(): WeightValue[] {
    const id = this.live();
    const c = core();
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
        throw new WeightsError('WeightShape', `weight ${i + 1} must be an array of numbers, got ${describe(w)}`);
      }
      return w as ArrayLike<number>;
    });
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

/** Throws the error of the step that just failed in the core. */
function throwStepError(): never {
  call(() => core().take_error());
  throw new StateError('InvalidState', 'the step failed without an error message');
}

/** Checks `applyGradients` options; returns whether the step is guarded. */
function stepOptions(o: ApplyGradientsOptions, dflt: boolean): boolean {
  if (o === null || typeof o !== 'object') throw new ArgumentError('InvalidArgument', `applyGradients options must be an object, got ${describe(o)}`);
  const { skipNonFinite, onNonFinite, experimentalAggregateGradients } = o;
  if (skipNonFinite !== undefined && typeof skipNonFinite !== 'boolean') throw new ArgumentError('InvalidArgument', `\`skipNonFinite\` must be a boolean, got ${describe(skipNonFinite)}`);
  if (onNonFinite !== undefined && typeof onNonFinite !== 'function') throw new ArgumentError('InvalidArgument', `\`onNonFinite\` must be a function, got ${describe(onNonFinite)}`);
  if (experimentalAggregateGradients !== undefined && typeof experimentalAggregateGradients !== 'boolean') {
    throw new ArgumentError('InvalidArgument', `\`experimentalAggregateGradients\` must be a boolean, got ${describe(experimentalAggregateGradients)}`);
  }
  return skipNonFinite ?? dflt;
}

/** An iterable as an array, or an ArgumentError (not a TypeError) for anything else. */
function iterate<T>(x: Iterable<T>, what = 'applyGradients expects a list of [gradient, variable] pairs'): T[] {
  if (x == null || typeof (x as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== 'function') {
    throw new ArgumentError('InvalidArgument', `${what}, got ${describe(x)}`);
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
  throw new HyperparameterError('InvalidHyperparameter', `hyperparameter \`${key}\` must be a number, a function or a LearningRateSchedule; got ${describe(v)}`);
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
    throw new WeightsError('WeightShape', `weight 0 (iterations) must be a non-negative integer, got ${describe(w)}`);
  }
  return n;
}

/** A number as Python's `repr(float)` writes it (`1.0`, `0.1`), for Keras' messages. */
export function pyFloat(v: number): string {
  return Number.isInteger(v) && Math.abs(v) < 1e16 ? v.toFixed(1) : String(v);
}

export function describe(v: unknown): string {
  return describeValue(v);
}

export { SlotError };
