// Tensors whose values live in WASM linear memory, owned by the core. JavaScript reads and
// writes them through typed-array views that are re-derived on every access, so a view taken
// from `.value` is valid until the next call that may grow WASM memory (use `read()` for a copy).
import { call, core, viewFloat32 } from './wasm/loader.js';
import { ArgumentError, ShapeError, StateError } from './errors.js';
import { describeValue, isDetached, isNumeric, readNumbers, typedArrayKind, typedArrayLength } from './values.js';

/** The dimensions of a tensor, outermost first (`[]` for a scalar). */
export type Shape = readonly number[];

/** What a tensor can be filled from: a typed array, a plain array or a single number. */
export type TensorValues = Float32Array | ArrayLike<number> | number;

/** Largest element count of a tensor: 2^29 - 1 f32 values (just under 2 GiB, the most a
 * wasm32 allocation can hold). */
export const MAX_ELEMENTS = 2 ** 29 - 1;

export function sizeOf(shape: Shape): number {
  if (!Array.isArray(shape)) throw new ShapeError('ShapeMismatch', `a shape must be an array of dimensions, got ${describeValue(shape)}`);
  let n = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0 || d > 0xffffffff) {
      throw new ShapeError('ShapeMismatch', `invalid shape [${shape.map(String).join(', ')}]: dimensions must be non-negative integers`);
    }
    n *= d;
  }
  if (n > MAX_ELEMENTS) throw new ShapeError('ShapeMismatch', `shape [${shape.join(', ')}] has ${n} elements; at most ${MAX_ELEMENTS} fit in WASM memory`);
  return n;
}

/** Anything with f32 values in WASM memory and a shape. */
export abstract class WasmTensor {
  /** The dimensions (frozen). */
  readonly shape: Shape;
  /** The number of elements, the product of the dimensions. */
  readonly size: number;
  /** The name given at creation; Keras' weight names derive from it. */
  readonly name: string;

  protected constructor(shape: Shape, name: string) {
    this.size = sizeOf(shape);
    this.shape = Object.freeze([...shape]);
    this.name = name;
  }

  /** Byte offset of the values in WASM memory (throws if disposed). */
  protected abstract pointer(): number;

  /** A live view of the values (re-derived on each access). Keep it only briefly: when WASM
   * memory grows, an older view is detached (empty) on the single-threaded builds; on the
   * threads build (shared memory) it stays attached and live. */
  get value(): Float32Array {
    return viewFloat32(this.pointer(), this.size);
  }

  /** Writes new values (a copy into WASM memory). */
  set value(values: TensorValues) {
    this.assign(values);
  }

  /** A copy of the values. */
  read(): Float32Array {
    return this.value.slice();
  }

  /** Writes new values; the length must match. The values are read once (an array's length
   * and elements, a typed array's length from its internal slot) before anything is written. */
  assign(values: TensorValues): this {
    if (typeof values === 'number') {
      this.value.fill(values);
      return this;
    }
    const what = `values for '${this.name}'`;
    if (typedArrayKind(values) === undefined && !isArrayLikeObject(values)) {
      throw new ArgumentError('InvalidArgument', `${what} must be a Float32Array, an array of numbers or a number; got ${describeValue(values)}`);
    }
    const { array, length } = readNumbers(values, what);
    if (length !== this.size) {
      throw new ShapeError('ShapeMismatch', `'${this.name}' has shape [${this.shape.join(', ')}] (${this.size} values), got ${length} values`);
    }
    // (No user code has run since the read: the length still holds.)
    if (length !== 0) this.value.set(array as Float32Array);
    return this;
  }
}

/** Options of a {@link Tensor}. */
export interface TensorOptions {
  /**
   * The dimensions; the values must have as many elements.
   * @default `[values.length]`, or `[]` for a single number
   */
  shape?: Shape;
  /**
   * A name for error messages and weight names.
   * @default `'Tensor'` for a Tensor, `'Variable'` for a Variable
   */
  name?: string;
}

/**
 * An f32 tensor held in WASM memory. Passing one as a gradient costs no copy: write the
 * gradient into `tensor.value` and hand the tensor to `applyGradients`.
 */
