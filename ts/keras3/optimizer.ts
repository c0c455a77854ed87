// The Keras 3 optimizer base class (`keras.optimizers.Optimizer`) over the same core and step
// machinery as TF 2.4's: the step frame, read-once snapshot, `skipNonFinite`, slots, checkpoints
// and the adapters come from the TF 2.4 base class; this class brings Keras 3's options and
// checks (options.ts), its stages in the core (loss scale, accumulation, clipping, weight decay,
// EMA), its `iterations`, its variables and paths (weights.ts) and its config format.
import { call, core } from '../wasm/loader.js';
import { ArgumentError, HyperparameterError, StateError } from '../errors.js';
import { LearningRateSchedule } from '../schedules/index.js';
import { describeValue } from '../values.js';
import { Optimizer as OptimizerV2 } from '../optimizer/index.js';
import { readList } from '../optimizer/step.js';
import { readCoreWeights } from '../optimizer/weights.js';
import type { ApplyGradientsOptions, Gradient, StepResult, WeightValue } from '../optimizer/types.js';
import { readRawWeight } from '../optimizer/slot-dtype.js';
import type { RawSlotWeight } from '../optimizer/slot-dtype.js';
import type { Variable } from '../tensor.js';
import { Tensor, WasmTensor } from '../tensor.js';
import type { StepArguments } from '../optimizer/step.js';
import type { Initializer } from '../optimizer/types.js';
import { AddVariableOptions, addOptimizerVariable, addReferenceSlot, assignOp, overrides, referenceSlotView, runKeras3CustomStep } from './custom.js';
import { serializeNested } from './nested.js';
import type { Keras3Value as ScheduledValue } from './types.js';
import { Keras3Base, Keras3Spec, checkScheduled, configToOptions, keras3Parser } from './options.js';
import { coreWeights, kerasPaths, kerasSlotPath, kerasVariables, OptimizerVariable, setKerasWeights, WeightPath } from './weights.js';
import { excludedHandles, WeightDecayExclusion, readExclusion } from './weight-decay.js';

/**
 * Base class of the Keras 3 optimizers of `simdopt/keras3` (Keras 3's
 * `keras.optimizers.Optimizer`). Create one with its subclass (`new AdamW({...})`) after
 * `await ready()`.
 *
 * A custom optimizer subclasses it as in Keras 3: its constructor calls
 * `super({ className, config: [['learning_rate', default]] }, baseOptions)` (keeping its own
 * options in fields), it overrides {@link build} (calling `super.build(variables)` first, then
 * {@link addVariableFromReference} / {@link addVariable}) and {@link updateStep} (using
 * {@link assign}, {@link assignAdd}, {@link assignSub} on the variables), and `getConfig()`
 * (`{ ...super.getConfig(), ownKey }`). Every base option applies, in Keras 3's order; its
 * variables are named by Keras 3's paths; checkpoints restore them exactly. Register it with
 * `registerKerasSerializable` for `deserialize` / `get` to find it by name.
 */
export abstract class Optimizer extends OptimizerV2 {
  private readonly base: Keras3Base;
  private readonly k3spec: Keras3Spec;
  /** Whether this is a custom optimizer (the subclass implements `updateStep`). */
  private readonly customK3: boolean;
  /** A custom optimizer's variables by the position `build` got them (Keras' `_get_variable_index`). */
  private variableIndex: Map<Tensor, number> | null = null;
  /** A custom optimizer's `addVariable` shapes by name (for {@link variables}). */
  private exclusion: WeightDecayExclusion = { variables: new Set(), pattern: null };
  /** The variables the optimizer was built with (Keras' `_trainable_variables`), null before. */
  private builtWith: Set<Tensor> | null = null;
  /** The variables of a first step, recorded as built once it succeeds. */
  private pendingBuild: Tensor[] | null = null;

