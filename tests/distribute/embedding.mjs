// Replica module of the sparse-gradient tests: a bag-of-embeddings regression. Each example has
// TOKENS token ids; h = Σ emb[id] (a row of the [vocab, dim] table), pred = h·w + b, and the
// loss is the squared error over the GLOBAL batch. The gradient of the table is sparse: one row
// per lookup (repeats included), in example order, as Keras' IndexedSlices.
// Shard: { ids: Int32Array (rows × TOKENS), y: Float32Array (rows), globalBatchSize, mode? }.
// mode 'dense': this replica returns the table's gradient dense; 'bad-index': a row out of range.
export const TOKENS = 3;

/** Loss and gradients [table (sparse), w, b] of one shard (f64 accumulation, f32 results). */
export function lossAndGrads(shard, table, w, b, divisor) {
  const { ids, y } = shard;
  const dim = w.length;
  const gw = new Float64Array(dim);
  let gb = 0;
  let loss = 0;
  const rows = new Float32Array(ids.length * dim);
  for (let i = 0; i < y.length; i++) {
    const h = new Float64Array(dim);
    for (let k = 0; k < TOKENS; k++) for (let j = 0; j < dim; j++) h[j] += table[ids[i * TOKENS + k] * dim + j];
    let pred = b[0];
    for (let j = 0; j < dim; j++) pred += h[j] * w[j];
    const e = pred - y[i];
    loss += e * e;
    for (let j = 0; j < dim; j++) gw[j] += 2 * e * h[j];
    gb += 2 * e;
    for (let k = 0; k < TOKENS; k++) for (let j = 0; j < dim; j++) rows[(i * TOKENS + k) * dim + j] = (2 * e * w[j]) / divisor;
  }
  return {
    loss: loss / divisor,
    grads: [{ indices: Int32Array.from(ids), values: rows }, Float32Array.from(gw, (g) => g / divisor), Float32Array.of(gb / divisor)],
  };
}

/** The sparse gradient made dense (rows added in order, in f32). */
export function densify(g, size, dim) {
  const out = new Float32Array(size);
  g.indices.forEach((r, k) => {
    for (let j = 0; j < dim; j++) out[r * dim + j] = Math.fround(out[r * dim + j] + g.values[k * dim + j]);
  });
  return out;
}

export function step(ctx, shard, [table, w, b]) {
  const out = lossAndGrads(shard, table, w, b, shard.globalBatchSize);
  if (shard.mode === 'dense') out.grads[0] = densify(out.grads[0], table.length, w.length);
  if (shard.mode === 'bad-index') out.grads[0].indices[1] = 99;
  return out;
}
