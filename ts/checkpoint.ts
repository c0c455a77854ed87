// Checkpoints: the whole state of an optimizer (class, config, iterations, every slot and global
// weight, the weight names and the order the slots were made in), and optionally the variables'
// values, as JSON (float32 arrays in base64, exact) or as bytes. Both forms carry a format version
// and a CRC32C checksum over everything in them, checked before anything else is read. Restoring
// builds a new optimizer that continues bit for bit where the saved one was; it validates
// everything first and, on any error, changes nothing (the half-built optimizer is disposed, no
// variable is written).
//
// Versions: 2 (this build writes it) has a checksum, and a checkpoint without one, or with one
// that does not match, is refused. 1 (written before checksums) is still read, unchecked; it has
// no checksum field, so a version 2 checkpoint whose checksum was lost is not taken for one.
import { checksumOfText, canonicalJson, crc32c, isChecksum } from './checksum.js';
import { ArgumentError, ConfigError, WeightsError } from './errors.js';
import { Optimizer, SlotVariableInfo } from './optimizer/index.js';
import { RawSlotWeight, parseRawSlots, saveRawSlots } from './optimizer/slot-dtype.js';
import { bytesFloats, decodeBytes, encodeFloats, floatBytes } from './base64.js';
import { deserialize, serialize } from './serialization.js';
import { Variable } from './tensor.js';
import { describeValue, isDetached, typedArrayKind, typedArrayLength } from './values.js';

export type { SlotVariableInfo };

export const STATE_FORMAT = 'simdopt.optimizer_state';
export const CHECKPOINT_FORMAT = 'simdopt.checkpoint';
/** The version this build writes. */
const VERSION = 2;
/** The version written before checkpoints had checksums: still read, without a check. */
const UNCHECKED_VERSION = 1;
/** First bytes of the binary form: "SIMDOPT" and a NUL. */
const MAGIC = [0x53, 0x49, 0x4d, 0x44, 0x4f, 0x50, 0x54, 0x00];

/** An optimizer's full state, JSON-serializable (`JSON.stringify` keeps it exact). */
export interface OptimizerState {
  /** Marks the JSON as simdopt's optimizer state. */
  format: typeof STATE_FORMAT;
  /** The version of this format (a newer one is refused with a clear error). */
  version: number;
  /** Keras class name and config (`serialize(optimizer)`). */
  class_name: string;
  /** Keras 3's module of a `simdopt/keras3` optimizer (absent for TF 2.4's classes; null for a
   * custom class, as Keras writes it). */
  module?: string | null;
  /** Keras 3's registered name of a registered custom class (`'package>Name'`). */
  registered_name?: string;
  /** The Keras config (snake_case keys). */
  config: Record<string, unknown>;
  /** Steps applied so far. */
  iterations: number;
  /** `getWeightNames()`, iterations first. */
  weight_names: string[];
  /** The variables with slots, in the order they got them. */
  variables: SlotVariableInfo[];
  /** How many variables got their slots in each step that met new variables (the weight order). */
  slot_batches: number[];
  /** Every weight after iterations, little-endian float32 in base64. */
  weights: string[];
  /** The optimizer's `skipNonFinite` setting. */
  skip_non_finite?: boolean;
  /** The optimizer's `slotDtype` when not float32 (not in the Keras config). */
  slot_dtype?: 'bfloat16' | 'int8';
  /** The exact storage of the 8-bit slots: weight number (as in `weight_names`), codes and
   * block absmax (little-endian float32), base64. Their `weights` entries are the f32 views. */
  raw_slots?: Array<{
    /** The weight's number in `weight_names`. */
    weight: number;
    /** Its codes, one byte per element, base64. */
    codes: string;
    /** Its block absmax, little-endian float32, base64. */
    absmax: string;
  }>;
  /** `crc32c:` and 8 hex digits: CRC32C of the canonical JSON text of everything else (keys
   * sorted, no spaces). Only on a state saved on its own; in a checkpoint, the checkpoint's
   * checksum covers its state. */
  checksum?: string;
}