  /**
   * @param spec - The class's description (Keras class name, config defaults, checks).
   * @param options - Its constructor options (camelCase; see {@link Keras3BaseOptions}).
   */
  protected constructor(spec: Keras3Spec, options: Record<string, unknown> | undefined) {
    checkSpec(spec, new.target.name);
    const out: { base?: Keras3Base } = {};
    const proto = new.target.prototype as object;
    if (overrides(proto, OptimizerV2.prototype, 'resourceApplyDense') || overrides(proto, OptimizerV2.prototype, 'resourceApplySparse')) {
      throw new StateError(
        'InvalidState',
        `${spec.className}: a Keras 3 optimizer implements build and updateStep (Keras 3's names), not resourceApplyDense / resourceApplySparse`,
      );
    }
    const custom = overrides(proto, Optimizer.prototype, 'updateStep');
    super(spec, options ?? {}, keras3Parser(spec, out, custom));
    this.base = out.base!;
    this.k3spec = spec;
    this.customK3 = custom;
  }

  /**
   * Keras 3's `from_config`: the config's keys (snake_case) as options; a serialized schedule or
   * function (`learning_rate`, `weight_decay`) is read back, `customObjects` first.
   */
  static override fromConfig<T extends OptimizerV2>(
    this: new (options: Record<string, unknown>) => T,
    config: Record<string, unknown>,
    customObjects: Record<string, unknown> = {},
  ): T {
    return new this(configToOptions(config, customObjects));
  }

  /** The core optimizer's id, or a StateError once disposed. */
  private handle(): number {
    if (this.isDisposed) throw new StateError('Disposed', `optimizer '${this.name}' has been disposed`);
    return this.id;
  }

  // ---- steps ---------------------------------------------------------------------------

  /** Keras 3's `iterations`: the updates applied (calls divided by `gradientAccumulationSteps`). */
  override get iterations(): number {
    return call(() => core().optimizer_update_iterations(this.handle()));
  }
  /** Sets the update count (with gradient accumulation: to the start of that update's cycle). */
  override set iterations(v: number) {
    if (!Number.isSafeInteger(v) || v < 0) throw new ArgumentError('InvalidArgument', `iterations must be a non-negative safe integer, got ${describeValue(v)}`);
    call(() => core().optimizer_set_iterations(this.handle(), v * (this.base.gradientAccumulationSteps ?? 1)));
  }

  /** @internal Keras 3 schedules see the calls counted (`_iterations`), not the updates. */
  protected override scheduleStep(): number {
    return call(() => core().optimizer_iterations(this.handle()));
  }

  /** @internal The first step builds the optimizer on its variables; later ones must use them. */
  protected override checkStepVariables(variables: readonly Variable[], n: number): void {
    if (this.builtWith === null) {
      const vars = variables.slice(0, n);
      this.sendExclusions(vars);
      this.pendingBuild = vars;
      return;
    }
    for (let i = 0; i < n; i++) {
      const v = variables[i];
      if (!this.builtWith.has(v)) {
        throw new ArgumentError(
          'InvalidArgument',
          `Unknown variable: <Variable path=${v.name}, shape=(${v.shape.join(', ')}${v.shape.length === 1 ? ',' : ''})>. This optimizer can only be called for the variables it was originally built with. When working with a new set of variables, you should recreate a new optimizer instance.`,
        );
      }
    }
  }

  /** @internal A weight decay schedule or function gives this step's value. */
  protected override resolveStepValues(): void {
    const wd = this.base.weightDecay;
    if (wd === null || typeof wd === 'number') return;
    const x: unknown = wd instanceof LearningRateSchedule ? wd.call(Math.fround(this.scheduleStep())) : wd();
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new HyperparameterError('InvalidHyperparameter', `\`weight_decay\` returned ${describeValue(x)}, not a finite number`);
    call(() => core().optimizer_set_weight_decay(this.handle(), x));
  }

