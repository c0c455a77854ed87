// Custom Keras 3 optimizers: subclasses of simdopt/keras3's `Optimizer` that implement `build`
// and `updateStep` (Keras 3's `build` / `update_step`). One engine with the built-ins: the core
// optimizer has the external rule with Keras 3's stages, so EMA averages, accumulators and the
// variables `build` adds (`addVariableFromReference` → a slot, `addVariable` → an
// optimizer-wide weight) live in the core, and weights, paths and checkpoints take the usual
// path. What stays here: the step around `updateStep`, the variable ops (`assign`, ...) and the
// checks on what `build` adds.
import { call, core, heapFloat32, heapInt32, heapUint32, viewFloat32 } from '../wasm/loader.js';
import { ALIGN_WORDS, COMMAND_WORDS, reserveFrame } from '../frame.js';
import { ArgumentError, StateError } from '../errors.js';
import { Tensor, Variable, WasmTensor, sizeOf } from '../tensor.js';
import { describeValue, readNumbers } from '../values.js';
import { addSlot, addWeight, hasSlot } from '../optimizer/custom.js';
import { StepArguments, throwStepError } from '../optimizer/step.js';
import type { Initializer } from '../optimizer/types.js';

/** Whether a class (its prototype) overrides `hook` of `base`. */
export function overrides(proto: object, base: object, hook: string): boolean {
  return (proto as Record<string, unknown>)[hook] !== (base as Record<string, unknown>)[hook];
}

/** What a custom Keras 3 step calls back into the optimizer. */
export interface CustomStepHooks {
  /** The subclass's `build(variables)` (first step only). */
  build(variables: Variable[]): void;
  /** The subclass's `updateStep(gradient, variable, learningRate)`. */
  update(gradient: Float32Array, variable: Variable, learningRate: number): void;
  /** The optimizer's name (messages). */
  name: string;
}

/**
 * One step of a custom Keras 3 optimizer, its gradients staged in the frame: the core runs the
 * stages before the update (validate, guard, unscale, accumulate, clip, weight decay); on the
 * first step `build` runs first (after the checks); `updateStep` runs per variable with a
 * gradient; the core runs EMA and counts; then the variables' constraints. Returns 0 (applied)
 * or 2 (skipped: non-finite gradients). An error in the checks changes nothing.
 */
export function runKeras3CustomStep(id: number, args: StepArguments, guarded: boolean, hooks: CustomStepHooks): number {
  const c = core();
  let status = c.optimizer_prepare_keras3(id, args.n, guarded);
  if (status === 4) {
    // Keras builds on every variable of the first call (None gradients too). The user's build
    // may use the frame (another optimizer's step): this step's frame is put back after it.
    const frame = saveFrame(args);
    hooks.build(args.variables.slice(0, args.n));
    restoreFrame(frame);
    status = c.optimizer_prepare_keras3(id, args.n, guarded);
    if (status === 4) {
      throw new StateError('InvalidState', `${hooks.name}: build(variables) did not build the optimizer on the step's variables (call super.build(variables) first in it)`);
    }
  }
  if (status === 1) throwStepError();
  if (status === 2) return 2;
  const withGradients = args.withGradients();
  if (status === 0) {
    const lr = call(() => c.optimizer_current_lr(id));
    // Copies, before any user code runs (it may grow memory or use the core).
    const grads = withGradients.map((_, k) => {
      const [ptr, len] = call(() => c.optimizer_external_gradient(id, k));
      return viewFloat32(ptr, len).slice();
    });
    withGradients.forEach((i, k) => hooks.update(grads[k], args.variables[i], lr));
  }
  call(() => c.optimizer_complete_external_step(id));
  for (const i of withGradients) {
    const v = args.variables[i];
    if (v instanceof Variable && v.constraint) {
      const out = v.constraint(v.value);
      if (out) v.assign(out);
    }
  }
  return 0;
}

/** A copy of the step's frame (commands, staged values, indices with their alignment words;
 * offsets are relative). */
function saveFrame(args: StepArguments): { commands: Uint32Array; values: Float32Array; indices: Int32Array } {
  const at = reserveFrame(0, 0, 0);
  return {
    commands: heapUint32().slice(at.commands, at.commands + args.n * COMMAND_WORDS),
    values: heapFloat32().slice(at.values, at.values + args.totalValues + args.n * ALIGN_WORDS),
    indices: heapInt32().slice(at.indices, at.indices + args.totalIndices + args.n * ALIGN_WORDS),
  };
}

function restoreFrame(f: { commands: Uint32Array; values: Float32Array; indices: Int32Array }): void {
  const at = reserveFrame(f.commands.length, f.values.length, f.indices.length);
  heapUint32().set(f.commands, at.commands);
  heapFloat32().set(f.values, at.values);
  heapInt32().set(f.indices, at.indices);
}

/** A name Keras would accept in a variable path: a non-empty string without `/`. */
function checkVariableName(name: unknown, what: string): string {
  if (typeof name !== 'string' || name === '' || name.includes('/')) {
    throw new ArgumentError('InvalidArgument', `${what} must be a non-empty string without '/', got ${describeValue(name)}`);
  }
  return name;
}

/**
 * Keras 3's `add_variable_from_reference(variable, name, initializer)` on core optimizer `id`:
 * a slot of `variable` (its shape, float32) named `name`, path `<optimizer>/<variable path with
 * '/' as '_'>_<name>`. The variable must be one the optimizer is built with; a name can be used
 * once per variable.
 */
