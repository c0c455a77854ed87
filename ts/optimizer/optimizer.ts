// The Keras `OptimizerV2` API over the wasm core. The core holds the state (iterations, slots)
// and does the maths; this class is the API: options and config (options.ts),
// hyperparameters and schedules (hyperparameters.ts), gradient hooks and `minimize` (hooks.ts),
// the step frame (step.ts), weights (weights.ts) and custom optimizers' state (custom.ts).
import { call, core } from '../wasm/loader.js';
import { ArgumentError, HyperparameterError, SlotError, StateError } from '../errors.js';
import { IndexedSlices, Tensor, Variable, WasmTensor } from '../tensor.js';
import { describeValue, rowSize } from '../values.js';
import type { FrameLayout } from '../frame.js';
import { SlotBatches, addSlot, addWeight, deduplicate, stagedGradients } from './custom.js';
import { checkAggregator, checkTransformers, minimize, runGradientHooks } from './hooks.js';
import { Hyperparameters } from './hyperparameters.js';
import { CLIP_KEYS, ClipKey, Clipping, TRANSFORMERS_CLASH, checkClip, installAccessors, optionsFromConfig, optionsObject, parseOptions } from './options.js';
import type { OptionsParser } from './options.js';
import {
  APPLIED,
  StepArguments,
  acquireArguments,
  applyConstraints,
  iterate,
  readList,
  readPairs,
  releaseArguments,
  skippedStep,
  stepOptions,
  throwStepError,
  writeFrame,
} from './step.js';
import { NOT_STREAMED, applyStreamed } from './stream.js';
import { IterationsWeight, SlotVariable, checkWeightList, coreSlotLayout, readCoreWeights, weightsToJSON, writeCoreWeights } from './weights.js';
import { RawSlotWeight, SlotDtype, isRawSlotWeight, parseSlotDtype, readRawEntry, readRawWeight, setCoreSlotDtype, writeRawEntries } from './slot-dtype.js';
import type {
  ApplyGradientsOptions,
  ApplyState,
  Gradient,
  GradientAggregator,
  GradientSource,
  GradientTransformer,
  HyperValue,
  Initializer,
  MinimizeOptions,
  NonFiniteStep,
  OptimizerSpec,
  SlotVariableInfo,
  StepResult,
  WeightValue,
} from './types.js';

const registry = new FinalizationRegistry<number>((id) => {
  try {
    core().optimizer_dispose(id);
  } catch {
    // Never throw from a finalizer (the core may have failed meanwhile).
  }
});

/**
 * Base class of every optimizer (Keras' `OptimizerV2`). Create one with its subclass
 * (`new Adam({...})`) after `await ready()`.
 */
export abstract class Optimizer {
  /** The optimizer's name (Keras' `name`; weight names start with it). */
  readonly name: string;
  /** @internal handle of the core optimizer */
  protected readonly id: number;
  private readonly spec: OptimizerSpec;
  private readonly hypers: Hyperparameters;
  private readonly flags: Map<string, boolean>;
  private clip: Clipping;
  private disposed = false;
  /** Default of `applyGradients`' `skipNonFinite` option: check gradients for NaN/±Inf and skip
   * steps that have any. Not part of the Keras config. */
  skipNonFinite = false;
  /** Called with every step skipped for non-finite gradients (unless the call has its own). */
  onNonFinite: ((step: NonFiniteStep) => void) | undefined = undefined;
  private skipped = 0;
  /** Default gradient source of `minimize` (see {@link GradientSource}). */
  gradientSource: GradientSource | undefined = undefined;
  private aggregatorFn: GradientAggregator | undefined;
  private transformerFns: readonly GradientTransformer[];
  /** For a custom optimizer (a subclass implementing `resourceApplyDense` /
   * `resourceApplySparse`, whose update runs in JavaScript on slots kept in the core): the batches
   * of its slot creation. Undefined for a built-in. */
  private readonly custom: SlotBatches | undefined;
  /** How the moment slots are stored (the `slotDtype` option; not in the Keras config). */
  readonly slotDtype: SlotDtype;
  /** The step count schedules get, as a function made once (a step allocates no closure). */
  private readonly readIterations = (): number => this.scheduleStep();
  /** `live()` as a function made once (checked again after user code that may dispose this). */
  private readonly liveId = (): number => this.live();

