// The state of a custom optimizer (a subclass implementing `resourceApplyDense` /
// `resourceApplySparse`): its update runs in JavaScript, so its slots and weights are tensors
// kept here, in creation order, with the batches that fix the weight order for checkpoints.
import { heapFloat32, heapInt32 } from '../wasm/loader.js';
import { KIND_DENSE_STAGED, KIND_SPARSE } from '../frame.js';
import { ArgumentError } from '../errors.js';
import { IndexedSlices, Tensor, Variable } from '../tensor.js';
import { describeValue } from '../values.js';
import type { StepArguments } from './step.js';
import type { Initializer, SlotVariableInfo } from './types.js';

export class CustomState {
  readonly slotNames: string[] = [];
  readonly slots = new Map<Variable, Map<string, Tensor>>();
  /** Weights after `iterations`, in creation order. */
  readonly weights: Array<{ name: string; tensor: Tensor }> = [];
  /** For each `createSlots` call that made weights: how many variables got their first slot
   * (the weight order, replayed by checkpoints; the core keeps the same for built-ins). */
  readonly slotBatches: number[] = [];

  /** Runs the subclass's `createSlots` and records the batch it made, if any. */
  createSlots(create: () => void): void {
    const slotted = this.slots.size;
    const weights = this.weights.length;
    create();
    if (this.weights.length > weights) this.slotBatches.push(this.slots.size - slotted);
  }

  /** Creates slot `slotName` of `variable` unless it exists. */
  addSlot(variable: Variable, slotName: string, initializer: Initializer, optimizerName: string): void {
    let slots = this.slots.get(variable);
    if (slots?.has(slotName)) return;
    const t = initialized(variable.shape, initializer, `${optimizerName}/${variable.name}/${slotName}`);
    if (!slots) this.slots.set(variable, (slots = new Map()));
    slots.set(slotName, t);
    if (!this.slotNames.includes(slotName)) this.slotNames.push(slotName);
    this.weights.push({ name: `${variable.name}/${slotName}`, tensor: t });
  }

  /** Creates an optimizer-wide weight. */
  addWeight(name: string, shape: readonly number[], initializer: Initializer, optimizerName: string): Tensor {
    if (this.weights.some((w) => w.name === name)) throw new ArgumentError('InvalidArgument', `${optimizerName} already has a weight named '${name}'`);
    const t = initialized(shape, initializer, `${optimizerName}/${name}`);
    this.weights.push({ name, tensor: t });
    return t;
  }

  slotLayout(): { variables: SlotVariableInfo[]; batches: number[] } {
    const variables = [...this.slots.keys()].map((v) => ({ name: v.name, shape: [...v.shape], size: v.size }));
    return { variables, batches: [...this.slotBatches] };
  }

  dispose(): void {
    for (const w of this.weights) w.tensor.dispose();
  }
}

/** Copies a step's gradients out of the frame after the core validated and clipped them there
 * (values from word `frame.values`, indices from `frame.indices`, as `writeFrame` put them),
 * before any user code runs (it may use the frame). Null where a pair has no gradient. */
export function stagedGradients(args: StepArguments, frame: { values: number; indices: number }): Array<Float32Array | IndexedSlices | null> {
  const f32 = heapFloat32();
  const i32 = heapInt32();
  const grads: Array<Float32Array | IndexedSlices | null> = [];
  let vo = frame.values;
  let io = frame.indices;
  for (let i = 0; i < args.n; i++) {
    const kind = args.kinds[i];
    const count = args.valueCounts[i];
    if (kind === KIND_SPARSE) {
      const rows = args.indexCounts[i];
      grads.push(new IndexedSlices(f32.slice(vo, vo + count), i32.slice(io, io + rows)));
      vo += count;
      io += rows;
    } else if (kind === KIND_DENSE_STAGED) {
      grads.push(f32.slice(vo, vo + count));
      vo += count;
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