  /**
   * Keras 3's `apply_gradients`: one step. A null gradient is Python's None (that variable is not
   * updated, but it is built, and EMA still averages it). The first call builds the optimizer on
   * the variables given; later calls can only use those.
   */
  override applyGradients(gradsAndVars: Iterable<readonly [Gradient, Variable]>, options?: ApplyGradientsOptions): StepResult {
    this.pendingBuild = null;
    const result = super.applyGradients(gradsAndVars, options);
    // (A custom optimizer is built by its `build`, which a skipped first step has not run.)
    if (this.pendingBuild !== null && !this.customK3) this.builtWith = new Set(this.pendingBuild);
    this.pendingBuild = null;
    return result;
  }

  /**
   * Keras 3's `build(variables)`: creates every optimizer variable of `vars` now (the first step
   * does it otherwise). A custom optimizer overrides it, calls `super.build(variables)` first
   * (which creates the EMA averages and gradient accumulators, once: a second build is an
   * error), then adds its own with {@link addVariableFromReference} and {@link addVariable}.
   */
  override build(vars: readonly Variable[]): void {
    const list = readList(vars as Iterable<Variable>, 'build expects an array of Variables');
    if (list.some((v) => !(v instanceof Tensor))) throw new ArgumentError('InvalidArgument', `build expects an array of Variables, got ${describeValue(vars)}`);
    if (this.customK3) return this.buildCustom(list);
    this.sendExclusions(list);
    super.build(list);
    this.builtWith = new Set([...(this.builtWith ?? []), ...list]);
  }

  private buildCustom(list: Variable[]): void {
    const id = this.handle();
    if (this.builtWith !== null) throw new StateError('InvalidState', `optimizer '${this.name}' is already built (Keras builds an optimizer once, on all its variables)`);
    const handles = list.flatMap((v) => [v.handleIndex, v.handleGeneration]);
    this.sendExclusions(list);
    call(() => core().optimizer_create_slots(id, handles));
    this.builtWith = new Set(list);
    this.variableIndex = new Map(list.map((v, i) => [v, i]));
  }

  /** @internal Checkpoints recreate the slots: the optimizer is then built on those variables. */
  override restoreSlotLayout(vars: readonly Variable[], batches: readonly number[]): void {
    if (this.customK3) {
      if (vars.length > 0) this.build(vars);
      return;
    }
    this.sendExclusions(vars);
    super.restoreSlotLayout(vars, batches);
    this.builtWith = new Set([...(this.builtWith ?? []), ...vars]);
  }

  /** @internal A custom optimizer is built once, on all its variables: one batch. */
  override slotLayout(): ReturnType<OptimizerV2['slotLayout']> {
    const layout = super.slotLayout();
    return this.customK3 ? { variables: layout.variables, batches: layout.variables.length > 0 ? [layout.variables.length] : [] } : layout;
  }

  // ---- custom optimizers (Keras 3's build / update_step) -------------------------------

  /** @internal A custom optimizer's step: the core's stages around {@link updateStep}. */
  protected override runCustomStep(id: number, args: StepArguments, _frame: { values: number; indices: number }, guarded: boolean): number {
    return runKeras3CustomStep(id, args, guarded, {
      name: this.name,
      build: (vars) => this.build(vars),
      update: (g, v, lr) => this.updateStep(g, v, lr),
    });
  }

  /**
   * Keras 3's `update_step(gradient, variable, learning_rate)`: implement it to write a custom
   * optimizer. Called once per variable with a gradient in each update (not on gradient
   * accumulation's other calls), after the gradient was unscaled, accumulated and clipped and
   * weight decay applied; EMA runs after it. `gradient` is a dense copy (a sparse gradient
   * arrives densified, repeated rows summed); `learningRate` is this step's (float32) value.
   * Update `variable` and the optimizer variables with {@link assign} / {@link assignAdd} /
   * {@link assignSub} (or through their `.value` views, rounding to f32 as Keras does).
   */
  protected updateStep(_gradient: Float32Array, variable: Variable, _learningRate: number): void {
    throw new StateError('InvalidState', `${this.className} does not implement updateStep (gradient for '${variable.name}')`);
  }