  /**
   * @param spec - The class's description.
   * @param options - The constructor options as given.
   * @param parse - How they are read (another API's base class, e.g. Keras 3's, brings its own).
   */
  protected constructor(spec: OptimizerSpec, options: Record<string, unknown>, parse: OptionsParser = parseOptions) {
    options = optionsObject(options);
    this.spec = spec;
    const o = parse(spec, options, isCustomClass(new.target.prototype));
    // Another API's base class may recognise its own custom classes (Keras 3: `updateStep`).
    const custom = o.custom ?? isCustomClass(new.target.prototype);
    this.name = o.name;
    this.custom = custom ? new SlotBatches() : undefined;
    this.hypers = new Hyperparameters(o.hypers, spec.className, custom);
    this.flags = o.flags;
    this.clip = o.clip;
    this.aggregatorFn = o.aggregator;
    this.transformerFns = o.transformers;
    // A custom optimizer's core optimizer has the external rule: `iterations`, the learning rate,
    // `decay`, the clipping, and the slots and weights its `addSlot` and `addWeight` make.
    const values = new Float32Array(o.coreValues);
    this.slotDtype = o.slotDtype ?? parseSlotDtype(options.slotDtype);
    const create =
      o.create ?? (custom ? (name, keys, v) => core().optimizer_create_external(name, keys, v) : (name, keys, v) => core().optimizer_create(spec.className, name, keys, v));
    this.id = call(() => create(this.name, o.coreKeys, values));
    try {
      setCoreSlotDtype(this.id, this.slotDtype);
    } catch (e) {
      core().optimizer_dispose(this.id);
      throw e;
    }
    registry.register(this, this.id, this);
    installAccessors(new.target.prototype, spec, (opt, key) => (opt as Optimizer).flag(key));
  }

  /**
   * Keras' `from_config`: `lr` becomes `learning_rate`, a schedule dict is deserialized
   * (`customObjects` resolves user schedule classes), unknown keys are refused.
   */
  static fromConfig<T extends Optimizer>(this: new (options: Record<string, unknown>) => T, config: Record<string, unknown>, customObjects: Record<string, unknown> = {}): T {
    return new this(optionsFromConfig(config, customObjects));
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
    return this.hypers.get(key);
  }

  /** Sets a hyperparameter (Keras' `_set_hyper`). A number is validated now; a function or
   * schedule is called at each step. */
  setHyper(key: string, value: HyperValue): void {
    this.hypers.set(this.live(), key, value);
  }

  /** The learning rate: a number, a function called at each step, or a schedule (Keras'
   * `learning_rate`). Settable between steps. */
  get learningRate(): HyperValue {
    return this.getHyper('learning_rate');
  }
  /** Sets the learning rate for the next steps (checked now if a number). */
  set learningRate(v: HyperValue) {
    this.setHyper('learning_rate', v);
  }
  /** Keras' `lr` alias of `learningRate`. */
  get lr(): HyperValue {
    return this.learningRate;
  }
  /** Sets `learningRate`. */
  set lr(v: HyperValue) {
    this.learningRate = v;
  }
  /** The legacy inverse-time decay: `lr / (1 + decay * iterations)` (Keras' `decay`). */
  get decay(): HyperValue {
    return this.getHyper('decay');
  }
  /** Sets `decay` for the next steps. */
  set decay(v: HyperValue) {
    this.setHyper('decay', v);
  }

  /**
   * The value of a hyperparameter for this step (Keras' `_get_hyper`), rounded to f32 as Keras'
   * float32 hyper variables are: a function is called, a schedule is called with `iterations`.
   */
  getHyperValue(key: string): number {
    return this.hypers.valueAt(key, this.readIterations);
  }