export class Tensor extends WasmTensor {
  /** @internal slab index and generation of the core handle */
  readonly handleIndex: number;
  /** @internal */
  readonly handleGeneration: number;
  private disposed = false;

  constructor(values: TensorValues, options: TensorOptions = {}) {
    checkOptions(options);
    const shape = options.shape ?? (typeof values === 'number' ? [] : isNumeric(values) ? [values.length] : invalidValues(values));
    super(shape, options.name ?? 'Tensor');
    const c = core();
    this.handleIndex = call(() => c.tensor_create(this.name, new Uint32Array(shape)));
    this.handleGeneration = c.tensor_generation(this.handleIndex);
    try {
      this.assign(values);
    } catch (e) {
      c.tensor_dispose(this.handleIndex, this.handleGeneration);
      throw e;
    }
  }

  /** A zero-filled tensor. */
  static zeros(shape: Shape, name?: string): Tensor {
    return new Tensor(0, { shape, name });
  }

  protected pointer(): number {
    if (this.disposed) throw new StateError('Disposed', `'${this.name}' has been disposed`);
    return call(() => core().tensor_ptr(this.handleIndex, this.handleGeneration));
  }

  /** Whether `dispose()` has been called. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Frees the WASM memory. Later use throws. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    core().tensor_dispose(this.handleIndex, this.handleGeneration);
  }
}

/** A constraint applied to a variable's values after each dense update (Keras' `constraint`). */
export type Constraint = (value: Float32Array) => Float32Array | void;

/** Options of a {@link Variable}. */
export interface VariableOptions extends TensorOptions {
  /**
   * Keras' `trainable`: informational (every variable given to an optimizer is updated).
   * @default true
   */
  trainable?: boolean;
  /** Runs on the variable's values after each dense update (Keras' `constraint`). */
  constraint?: Constraint;
}

/** A named, trainable f32 tensor (Keras' `tf.Variable`). */
export class Variable extends Tensor {
  /** See {@link VariableOptions.trainable}. */
  readonly trainable: boolean;
  /** See {@link VariableOptions.constraint}. */
  readonly constraint?: Constraint;

  constructor(values: TensorValues, options: VariableOptions = {}) {
    checkOptions(options);
    if (options.constraint !== undefined && typeof options.constraint !== 'function') {
      throw new ArgumentError('InvalidArgument', `a constraint must be a function, got ${describeValue(options.constraint)}`);
    }
    if (options.trainable !== undefined && typeof options.trainable !== 'boolean') {
      throw new ArgumentError('InvalidArgument', `\`trainable\` must be a boolean, got ${describeValue(options.trainable)}`);
    }
    super(values, { ...options, name: options.name ?? 'Variable' });
    this.trainable = options.trainable ?? true;
    this.constraint = options.constraint;
  }
}

/**
 * A sparse gradient: rows `indices` of a variable (Keras' `tf.IndexedSlices`). `values` holds
 * `indices.length` rows of the variable's row size, row-major. Repeated indices add up.
 *
 * The fast route for embeddings: `values` a {@link Tensor} (its values already in WASM memory,
 * e.g. written through `tensor.value` each step). `applyGradients` then reads the rows where they
 * are; a Float32Array of rows is copied into WASM memory on every step (1 MiB for 4,096 rows of
 * 64). The tensor is read, never changed, and is not kept: it must not be the variable updated.
 */
export class IndexedSlices<V extends Float32Array | Tensor = Float32Array> {
  /** The rows, one after the other (`indices.length` rows of the variable's row size): a
   * Float32Array, or a Tensor whose values are the rows. */
  readonly values: V;
  /** The row of the variable each row of `values` is added to; repeats are summed. */
  readonly indices: Int32Array;
  /** The variable's shape, if given (checked against the variable). */
  readonly denseShape?: Shape;

