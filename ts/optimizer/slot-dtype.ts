// Compressed optimizer state (issue 16): the `slotDtype` option, and the raw codes and scales of
// compressed slots that `getWeights({ raw: true })` returns and `setWeights` and checkpoints take.
// The core stores the slots; the f32 views of `getWeights()` are widened or dequantized copies.
import { call, core, heapFloat32 } from '../wasm/loader.js';
import { ArgumentError, WeightsError } from '../errors.js';
import { describeValue } from '../values.js';
import { bytesFloats, decodeBytes, encodeBytes, encodeFloats } from '../base64.js';

/** How an optimizer stores its moment slots: `'float32'` (default, Keras' numbers),
 * `'bfloat16'` (2 bytes per element), `'int8'` (block-wise dynamic 8-bit codes, 1 byte plus one
 * f32 scale per 256 elements). Variables under 4,096 elements keep f32 slots. */
export type SlotDtype = 'float32' | 'bfloat16' | 'int8';

export const SLOT_DTYPES: readonly SlotDtype[] = ['float32', 'bfloat16', 'int8'];

/** A compressed slot as stored: bfloat16 bits, or 8-bit codes with one f32 absmax per block. */
export type RawSlotWeight = RawBfloat16Slot | RawInt8Slot;

/** A bfloat16 slot as stored. */
export interface RawBfloat16Slot {
  /** The storage: `'bfloat16'`. */
  readonly dtype: 'bfloat16';
  /**
   * The upper 16 bits of each float32 element: rounded stochastically by the optimizer step (a
   * deterministic dither of the element, the step and the slot), to nearest even when set.
   */
  readonly bits: Uint16Array;
}

/** An 8-bit slot as stored: block-wise dynamic codes. */
export interface RawInt8Slot {
  /** The storage: `'int8'`. */
  readonly dtype: 'int8';
  /** One code per element (an index into the dynamic map of the slot's sign). */
  readonly codes: Uint8Array;
  /** One absolute maximum per block of {@link RawInt8Slot.blockSize} elements. */
  readonly absmax: Float32Array;
  /** Elements per block (256). */
  readonly blockSize: number;
}

/** The 8-bit slots' block size. */
export const INT8_BLOCK = 256;

/** The `slotDtype` option read once: undefined means `'float32'`. */
export function parseSlotDtype(v: unknown): SlotDtype {
  if (v === undefined || v === null) return 'float32';
  if (typeof v !== 'string' || !(SLOT_DTYPES as readonly string[]).includes(v)) {
    throw new ArgumentError('InvalidArgument', `\`slotDtype\` must be 'float32', 'bfloat16' or 'int8', got ${describeValue(v)}`);
  }
  return v as SlotDtype;
}

/** Sets the core optimizer's slot storage (before it has slots). */
export function setCoreSlotDtype(id: number, dtype: SlotDtype): void {
  if (dtype !== 'float32') call(() => core().optimizer_set_slot_dtype(id, dtype));
}

/** Weight `i`'s raw storage, copied, or undefined for an f32 weight. */
export function readRawWeight(id: number, i: number): RawSlotWeight | undefined {
  const r = call(() => core().optimizer_raw_weight(id, i));
  if (r.length === 0) return undefined;
  const buffer = heapFloat32().buffer;
  if (r[0] === 1) return { dtype: 'bfloat16', bits: new Uint16Array(buffer, r[1], r[2]).slice() };
  return { dtype: 'int8', codes: new Uint8Array(buffer, r[1], r[2]).slice(), absmax: new Float32Array(buffer, r[3], r[4]).slice(), blockSize: INT8_BLOCK };
}

/** Whether a `setWeights` entry is a raw slot (a plain object with a `dtype`). */
export function isRawSlotWeight(w: unknown): w is RawSlotWeight {
  return typeof w === 'object' && w !== null && !ArrayBuffer.isView(w) && !Array.isArray(w) && 'dtype' in w;
}

/** A raw entry read once and checked against weight `i`'s storage; its f32 stand-in length. */
export interface RawEntry {
  index: number;
  bits?: Uint16Array;
  codes?: Uint8Array;
  absmax?: Float32Array;
  length: number;
}

/**
 * Reads a raw `setWeights` entry for the core's weight `i` once and checks it fits (dtype and
 * lengths). `shown`: the weight's number in the caller's list (Keras 3's has the learning rate).
 */
