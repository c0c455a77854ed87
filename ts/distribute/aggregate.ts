// How the replicas' gradients become one step: dense gradients summed in the wasm core (fixed
// replica order), sparse ones concatenated, across hosts all-reduced or all-gathered, or all of
// it replaced by the user's aggregator; then one `applyGradients` call on the optimizer.
import { Optimizer } from '../optimizer/index.js';
import { IndexedSlices, Tensor, Variable } from '../tensor.js';
import { call, core, heapFloat32 } from '../wasm/loader.js';
import { ArgumentError } from '../errors.js';
import { SparseGradient, WireGradient, isF32, local, readWireGradient, unchanged } from './protocol.js';
import { describeValue, readArray, rowSize, typedArrayLength } from '../values.js';
import type { ResultMsg } from './state.js';
import type { CrossHostOptions, ReplicaGradient, ReplicaGradientAggregator } from './strategy-options.js';

/** Aggregates the replicas' gradients of a strategy's variables and applies them. */
export class ReplicaAggregation {
  /** The summed dense gradients, one tensor per variable (given to the optimizer as is). */
  private readonly sums: Tensor[];
  private readonly sumHandles: Uint32Array;

  constructor(
    private readonly optimizer: Optimizer,
    private readonly variables: readonly Variable[],
    /** The replica ids of this host, in local order (for messages). */
    private readonly replicaIds: readonly number[],
    private readonly numReplicasInSync: number,
    private readonly aggregator: ReplicaGradientAggregator | undefined,
    private readonly crossHost: CrossHostOptions | undefined,
  ) {
    this.sums = [];
    try {
      for (const v of variables) this.sums.push(Tensor.zeros(v.shape, `${v.name}/replica_sum`));
    } catch (e) {
      for (const t of this.sums) t.dispose();
      throw e;
    }
    this.sumHandles = Uint32Array.from(this.sums.flatMap((t) => [t.handleIndex, t.handleGeneration]));
  }

  dispose(): void {
    for (const t of this.sums) t.dispose();
  }

  /** Aggregates and applies; false if the optimizer skipped the step (non-finite gradients). */
  async apply(results: ResultMsg[], aggregate: boolean): Promise<boolean> {
    const vars = this.variables;
    if (!aggregate) {
      if (this.numReplicasInSync > 1) {
        const lazy = results.findIndex((m) => m.allReduces === 0);
        if (lazy >= 0) {
          throw new ArgumentError(
            'InvalidArgument',
            `experimentalAggregateGradients is false but replica ${this.replicaIds[lazy]} called no ctx.allReduce: its gradients are not aggregated`,
          );
        }
      }
      const g = results[0].grads!;
      return applied(
        this.optimizer.applyGradients(
          vars.map((v, i) => [gradient(g[i], v), v] as const),
          { experimentalAggregateGradients: false },
        ),
      );
    }

    const present = vars.map((_, i) => results[0].grads![i] !== null);
    for (const [r, m] of results.entries()) {
      for (let i = 0; i < vars.length; i++) {
        if ((m.grads![i] !== null) !== present[i]) {
          throw new ArgumentError(
            'InvalidArgument',
            `replica ${this.replicaIds[r]} ${present[i] ? 'returned no gradient' : 'returned a gradient'} for '${vars[i].name}' but replica ${this.replicaIds[0]} did${present[i] ? '' : ' not'}`,
          );
        }
      }
    }
    const idx = present.flatMap((p, i) => (p ? [i] : []));
    // Sparse where every replica's gradient is; where only some are, those are made dense, as
    // TF does when it aggregates IndexedSlices with dense tensors.
    const sparse = vars.map(() => false);
    for (const i of idx) {
      const kinds = results.map((m) => !(m.grads![i] instanceof Float32Array));
      sparse[i] = kinds.every(Boolean);
      if (!sparse[i]) for (const m of results) m.grads![i] = dense(m.grads![i]!, vars[i]);
    }

    const aggregator = this.aggregator;
    if (aggregator) {
      const out = await aggregator(results.map((m) => idx.map((i) => gradient(m.grads![i], vars[i])!)));
      return this.applyAggregated(this.checkAggregated(out, idx, 'the gradient aggregator'), idx);
    }
    const denseIdx = idx.filter((i) => !sparse[i]);
    const sparseIdx = idx.filter((i) => sparse[i]);
    const host = this.crossHost;
    if (host && sparseIdx.length > 0 && !host.allGather) {
      throw new ArgumentError(
        'InvalidArgument',
        `the replicas' gradients of '${vars[sparseIdx[0]].name}' are sparse: crossHost needs \`allGather\` to exchange them (its allReduce sums dense arrays)`,
      );
    }

    this.sumDense(results, denseIdx);
    // Sparse gradients: the replicas' rows one after the other (Keras concatenates
    // IndexedSlices; the optimizer sums repeated rows, in this order).
    const grads: (ReplicaGradient | Tensor | null)[] = vars.map((v, i) =>
      !present[i]
        ? null
        : sparse[i]
          ? concatenated(
              results.map((m) => m.grads![i] as SparseGradient),
              v,
            )
          : this.sums[i],
    );
    // Across hosts: dense sums all-reduced, sparse rows all-gathered (then concatenated in host order).
    if (host && denseIdx.length > 0) {
      const global = this.checkAggregated(
        await host.allReduce(
          denseIdx.map((i) => this.sums[i].read()),
          'sum',
        ),
        denseIdx,
        'crossHost.allReduce',
      );
      denseIdx.forEach((i, k) => (grads[i] = global[k]));
    }
    if (host && sparseIdx.length > 0) {
      const mine = sparseIdx.map((i) => grads[i] as IndexedSlices);
      const all: unknown = await host.allGather!(mine.map((g) => ({ indices: g.indices, values: g.values })));
      sparseIdx.forEach((i, k) => (grads[i] = concatenated(gathered(all, k, sparseIdx.length, vars[i]), vars[i])));
    }
    return applied(this.optimizer.applyGradients(vars.map((v, i) => [grads[i], v] as const)));
  }

