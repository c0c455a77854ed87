// Replica module of the distribute tests: linear regression y ≈ X·w + b with the squared error,
// reduced over the GLOBAL batch: loss = Σ_shard (x·w + b − y)² / globalBatchSize.
// Shard: { x: Float32Array (rows × features), y: Float32Array (rows), globalBatchSize, mode? }.
// mode 'allreduce-sum': the replica all-reduces its gradients itself (user aggregation);
// mode 'allreduce-mean': its gradients are a per-replica mean, all-reduced with 'mean'.

/** Loss and gradients of one shard (f64 accumulation, f32 results). */
export function lossAndGrads(shard, w, b, divisor) {
  const { x, y } = shard;
  const features = w.length;
  const gw = new Float64Array(features);
  let gb = 0;
  let loss = 0;
  for (let i = 0; i < y.length; i++) {
    let pred = b[0];
    for (let j = 0; j < features; j++) pred += x[i * features + j] * w[j];
    const e = pred - y[i];
    loss += e * e;
    for (let j = 0; j < features; j++) gw[j] += 2 * e * x[i * features + j];
    gb += 2 * e;
  }
  return {
    loss: loss / divisor,
    grads: [Float32Array.from(gw, (g) => g / divisor), Float32Array.of(gb / divisor)],
  };
}

export async function step(ctx, shard, [w, b]) {
  const mode = shard.mode ?? 'strategy';
  const divisor = mode === 'allreduce-mean' ? shard.y.length : shard.globalBatchSize;
  const out = lossAndGrads(shard, w, b, divisor);
  if (mode === 'allreduce-sum') out.grads = await ctx.allReduce('sum', out.grads);
  if (mode === 'allreduce-mean') out.grads = await ctx.allReduce('mean', out.grads);
  // What this replica computed with: the tests check every replica saw the main thread's values.
  out.aux = { replicaId: ctx.replicaId, numReplicasInSync: ctx.numReplicasInSync, step: ctx.step, data: ctx.data, w: Array.from(w), b: Array.from(b) };
  return out;
}