  /** A fixed boolean option (`amsgrad`, `nesterov`, `centered`). */
  protected flag(key: string): boolean {
    return this.flags.get(key)!;
  }

  // ---- clipping ------------------------------------------------------------------------

  /** Each gradient element is clipped to [-clipvalue, clipvalue] (undefined: off). */
  get clipvalue(): number | undefined {
    return this.clip.clipvalue;
  }
  /** Sets `clipvalue` (undefined turns it off). */
  set clipvalue(v: number | undefined) {
    this.setClip('clipvalue', v);
  }
  /** Each gradient is clipped to this L2 norm (undefined: off). */
  get clipnorm(): number | undefined {
    return this.clip.clipnorm;
  }
  /** Sets `clipnorm` (undefined turns it off). */
  set clipnorm(v: number | undefined) {
    this.setClip('clipnorm', v);
  }
  /** All gradients of a step are clipped together to this global L2 norm (undefined: off). */
  get globalClipnorm(): number | undefined {
    return this.clip.global_clipnorm;
  }
  /** Sets `globalClipnorm` (undefined turns it off). */
  set globalClipnorm(v: number | undefined) {
    this.setClip('global_clipnorm', v);
  }

  private setClip(key: ClipKey, v: number | undefined): void {
    // Keras' check 4 in the clip setters.
    if (v !== undefined && v !== null && this.transformerFns.length > 0) throw new HyperparameterError('InvalidHyperparameter', TRANSFORMERS_CLASH[key]);
    const c = { ...this.clip, [key]: checkClip(key, v) };
    call(() => core().optimizer_set_clipping(this.live(), c.clipvalue ?? undefined, c.clipnorm ?? undefined, c.global_clipnorm ?? undefined));
    this.clip = c;
  }

  // ---- gradient hooks ------------------------------------------------------------------

  /** Keras' `gradient_aggregator`: run first in `applyGradients` (when
   * `experimentalAggregateGradients` is true), before clipping. Not part of the config. */
  get gradientAggregator(): GradientAggregator | undefined {
    return this.aggregatorFn;
  }
  /** Sets the aggregator (undefined: the default sum). */
  set gradientAggregator(f: GradientAggregator | undefined) {
    this.aggregatorFn = f == null ? undefined : checkAggregator(f);
  }

  /** Keras' `gradient_transformers`: run in list order after clipping (exclusive with the clip
   * options). Not part of the config. */
  get gradientTransformers(): readonly GradientTransformer[] {
    return this.transformerFns;
  }
  /** Sets the transformers (undefined: none). */
  set gradientTransformers(list: readonly GradientTransformer[] | undefined) {
    const fns = list == null ? [] : checkTransformers(list);
    if (fns.length > 0) for (const key of CLIP_KEYS) if (this.clip[key] !== undefined) throw new HyperparameterError('InvalidHyperparameter', TRANSFORMERS_CLASH[key]);
    this.transformerFns = fns;
  }

  /**
   * Keras' `minimize(loss, var_list)`: the gradient source (the call's `gradientSource` option, or
   * the optimizer's `gradientSource` property) evaluates the loss, resolves `varList` (a list, or
   * a function called once, after the loss) and computes the gradients; they are then applied
   * with `applyGradients` (which takes the other options). Returns the loss.
   */
  minimize<L>(loss: L, varList: readonly Variable[] | (() => readonly Variable[]), options?: MinimizeOptions<L>): number {
    this.live();
    return minimize(this, loss, varList, options);
  }

  // ---- steps ---------------------------------------------------------------------------

  /** @internal The step count a schedule is called with (Keras 3 subclasses: the calls counted). */
  protected scheduleStep(): number {
    return this.iterations;
  }

  /** @internal Called with the variables of a step once they are read, before anything runs. */
  protected checkStepVariables(_variables: readonly Variable[], _n: number): void {}

  /** @internal Called after the step's function and schedule hyperparameters were resolved. */
  protected resolveStepValues(): void {}

