// Custom optimizers (subclasses implementing `resourceApplyDense` / `resourceApplySparse`): their
// update runs in JavaScript, their slots and weights live in the core like a built-in's (the
// core's external rule). What stays here: the gradients copied out of the frame for the hooks,
// Keras' deduplication of sparse rows, initial values, and how many variables each
// `createSlots` call gave slots to (the order checkpoints replay).
import { call, core, heapFloat32, heapInt32, heapUint32, viewFloat32 } from '../wasm/loader.js';
import { COMMAND_WORDS, KIND_DENSE_STAGED, KIND_SPARSE, type FrameLayout } from '../frame.js';
import { ArgumentError, ShapeError } from '../errors.js';
import { IndexedSlices, WasmTensor, sizeOf } from '../tensor.js';
import type { Variable } from '../tensor.js';
import { describeValue, readNumbers } from '../values.js';
import type { StepArguments } from './step.js';
import type { Initializer } from './types.js';

/** The batches of a custom optimizer's slot creation: for each `createSlots` call that made
 * weights, how many variables got their first slot (checkpoints replay them in that order). */
export class SlotBatches {
  readonly sizes: number[] = [];

  /** Runs `create` (the subclass's `createSlots`) on core optimizer `id` and records its batch. */
  record(id: number, create: () => void): void {
    const c = core();
    const variables = c.optimizer_slot_variables(id).length;
    const weights = c.optimizer_weight_names(id).length;
    create();
    if (c.optimizer_weight_names(id).length > weights) this.sizes.push((c.optimizer_slot_variables(id).length - variables) / 3);
  }
}

/** Keras' `add_slot` on core optimizer `id`: the slot of `variable` filled by `init`, made once
 * (an initializer function runs only when the slot is made). */
export function addSlot(id: number, variable: Variable, slotName: string, init: Initializer): void {
  const c = core();
  if (init === 'zeros' || init === 'ones' || typeof init === 'number') {
    call(() => c.optimizer_add_slot(id, variable.handleIndex, variable.handleGeneration, slotName, init === 'zeros' ? 0 : init === 'ones' ? 1 : init));
    return;
  }
  if (hasSlot(id, variable, slotName)) return;
  const fill = initialValues(variable.shape, init);
  if (typeof fill !== 'number' && fill.length !== variable.size) {
    throw new ShapeError(
      'ShapeMismatch',
      `the initializer of slot '${slotName}' gave ${fill.length} values for '${variable.name}' of shape [${variable.shape.join(', ')}] (${variable.size} values)`,
    );
  }
  const [ptr, len] = call(() => c.optimizer_add_slot(id, variable.handleIndex, variable.handleGeneration, slotName, typeof fill === 'number' ? fill : 0));
  if (typeof fill !== 'number' && len !== 0) viewFloat32(ptr, len).set(fill.array as Float32Array);
}

/** Whether `variable` has slot `slotName` in core optimizer `id`. */
export function hasSlot(id: number, variable: Variable, slotName: string): boolean {
  try {
    core().optimizer_slot_view(id, variable.handleIndex, variable.handleGeneration, slotName);
    return true;
  } catch {
    return false;
  }
}

/** Keras' `add_weight` on core optimizer `id`: an optimizer-wide weight, a view of its values. */
export function addWeight(id: number, optimizerName: string, name: string, shape: readonly number[], init: Initializer): WasmTensor {
  const c = core();
  const names = c.optimizer_weight_names(id);
  if (names.includes(`${optimizerName}/${name}:0`)) throw new ArgumentError('InvalidArgument', `${optimizerName} already has a weight named '${name}'`);
  const size = sizeOf(shape);
  const fill = initialValues(shape, init);
  if (typeof fill !== 'number' && fill.length !== size) {
    throw new ShapeError('ShapeMismatch', `the initializer of weight '${name}' gave ${fill.length} values for shape [${shape.join(', ')}] (${size} values)`);
  }
  const [ptr, len] = call(() => c.optimizer_add_weight(id, name, new Uint32Array(shape), typeof fill === 'number' ? fill : 0));
  if (typeof fill !== 'number' && len !== 0) viewFloat32(ptr, len).set(fill.array as Float32Array);
  return new OptimizerWeight(id, names.length, shape, `${optimizerName}/${name}`);
}

/** An optimizer-wide weight of a custom optimizer (`addWeight`): a live view of its values in
 * the core, weight number `index` of `getWeights()`. */
class OptimizerWeight extends WasmTensor {
  constructor(
    private readonly id: number,
    private readonly index: number,
    shape: readonly number[],
    name: string,
  ) {
    super(shape, name);
  }

  protected pointer(): number {
    const [ptr] = call(() => core().optimizer_weight_view(this.id, this.index));
    return ptr;
  }
}

/** An initializer's values for `shape`: a constant, or the numbers a function gave (read once). */
function initialValues(shape: readonly number[], init: Initializer): number | { array: ArrayLike<number>; length: number } {
  if (init === 'zeros') return 0;
  if (init === 'ones') return 1;
  if (typeof init === 'number') return init;
  if (typeof init !== 'function')
    throw new ArgumentError('InvalidArgument', `an initializer must be a number, 'zeros', 'ones' or a function of the shape; got ${describeValue(init)}`);
  const out: unknown = init(Object.freeze([...shape]));
  return typeof out === 'number' ? out : readNumbers(out, 'the values of an initializer');
}

/** Copies a step's gradients out of the frame after the core validated and clipped them there
 * (where `writeFrame` put them: each command has its values' and indices' offsets), before any
 * user code runs (it may use the frame). Null where a pair has no gradient. */
export function stagedGradients(args: StepArguments, frame: FrameLayout): Array<Float32Array | IndexedSlices | null> {
  const f32 = heapFloat32();
  const i32 = heapInt32();
  const u32 = heapUint32();
  const grads: Array<Float32Array | IndexedSlices | null> = [];
  for (let i = 0; i < args.n; i++) {
    const kind = args.kinds[i];
    const count = args.valueCounts[i];
    const command = frame.commands + i * COMMAND_WORDS;
    const vo = frame.values + u32[command + 3];
    if (kind === KIND_SPARSE) {
      const rows = args.indexCounts[i];
      const io = frame.indices + u32[command + 5];
      grads.push(new IndexedSlices(f32.slice(vo, vo + count), i32.slice(io, io + rows)));
    } else if (kind === KIND_DENSE_STAGED) {
      grads.push(f32.slice(vo, vo + count));
    } else {
      grads.push(null);
    }
  }
  return grads;
}

/** Keras' `_deduplicate_indexed_slices`: unique rows in first-occurrence order, values summed
 * in occurrence order in f32 (as the core does for built-ins). */
export function deduplicate(values: Float32Array, indices: Int32Array, rowLen: number): { values: Float32Array; indices: Int32Array } {
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