export function addReferenceSlot(id: number, built: ReadonlySet<Tensor> | null, variable: unknown, name: unknown, initializer: Initializer): void {
  if (!(variable instanceof Tensor)) throw new ArgumentError('InvalidArgument', `addVariableFromReference expects a Variable, got ${describeValue(variable)}`);
  const slot = checkVariableName(name ?? 'var', 'the name of an optimizer variable');
  if (!built || !built.has(variable)) {
    throw new StateError(
      'InvalidState',
      `addVariableFromReference: '${variable.name}' is not a variable the optimizer is built with (call it in build(variables), after super.build(variables))`,
    );
  }
  if (hasSlot(id, variable as Variable, slot)) throw new ArgumentError('InvalidArgument', `the optimizer already has a variable '${slot}' for '${variable.name}'`);
  addSlot(id, variable as Variable, slot, initializer);
}

/** A variable `addVariableFromReference` made: a live view of the slot in the core, named by its
 * Keras 3 path (`hand_sgd/dense_kernel_momentum`). */
class ReferenceSlot extends WasmTensor {
  constructor(
    private readonly liveId: () => number,
    private readonly variable: Tensor,
    private readonly slot: string,
    path: string,
  ) {
    super(variable.shape, path);
  }

  protected pointer(): number {
    const [ptr] = call(() => core().optimizer_slot_view(this.liveId(), this.variable.handleIndex, this.variable.handleGeneration, this.slot));
    return ptr;
  }
}

/** The view {@link addReferenceSlot}'s slot is used through (`liveId`: the optimizer's id, or a
 * StateError once it is disposed). */
export function referenceSlotView(liveId: () => number, variable: Tensor, slot: string, path: string): WasmTensor {
  return new ReferenceSlot(liveId, variable, slot, path);
}

/** The options of Keras 3's `add_variable` (`addVariable` of a custom optimizer). */
export interface AddVariableOptions {
  /** The shape: non-negative integers (`[]`: a scalar). */
  shape: readonly number[];
  /** `'zeros'`, `'ones'`, a number, or a function of the shape giving the values. @default 'zeros' */
  initializer?: Initializer;
  /** Only `'float32'` (the core's optimizer variables are f32). @default 'float32' */
  dtype?: 'float32';
  /** The variable's name; its path is `<optimizer>/<name>`. @default 'variable' */
  name?: string;
}

/** Keras 3's `add_variable({shape, initializer, dtype, name})` on core optimizer `id`: an
 * optimizer-wide f32 variable (each option read once). */
export function addOptimizerVariable(id: number, optimizerName: string, options: unknown): WasmTensor {
  if (options === null || typeof options !== 'object')
    throw new ArgumentError('InvalidArgument', `addVariable expects { shape, initializer, dtype, name }, got ${describeValue(options)}`);
  const o = options as Record<string, unknown>;
  const [shapeGiven, initializer, dtype, nameGiven] = [o.shape, o.initializer, o.dtype, o.name];
  if (dtype !== undefined && dtype !== null && dtype !== 'float32') {
    throw new ArgumentError('InvalidArgument', `addVariable: dtype ${describeValue(dtype)} is not supported (optimizer variables are 'float32')`);
  }
  const { array, length } = readNumbers(shapeGiven ?? [], 'the shape of an optimizer variable');
  const shape = Array.from(array as ArrayLike<number>).slice(0, length);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new ArgumentError('InvalidArgument', `addVariable: a shape is non-negative integers, got [${shape.join(', ')}]`);
  sizeOf(shape);
  const name = checkVariableName(nameGiven ?? 'variable', 'the name of an optimizer variable');
  return addWeight(id, optimizerName, name, shape, (initializer ?? 'zeros') as Initializer);
}

/** How an `assign*` op combines the variable's value `x` with the operand `v` (in f32). */
const OPS = {
  assign: (_x: number, v: number) => v,
  assignAdd: (x: number, v: number) => x + v,
  assignSub: (x: number, v: number) => x - v,
} as const;

/**
 * Keras 3's `assign` / `assign_add` / `assign_sub` on a variable or optimizer variable: `value`
 * is a number (every element) or as many numbers as the variable has (a Float32Array, an array,
 * a tensor), read once and checked before anything is written; each result is rounded to f32.
 */
export function assignOp(op: keyof typeof OPS, variable: unknown, value: unknown): void {
  if (!(variable instanceof WasmTensor)) throw new ArgumentError('InvalidArgument', `${op} expects a variable or an optimizer variable, got ${describeValue(variable)}`);
  const f = OPS[op];
  if (typeof value === 'number') {
    const x = variable.value;
    const v = Math.fround(value);
    for (let i = 0; i < x.length; i++) x[i] = f(x[i], v);
    return;
  }
  const operand = value instanceof WasmTensor ? value.read() : value;
  const { array, length } = readNumbers(operand, `the value of ${op} on '${variable.name}'`);
  if (length !== variable.size) throw new ArgumentError('InvalidArgument', `${op}: '${variable.name}' has ${variable.size} values, got ${length}`);
  const src = array as ArrayLike<number>;
  const x = variable.value;
  for (let i = 0; i < length; i++) x[i] = f(x[i], Math.fround(src[i]));
}