/** An optimizer state plus the values of variables. */
export interface Checkpoint {
  /** Marks the JSON as a simdopt checkpoint. */
  format: typeof CHECKPOINT_FORMAT;
  /** The version of this format (a newer one is refused with a clear error). */
  version: number;
  /** The optimizer's state ({@link saveState}). */
  optimizer: OptimizerState;
  /** The variables' values, in the order given to {@link saveCheckpoint}. */
  variables: Array<{
    /** The variable's name. */
    name: string;
    /** Its shape. */
    shape: number[];
    /** Its values: little-endian float32, base64. */
    values: string;
  }>;
  /** As `OptimizerState.checksum`, over the whole checkpoint. */
  checksum?: string;
}

// ---- saving --------------------------------------------------------------------------------

/** The full state of an optimizer. Function hyperparameters are saved as their current value
 * (as in Keras' `get_config`); schedules as their config. */
export function saveState(optimizer: Optimizer): OptimizerState {
  return seal(unsealedState(optimizer));
}

function unsealedState(optimizer: Optimizer): OptimizerState {
  if (!(optimizer instanceof Optimizer)) throw new ArgumentError('InvalidArgument', `saveState expects an Optimizer, got ${describeValue(optimizer)}`);
  const { class_name, config, module, registered_name } = serialize(optimizer) as ReturnType<typeof serialize> & { module?: string | null; registered_name?: string | null };
  checkSavable(config, 'config');
  const weights = optimizer.getWeights();
  const { variables, batches } = optimizer.slotLayout();
  const compressed = optimizer.slotDtype === 'float32' ? {} : { slot_dtype: optimizer.slotDtype, raw_slots: saveRawSlots(optimizer.getWeights({ raw: true })) };
  return {
    format: STATE_FORMAT,
    version: VERSION,
    class_name,
    ...(module === undefined ? {} : { module }),
    ...(typeof registered_name === 'string' ? { registered_name } : {}),
    config: JSON.parse(JSON.stringify(config)) as Record<string, unknown>,
    iterations: Number((weights[0] as BigInt64Array)[0]),
    weight_names: optimizer.getWeightNames(),
    variables,
    slot_batches: batches,
    weights: weights.slice(1).map((w) => encodeFloats(w as Float32Array)),
    skip_non_finite: optimizer.skipNonFinite,
    ...compressed,
  };
}

/** The optimizer's state and the values of `variables` (all the model's variables, say). */
export function saveCheckpoint(optimizer: Optimizer, variables: readonly Variable[]): Checkpoint {
  const list = variableList(variables);
  const state = unsealedState(optimizer);
  return seal({
    format: CHECKPOINT_FORMAT,
    version: VERSION,
    optimizer: state,
    variables: list.map((v) => ({ name: v.name, shape: [...v.shape], values: encodeFloats(v.read()) })),
  });
}

/**
 * A copy of a state or checkpoint (JSON form) with a new checksum, as version 2: for one edited
 * on purpose (a variable renamed, say). Nothing else is checked here; restoring checks the rest.
 */
export function sealCheckpoint<T extends OptimizerState | Checkpoint>(x: T): T {
  const copy = JSON.parse(canonicalJson(x, 'checksum')) as Record<string, unknown>;
  if (!isRecord(copy)) bad(`expected a state or checkpoint object, got ${describeValue(copy)}`);
  copy.version = VERSION;
  const state = own(copy, 'optimizer');
  if (own(copy, 'format') === CHECKPOINT_FORMAT && isRecord(state)) state.version = VERSION;
  return seal(copy) as unknown as T;
}

/** `x` with its checksum (computed without it). */
function seal<T extends object>(x: T): T {
  return { ...x, checksum: checksumOfText(canonicalJson(x, 'checksum')) };
}

// ---- restoring -----------------------------------------------------------------------------

/**
 * A new optimizer with a saved state. `variables` are the variables the saved optimizer had
 * slots for: matched by position when the names agree, else by (unique) name; extra variables
 * are ignored. Checks the state, the variables (names, sizes, shapes) and the config, builds the
 * optimizer, recreates the slots in their saved order, checks the weight names and sets every
 * weight; on any error the new optimizer is disposed and the error (a SimdoptError) thrown.
 * `customObjects` resolves user schedule classes, as for `deserialize`.
 */
