// Checks on values callers pass, and how error messages name them. No dependency on the wasm
// core, so the replicas' side (distribute/replica.ts) uses them too.
import { ArgumentError } from './errors.js';

/** A short description of a value for error messages; never throws, whatever the value. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof v === 'object') return withArticle(constructorName(v as object));
  if (typeof v === 'string') return `string '${v.length > 40 ? v.slice(0, 40) + '...' : v}'`;
  if (typeof v === 'symbol') return 'a symbol';
  if (typeof v === 'function') return 'a function';
  return `${typeof v} ${String(v)}`;
}

function withArticle(noun: string): string {
  return `${/^[aeiou]/i.test(noun) ? 'an' : 'a'} ${noun}`;
}

function constructorName(o: object): string {
  try {
    const c: unknown = Object.getPrototypeOf(o)?.constructor;
    const name: unknown = typeof c === 'function' ? c.name : undefined;
    return typeof name === 'string' && name ? name : 'object';
  } catch {
    return 'object';
  }
}

/** Whether `values` holds only numbers: typed arrays other than the BigInt ones, or array-likes
 * whose every element is a number (checked, so a string or object does not become NaN). */
export function isNumeric(values: unknown): values is ArrayLike<number> {
  if (values instanceof Float32Array) return true;
  if (ArrayBuffer.isView(values)) return !(values instanceof BigInt64Array || values instanceof BigUint64Array || values instanceof DataView);
  if (values === null || typeof values !== 'object' || values instanceof String || typeof (values as ArrayLike<unknown>).length !== 'number') return false;
  const a = values as ArrayLike<unknown>;
  for (let i = 0; i < a.length; i++) if (typeof a[i] !== 'number') return false;
  return true;
}

/** Elements per row of a shape (the product of the dimensions after the first), as the core
 * counts them for sparse gradients. */
export function rowSize(shape: readonly number[]): number {
  let n = 1;
  for (let d = 1; d < shape.length; d++) n *= shape[d];
  return n;
}

// ---- typed arrays, read through their internal slots ------------------------------------------
// A subclass or an own property can redefine `length`, `buffer` or `Symbol.toStringTag` on a
// typed array, and a Proxy passes `instanceof`; the intrinsic getters below read the internal
// slots instead, so no user code runs and a Proxy is not taken for a typed array. They work on
// typed arrays of any realm.

const TYPED_ARRAY_PROTO = Object.getPrototypeOf(Uint8Array.prototype) as object;
const intrinsicGetter = (key: PropertyKey): ((this: unknown) => unknown) => Object.getOwnPropertyDescriptor(TYPED_ARRAY_PROTO, key)!.get!;
const TAG = intrinsicGetter(Symbol.toStringTag);
const LENGTH = intrinsicGetter('length');
const BUFFER = intrinsicGetter('buffer');
const BYTE_OFFSET = intrinsicGetter('byteOffset');

/** The kind of typed array `x` is (`'Float32Array'`, `'Int32Array'`, ...) from its internal slot,
 * or undefined if it is not one (a Proxy of one is not). Never runs user code. */
export function typedArrayKind(x: unknown): string | undefined {
  return TAG.call(x) as string | undefined;
}

/** The length of a typed array from its internal slot: 0 if its buffer is detached or if it is
 * out of bounds of a resizable buffer that shrank. */
export function typedArrayLength(x: ArrayBufferView): number {
  return LENGTH.call(x) as number;
}

/** The byte offset of a typed array, from its internal slot. */
export function typedArrayByteOffset(x: ArrayBufferView): number {
  return BYTE_OFFSET.call(x) as number;
}

/** The buffer and byte offset of a typed array, from its internal slots. */
export function typedArrayBuffer(x: ArrayBufferView): { buffer: ArrayBufferLike; byteOffset: number } {
  return { buffer: BUFFER.call(x) as ArrayBufferLike, byteOffset: BYTE_OFFSET.call(x) as number };
}

/** A new Float32Array over `length` elements of Float32Array `x` from its element `offset` (the
 * same memory, read through the internal slots: no user code runs). */
