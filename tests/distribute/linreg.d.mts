// Types of linreg.mjs (a plain ES module: workers import it without a TypeScript step).
export interface Shard {
  x: Float32Array;
  y: Float32Array;
  globalBatchSize: number;
  mode?: 'strategy' | 'allreduce-sum' | 'allreduce-mean';
}
export interface Aux {
  replicaId: number;
  numReplicasInSync: number;
  step: number;
  data: unknown;
  w: number[];
  b: number[];
}
export function lossAndGrads(shard: Shard, w: ArrayLike<number>, b: ArrayLike<number>, divisor: number): { loss: number; grads: [Float32Array, Float32Array] };
export function step(ctx: unknown, shard: Shard, variables: readonly Float32Array[]): Promise<{ loss: number; grads: Float32Array[]; aux: Aux }>;