export function loadState(state: OptimizerState | Uint8Array, variables: readonly Variable[], customObjects: Record<string, unknown> = {}): Optimizer {
  const { snapshot, version } = state instanceof Uint8Array ? readBinary(state) : verified(state);
  return build(parseState(snapshot, version), variableList(variables), customObjects);
}

/**
 * Restores a checkpoint: a new optimizer (as `loadState`) and the saved values written into
 * `variables` (matched as in `loadState`). Everything is checked before anything is written.
 */
export function restoreCheckpoint(checkpoint: Checkpoint | Uint8Array, variables: readonly Variable[], customObjects: Record<string, unknown> = {}): Optimizer {
  const { snapshot, version } = checkpoint instanceof Uint8Array ? readBinary(checkpoint) : verified(checkpoint);
  const ckpt = parseCheckpoint(snapshot, version);
  const list = variableList(variables);
  const targets = match(
    ckpt.variables.map((v) => v.name),
    list,
    'checkpoint',
  );
  ckpt.variables.forEach((saved, i) => {
    const v = targets[i];
    if (!sameShape(v.shape, saved.shape)) {
      throw new WeightsError('WeightShape', `variable '${saved.name}' has shape [${v.shape.join(', ')}] here but [${saved.shape.join(', ')}] in the checkpoint`);
    }
  });
  const opt = build(ckpt.optimizer, list, customObjects);
  ckpt.variables.forEach((saved, i) => targets[i].assign(saved.values));
  return opt;
}

interface ParsedState {
  class_name: string;
  module: string | null | undefined;
  registeredName: string | null;
  config: Record<string, unknown>;
  iterations: number;
  weight_names: string[];
  variables: SlotVariableInfo[];
  slot_batches: number[];
  weights: Float32Array[];
  skip_non_finite: boolean;
  slot_dtype: 'bfloat16' | 'int8' | undefined;
  /** Raw 8-bit slots by weight number. */
  raw_slots: Map<number, RawSlotWeight>;
}

function build(s: ParsedState, list: Variable[], customObjects: Record<string, unknown>): Optimizer {
  const vars = match(
    s.variables.map((v) => v.name),
    list,
    'optimizer state',
  );
  s.variables.forEach((saved, i) => {
    const v = vars[i];
    if (v.size !== saved.size || (saved.shape && !sameShape(v.shape, saved.shape))) {
      const was = saved.shape ? `[${saved.shape.join(', ')}]` : `${saved.size} elements`;
      throw new WeightsError('WeightShape', `variable '${saved.name}' has shape [${v.shape.join(', ')}] here but ${was} in the optimizer state`);
    }
  });
  const config = s.slot_dtype ? { ...s.config, slot_dtype: s.slot_dtype } : s.config;
  const serialized = s.module === undefined ? { class_name: s.class_name, config } : { module: s.module, class_name: s.class_name, config, registered_name: s.registeredName };
  const opt = deserialize(serialized, customObjects);
  try {
    opt.restoreSlotLayout(vars, s.slot_batches);
    const names = opt.getWeightNames();
    if (names.length !== s.weight_names.length) {
      throw new WeightsError('WeightCount', `the optimizer state has ${s.weight_names.length} weights, the restored optimizer ${names.length}`);
    }
    const k = names.findIndex((n, i) => n !== s.weight_names[i]);
    if (k >= 0) throw new WeightsError('WeightShape', `weight ${k} is '${names[k]}' in the restored optimizer but '${s.weight_names[k]}' in the state`);
    opt.setWeights([BigInt64Array.of(BigInt(s.iterations)), ...s.weights.map((w, i) => s.raw_slots.get(i + 1) ?? w)]);
    opt.skipNonFinite = s.skip_non_finite;
    return opt;
  } catch (e) {
    opt.dispose();
    throw e;
  }
}

/** For each saved name, a distinct variable of `list`: the one at the same position if its name
 * matches, else the only one with that name. */
function match(names: string[], list: Variable[], what: string): Variable[] {
  const used = new Set<Variable>();
  return names.map((name, i) => {
    let v: Variable | undefined = list[i] && list[i].name === name && !used.has(list[i]) ? list[i] : undefined;
    if (!v) {
      const candidates = list.filter((x) => x.name === name && !used.has(x));
      if (candidates.length === 0) throw new WeightsError('WeightCount', `the ${what} has a variable '${name}' (number ${i}) that is not among the ${list.length} variables given`);
      if (candidates.length > 1)
        throw new WeightsError('WeightCount', `the ${what}'s variable '${name}' (number ${i}) matches ${candidates.length} variables given: pass them in the saved order`);
      v = candidates[0];
    }
    used.add(v);
    return v;
  });
}