export function float32Window(x: Float32Array, offset: number, length: number): Float32Array {
  return new Float32Array(BUFFER.call(x) as ArrayBufferLike, (BYTE_OFFSET.call(x) as number) + 4 * offset, length);
}

const ARRAY_BUFFER_BYTE_LENGTH = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength')!.get!;

/** Whether the memory of typed array `x` is an ArrayBuffer other than `except`: not a
 * SharedArrayBuffer (another thread may write it at any time) and not that buffer. */
export function ownsPlainBuffer(x: ArrayBufferView, except: ArrayBufferLike): boolean {
  const buffer = BUFFER.call(x) as ArrayBufferLike;
  if (buffer === except) return false;
  try {
    // The intrinsic getter throws for anything but an ArrayBuffer (a SharedArrayBuffer too).
    ARRAY_BUFFER_BYTE_LENGTH.call(buffer);
    return true;
  } catch {
    return false;
  }
}

/** Whether the buffer of a typed array has been detached (transferred). */
export function isDetached(x: ArrayBufferView): boolean {
  const buffer = BUFFER.call(x) as ArrayBuffer & { detached?: boolean };
  if (typeof buffer.detached === 'boolean') return buffer.detached;
  try {
    new Uint8Array(buffer, 0, 0);
    return false;
  } catch {
    return true;
  }
}

/** Why a typed array that should hold `expected` values holds `length`: detached, out of
 * bounds of its resizable buffer, or another length. */
export function lengthProblem(x: ArrayBufferView, expected: number): string {
  if (isDetached(x)) return 'its ArrayBuffer is detached';
  const length = typedArrayLength(x);
  return `it holds ${length} values where ${expected} were ${length === 0 ? 'read (its resizable buffer shrank)' : 'read'}`;
}

/**
 * The numbers of `values` read once: a typed array of numbers (any kind but the BigInt ones) is
 * returned as it is with its length from its internal slot (refused if detached); any other
 * array-like (an array, a Proxy) is read once, length first, into a new Float32Array. Anything
 * else, or an element that is not a number, is an ArgumentError naming `what`.
 */
export function readNumbers(values: unknown, what: string): { array: ArrayLike<number>; length: number } {
  const kind = typedArrayKind(values);
  if (kind !== undefined) {
    if (kind === 'BigInt64Array' || kind === 'BigUint64Array') throw new ArgumentError('InvalidArgument', `${what} must hold numbers, got a ${kind}`);
    const view = values as Float32Array;
    const length = typedArrayLength(view);
    if (length === 0 && isDetached(view)) throw new ArgumentError('InvalidArgument', `${what} is a ${kind} whose ArrayBuffer is detached`);
    return { array: view, length };
  }
  if (values === null || typeof values !== 'object' || values instanceof String || ArrayBuffer.isView(values)) {
    throw new ArgumentError('InvalidArgument', `${what} must be a Float32Array or an array of numbers, got ${describeValue(values)}`);
  }
  const a = values as ArrayLike<unknown>;
  const length: unknown = a.length;
  if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) {
    throw new ArgumentError('InvalidArgument', `${what} must be a Float32Array or an array of numbers, got ${describeValue(values)}`);
  }
  let out: Float32Array;
  try {
    out = new Float32Array(length);
  } catch {
    throw new ArgumentError('InvalidArgument', `${what} claims a length of ${length}, more than memory holds`);
  }
  for (let i = 0; i < length; i++) {
    const x: unknown = a[i];
    if (typeof x !== 'number') throw new ArgumentError('InvalidArgument', `${what} must be a Float32Array or an array of numbers; element ${i} is ${describeValue(x)}`);
    out[i] = x;
  }
  return { array: out, length };
}

/** An array (or a Proxy of one) read once: its length once, then each index once, into a new
 * array; undefined if `x` is not an array or its length is not a valid array length. Never
 * iterates (no user iterator runs) and never reads an element twice. */
export function readArray(x: unknown): unknown[] | undefined {
  if (!Array.isArray(x)) return undefined;
  const n: unknown = x.length;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || n > 0xffffffff) return undefined;
  const out: unknown[] = new Array<unknown>(n);
  for (let i = 0; i < n; i++) out[i] = (x as unknown[])[i];
  return out;
}