  /** Number of steps applied (Keras' `iterations`). */
  get iterations(): number {
    return call(() => core().optimizer_iterations(this.live()));
  }
  /** Sets the step count (Keras' `optimizer.iterations.assign`): a non-negative safe integer. */
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
    const o = options === undefined ? undefined : stepOptions(options, this.skipNonFinite);
    const id = this.live();
    const list = Array.isArray(gradsAndVars) ? (gradsAndVars as ArrayLike<unknown>) : iterate(gradsAndVars);
    // Every argument is read once, into a snapshot, before any user code runs (step.ts).
    const args = acquireArguments();
    try {
      // A custom optimizer's gradients are all staged (the core clips them in place).
      const stage = this.custom !== undefined;
      // Keras' order: aggregator, then clipping (in the core), then transformers; clipping and
      // transformers never both apply, so the hooks run here first. (Two field reads when unset.)
      const aggregator = (o ? o.aggregate : true) ? this.aggregatorFn : undefined;
      const hooks = aggregator !== undefined || this.transformerFns.length !== 0;
      readPairs(args, list, hooks, stage);
      const n = args.n;
      if (n === 0) return APPLIED;
      this.checkStepVariables(args.variables, n);
      if (hooks) runGradientHooks(args, aggregator, this.transformerFns, stage);
      // Function and schedule hyperparameters run user code, which may itself use the frame (or
      // grow memory): call them before this step's frame is written.
      this.hypers.resolveForStep(this.liveId, this.readIterations);
      this.resolveStepValues();
      // (User code may have disposed this optimizer: its id could then be another's.)
      if (this.disposed) this.live();
      const guarded = o ? o.guarded : this.skipNonFinite;
      if (this.custom) {
        if (this.runCustomStep(id, args, writeFrame(args), guarded) === 2) return this.skipStep(args, o?.onNonFinite);
        return APPLIED;
      }
      // Large dense gradients stream into the core a chunk at a time (stream.ts).
      let status = applyStreamed(id, args, guarded);
      if (status === NOT_STREAMED) {
        writeFrame(args);
        status = guarded ? core().optimizer_apply_checked(id, n) : core().optimizer_apply(id, n);
      }
      if (status === 1) throwStepError();
      if (status === 2) return this.skipStep(args, o?.onNonFinite);
      if (args.constrained) applyConstraints(args);
      return APPLIED;
    } finally {
      releaseArguments(args);
    }
  }

  /** Steps skipped for non-finite gradients so far (`skipNonFinite`). */
  get skippedSteps(): number {
    return this.skipped;
  }

  private skipStep(args: StepArguments, onNonFinite: ((step: NonFiniteStep) => void) | undefined): StepResult {
    const step = skippedStep(this, args);
    this.skipped++;
    const report = onNonFinite ?? this.onNonFinite;
    if (report) report(step);
    return step;
  }

  // ---- custom optimizers ---------------------------------------------------------------

  /**
   * @internal The step of a custom optimizer, after its gradients were staged in the frame: the
   * core validates and clips them; the hooks update the variables. Returns 0 (applied) or 2
   * (skipped for non-finite gradients); throws the step's error. (Keras 3's base class runs its
   * own: `build` / `updateStep`.)
   */
  protected runCustomStep(id: number, args: StepArguments, frame: FrameLayout, guarded: boolean): number {
    const c = core();
    const status = c.optimizer_prepare(id, args.n, guarded);
    if (status === 1) throwStepError();
    if (status === 2) return status;
    const grads = stagedGradients(args, frame);
    const lrT = call(() => c.optimizer_current_lr(id));
    const iterations = this.iterations;
    const pairs = args.withGradients().map((i) => [grads[i]!, args.variables[i]] as const);
    this.custom!.record(id, () => this.createSlots(pairs.map((p) => p[1])));
    const applyState: ApplyState = { lrT, iterations };
    this.prepareLocal(applyState);
    for (const [g, v] of pairs) {
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
    }
    call(() => c.optimizer_complete_external_step(id));
    return 0;
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
    const id = this.live();
    this.requireCustom('addSlot');
    if (!(variable instanceof Tensor)) throw new ArgumentError('InvalidArgument', `addSlot expects a Variable, got ${describeValue(variable)}`);
    if (typeof slotName !== 'string' || !slotName) throw new ArgumentError('InvalidArgument', `a slot name must be a non-empty string, got ${describeValue(slotName)}`);
    addSlot(id, variable, slotName, initializer);
    return this.getSlot(variable, slotName);
  }

  /**
   * Keras' `add_weight(name, shape, initializer)` (custom optimizers): an optimizer-wide weight,
   * appended to the weights after those created before it. It lives in the optimizer: the
   * result is a live view of its values.
   */
  protected addWeight(name: string, shape: readonly number[] = [], initializer: Initializer = 'zeros'): WasmTensor {
    const id = this.live();
    this.requireCustom('addWeight');
    if (typeof name !== 'string' || !name) throw new ArgumentError('InvalidArgument', `a weight name must be a non-empty string, got ${describeValue(name)}`);
    return addWeight(id, this.name, name, shape, initializer);
  }

  private requireCustom(what: string): void {
    if (!this.custom)
      throw new StateError('InvalidState', `${what} is for custom optimizers (subclasses implementing resourceApplyDense); ${this.className} keeps its state in the core`);
  }

  /**
   * Creates the weights of `vars` now, as Keras' `_create_all_weights(var_list)` (the first step
   * would): the slots of variables that have none yet, in the given order. Useful before
   * `setWeights` on a fresh optimizer.
   */
  build(vars: readonly Variable[]): void {
    const id = this.live();
    if (!Array.isArray(vars) || vars.some((v) => !(v instanceof Tensor)))
      throw new ArgumentError('InvalidArgument', `build expects an array of Variables, got ${describeValue(vars)}`);
    this.createSlotsOf(id, [...vars]);
  }

  /** The slots of `vars` that have none yet: the subclass's `createSlots`, or the core's. */
  private createSlotsOf(id: number, vars: readonly Variable[]): void {
    if (this.custom) this.custom.record(id, () => this.createSlots(vars));
    else
      call(() =>
        core().optimizer_create_slots(
          id,
          vars.flatMap((v) => [v.handleIndex, v.handleGeneration]),
        ),
      );
  }

  /**
   * @internal The variables with slots, in the order they got them, and how many got them in
   * each slot-creating step: what fixes the order of the weights (checkpoints save it).
   */
  slotLayout(): { variables: SlotVariableInfo[]; batches: number[] } {
    const layout = coreSlotLayout(this.live());
    return this.custom ? { variables: layout.variables, batches: [...this.custom.sizes] } : layout;
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

  // ---- slots and weights ---------------------------------------------------------------

  /** Slot names in creation order (Keras' `get_slot_names`). */
  getSlotNames(): string[] {
    return call(() => core().optimizer_slot_names(this.live()));
  }

  /** A slot of a variable (Keras' `get_slot`): a live view of optimizer state. */
  getSlot(variable: Variable, slotName: string): SlotVariable {
    const id = this.live();
    if (!(variable instanceof Tensor)) throw new ArgumentError('InvalidArgument', `getSlot expects a Variable, got ${describeValue(variable)}`);
    if (typeof slotName !== 'string') throw new ArgumentError('InvalidArgument', `a slot name must be a string, got ${describeValue(slotName)}`);
    const c = core();
    try {
      call(() => c.optimizer_slot_view(id, variable.handleIndex, variable.handleGeneration, slotName));
    } catch (e) {
      // The core knows variables by handle only: name the variable as the caller did.
      throw e instanceof SlotError ? this.noSlot(variable, slotName) : e;
    }
    return new SlotVariable(this, variable, slotName, () => {
      const [ptr] = call(() => c.optimizer_slot_view(this.live(), variable.handleIndex, variable.handleGeneration, slotName));
      return ptr;
    });
  }

  private noSlot(variable: Variable, slotName: string): SlotError {
    const names = this.getSlotNames();
    const has = names.length ? `its slots are ${names.map((n) => `'${n}'`).join(', ')}; a variable gets them at its first step` : 'it has no slots';
    return new SlotError('UnknownSlot', `no slot '${slotName}' for variable '${variable.name}' in optimizer '${this.name}' (${has})`);
  }

  /** Keras names of the weights (`Adam/iter:0`, `Adam/w/m:0`, ...), in `getWeights` order. */
  getWeightNames(): string[] {
    return call(() => core().optimizer_weight_names(this.live()));
  }

  /**
   * Copies of the weights: `iterations` (int64) first, then the slots in creation order.
   * `JSON.stringify` writes them as arrays of numbers (for an exact, compact form use
   * {@link saveState}).
   */
  getWeights(): WeightValue[];
  /** With `raw: true`, compressed slots (`slotDtype` 'bfloat16' or 'int8') come as their raw
   * storage (bits, or codes and block scales), which `setWeights` takes back exactly. */
  getWeights(options: { raw: true }): Array<WeightValue | RawSlotWeight>;
  getWeights(options?: { raw?: boolean }): Array<WeightValue | RawSlotWeight> {
    const id = this.live();
    const raw = options?.raw === true;
    const iterations = IterationsWeight.of(BigInt(this.iterations));
    const weights: Array<WeightValue | RawSlotWeight> = [iterations, ...readCoreWeights(id).map((w, i) => (raw && readRawWeight(id, i + 1)) || w)];
    Object.defineProperty(weights, 'toJSON', { value: weightsToJSON, enumerable: false });
    return weights;
  }

  /** Sets every weight, in `getWeights` order (Keras' `set_weights`). Checks the count and
   * every size before writing anything. */
  setWeights(weights: ReadonlyArray<WeightValue | RawSlotWeight | ArrayLike<number> | number | bigint>): void {
    const id = this.live();
    const expected = this.getWeightNames().length;
    const given = readList(weights as Iterable<unknown>, 'setWeights expects an array of weights');
    // Raw slots (getWeights({ raw: true })) are checked against their storage, stand in as
    // zeros for the size checks, and are written once everything else is.
    const raws = given.flatMap((w, i) => (i > 0 && isRawSlotWeight(w) ? [readRawEntry(id, i, w)] : []));
    const list = checkWeightList(
      this.spec,
      this.name,
      raws.length ? given.map((w, i) => (i > 0 && isRawSlotWeight(w) ? new Float32Array(raws.find((r) => r.index === i)!.length) : w)) : given,
      expected,
    );
    if (list === null) return;
    writeCoreWeights(id, list.iterations, list.rest);
    writeRawEntries(id, raws);
  }

  // ---- config --------------------------------------------------------------------------

  /** Keras' `get_config()`: snake_case keys in Keras' order. */
  getConfig(): Record<string, unknown> {
    const config: Record<string, unknown> = { name: this.name };
    for (const key of CLIP_KEYS) if (this.clip[key] !== undefined) config[key] = this.clip[key];
    for (const [key] of this.spec.config) {
      config[key] = this.flags.has(key) ? this.flags.get(key) : this.hypers.serialized(key);
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

  /** Whether `dispose()` has been called. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** What Node's `console.log` and `util.inspect` show: the class, name, iterations and config,
   * not the private state. */
  [Symbol.for('nodejs.util.inspect.custom')](depth: number, options: object, inspect: (value: unknown, options: object) => string): string {
    if (this.disposed) return `${this.className} (disposed)`;
    return `${this.className} ${inspect({ iterations: this.iterations, ...this.getConfig() }, options)}`;
  }
}

/** Whether a prototype (a subclass of Optimizer) implements the update hooks itself. */
function isCustomClass(proto: object): boolean {
  const base = Optimizer.prototype as unknown as Record<string, unknown>;
  const p = proto as Record<string, unknown>;
  return p.resourceApplyDense !== base.resourceApplyDense || p.resourceApplySparse !== base.resourceApplySparse;
}