  private requireCustomK3(what: string): number {
    const id = this.handle();
    if (!this.customK3)
      throw new StateError('InvalidState', `${what} is for custom optimizers (subclasses implementing updateStep); ${this.className} keeps its state in the core`);
    return id;
  }

  /**
   * Keras 3's `add_variable_from_reference(reference_variable, name, initializer)`, in
   * {@link build}: an optimizer variable shaped like `variable` (float32), path
   * `<optimizer>/<variable path with '/' as '_'>_<name>` (`hand_sgd/dense_kernel_momentum`).
   * `initializer`: `'zeros'`, `'ones'`, a number or a function of the shape. Returns a live view
   * of it named by that path (keep it, as Keras code keeps the list it builds).
   */
  protected addVariableFromReference(variable: Variable, name = 'var', initializer: Initializer = 'zeros'): WasmTensor {
    const id = this.requireCustomK3('addVariableFromReference');
    addReferenceSlot(id, this.builtWith, variable, name, initializer);
    return referenceSlotView(() => this.handle(), variable, name, this.weightPath(this.name, variable.name, name));
  }

  /**
   * Keras 3's `add_variable(shape, initializer, dtype, name)`, in {@link build}: an
   * optimizer-wide float32 variable of any shape, path `<optimizer>/<name>`. Returns a live view.
   */
  protected addVariable(options: AddVariableOptions): WasmTensor {
    const w = addOptimizerVariable(this.requireCustomK3('addVariable'), this.name, options);
    return w;
  }

  /** Keras 3's `_get_variable_index(variable)`: its position in the list `build` was given. */
  protected getVariableIndex(variable: Variable): number {
    const i = this.variableIndex?.get(variable);
    if (i === undefined) throw new ArgumentError('InvalidArgument', `'${describeValue(variable)}' is not a variable the optimizer was built with`);
    return i;
  }

  /** Keras 3's `assign(variable, value)`: `value` is a number or one number per element (f32). */
  protected assign(variable: WasmTensor, value: number | ArrayLike<number> | WasmTensor): void {
    assignOp('assign', variable, value);
  }

  /** Keras 3's `assign_add(variable, value)`: `variable += value`, each sum rounded to f32. */
  protected assignAdd(variable: WasmTensor, value: number | ArrayLike<number> | WasmTensor): void {
    assignOp('assignAdd', variable, value);
  }

  /** Keras 3's `assign_sub(variable, value)`: `variable -= value`, each difference rounded to f32. */
  protected assignSub(variable: WasmTensor, value: number | ArrayLike<number> | WasmTensor): void {
    assignOp('assignSub', variable, value);
  }

  /** Whether the optimizer has been built (its first step, or `build`). */
  get built(): boolean {
    return this.builtWith !== null;
  }

  // ---- weight decay --------------------------------------------------------------------

  /**
   * Keras 3's `exclude_from_weight_decay(var_list, var_names)`: no weight decay for the
   * variables in `varList`, nor for those whose name (the last part of the path, Keras'
   * `variable.name`) a pattern of `varNames` finds (a regular expression search, as Keras'
   * `re.search`). Replaces the previous exclusion; allowed before and after the first step.
   */
  excludeFromWeightDecay(options: { varList?: readonly Variable[] | null; varNames?: readonly string[] | null } = {}): void {
    const exclusion = readExclusion(options);
    this.exclusion = exclusion;
    if (this.builtWith) this.sendExclusions([...this.builtWith]);
  }

  private sendExclusions(vars: readonly Tensor[]): void {
    call(() => core().optimizer_set_weight_decay_exclusions(this.handle(), excludedHandles(this.exclusion, vars)));
  }