function variableList(variables: readonly Variable[]): Variable[] {
  if (!Array.isArray(variables)) throw new ArgumentError('InvalidArgument', `expected an array of Variables, got ${describeValue(variables)}`);
  const seen = new Set<Variable>();
  return variables.map((v, i) => {
    if (!(v instanceof Variable)) throw new ArgumentError('InvalidArgument', `variable ${i} is ${describeValue(v)}, not a Variable`);
    if (v.isDisposed) throw new ArgumentError('InvalidArgument', `variable '${v.name}' (number ${i}) has been disposed`);
    if (seen.has(v)) throw new ArgumentError('DuplicateVariable', `variable '${v.name}' is given twice`);
    seen.add(v);
    return v;
  });
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

// ---- validation of untrusted states ------------------------------------------------------

function bad(message: string): never {
  throw new ConfigError('InvalidConfig', `invalid optimizer state: ${message}`);
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x) && !ArrayBuffer.isView(x);
}

function own(o: Record<string, unknown>, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(o, key) ? o[key] : undefined;
}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function parseShape(x: unknown, what: string): number[] {
  if (!Array.isArray(x) || !x.every(isCount)) bad(`${what} must be an array of non-negative integers`);
  return x as number[];
}

/**
 * The JSON form read once into a plain copy (no getter or Proxy of the caller's is read again),
 * its version and checksum checked: version 2 must carry the checksum of the rest, version 1
 * must carry none. The copy is returned without its checksum.
 */
function verified(raw: unknown): { snapshot: Record<string, unknown>; version: number } {
  if (!isRecord(raw)) bad(`expected a state or checkpoint object, got ${describeValue(raw)}`);
  const snapshot = JSON.parse(canonicalJson(raw)) as Record<string, unknown>;
  const version = own(snapshot, 'version');
  const sum = own(snapshot, 'checksum');
  delete snapshot.checksum;
  if (version === VERSION) {
    if (sum === undefined) bad('version 2 has a checksum, this one has none (was it removed?)');
    if (!isChecksum(sum)) bad(`checksum must be 'crc32c:' and 8 hex digits, got ${describeValue(sum)}`);
    const actual = checksumOfText(canonicalJson(snapshot));
    if (actual !== sum) bad(`checksum mismatch: saved ${sum}, computed ${actual}: the checkpoint is damaged`);
  } else if (version === UNCHECKED_VERSION) {
    if (sum !== undefined) bad('version 1 has no checksum, this one has one (is its version damaged?)');
  } else {
    bad(`unsupported version ${typeof version === 'number' ? version : describeValue(version)} (this build reads versions ${UNCHECKED_VERSION} and ${VERSION})`);
  }
  return { snapshot, version };
}

