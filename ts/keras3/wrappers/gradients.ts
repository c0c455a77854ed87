// The gradients a wrapper (LossScaleOptimizer, MultiOptimizer) receives, read once into copies it
// owns: the wrapper inspects them (finiteness, routing) and checks them against their variables
// before any optimizer changes, then hands the copies on; user objects are not read again.
import { ArgumentError, IndexError, ShapeError, StateError } from '../../errors.js';
import { IndexedSlices, Tensor, WasmTensor } from '../../tensor.js';
import type { Variable } from '../../tensor.js';
import type { Gradient } from '../../optimizer/types.js';
import { readList } from '../../optimizer/step.js';
import { describeValue, isNumeric, rowSize } from '../../values.js';

/** A gradient copy: dense values, IndexedSlices, or null (Python's None). */
export type OwnGradient = Float32Array | IndexedSlices | null;

/** One `[gradient, variable]` pair, read. */
export interface ReadPair {
  gradient: OwnGradient;
  variable: Variable;
}

/** Reads `[gradient, variable]` pairs once: the list, each pair, each gradient's values. A
 * gradient whose size does not fit its variable is a ShapeError (nothing has changed yet). */
export function readGradientPairs(gradsAndVars: Iterable<readonly [Gradient, Variable]>, who: string): ReadPair[] {
  const list = readList(gradsAndVars as Iterable<unknown>, `${who}: applyGradients expects an iterable of [gradient, variable] pairs`);
  return list.map((pair, i) => {
    if (!Array.isArray(pair)) throw new ArgumentError('InvalidArgument', `${who}: applyGradients expects [gradient, variable] pairs; entry ${i} is ${describeValue(pair)}`);
    const length: unknown = pair.length;
    if (length !== 2) throw new ArgumentError('InvalidArgument', `${who}: applyGradients expects [gradient, variable] pairs; entry ${i} is an array of length ${String(length)}`);
    const g: unknown = pair[0];
    const v: unknown = pair[1];
    if (!(v instanceof Tensor)) throw new ArgumentError('InvalidArgument', `${who}: entry ${i}: the variable is ${describeValue(v)}, not a Variable`);
    if (v.isDisposed) throw new StateError('Disposed', `variable '${v.name}' has been disposed`);
    const variable = v as Variable;
    return { gradient: copyGradient(g, variable, i, who), variable };
  });
}

function copyGradient(g: unknown, v: Variable, i: number, who: string): OwnGradient {
  if (g === null || g === undefined) return null;
  if (g instanceof IndexedSlices) {
    const held: unknown = g.values;
    const values = held instanceof Tensor ? held.read() : Float32Array.from(g.values as Float32Array);
    const indices = Int32Array.from(g.indices);
    const slices = new IndexedSlices(values, indices, g.denseShape);
    if (v.shape.length === 0) throw new ShapeError('SparseScalar', `${who}: entry ${i}: IndexedSlices for the scalar variable '${v.name}'`);
    for (const k of indices) {
      if (k < 0 || k >= v.shape[0]) throw new IndexError('IndexOutOfRange', `${who}: entry ${i}: index ${k} is out of range for variable '${v.name}' of ${v.shape[0]} rows`);
    }
    const row = rowSize(v.shape);
    if (values.length !== indices.length * row) {
      throw new ShapeError('GradientShape', `${who}: entry ${i}: IndexedSlices of ${indices.length} rows has ${values.length} values, variable '${v.name}' has rows of ${row}`);
    }
    return slices;
  }
  const dense = g instanceof WasmTensor ? g.read() : readNumbers(g);
  if (dense === null) {
    throw new ArgumentError('InvalidArgument', `${who}: entry ${i}: the gradient is ${describeValue(g)}, not a Float32Array, array of numbers, Tensor or IndexedSlices`);
  }
  if (dense.length !== v.size) {
    throw new ShapeError('GradientShape', `${who}: entry ${i}: gradient of ${dense.length} values for variable '${v.name}' of shape [${v.shape.join(', ')}]`);
  }
  return dense;
}

/** A numeric typed array or an array of numbers as a Float32Array copy, each element read once;
 * null for anything else. */
function readNumbers(g: unknown): Float32Array | null {
  if (ArrayBuffer.isView(g)) return isNumeric(g) ? Float32Array.from(g) : null;
  if (!Array.isArray(g)) return null;
  const n = g.length;
  const out = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    const x: unknown = g[k];
    if (typeof x !== 'number') return null;
    out[k] = x;
  }
  return out;
}

/** Positions of the gradients holding NaN or ±Infinity (Keras' `check_finite`, null skipped). */
export function nonFiniteIndices(pairs: readonly ReadPair[]): number[] {
  const out: number[] = [];
  pairs.forEach(({ gradient }, i) => {
    const values = gradient instanceof IndexedSlices ? gradient.values : gradient;
    if (values !== null && !values.every(Number.isFinite)) out.push(i);
  });
  return out;
}

/** The pairs as `applyGradients` takes them. */
export function asPairs(pairs: readonly ReadPair[]): Array<[Gradient, Variable]> {
  return pairs.map((p) => [p.gradient, p.variable]);
}