  /** Keras 3's `weight_decay`: a number, null (none), or (simdopt extension) a schedule or
   * zero-argument function resolved before each step. */
  get weightDecay(): ScheduledValue | null {
    return this.base.weightDecay;
  }
  /** Sets the weight decay for the next steps. */
  set weightDecay(v: ScheduledValue | null) {
    const wd = v === null || v === undefined ? null : checkScheduled('weight_decay', v);
    call(() => core().optimizer_set_weight_decay(this.handle(), typeof wd === 'number' ? wd : wd === null ? undefined : 0));
    this.base.weightDecay = wd;
  }

  // ---- EMA -----------------------------------------------------------------------------

  /**
   * Keras 3's `finalize_variable_values(var_list)`: with `useEma`, sets each variable to its
   * moving average (matched by position, as Keras does). Without EMA it does nothing.
   */
  finalizeVariableValues(varList: readonly Variable[]): void {
    const list = readList(varList as Iterable<Variable>, 'finalizeVariableValues expects an array of Variables');
    if (!this.base.useEma) return;
    const averages = coreWeights(this.handle(), this.name)
      .map((w, i) => ({ w, i }))
      .filter(({ w }) => w.variable !== null && w.slot === 'average');
    if (list.length !== averages.length) {
      throw new ArgumentError(
        'InvalidArgument',
        `The length of model variables (${list.length}) to override does not match the length of model variables stored in the optimizer (${averages.length}). Please check if the optimizer was called on your model.`,
      );
    }
    const values = readCoreWeights(this.handle());
    list.forEach((v, k) => {
      if (!(v instanceof Tensor)) throw new ArgumentError('InvalidArgument', `variable ${k} is ${describeValue(v)}, not a Variable`);
      if (v.size !== values[averages[k].i].length)
        throw new ArgumentError('InvalidArgument', `variable '${v.name}' has ${v.size} values, its average ${values[averages[k].i].length}`);
    });
    list.forEach((v, k) => v.assign(values[averages[k].i]));
  }

  // ---- options -------------------------------------------------------------------------

  /** The learning rate: a number, a schedule of the step, or a zero-argument function. */
  override get learningRate(): ScheduledValue {
    return this.getHyper('learning_rate') as ScheduledValue;
  }
  /** Sets it (a schedule-made optimizer's learning rate is not settable to a number, as in Keras). */
  override set learningRate(v: ScheduledValue) {
    const lr = checkScheduled('learning_rate', v);
    if (typeof lr === 'number' && this.getHyper('learning_rate') instanceof LearningRateSchedule) {
      throw new ArgumentError(
        'InvalidArgument',
        'This optimizer was created with a `LearningRateSchedule` object as its `learning_rate` constructor argument, hence its learning rate is not settable. If you need the learning rate to be settable, you should instantiate the optimizer with a float `learning_rate` argument.',
      );
    }
    this.setHyper('learning_rate', lr);
  }

  /** Each gradient is clipped to this L2 norm (Keras applies a value > 0; undefined: off). */
  override get clipnorm(): number | undefined {
    return this.base.clipnorm ?? undefined;
  }
  override set clipnorm(v: number | undefined) {
    this.setKerasClip({ ...this.base, clipnorm: v ?? null });
  }
  /** All gradients are clipped to this global L2 norm (Keras applies a value > 0; undefined: off). */
  override get globalClipnorm(): number | undefined {
    return this.base.globalClipnorm ?? undefined;
  }
  override set globalClipnorm(v: number | undefined) {
    this.setKerasClip({ ...this.base, globalClipnorm: v ?? null });
  }
  /** Each gradient element is clipped to [-clipvalue, clipvalue] (Keras applies a value > 0). */
  override get clipvalue(): number | undefined {
    return this.base.clipvalue ?? undefined;
  }
  override set clipvalue(v: number | undefined) {
    this.setKerasClip({ ...this.base, clipvalue: v ?? null });
  }