function parseState(raw: unknown, version: number): ParsedState {
  if (!isRecord(raw)) bad(`expected an object, got ${describeValue(raw)}`);
  if (own(raw, 'format') !== STATE_FORMAT) bad(`format must be '${STATE_FORMAT}', got ${describeValue(own(raw, 'format'))}`);
  if (own(raw, 'version') !== version) bad(`the optimizer state has version ${String(own(raw, 'version'))} in a version ${version} checkpoint`);
  if (own(raw, 'checksum') !== undefined) bad("an optimizer state inside a checkpoint has no checksum of its own (the checkpoint's covers it)");
  const class_name = own(raw, 'class_name');
  if (typeof class_name !== 'string') bad('class_name must be a string');
  const module = own(raw, 'module');
  if (module !== undefined && module !== null && typeof module !== 'string') bad('module must be a string or null');
  const registeredName = own(raw, 'registered_name');
  if (registeredName !== undefined && (typeof registeredName !== 'string' || module === undefined)) bad("registered_name must be a string, beside a 'module'");
  const config = own(raw, 'config');
  if (!isRecord(config)) bad('config must be an object');
  const iterations = own(raw, 'iterations');
  if (!isCount(iterations)) bad(`iterations must be a non-negative integer, got ${describeValue(iterations)}`);
  const names = own(raw, 'weight_names');
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string') || names.length < 1) bad('weight_names must be a non-empty array of strings');
  const vars = own(raw, 'variables');
  if (!Array.isArray(vars)) bad('variables must be an array');
  const variables = vars.map((v: unknown, i): SlotVariableInfo => {
    if (!isRecord(v)) bad(`variables[${i}] must be an object`);
    const name = own(v, 'name');
    const size = own(v, 'size');
    const shape = own(v, 'shape');
    if (typeof name !== 'string') bad(`variables[${i}].name must be a string`);
    if (!isCount(size)) bad(`variables[${i}].size must be a non-negative integer`);
    const s = shape === null ? null : parseShape(shape, `variables[${i}].shape`);
    if (s && s.reduce((a, b) => a * b, 1) !== size) bad(`variables[${i}]: shape [${s.join(', ')}] does not have ${size} elements`);
    return { name, shape: s, size };
  });
  const batches = own(raw, 'slot_batches');
  // (0: a custom optimizer's createSlots made only optimizer-wide weights in that step.)
  if (!Array.isArray(batches) || !batches.every((b) => isCount(b))) bad('slot_batches must be an array of non-negative integers');
  if ((batches as number[]).reduce((a, b) => a + b, 0) !== variables.length) bad(`slot_batches must add up to the ${variables.length} variables`);
  const ws = own(raw, 'weights');
  if (!Array.isArray(ws)) bad('weights must be an array');
  if (ws.length + 1 !== names.length) bad(`${ws.length} weights for ${names.length} weight names (iterations has no entry in weights)`);
  const weights = ws.map((w: unknown, i) => decodeFloats(w, `weights[${i}]`));
  const skip = own(raw, 'skip_non_finite');
  if (skip !== undefined && typeof skip !== 'boolean') bad('skip_non_finite must be a boolean');
  const slotDtype = own(raw, 'slot_dtype');
  if (slotDtype !== undefined && slotDtype !== 'bfloat16' && slotDtype !== 'int8') bad(`slot_dtype must be 'bfloat16' or 'int8', got ${describeValue(slotDtype)}`);
  const rawSlots = parseRawSlots(own(raw, 'raw_slots'), slotDtype, names.length, bad);
  return {
    class_name,
    module: module as string | null | undefined,
    registeredName: (registeredName as string | undefined) ?? null,
    config: config as Record<string, unknown>,
    iterations,
    weight_names: names as string[],
    variables,
    slot_batches: batches as number[],
    weights,
    skip_non_finite: skip ?? false,
    slot_dtype: slotDtype,
    raw_slots: rawSlots,
  };
}

function parseCheckpoint(raw: Record<string, unknown>, version: number): { optimizer: ParsedState; variables: Array<{ name: string; shape: number[]; values: Float32Array }> } {
  if (own(raw, 'format') !== CHECKPOINT_FORMAT) bad(`format must be '${CHECKPOINT_FORMAT}', got ${describeValue(own(raw, 'format'))}`);
  const optimizer = parseState(own(raw, 'optimizer'), version);
  const vars = own(raw, 'variables');
  if (!Array.isArray(vars)) bad('checkpoint variables must be an array');
  const variables = vars.map((v: unknown, i) => {
    if (!isRecord(v)) bad(`checkpoint variables[${i}] must be an object`);
    const name = own(v, 'name');
    if (typeof name !== 'string') bad(`checkpoint variables[${i}].name must be a string`);
    const shape = parseShape(own(v, 'shape'), `checkpoint variables[${i}].shape`);
    const values = decodeFloats(own(v, 'values'), `checkpoint variables[${i}].values`);
    if (shape.reduce((a, b) => a * b, 1) !== values.length) bad(`checkpoint variable '${name}': ${values.length} values for shape [${shape.join(', ')}]`);
    return { name, shape, values };
  });
  return { optimizer, variables };
}

/** Only JSON-exact values: finite numbers, strings, booleans, null, arrays and plain objects
 * (whose undefined properties are dropped). */