  /** The dense gradients of variables `idx`: the sum over replicas (in replica order) in the
   * wasm core, straight into the gradient tensors `this.sums`. */
  private sumDense(results: ResultMsg[], idx: number[]): void {
    if (idx.length === 0) return;
    const vars = this.variables;
    const n = results.length;
    let total = 0;
    for (const i of idx) total += vars[i].size;
    // Checked before anything is written (the reserve may grow WASM memory, no user code runs).
    for (let r = 0; r < n; r++)
      for (const i of idx) unchanged(results[r].grads![i] as Float32Array, vars[i].size, () => `the gradient of '${vars[i].name}' from replica ${this.replicaIds[r]}`);
    const c = core();
    const base = call(() => c.aggregate_reserve(n * total)) >>> 2;
    const heap = heapFloat32();
    for (let r = 0; r < n; r++) {
      const g = results[r].grads!;
      let off = base + r * total;
      for (const i of idx) {
        heap.set(g[i] as Float32Array, off);
        off += vars[i].size;
      }
    }
    const handles = idx.length === vars.length ? this.sumHandles : Uint32Array.from(idx.flatMap((i) => [this.sums[i].handleIndex, this.sums[i].handleGeneration]));
    call(() => c.aggregate_reduce(n, handles, false));
  }

  /** The aggregated gradients as this realm's arrays, checked (no copy). */
  private checkAggregated(result: unknown, idx: number[], who: string): ReplicaGradient[] {
    // Read once: the list's length and each entry (no iterator or `map` of the user's runs).
    const out = readArray(result);
    if (!out || out.length !== idx.length) {
      throw new ArgumentError('InvalidArgument', `${who} must return ${idx.length} gradients, got ${out ? out.length : describeValue(result)}`);
    }
    return out.map((g: unknown, k) => {
      const v = this.variables[idx[k]];
      if (g instanceof IndexedSlices) return g;
      if (!isF32(g) || typedArrayLength(g) !== v.size) {
        throw new ArgumentError('InvalidArgument', `${who} returned a gradient for '${v.name}' that is neither a Float32Array of ${v.size} values nor IndexedSlices`);
      }
      return local(g);
    });
  }

  private applyAggregated(out: ReplicaGradient[], idx: number[]): boolean {
    const grads: (ReplicaGradient | null)[] = this.variables.map(() => null);
    idx.forEach((i, k) => (grads[i] = out[k]));
    return applied(this.optimizer.applyGradients(this.variables.map((v, i) => [grads[i], v] as const)));
  }
}

/** Whether `applyGradients` applied the step (its result says `applied: false` when it skipped
 * non-finite gradients). */
function applied(r: unknown): boolean {
  return (r as { applied?: unknown } | undefined)?.applied !== false;
}

/** What the optimizer takes for a replica's gradient of `v`. */
function gradient(g: WireGradient, v: Variable): ReplicaGradient | null {
  return g === null || g instanceof Float32Array ? g : new IndexedSlices(g.values, g.indices, v.shape);
}

/** A sparse gradient made dense: its rows added into zeros, in order. */
function dense(g: WireGradient & object, v: Variable): Float32Array {
  if (g instanceof Float32Array) return g;
  const out = new Float32Array(v.size);
  const row = rowSize(v.shape);
  // (The indices are the strategy's own copy, range-checked when they arrived.)
  const values = unchanged(g.values, g.indices.length * row, () => `the sparse gradient values of '${v.name}'`);
  g.indices.forEach((r, k) => {
    for (let j = 0; j < row; j++) out[r * row + j] = Math.fround(out[r * row + j] + values[k * row + j]);
  });
  return out;
}

/** The replicas' rows one after the other. */
function concatenated(parts: SparseGradient[], v: Variable): IndexedSlices {
  const row = rowSize(v.shape);
  let rows = 0;
  for (const p of parts) rows += p.indices.length;
  const indices = new Int32Array(rows);
  const values = new Float32Array(rows * row);
  let at = 0;
  for (const p of parts) {
    indices.set(p.indices, at);
    values.set(
      unchanged(p.values, p.indices.length * row, () => `the sparse gradient values of '${v.name}'`),
      at * row,
    );
    at += p.indices.length;
  }
  return new IndexedSlices(values, indices, v.shape);
}

/** Every host's rows of sparse variable `k` (of `count`) from an all-gather's result, checked
 * for shape and types (the optimizer checks the indices). */
function gathered(all: unknown, k: number, count: number, v: Variable): SparseGradient[] {
  const bad = () =>
    new ArgumentError(
      'InvalidArgument',
      `crossHost.allGather must resolve to one list per host of ${count} { indices: Int32Array, values: Float32Array } (rows of '${v.name}' malformed)`,
    );
  const hosts = readArray(all);
  if (!hosts || hosts.length === 0) throw bad();
  return hosts.map((hostRows: unknown) => {
    const list = readArray(hostRows);
    const r: unknown = list && list.length === count ? list[k] : undefined;
    const g = r === undefined || r === null || isF32(r) ? undefined : readWireGradient(r, v.shape);
    if (g === undefined || g === null || typeof g === 'string') throw bad();
    return g as SparseGradient;
  });
}