  /** Keras 3 clips with the first of clipnorm, global_clipnorm, clipvalue that is > 0. */
  private setKerasClip(c: Pick<Keras3Base, 'clipnorm' | 'globalClipnorm' | 'clipvalue'>): void {
    for (const [k, v] of Object.entries(c)) {
      if (v !== null && (typeof v !== 'number' || !Number.isFinite(v)))
        throw new HyperparameterError('InvalidHyperparameter', `\`${k}\` must be a finite number, got ${describeValue(v)}`);
    }
    const on = (v: number | null) => (v !== null && v > 0 ? v : undefined);
    const norm = on(c.clipnorm);
    const global = norm === undefined ? on(c.globalClipnorm) : undefined;
    const value = norm === undefined && global === undefined ? on(c.clipvalue) : undefined;
    call(() => core().optimizer_set_clipping(this.handle(), value, norm, global));
    Object.assign(this.base, { clipnorm: c.clipnorm, globalClipnorm: c.globalClipnorm, clipvalue: c.clipvalue });
  }

  /** Keras 3's `use_ema` (fixed at construction). */
  get useEma(): boolean {
    return this.base.useEma;
  }
  /** Keras 3's `ema_momentum` (fixed at construction). */
  get emaMomentum(): number {
    return this.base.emaMomentum;
  }
  /** Keras 3's `ema_overwrite_frequency` (fixed at construction; null: never). */
  get emaOverwriteFrequency(): number | null {
    return this.base.emaOverwriteFrequency;
  }
  /** Keras 3's `loss_scale_factor` (fixed at construction; null: none). */
  get lossScaleFactor(): number | null {
    return this.base.lossScaleFactor;
  }
  /**
   * @internal Keras' `optimizer.loss_scale_factor = v` (LossScaleOptimizer and MultiOptimizer set
   * their inner optimizers'): only before the optimizer has state, as the core's stages.
   */
  setLossScaleFactor(v: number | null): void {
    if (v !== null && (typeof v !== 'number' || !Number.isFinite(v) || v === 0)) {
      throw new HyperparameterError('InvalidHyperparameter', `\`loss_scale_factor\` must be a finite non-zero number or None, got ${describeValue(v)}`);
    }
    const b = this.base;
    const wd = b.weightDecay === null ? undefined : typeof b.weightDecay === 'number' ? b.weightDecay : 0;
    const ema = b.useEma ? b.emaMomentum : undefined;
    const freq = b.useEma && b.emaOverwriteFrequency ? b.emaOverwriteFrequency : undefined;
    call(() => core().optimizer_set_stages(this.handle(), v ?? undefined, b.gradientAccumulationSteps || undefined, wd, ema, freq));
    b.lossScaleFactor = v;
  }

  /** Keras 3's `gradient_accumulation_steps` (fixed at construction; null: none). */
  get gradientAccumulationSteps(): number | null {
    return this.base.gradientAccumulationSteps;
  }

  // ---- variables and weights -----------------------------------------------------------

  private lrVariable(): number | null {
    const lr = this.getHyper('learning_rate');
    return typeof lr === 'number' ? Math.fround(lr) : null;
  }

  private get weightPath(): WeightPath {
    return this.k3spec.weightPath ?? kerasSlotPath;
  }

  /** Keras 3's `optimizer.variables`: copies, in Keras' order, with Keras 3's paths. */
  get variables(): OptimizerVariable[] {
    return kerasVariables(this.handle(), this.name, this.scheduleStep(), this.lrVariable(), this.weightPath);
  }

  /** Keras 3's paths of {@link variables} (`adam/iteration`, `adam/learning_rate`, `adam/dense_kernel_momentum`, ...). */
  override getWeightNames(): string[] {
    return kerasPaths(this.handle(), this.name, this.lrVariable() !== null, this.weightPath);
  }