function checkSavable(x: unknown, path: string): void {
  if (typeof x === 'number') {
    if (!Number.isFinite(x)) throw new ArgumentError('InvalidArgument', `cannot save ${path} = ${x}: JSON has no exact form for it`);
  } else if (Array.isArray(x)) {
    x.forEach((v, i) => checkSavable(v, `${path}[${i}]`));
  } else if (isRecord(x)) {
    // (An undefined property is left out, as JSON leaves it out.)
    for (const k of Object.keys(x)) if (x[k] !== undefined) checkSavable(x[k], `${path}.${k}`);
  } else if (x !== null && typeof x !== 'string' && typeof x !== 'boolean') {
    throw new ArgumentError('InvalidArgument', `cannot save ${path}: ${describeValue(x)}`);
  }
}

// ---- float32 <-> base64 ----------------------------------------------------------------------

function decodeFloats(x: unknown, what: string): Float32Array {
  const b = decodeBytes(x);
  if (b === undefined) bad(`${what} must be a base64 string`);
  if (b.length % 4 !== 0) bad(`${what} holds ${b.length} bytes, not a whole number of float32 values`);
  return bytesFloats(b);
}

// ---- binary form -------------------------------------------------------------------------------
// MAGIC, u32 version, u32 header length, the JSON header (UTF-8), zero padding to a multiple of
// 4 bytes, the float32 payload (little-endian), then (version 2) the u32 CRC32C of every byte
// before it. In the header every base64 array is replaced by [offset, length] in float32
// elements from the start of the payload; the arrays cover the payload exactly.

const PREFIX = MAGIC.length + 8;
const TRAILER = 4;

/** The binary form of an optimizer state or a checkpoint (smaller and faster than JSON). The
 * JSON form's checksum is checked first (a damaged one is refused, not re-sealed); a version 1
 * one is written as version 2. */
export function encodeCheckpoint(x: OptimizerState | Checkpoint): Uint8Array {
  const { snapshot } = verified(x);
  snapshot.version = VERSION;
  const inner = own(snapshot, 'optimizer');
  if (isRecord(inner)) inner.version = VERSION;
  const arrays: Uint8Array[] = [];
  let offset = 0;
  const take = (b64: string, what: string): [number, number] => {
    const f = decodeFloats(b64, what);
    arrays.push(floatBytes(f));
    offset += f.length;
    return [offset - f.length, f.length];
  };
  const header = replaceArrays(snapshot, take);
  const json = new TextEncoder().encode(JSON.stringify(header));
  const start = align4(PREFIX + json.length);
  const end = start + offset * 4;
  const out = new Uint8Array(end + TRAILER);
  out.set(MAGIC, 0);
  const dv = new DataView(out.buffer);
  dv.setUint32(MAGIC.length, VERSION, true);
  dv.setUint32(MAGIC.length + 4, json.length, true);
  out.set(json, PREFIX);
  let at = start;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  dv.setUint32(end, crc32c(out.subarray(0, end)), true);
  return out;
}

/** The JSON form (`OptimizerState` or `Checkpoint`) of bytes from `encodeCheckpoint`, with its
 * checksum (none for version 1 bytes, as they had none). The bytes' checksum is checked first. */
export function decodeCheckpoint(bytes: Uint8Array): OptimizerState | Checkpoint {
  const { snapshot, version } = readBinary(bytes);
  return (version === VERSION ? seal(snapshot) : snapshot) as unknown as OptimizerState | Checkpoint;
}