  /** Rows in a Float32Array (kept as it is) or a Tensor (kept; its values are read at each
   * step, in WASM memory); `indices` read once (kept if an Int32Array, else copied). */
  constructor(values: V, indices: ArrayLike<number>, denseShape?: Shape);
  /** Rows in an array of numbers, read once into a Float32Array; `indices` likewise. */
  constructor(values: ArrayLike<number>, indices: ArrayLike<number>, denseShape?: Shape);
  constructor(values: V | ArrayLike<number>, indices: ArrayLike<number>, denseShape?: Shape) {
    if (values instanceof Tensor) {
      if (values.isDisposed) throw new StateError('Disposed', `IndexedSlices values: '${values.name}' has been disposed`);
      this.values = values as V;
    } else {
      if (typedArrayKind(values) === undefined && !isArrayLikeObject(values)) {
        throw new ArgumentError('InvalidArgument', `IndexedSlices values must be a Float32Array, an array of numbers or a Tensor, got ${describeValue(values)}`);
      }
      const v = readNumbers(values as ArrayLike<number>, 'IndexedSlices values').array;
      this.values = (typedArrayKind(v) === 'Float32Array' ? v : Float32Array.from(v)) as V;
    }
    if (typedArrayKind(indices) === 'Int32Array') {
      const length = typedArrayLength(indices as Int32Array);
      if (length === 0 && isDetached(indices as Int32Array)) throw new ArgumentError('InvalidArgument', 'IndexedSlices indices is an Int32Array whose ArrayBuffer is detached');
      this.indices = indices as Int32Array;
    } else {
      if (typedArrayKind(indices) === undefined && !isArrayLikeObject(indices)) {
        throw new ArgumentError('InvalidArgument', `IndexedSlices indices must be an Int32Array or an array of integers, got ${describeValue(indices)}`);
      }
      // Read as numbers once (a Float32Array of indices reads as doubles, exact below 2^24).
      const { array, length } = readIndexNumbers(indices);
      const out = new Int32Array(length);
      for (let i = 0; i < length; i++) {
        const x = array[i];
        if (!Number.isInteger(x) || x < -2147483648 || x > 2147483647) {
          throw new ArgumentError('InvalidArgument', `IndexedSlices index ${x} at offset ${i} is not a 32-bit integer`);
        }
        out[i] = x;
      }
      this.indices = out;
    }
    this.denseShape = denseShape === undefined ? undefined : denseShapeOf(denseShape);
    if (new.target === IndexedSlices) Object.freeze(this);
  }
}

/** Indices read once as exact numbers (a Float64Array or an array, not rounded to f32). */
function readIndexNumbers(indices: ArrayLike<number>): { array: ArrayLike<number>; length: number } {
  const kind = typedArrayKind(indices);
  if (kind !== undefined) return readNumbers(indices, 'IndexedSlices indices');
  const a = indices as ArrayLike<unknown>;
  const length: unknown = a.length;
  if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0 || length > 2 ** 31) {
    throw new ArgumentError('InvalidArgument', `IndexedSlices indices must be an Int32Array or an array of integers, got ${describeValue(indices)}`);
  }
  const out: number[] = new Array(length);
  for (let i = 0; i < length; i++) {
    const x: unknown = a[i];
    if (typeof x !== 'number')
      throw new ArgumentError('InvalidArgument', `IndexedSlices indices must be an Int32Array or an array of integers; element ${i} is ${describeValue(x)}`);
    out[i] = x;
  }
  return { array: out, length };
}

/** A dense shape of IndexedSlices, copied (read once): checked like a tensor shape, but may be
 * larger than memory. */
function denseShapeOf(shape: Shape): Shape {
  const copy = Array.isArray(shape) ? [...shape] : undefined;
  if (!copy || !copy.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0)) {
    throw new ShapeError('ShapeMismatch', `IndexedSlices denseShape must be an array of non-negative integers, got ${describeValue(shape)}`);
  }
  return Object.freeze(copy);
}

/** An object that may be array-like (its elements are checked when read). */
function isArrayLikeObject(x: unknown): boolean {
  return x !== null && typeof x === 'object' && !(x instanceof String) && !ArrayBuffer.isView(x);
}

function checkOptions(options: unknown): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ArgumentError('InvalidArgument', `options must be an object, got ${describeValue(options)}`);
  }
  const name = (options as TensorOptions).name;
  if (name !== undefined && typeof name !== 'string') throw new ArgumentError('InvalidArgument', `a name must be a string, got ${describeValue(name)}`);
}

function invalidValues(values: unknown): never {
  throw new ArgumentError('InvalidArgument', `values must be a Float32Array, an array of numbers or a number; got ${describeValue(values)}`);
}