  /** The values of {@link variables}: `iteration` (the calls counted, int64), the learning rate
   * when it is a number, then the others (compressed slots as f32 views). */
  override getWeights(): WeightValue[];
  /** With `raw: true`, compressed slots (`slotDtype` 'bfloat16' or 'int8') come as their raw
   * storage (bits, or codes and block scales), which `setWeights` takes back exactly. */
  override getWeights(options: { raw: true }): Array<WeightValue | RawSlotWeight>;
  override getWeights(options?: { raw?: boolean }): Array<WeightValue | RawSlotWeight> {
    const raw = options?.raw === true;
    const values: Array<WeightValue | RawSlotWeight> = this.variables.map((v) => v.value);
    if (!raw || this.slotDtype === 'float32') return values;
    const id = this.handle();
    // Keras weight i >= offset is the core's weight i - offset + 1 (after `iteration` and the
    // learning rate).
    const offset = this.lrVariable() === null ? 1 : 2;
    return values.map((w, i) => (i >= offset && readRawWeight(id, i - offset + 1)) || w);
  }

  /** Keras 3's `set_weights`: in {@link variables} order; a shorter list sets the first ones.
   * Compressed slots take their f32 values (quantized) or their raw storage from
   * `getWeights({ raw: true })` (exact); those not in a shorter list keep their storage. */
  override setWeights(weights: ReadonlyArray<WeightValue | RawSlotWeight | ArrayLike<number> | number | bigint>): void {
    const given = readList(weights as Iterable<unknown>, 'setWeights expects an array of weights');
    const lr = this.lrVariable() !== null;
    setKerasWeights(this.handle(), this.name, this.built || this.slotLayout().variables.length > 0, given, lr, (v) => this.setHyper('learning_rate', v));
  }

  // ---- config --------------------------------------------------------------------------

  /** Keras 3's `get_config()`: base keys, then the class's, in Keras' order (snake_case). */
  override getConfig(): Record<string, unknown> {
    const lr = this.getHyper('learning_rate');
    const nested = (v: ScheduledValue | null) => (v === null || typeof v === 'number' ? v : serializeNested(v));
    const b = this.base;
    const config: Record<string, unknown> = {
      name: this.name,
      // The learning rate is a float32 variable: Keras writes its value read back.
      learning_rate: typeof lr === 'number' ? Math.fround(lr) : nested(lr as ScheduledValue),
      weight_decay: nested(b.weightDecay),
      clipnorm: b.clipnorm,
      global_clipnorm: b.globalClipnorm,
      clipvalue: b.clipvalue,
      use_ema: b.useEma,
      ema_momentum: b.emaMomentum,
      ema_overwrite_frequency: b.emaOverwriteFrequency,
      loss_scale_factor: b.lossScaleFactor,
      gradient_accumulation_steps: b.gradientAccumulationSteps,
    };
    for (const [key] of this.k3spec.config)
      if (key !== 'learning_rate') config[key] = typeof this.k3spec.config.find(([k]) => k === key)![1] === 'boolean' ? this.flag(key) : this.getHyper(key);
    for (const [key, v] of b.extra) config[key] = v;
    return config;
  }

  /** Whether this is a custom optimizer (its class implements {@link updateStep}). */
  get isCustom(): boolean {
    return this.customK3;
  }

  /** @internal Checkpoints and `simdopt.deserialize` use the Keras 3 format. */
  get kerasModule(): string {
    return 'keras.optimizers';
  }
}

/** A subclass's description is what its `super(spec, options)` call passes: Keras' base takes
 * options alone, so a call written as in Python (`super({ learningRate })`) is named here. */
function checkSpec(spec: unknown, subclass: string): asserts spec is Keras3Spec {
  const s = spec as Partial<Keras3Spec> | null;
  const pairs = s !== null && typeof s === 'object' && Array.isArray(s.config) ? s.config : null;
  if (typeof s?.className !== 'string' || s.className === '' || !pairs || !pairs.every((p) => Array.isArray(p) && typeof p[0] === 'string')) {
    throw new ArgumentError(
      'InvalidArgument',
      `${subclass || 'a Keras 3 optimizer subclass'} must call super({ className, config: [['learning_rate', default], ...] }, options), got ${describeValue(spec)} as the class's description`,
    );
  }
}

export type { OptimizerVariable };