/** The JSON form of checkpoint bytes, without checksum, after checking it (version 2). */
function readBinary(input: Uint8Array): { snapshot: Record<string, unknown>; version: number } {
  const bytes = ownCopy(input);
  if (bytes.length < PREFIX || MAGIC.some((m, i) => bytes[i] !== m)) bad('not a simdopt checkpoint (wrong magic bytes)');
  const dv = new DataView(bytes.buffer);
  const version = dv.getUint32(MAGIC.length, true);
  if (version !== VERSION && version !== UNCHECKED_VERSION) bad(`unsupported binary version ${version} (this build reads versions ${UNCHECKED_VERSION} and ${VERSION})`);
  let end = bytes.length;
  if (version === VERSION) {
    if (end < PREFIX + TRAILER) bad('truncated: no room for the checksum');
    end -= TRAILER;
    const saved = dv.getUint32(end, true);
    const actual = crc32c(bytes.subarray(0, end));
    if (saved !== actual) bad(`checksum mismatch: saved crc32c:${hex(saved)}, computed crc32c:${hex(actual)}: the checkpoint is damaged`);
  }
  const len = dv.getUint32(MAGIC.length + 4, true);
  if (PREFIX + len > end) bad('truncated header');
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(PREFIX, PREFIX + len)));
  } catch {
    bad('the header is not valid UTF-8 JSON');
  }
  if (!isRecord(header)) bad(`expected a state or checkpoint header, got ${describeValue(header)}`);
  if (own(header, 'version') !== version) bad(`the header says version ${String(own(header, 'version'))}, the bytes ${version}`);
  const start = align4(PREFIX + len);
  const payload = end - start;
  if (payload < 0 || payload % 4 !== 0) bad('truncated payload');
  let covered = 0;
  const put = (ref: unknown, what: string): string => {
    if (!Array.isArray(ref) || ref.length !== 2 || !isCount(ref[0]) || !isCount(ref[1]) || (ref[0] + ref[1]) * 4 > payload)
      bad(`${what} must be [offset, length] inside the payload`);
    covered += ref[1];
    return encodeFloats(bytesFloats(bytes.subarray(start + ref[0] * 4, start + (ref[0] + ref[1]) * 4)));
  };
  const snapshot = replaceArrays(header, put) as Record<string, unknown>;
  // (The arrays are written one after the other: bytes they do not account for are damage.)
  if (covered * 4 !== payload) bad(`the arrays hold ${covered * 4} bytes of a ${payload}-byte payload`);
  if (own(snapshot, 'checksum') !== undefined) bad('the header has a checksum field (the bytes carry their own)');
  return { snapshot, version };
}

/** A private copy of the bytes, read through the intrinsic accessors (a subclass's getters are
 * not asked, and later changes to the caller's buffer change nothing). */
function ownCopy(bytes: Uint8Array): Uint8Array {
  if (typedArrayKind(bytes) !== 'Uint8Array') throw new ArgumentError('InvalidArgument', `expected a Uint8Array, got ${describeValue(bytes)}`);
  if (typedArrayLength(bytes) === 0 && isDetached(bytes)) throw new ArgumentError('InvalidArgument', 'the checkpoint bytes are a Uint8Array whose ArrayBuffer is detached');
  // (Copied from the internal slots: a resizable or shared buffer cannot change under the parser.)
  return new Uint8Array(bytes);
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/** Copies a state or checkpoint, replacing its float arrays (weights, variable values) by `f`. */
function replaceArrays<A, B>(x: unknown, f: (a: A, what: string) => B): unknown {
  if (!isRecord(x)) bad(`expected a state or checkpoint object, got ${describeValue(x)}`);
  const format = own(x, 'format');
  const state = (s: unknown, path: string): unknown => {
    if (!isRecord(s)) bad(`${path} must be an object`);
    const ws = own(s, 'weights');
    if (!Array.isArray(ws)) bad(`${path}.weights must be an array`);
    return { ...copyOwn(s), weights: ws.map((w, i) => f(w as A, `${path}.weights[${i}]`)) };
  };
  if (format === STATE_FORMAT) return state(x, 'state');
  if (format === CHECKPOINT_FORMAT) {
    const vars = own(x, 'variables');
    if (!Array.isArray(vars)) bad('checkpoint variables must be an array');
    return {
      ...copyOwn(x),
      optimizer: state(own(x, 'optimizer'), 'optimizer'),
      variables: vars.map((v, i) => {
        if (!isRecord(v)) bad(`checkpoint variables[${i}] must be an object`);
        return { ...copyOwn(v), values: f(own(v, 'values') as A, `variables[${i}].values`) };
      }),
    };
  }
  return bad(`format must be '${STATE_FORMAT}' or '${CHECKPOINT_FORMAT}', got ${describeValue(format)}`);
}

/** Own enumerable properties into a fresh object (no `__proto__` setter involved). */
function copyOwn(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) Object.defineProperty(out, k, { value: o[k], enumerable: true, writable: true, configurable: true });
  return out;
}
