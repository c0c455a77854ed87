// Weights: Keras' `get_weights` / `set_weights` list (iterations first, then the slots in
// creation order), a slot as a live view (`getSlot`), and the slot layout checkpoints save.
import { call, core, heapFloat32, heapUint32, viewFloat32 } from '../wasm/loader.js';
import { reserveFrame } from '../frame.js';
import { ArgumentError, SimdoptError, StateError, WeightsError } from '../errors.js';
import { describeValue, isDetached, readNumbers, typedArrayKind, typedArrayLength } from '../values.js';
import { copyChecked } from './step.js';
import { Variable, WasmTensor } from '../tensor.js';
import type { Optimizer } from './optimizer.js';
import type { OptimizerSpec, SlotVariableInfo, WeightValue } from './types.js';

/** A weight as `setWeights` read it: its numbers and how many (read once). */
export interface WeightSnapshot {
  array: ArrayLike<number>;
  length: number;
}

/** A `setWeights` list read once and checked against the weight count: iterations and the
 * other weights. Null for an empty list. */
export function checkWeightList(spec: OptimizerSpec, optimizerName: string, given: readonly unknown[], expected: number): { iterations: number; rest: WeightSnapshot[] } | null {
  const ws = spec.keras1Weights ? spec.keras1Weights([...given], expected) : given;
  if (ws.length !== expected) {
    throw new WeightsError(
      'WeightCount',
      `You called \`set_weights(weights)\` on optimizer ${optimizerName} with a  weight list of length ${ws.length}, but the optimizer was expecting ${expected} weights.`,
    );
  }
  if (ws.length === 0) return null;
  const iterations = toIterations(ws[0]);
  const rest = ws.slice(1).map((w, i) => readWeight(w, i + 1));
  return { iterations, rest };
}

/** Weight `i` read once (a detached typed array is an ArgumentError, anything but numbers a
 * WeightsError). */
export function readWeight(w: unknown, i: number): WeightSnapshot {
  const kind = typedArrayKind(w);
  if (kind !== undefined && typedArrayLength(w as ArrayBufferView) === 0 && isDetached(w as ArrayBufferView)) {
    throw new ArgumentError('InvalidArgument', `weight ${i} is a ${kind} whose ArrayBuffer is detached`);
  }
  try {
    return readNumbers(w, `weight ${i}`);
  } catch (e) {
    if (e instanceof ArgumentError) throw new WeightsError('WeightShape', `weight ${i} must be an array of numbers, got ${describeValue(w)}`);
    throw e;
  }
}

/** Weight 0 (iterations) read once: a non-negative safe integer (number, bigint, or a list of one). */
export function toIterations(w: unknown): number {
  const x = w instanceof BigInt64Array || ArrayBuffer.isView(w) || Array.isArray(w) ? (w as ArrayLike<number | bigint>)[0] : w;
  const n = typeof x === 'bigint' ? Number(x) : x;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new WeightsError('WeightShape', `weight 0 (iterations) must be a non-negative integer, got ${describeValue(w)}`);
  }
  return n;
}

/** The core optimizer's weights after `iterations`, copied. */
export function readCoreWeights(id: number): Float32Array[] {
  const c = core();
  const count = c.optimizer_weight_names(id).length;
  const out: Float32Array[] = [];
  for (let i = 1; i < count; i++) {
    const [ptr, len] = call(() => c.optimizer_weight_view(id, i));
    out.push(viewFloat32(ptr, len).slice());
  }
  return out;
}

/** Sets the core optimizer's weights through the frame (the core checks every size before it
 * writes anything). Every copy is checked against the length read and the frame's capacity. */
export function writeCoreWeights(id: number, iterations: number, rest: readonly WeightSnapshot[]): void {
  let total = 0;
  for (const w of rest) total += w.length;
  const frame = reserveFrame(rest.length, total, 0);
  if (rest.length > frame.capacity.commands) throw new StateError('InvalidState', `step frame overrun: ${rest.length} weights, room for ${frame.capacity.commands}`);
  const u32 = heapUint32();
  const f32 = heapFloat32();
  const end = frame.values + total;
  let off = frame.values;
  for (let i = 0; i < rest.length; i++) {
    u32[frame.commands + i] = rest[i].length;
    copyChecked(f32, rest[i].array, rest[i].length, off, end, weightNumber, i + 1);
    off += rest[i].length;
  }
  call(() => core().optimizer_set_weights(id, iterations, rest.length));
}

const weightNumber = (k: number): string => `weight ${k}`;

/** The core optimizer's variables with slots (in the order they got them) and its batches. */
export function coreSlotLayout(id: number): { variables: SlotVariableInfo[]; batches: number[] } {
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

/** Keras' int64 `iterations` weight. BigInt has no JSON form, so `JSON.stringify` writes it as
 * numbers (exact up to 2^53). */
export class IterationsWeight extends BigInt64Array {
  toJSON(): number[] {
    return Array.from(this, Number);
  }
}

/** `JSON.stringify(optimizer.getWeights())`: every weight as an array of numbers. */
export function weightsToJSON(this: WeightValue[]): number[][] {
  return this.map((w) => Array.from(w as ArrayLike<number | bigint>, Number));
}

/** A slot of an optimizer for one variable (`getSlot`). Its values live in the optimizer. */
export class SlotVariable extends WasmTensor {
  /** The optimizer the slot belongs to. */
  readonly optimizer: Optimizer;
  /** The variable the slot is for. */
  readonly variable: Variable;
  /** The slot's name (`'m'`, `'momentum'`, ...). */
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
