// Compressed slots (`slotDtype: 'int8'`) through tfjs' optimizer weights. A tfjs tensor holds
// float32, int32 or bool values, and an 8-bit slot's f32 view does not convert back to the same
// codes (a block whose largest element is negative has no code for -1: its scale cannot be read
// back from the view). So an 8-bit slot travels as its f32 view under its Keras name (what Keras'
// weight list and tfjs users see) plus two entries after all the Keras weights: its codes, four to
// an int32, and its block absmax (float32). `setWeights` puts those back exactly; a list without
// them (f32 views only) quantizes the views again. bfloat16 slots need no extra entry: their f32
// views convert back to the same bits.
import * as tf from '@tensorflow/tfjs-core';
import { WeightsError } from '../api.js';
import type { RawInt8Slot, RawSlotWeight } from '../api.js';

/** What an 8-bit slot's extra entries add to its Keras weight name. */
export const CODES_SUFFIX = ':int8_codes';
export const ABSMAX_SUFFIX = ':int8_absmax';

/** The 8-bit slots of a `getWeights({ raw: true })` list, by weight number. */
export function int8Slots(raw: ReadonlyArray<unknown>): Map<number, RawInt8Slot> {
  const out = new Map<number, RawInt8Slot>();
  raw.forEach((w, i) => {
    if (i > 0 && typeof w === 'object' && w !== null && (w as RawSlotWeight).dtype === 'int8') out.set(i, w as RawInt8Slot);
  });
  return out;
}

/** The extra entries of the 8-bit slots, named after their Keras weights. */
export function rawSlotTensors(names: readonly string[], raws: ReadonlyMap<number, RawInt8Slot>): Array<{ name: string; tensor: tf.Tensor }> {
  const out: Array<{ name: string; tensor: tf.Tensor }> = [];
  for (const [i, r] of raws) {
    const packed = new Uint8Array(Math.ceil(r.codes.length / 4) * 4);
    packed.set(r.codes);
    out.push({ name: names[i] + CODES_SUFFIX, tensor: tf.tensor1d(new Int32Array(packed.buffer), 'int32') });
    out.push({ name: names[i] + ABSMAX_SUFFIX, tensor: tf.tensor1d(r.absmax.slice(), 'float32') });
  }
  return out;
}

/** Whether a weight name is one of the extra entries. */
export function isRawSlotName(name: string): boolean {
  return name.endsWith(CODES_SUFFIX) || name.endsWith(ABSMAX_SUFFIX);
}

/** An extra entry as `setWeights` read it (once): its name, dtype and values. */
export interface RawSlotPart {
  name: string;
  dtype: string;
  values: ArrayLike<number>;
}

/**
 * The 8-bit slots the extra entries describe, by Keras weight number: each slot needs both
 * entries, for a weight of the list, with the lengths its view implies (an extra entry that fits
 * nothing is refused, not dropped: the codes would be lost without a word).
 */
export function readRawSlots(names: readonly string[], views: readonly Float32Array[], parts: readonly RawSlotPart[]): Map<number, RawInt8Slot> {
  const byName = new Map<string, { codes?: RawSlotPart; absmax?: RawSlotPart }>();
  for (const p of parts) {
    const codes = p.name.endsWith(CODES_SUFFIX);
    const base = p.name.slice(0, p.name.length - (codes ? CODES_SUFFIX : ABSMAX_SUFFIX).length);
    const entry = byName.get(base) ?? {};
    if (codes ? entry.codes : entry.absmax) throw new WeightsError('WeightShape', `the weight list has '${p.name}' twice`);
    byName.set(base, codes ? { ...entry, codes: p } : { ...entry, absmax: p });
  }
  const out = new Map<number, RawInt8Slot>();
  for (const [base, { codes, absmax }] of byName) {
    const i = names.indexOf(base);
    if (i < 1) throw new WeightsError('WeightCount', `'${(codes ?? absmax)!.name}' is the 8-bit storage of a weight '${base}' that is not in the list`);
    if (!codes || !absmax) throw new WeightsError('WeightCount', `the 8-bit slot '${base}' needs both '${base}${CODES_SUFFIX}' and '${base}${ABSMAX_SUFFIX}'`);
    const n = views[i - 1].length;
    const blocks = Math.ceil(n / 256);
    if (codes.dtype !== 'int32' || codes.values.length !== Math.ceil(n / 4)) {
      throw new WeightsError(
        'WeightShape',
        `'${codes.name}' must be ${Math.ceil(n / 4)} int32 values (the ${n} codes of '${base}', four to one), got ${codes.values.length} ${codes.dtype}`,
      );
    }
    if (absmax.dtype !== 'float32' || absmax.values.length !== blocks) {
      throw new WeightsError('WeightShape', `'${absmax.name}' must be ${blocks} float32 values (one per block of 256 of '${base}'), got ${absmax.values.length} ${absmax.dtype}`);
    }
    const packed = Int32Array.from(codes.values);
    out.set(i, { dtype: 'int8', codes: new Uint8Array(packed.buffer, 0, n).slice(), absmax: Float32Array.from(absmax.values), blockSize: 256 });
  }
  return out;
}
