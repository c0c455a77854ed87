// Tensors whose values live in WASM linear memory, owned by the core. JavaScript reads and
// writes them through typed-array views that are re-derived on every access, so a view taken
// from `.value` is valid until the next call that may grow WASM memory (use `read()` for a copy).
import { call, core, viewFloat32 } from './wasm/loader.js';
import { ArgumentError, ShapeError, StateError } from './errors.js';

export type Shape = readonly number[];

/** What a tensor can be filled from: a typed array, a plain array or a single number. */
export type TensorValues = Float32Array | ArrayLike<number> | number;

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError('ShapeMismatch', `invalid shape [${shape.join(', ')}]: dimensions must be non-negative integers`);
    n *= d;
  }
  return n;
}

/** Anything with f32 values in WASM memory and a shape. */
export abstract class WasmTensor {
  readonly shape: Shape;
  readonly size: number;
  readonly name: string;

  protected constructor(shape: Shape, name: string) {
    this.shape = Object.freeze([...shape]);
    this.size = sizeOf(shape);
    this.name = name;
  }

  /** Byte offset of the values in WASM memory (throws if disposed). */
  protected abstract pointer(): number;

  /** A live view of the values (re-derived on each access). */
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

  /** Writes new values; the length must match. */
  assign(values: TensorValues): this {
    if (typeof values === 'number') {
      this.value.fill(values);
      return this;
    }
    if (values == null || typeof (values as ArrayLike<number>).length !== 'number') {
      throw new ArgumentError('InvalidArgument', `values for '${this.name}' must be a Float32Array, an array of numbers or a number`);
    }
    if (values.length !== this.size) {
      throw new ShapeError('ShapeMismatch', `'${this.name}' has shape [${this.shape.join(', ')}] (${this.size} values), got ${values.length} values`);
    }
    this.value.set(values);
    return this;
  }
}

/** Options of a [[Tensor]]. */
export interface TensorOptions {
  shape?: Shape;
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
    const shape = options.shape ?? (typeof values === 'number' ? [] : [(values as ArrayLike<number>).length]);
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

/** Options of a [[Variable]]. */
export interface VariableOptions extends TensorOptions {
  trainable?: boolean;
  constraint?: Constraint;
}

/** A named, trainable f32 tensor (Keras' `tf.Variable`). */
export class Variable extends Tensor {
  readonly trainable: boolean;
  readonly constraint?: Constraint;

  constructor(values: TensorValues, options: VariableOptions = {}) {
    super(values, { ...options, name: options.name ?? 'Variable' });
    this.trainable = options.trainable ?? true;
    this.constraint = options.constraint;
  }
}

/**
 * A sparse gradient: rows `indices` of a variable (Keras' `tf.IndexedSlices`). `values` holds
 * `indices.length` rows of the variable's row size, row-major. Repeated indices add up.
 */
export class IndexedSlices {
  readonly values: Float32Array;
  readonly indices: Int32Array;
  readonly denseShape?: Shape;

  constructor(values: ArrayLike<number>, indices: ArrayLike<number>, denseShape?: Shape) {
    this.values = values instanceof Float32Array ? values : Float32Array.from(values);
    if (!(indices instanceof Int32Array)) {
      for (let i = 0; i < indices.length; i++) {
        const x = indices[i];
        if (!Number.isInteger(x) || x < -2147483648 || x > 2147483647) {
          throw new ArgumentError('InvalidArgument', `IndexedSlices index ${x} at offset ${i} is not a 32-bit integer`);
        }
      }
    }
    this.indices = indices instanceof Int32Array ? indices : Int32Array.from(indices);
    this.denseShape = denseShape ? Object.freeze([...denseShape]) : undefined;
  }
}
