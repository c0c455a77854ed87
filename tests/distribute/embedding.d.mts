// Types of embedding.mjs (a plain ES module: workers import it without a TypeScript step).
export interface Shard {
  ids: Int32Array;
  y: Float32Array;
  globalBatchSize: number;
  mode?: 'sparse' | 'dense' | 'bad-index';
}
export interface Sparse {
  indices: Int32Array;
  values: Float32Array;
}
export const TOKENS: number;
export function lossAndGrads(
  shard: Shard,
  table: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  divisor: number,
): { loss: number; grads: [Sparse, Float32Array, Float32Array] };
export function densify(g: Sparse, size: number, dim: number): Float32Array;
export function step(ctx: unknown, shard: Shard, variables: readonly Float32Array[]): { loss: number; grads: [Sparse | Float32Array, Float32Array, Float32Array] };