export function readRawEntry(id: number, i: number, w: RawSlotWeight, shown = i): RawEntry {
  const current = readRawWeight(id, i);
  const dtype = (w as { dtype: unknown }).dtype;
  if (current === undefined || current.dtype !== dtype) {
    throw new WeightsError('WeightShape', `weight ${shown} is stored as ${current?.dtype ?? 'float32'}; got a raw ${describeValue(dtype)} slot`);
  }
  if (current.dtype === 'bfloat16') {
    const bits = (w as { bits: unknown }).bits;
    if (!(bits instanceof Uint16Array) || bits.length !== current.bits.length) {
      throw new WeightsError('WeightShape', `weight ${shown}: bits must be a Uint16Array of ${current.bits.length}, got ${describeValue(bits)}`);
    }
    return { index: i, bits: bits.slice(), length: bits.length };
  }
  const { codes, absmax } = w as { codes: unknown; absmax: unknown };
  if (!(codes instanceof Uint8Array) || codes.length !== current.codes.length || !(absmax instanceof Float32Array) || absmax.length !== current.absmax.length) {
    throw new WeightsError(
      'WeightShape',
      `weight ${shown}: codes must be a Uint8Array of ${current.codes.length} and absmax a Float32Array of ${current.absmax.length}, got ${describeValue(codes)} and ${describeValue(absmax)}`,
    );
  }
  const scales = absmax.slice();
  if (scales.some((a) => !(a >= 0) || !Number.isFinite(a))) throw new WeightsError('WeightShape', `weight ${shown}: every absmax must be a finite number >= 0`);
  return { index: i, codes: codes.slice(), absmax: scales, length: codes.length };
}

/** The entry that writes back a raw slot read from the core's weight `i` (already a copy). */
export function rawEntry(i: number, raw: RawSlotWeight): RawEntry {
  return raw.dtype === 'bfloat16' ? { index: i, bits: raw.bits, length: raw.bits.length } : { index: i, codes: raw.codes, absmax: raw.absmax, length: raw.codes.length };
}

/** Writes checked raw entries into the core. */
export function writeRawEntries(id: number, entries: readonly RawEntry[]): void {
  const c = core();
  for (const e of entries) {
    if (e.bits) call(() => c.optimizer_set_raw_weight_bf16(id, e.index, e.bits as Uint16Array));
    else call(() => c.optimizer_set_raw_weight_int8(id, e.index, e.codes as Uint8Array, e.absmax as Float32Array));
  }
}

// ---- in checkpoints ------------------------------------------------------------------------

/** A checkpoint's record of an 8-bit slot's exact storage (`OptimizerState.raw_slots`). */
export interface SavedRawSlot {
  /** The weight's number in `weight_names`. */
  weight: number;
  /** Its codes, one byte per element, base64. */
  codes: string;
  /** Its block absmax, little-endian float32, base64. */
  absmax: string;
}

/** The 8-bit slots of a `getWeights({ raw: true })` list, for a checkpoint (bfloat16 slots are
 * exact in their f32 views, which the checkpoint has). */
export function saveRawSlots(weights: ReadonlyArray<unknown>): SavedRawSlot[] {
  const out: SavedRawSlot[] = [];
  weights.forEach((w, i) => {
    if (isRawSlotWeight(w) && w.dtype === 'int8') out.push({ weight: i, codes: encodeBytes(w.codes), absmax: encodeFloats(w.absmax) });
  });
  return out;
}

/**
 * A checkpoint's `raw_slots` (absent: none), checked, by weight number; `fail` throws the
 * checkpoint's error. Only with `slot_dtype` 'int8'; each names a distinct weight after
 * iterations (`setWeights` then checks each fits its slot).
 */
export function parseRawSlots(list: unknown, slotDtype: unknown, weightCount: number, fail: (message: string) => never): Map<number, RawSlotWeight> {
  const entries = list ?? [];
  if (!Array.isArray(entries) || (entries.length > 0 && slotDtype !== 'int8')) fail("raw_slots must be an array, and only with slot_dtype 'int8'");
  const own = (o: object, key: string): unknown => (Object.prototype.hasOwnProperty.call(o, key) ? (o as Record<string, unknown>)[key] : undefined);
  const out = new Map<number, RawSlotWeight>();
  entries.forEach((r: unknown, i) => {
    if (r === null || typeof r !== 'object' || Array.isArray(r)) fail(`raw_slots[${i}] must be an object`);
    const k = own(r, 'weight');
    if (typeof k !== 'number' || !Number.isSafeInteger(k) || k < 1 || k >= weightCount || out.has(k)) {
      fail(`raw_slots[${i}].weight must be a distinct weight number from 1 to ${weightCount - 1}`);
    }
    const codes = decodeBytes(own(r, 'codes'));
    if (codes === undefined) fail(`raw_slots[${i}].codes must be a base64 string`);
    const scales = decodeBytes(own(r, 'absmax'));
    if (scales === undefined || scales.length % 4 !== 0) fail(`raw_slots[${i}].absmax must be float32 values in base64`);
    out.set(k, { dtype: 'int8', codes, absmax: bytesFloats(scales), blockSize: INT8_BLOCK });
  });
  return out;
}
