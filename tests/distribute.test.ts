// simdopt/distribute: data-parallel training over Node worker threads. N replicas on a split
// batch give the update of one replica on the whole batch; the replicas always compute with the
// main thread's values; a failing replica fails the step and changes nothing; shutdown leaves no
// thread behind.
import { readFile } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { ready, Adam, SGD, Variable, Optimizer, ReplicaError, StateError, ArgumentError, SimdoptError, IndexedSlices } from 'simdopt';
import type { WeightValue } from 'simdopt';
import { WorkerMirroredStrategy, nodeWorkerSpawner, splitBatch } from 'simdopt/distribute';
import type { AllGather, AllReduce, WorkerSpawner, StepOptions, ReplicaGradient, SparseGradient } from 'simdopt/distribute';
import { lossAndGrads } from './distribute/linreg.mjs';
import type { Aux, Shard } from './distribute/linreg.mjs';
import { TOKENS, lossAndGrads as embLossAndGrads, densify } from './distribute/embedding.mjs';
import type { Shard as EmbShard } from './distribute/embedding.mjs';
import { ROOT, requireBuilt } from './helpers/process';
import { launchBrowser, serveLocal } from './helpers/browser';

const HERE = dirname(fileURLToPath(import.meta.url));
const fixture = (name: string) => join(HERE, 'distribute', name);

const FEATURES = 5;
const BATCH = 96; // divisible by 1, 2, 3, 4
const STEPS = 20;

/** A deterministic synthetic regression problem: STEPS mini-batches of BATCH rows. */
function dataset(): { x: Float32Array; y: Float32Array }[] {
  let s = 12345;
  const rand = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  };
  const wTrue = [1.5, -2, 0.5, 3, -1];
  return Array.from({ length: STEPS }, () => {
    const x = new Float32Array(BATCH * FEATURES).map(() => rand() * 4);
    const y = new Float32Array(BATCH).map((_, i) => {
      let t = 0.7 + rand() * 0.1;
      for (let j = 0; j < FEATURES; j++) t += wTrue[j] * x[i * FEATURES + j];
      return t;
    });
    return { x, y };
  });
}
const DATA = dataset();

function shards(k: number, n: number, mode?: Shard['mode']): Shard[] {
  const xs = splitBatch(DATA[k].x, n, FEATURES);
  const ys = splitBatch(DATA[k].y, n);
  return xs.map((x, r) => ({ x, y: ys[r], globalBatchSize: BATCH, mode }));
}

function model(): [Variable, Variable] {
  return [new Variable(new Float32Array(FEATURES), { shape: [FEATURES], name: 'w' }), new Variable(new Float32Array(1), { shape: [1], name: 'b' })];
}

const adam = (extra: Record<string, unknown> = {}) => new Adam({ learningRate: 0.2, ...extra });

/** Snapshot of everything a step may change. */
function state(opt: Optimizer, vars: Variable[]): { values: number[][]; weights: number[][]; iterations: number } {
  return {
    values: vars.map((v) => Array.from(v.read())),
    weights: opt.getWeights().map((w: WeightValue) => (w instanceof BigInt64Array ? Array.from(w, Number) : Array.from(w))),
    iterations: opt.iterations,
  };
}

/** One replica on the whole batch, in this thread (the reference). */
function reference(makeOpt: () => Optimizer): number[][] {
  const vars = model();
  const opt = makeOpt();
  for (let k = 0; k < STEPS; k++) {
    const { grads } = lossAndGrads({ ...DATA[k], globalBatchSize: BATCH }, vars[0].value, vars[1].value, BATCH);
    opt.applyGradients([
      [grads[0], vars[0]],
      [grads[1], vars[1]],
    ]);
  }
  return vars.map((v) => Array.from(v.read()));
}

/** A spawner that records the exit of every worker it starts. */
function recording(): { spawn: WorkerSpawner; spawned: number; exits: number[] } {
  const rec = { spawned: 0, exits: [] as number[], spawn: undefined as unknown as WorkerSpawner };
  const inner = nodeWorkerSpawner();
  rec.spawn = (req) => {
    const w = inner(req);
    rec.spawned++;
    return {
      ...w,
      listen: (ev) =>
        w.listen({
          ...ev,
          exit: (code) => {
            rec.exits.push(code);
            ev.exit(code);
          },
        }),
    };
  };
  return rec;
}

interface Run {
  values: number[][];
  losses: number[];
}

/** STEPS steps on n replicas; checks at every step that each replica computed with the main
 * thread's current values (bit for bit) and saw its context. */
async function distributed(n: number, makeOpt: () => Optimizer, mode?: Shard['mode'], extra: Partial<Parameters<typeof WorkerMirroredStrategy.create>[0]> = {}): Promise<Run> {
  const vars = model();
  const rec = recording();
  const s = await WorkerMirroredStrategy.create({
    module: fixture('linreg.mjs'),
    numReplicas: n,
    optimizer: makeOpt(),
    variables: vars,
    workerData: { tag: 'data' },
    spawn: rec.spawn,
    ...extra,
  });
  const losses: number[] = [];
  try {
    expect(s.numReplicas).toBe(n);
    const options: StepOptions = { experimentalAggregateGradients: mode === undefined };
    for (let k = 0; k < STEPS; k++) {
      const before = vars.map((v) => Array.from(v.read()));
      const r = await s.step(shards(k, n, mode), { ...options, transfer: k % 2 === 0 });
      expect(r.replicaLosses).toHaveLength(n);
      expect(r.loss).toBeCloseTo(
        r.replicaLosses.reduce((a, b) => a + b, 0),
        12,
      );
      losses.push(r.loss);
      (r.aux as Aux[]).forEach((aux, i) => {
        expect(aux.replicaId).toBe(i + (extra.crossHost?.firstReplicaId ?? 0));
        expect(aux.numReplicasInSync).toBe(extra.crossHost?.numReplicasInSync ?? n);
        expect(aux.step).toBe(k);
        expect(aux.data).toEqual({ tag: 'data' });
        expect([aux.w, aux.b]).toEqual(before); // every replica computed at the main thread's values
      });
    }
    return { values: vars.map((v) => Array.from(v.read())), losses };
  } finally {
    await s.shutdown();
    expect(rec.exits).toHaveLength(n);
    for (const v of vars) v.dispose();
  }
}

function maxAbsDiff(a: number[][], b: number[][]): number {
  let m = 0;
  a.forEach((row, i) => row.forEach((x, j) => (m = Math.max(m, Math.abs(x - b[i][j])))));
  return m;
}

beforeAll(async () => {
  await ready();
});

describe('equivalence: N replicas on a split batch = one replica on the whole batch', () => {
  let ref: number[][];
  beforeAll(() => {
    ref = reference(adam);
  });

  test('one replica in a worker gives the reference bit for bit', async () => {
    const r = await distributed(1, adam);
    expect(r.values).toEqual(ref);
  });

  test.each([2, 3, 4])('%i replicas: Adam, 20 steps, within f32 summation tolerance', async (n) => {
    const r = await distributed(n, adam);
    // f32 sums in another order: observed ≤ 3e-8 (an ulp or so) on values of order 1.
    expect(maxAbsDiff(r.values, ref)).toBeLessThan(1e-5);
    // It trained: the loss fell by orders of magnitude.
    expect(r.losses[STEPS - 1]).toBeLessThan(r.losses[0] / 10);
  });

  test('the replicas all-reducing themselves (experimentalAggregateGradients: false) give the same update bit for bit', async () => {
    const a = await distributed(3, adam);
    const b = await distributed(3, adam, 'allreduce-sum');
    expect(b.values).toEqual(a.values);
    expect(b.losses).toEqual(a.losses);
  });

  test("ctx.allReduce('mean') of per-replica means matches the sum of global-batch shares", async () => {
    const a = await distributed(2, adam);
    const b = await distributed(2, adam, 'allreduce-mean');
    expect(maxAbsDiff(b.values, a.values)).toBeLessThan(2e-5);
  });

  test('a gradientAggregator replaces the sum (called with every replica gradients)', async () => {
    const calls: number[][] = [];
    // The same fixed-order f32 sum in JavaScript: the update must be bit-identical to the core's.
    const gradientAggregator = (rg: Float32Array[][]) => {
      calls.push(rg.map((g) => g.length));
      return rg[0].map((g0, v) => g0.map((x, i) => rg.slice(1).reduce((s, g) => Math.fround(s + g[v][i]), x)));
    };
    const a = await distributed(3, adam);
    const b = await distributed(3, adam, undefined, { gradientAggregator });
    expect(calls).toHaveLength(STEPS);
    expect(calls[0]).toEqual([2, 2, 2]);
    expect(b.values).toEqual(a.values);
  });
});

describe('clipping applies after aggregation (Keras: aggregate → clip → transformers)', () => {
  const clipped = () => new Adam({ learningRate: 0.2, clipnorm: 0.5 });

  /** In this thread: the replicas' gradients summed in f32 (replica order), then the optimizer
   * (which clips the sum); or each replica's gradients clipped first, then summed. */
  function manual(n: number, clipFirst: boolean): number[][] {
    const vars = model();
    const opt = clipFirst ? adam() : clipped();
    for (let k = 0; k < STEPS; k++) {
      const per = shards(k, n).map((sh) => lossAndGrads(sh, vars[0].value, vars[1].value, BATCH).grads);
      if (clipFirst) {
        for (const g of per) {
          for (const a of g) {
            const norm = Math.sqrt(a.reduce((s, x) => s + x * x, 0));
            if (norm > 0.5) a.forEach((x, i) => (a[i] = (x * 0.5) / norm));
          }
        }
      }
      const sum = per[0].map((g0, v) => g0.map((x, i) => per.slice(1).reduce((s, g) => Math.fround(s + g[v][i]), x)));
      opt.applyGradients([
        [sum[0], vars[0]],
        [sum[1], vars[1]],
      ]);
    }
    return vars.map((v) => Array.from(v.read()));
  }

  test('strategy aggregation and user all-reduce both clip the sum, bit for bit', async () => {
    const expected = manual(3, false);
    const a = await distributed(3, clipped);
    const b = await distributed(3, clipped, 'allreduce-sum');
    expect(a.values).toEqual(expected);
    expect(b.values).toEqual(expected);
    // And that is not "clip each replica, then sum".
    expect(maxAbsDiff(manual(3, true), expected)).toBeGreaterThan(1e-3);
  });
});

// ---- sparse gradients (an embedding table) -----------------------------------------------------

const VOCAB = 40;
const DIM = 3;
const EMB_BATCH = 12; // rows per step, divisible by 1..4
const EMB_STEPS = 8;

/** Token ids (repeats within and across examples; most rows untouched in a step) and targets. */
const EMB = (() => {
  let s = 777;
  const rand = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  return Array.from({ length: EMB_STEPS }, () => {
    const ids = Int32Array.from({ length: EMB_BATCH * TOKENS }, () => Math.floor(rand() * rand() * VOCAB));
    const y = Float32Array.from({ length: EMB_BATCH }, () => rand() * 2 - 1);
    return { ids, y };
  });
})();

function embShards(k: number, n: number, modes: EmbShard['mode'][] = []): EmbShard[] {
  const per = EMB_BATCH / n;
  return Array.from({ length: n }, (_, r) => ({
    ids: EMB[k].ids.slice(r * per * TOKENS, (r + 1) * per * TOKENS),
    y: EMB[k].y.slice(r * per, (r + 1) * per),
    globalBatchSize: EMB_BATCH,
    mode: modes[r],
  }));
}

function embModel(): Variable[] {
  const table = Float32Array.from({ length: VOCAB * DIM }, (_, i) => Math.sin(i) * 0.1);
  return [new Variable(table, { shape: [VOCAB, DIM], name: 'table' }), new Variable([0.5, -0.25, 0.75], { name: 'w' }), new Variable([0], { name: 'b' })];
}

/** In this thread, what the strategy must compute: every shard's gradients at the current values;
 * the dense ones summed in f32 in replica order; the table's rows concatenated (sparse), or, for
 * `denseTable`, each replica's made dense and summed the same way. */
function embReference(makeOpt: () => Optimizer, n: number, denseTable = false): number[][] {
  const vars = embModel();
  const opt = makeOpt();
  const sum = (parts: Float32Array[]) => parts.slice(1).reduce((acc, p) => acc.map((x, i) => Math.fround(x + p[i])), parts[0]);
  for (let k = 0; k < EMB_STEPS; k++) {
    const per = embShards(k, n).map((sh) => embLossAndGrads(sh, vars[0].value, vars[1].value, vars[2].value, EMB_BATCH).grads);
    const table = denseTable
      ? sum(per.map((g) => densify(g[0], VOCAB * DIM, DIM)))
      : new IndexedSlices(
          Float32Array.from(per.flatMap((g) => Array.from(g[0].values))),
          per.flatMap((g) => Array.from(g[0].indices)),
          [VOCAB, DIM],
        );
    opt.applyGradients([
      [table, vars[0]],
      [sum(per.map((g) => g[1])), vars[1]],
      [sum(per.map((g) => g[2])), vars[2]],
    ]);
  }
  const out = vars.map((v) => Array.from(v.read()));
  opt.dispose();
  vars.forEach((v) => v.dispose());
  return out;
}

async function embDistributed(
  n: number,
  makeOpt: () => Optimizer,
  modes: EmbShard['mode'][] = [],
  extra: Partial<Parameters<typeof WorkerMirroredStrategy.create>[0]> = {},
): Promise<number[][]> {
  const vars = embModel();
  const opt = makeOpt();
  const s = await WorkerMirroredStrategy.create({ module: fixture('embedding.mjs'), numReplicas: n, optimizer: opt, variables: vars, ...extra });
  try {
    for (let k = 0; k < EMB_STEPS; k++) await s.step(embShards(k, n, modes), { transfer: k % 2 === 1 });
    return vars.map((v) => Array.from(v.read()));
  } finally {
    await s.shutdown();
    opt.dispose();
    vars.forEach((v) => v.dispose());
  }
}

describe('sparse gradients (IndexedSlices) from replicas', () => {
  // SGD with momentum updates only the rows a sparse gradient names (a dense update would move
  // every row with momentum); Adam's sparse update touches every row (TF 2.4).
  const optimizers: Array<[string, () => Optimizer]> = [
    ['SGD(momentum)', () => new SGD({ learningRate: 0.5, momentum: 0.9 })],
    ['Adam', () => new Adam({ learningRate: 0.05 })],
  ];

  test.each(optimizers)('%s: the replicas rows are concatenated and applied sparse, bit for bit (1, 2 and 3 replicas)', async (_name, makeOpt) => {
    for (const n of [1, 2, 3]) {
      const ref = embReference(makeOpt, n);
      expect([n, await embDistributed(n, makeOpt)]).toEqual([n, ref]);
    }
    // Densifying would be another update: the reference tells them apart.
    expect(embReference(makeOpt, 2, true)[0]).not.toEqual(embReference(makeOpt, 2)[0]);
  });

  test('a replica that returns the table dense: all made dense and summed, as TF does with mixed kinds', async () => {
    const makeOpt = optimizers[0][1];
    expect(await embDistributed(2, makeOpt, ['dense', 'sparse'])).toEqual(embReference(makeOpt, 2, true));
  });

  test('a gradientAggregator gets IndexedSlices for the sparse variable and may return them', async () => {
    const makeOpt = optimizers[1][1];
    const kinds: string[] = [];
    const gradientAggregator = (rg: ReplicaGradient[][]): ReplicaGradient[] => {
      kinds.push(rg[0].map((g) => (g instanceof IndexedSlices ? 'sparse' : 'dense')).join(','));
      return rg[0].map((g0, v) => {
        if (g0 instanceof IndexedSlices) {
          const parts = rg.map((g) => g[v] as IndexedSlices);
          return new IndexedSlices(
            Float32Array.from(parts.flatMap((p) => Array.from(p.values))),
            parts.flatMap((p) => Array.from(p.indices)),
            [VOCAB, DIM],
          );
        }
        return (g0 as Float32Array).map((x, i) => rg.slice(1).reduce((acc, g) => Math.fround(acc + (g[v] as Float32Array)[i]), x));
      });
    };
    expect(await embDistributed(2, makeOpt, [], { gradientAggregator })).toEqual(embReference(makeOpt, 2));
    expect(kinds).toHaveLength(EMB_STEPS);
    expect(kinds[0]).toBe('sparse,dense,dense');
  });

  test('a bad row index is the replica error; crossHost refuses sparse gradients; nothing is applied', async () => {
    const vars = embModel();
    const opt = new SGD({ learningRate: 0.5, momentum: 0.9 });
    const s = await WorkerMirroredStrategy.create({ module: fixture('embedding.mjs'), numReplicas: 2, optimizer: opt, variables: vars });
    const h = await WorkerMirroredStrategy.create({
      module: fixture('embedding.mjs'),
      numReplicas: 2,
      optimizer: opt,
      variables: vars,
      crossHost: { allReduce: async (v) => v, numReplicasInSync: 2, firstReplicaId: 0 },
    });
    try {
      await s.step(embShards(0, 2));
      const before = state(opt, vars);
      const e = await s.step(embShards(1, 2, ['sparse', 'bad-index'])).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ReplicaError);
      expect((e as Error).message).toMatch(/replica 1 threw in step 1: RangeError: the sparse gradient of 'table' has row index 99 at offset 1, outside \[0, 40\)/);
      await expect(h.step(embShards(1, 2))).rejects.toThrow(/gradients of 'table' are sparse: crossHost needs `allGather`/);
      await expect(h.step(embShards(1, 2))).rejects.toThrow(ArgumentError);
      expect(state(opt, vars)).toEqual(before);
      // Both go on.
      await s.step(embShards(1, 2));
      expect(opt.iterations).toBe(2);
    } finally {
      await Promise.all([s.shutdown(), h.shutdown()]);
      opt.dispose();
      vars.forEach((v) => v.dispose());
    }
  });
});

describe('multi-host: an AllReduce plugged in as crossHost', () => {
  /** An in-process collective among `n` participants (what a socket or MPI implementation does
   * across machines): every call waits for all `n`, then each gets `combine(parts)` of its own,
   * the parts in participant order. */
  function collective<In, Out>(n: number, combine: (parts: In[]) => Out): Array<(x: In) => Promise<Out>> {
    const fresh = () => ({ parts: [] as In[], done: [] as ((v: Out) => void)[], count: 0 });
    let round = fresh();
    return Array.from(
      { length: n },
      (_, host) => (x: In) =>
        new Promise<Out>((resolve) => {
          const r = round;
          r.parts[host] = x;
          r.done[host] = resolve;
          if (++r.count < n) return;
          round = fresh();
          r.done.forEach((d) => d(combine(r.parts)));
        }),
    );
  }

  /** All-reduce: sums in participant order (a mean divides the sum). */
  function group(n: number): AllReduce[] {
    const sum = collective<[Float32Array[], string], Float32Array[]>(n, (parts) =>
      parts[0][0].map((a0, k) => a0.map((x, i) => parts.slice(1).reduce((s, p) => Math.fround(s + p[0][k][i]), x)).map((x) => (parts[0][1] === 'mean' ? Math.fround(x / n) : x))),
    );
    return sum.map(
      (f): AllReduce =>
        (values, op) =>
          f([values, op]),
    );
  }

  /** All-gather: everyone gets every participant's list (copies), in participant order. */
  function gatherGroup(n: number): AllGather[] {
    return collective<SparseGradient[], SparseGradient[][]>(n, (parts) => parts.map((p) => p.map((g) => ({ indices: g.indices.slice(), values: g.values.slice() }))));
  }

  async function twoHosts(mode?: Shard['mode']): Promise<Run[]> {
    const [a0, a1] = group(2);
    // Each host steps on its half of the global batch (its shard of 2), both at the same time.
    const hostRun = (host: number, allReduce: AllReduce) => {
      const vars = model();
      return {
        vars,
        s: WorkerMirroredStrategy.create({
          module: fixture('linreg.mjs'),
          numReplicas: 1,
          optimizer: adam(),
          variables: vars,
          workerData: { tag: 'data' },
          crossHost: { allReduce, numReplicasInSync: 2, firstReplicaId: host },
        }),
      };
    };
    const hosts = [hostRun(0, a0), hostRun(1, a1)];
    const strategies = await Promise.all(hosts.map((h) => h.s));
    try {
      for (let k = 0; k < STEPS; k++) {
        const sh = shards(k, 2, mode);
        const rs = await Promise.all(strategies.map((s, h) => s.step([sh[h]], { experimentalAggregateGradients: mode === undefined })));
        expect((rs[1].aux[0] as Aux).replicaId).toBe(1);
        expect((rs[1].aux[0] as Aux).numReplicasInSync).toBe(2);
      }
      return hosts.map((h) => ({ values: h.vars.map((v) => Array.from(v.read())), losses: [] }));
    } finally {
      await Promise.all(strategies.map((s) => s.shutdown()));
    }
  }

  test('two hosts of one replica each = one host of two replicas, bit for bit (strategy aggregation)', async () => {
    const one = await distributed(2, adam);
    const [h0, h1] = await twoHosts();
    expect(h0.values).toEqual(one.values);
    expect(h1.values).toEqual(one.values);
  });

  test('sparse gradients across hosts: allGather, then the same update as one host of two replicas, bit for bit', async () => {
    const makeOpt = () => new SGD({ learningRate: 0.5, momentum: 0.9 });
    const one = await embDistributed(2, makeOpt);
    const reduce = group(2);
    const gather = gatherGroup(2);
    const hosts = [0, 1].map((host) => {
      const vars = embModel();
      const opt = makeOpt();
      const s = WorkerMirroredStrategy.create({
        module: fixture('embedding.mjs'),
        numReplicas: 1,
        optimizer: opt,
        variables: vars,
        crossHost: { allReduce: reduce[host], allGather: gather[host], numReplicasInSync: 2, firstReplicaId: host },
      });
      return { vars, opt, s };
    });
    const strategies = await Promise.all(hosts.map((h) => h.s));
    try {
      for (let k = 0; k < EMB_STEPS; k++) {
        const sh = embShards(k, 2);
        await Promise.all(strategies.map((s, h) => s.step([sh[h]])));
      }
      for (const h of hosts) expect(h.vars.map((v) => Array.from(v.read()))).toEqual(one);
      // Without allGather, a sparse gradient cannot cross hosts: refused, nothing applied.
      const lone = await WorkerMirroredStrategy.create({
        module: fixture('embedding.mjs'),
        numReplicas: 1,
        optimizer: hosts[0].opt,
        variables: hosts[0].vars,
        crossHost: { allReduce: async (v) => v, numReplicasInSync: 1, firstReplicaId: 0 },
      });
      const before = state(hosts[0].opt, hosts[0].vars);
      await expect(lone.step(embShards(0, 1))).rejects.toThrow(/gradients of 'table' are sparse: crossHost needs `allGather`/);
      expect(state(hosts[0].opt, hosts[0].vars)).toEqual(before);
      // An allGather that answers nonsense is refused too.
      const broken = await WorkerMirroredStrategy.create({
        module: fixture('embedding.mjs'),
        numReplicas: 1,
        optimizer: hosts[0].opt,
        variables: hosts[0].vars,
        crossHost: { allReduce: async (v) => v, allGather: async () => [[{ indices: [1], values: new Float32Array(3) }]] as never, numReplicasInSync: 1, firstReplicaId: 0 },
      });
      await expect(broken.step(embShards(0, 1))).rejects.toThrow(/crossHost.allGather must resolve to one list per host of 1/);
      expect(state(hosts[0].opt, hosts[0].vars)).toEqual(before);
      await Promise.all([lone.shutdown(), broken.shutdown()]);
    } finally {
      await Promise.all(strategies.map((s) => s.shutdown()));
      for (const h of hosts) {
        h.opt.dispose();
        h.vars.forEach((v) => v.dispose());
      }
    }
  });

  test("the same through ctx.allReduce('mean')", async () => {
    const one = await distributed(2, adam, 'allreduce-mean');
    const [h0, h1] = await twoHosts('allreduce-mean');
    expect(h0.values).toEqual(one.values);
    expect(h1.values).toEqual(one.values);
  });
});

describe('a failing replica fails the step and applies nothing', () => {
  async function started(n: number, extra: { stepTimeoutMs?: number } = {}) {
    const vars = model();
    const opt = adam();
    const rec = recording();
    const s = await WorkerMirroredStrategy.create({ module: pathToFileURL(fixture('faulty.mjs')), numReplicas: n, optimizer: opt, variables: vars, spawn: rec.spawn, ...extra });
    const shardsOf = (actions: string[]) => shards(0, n).map((sh, i) => ({ ...sh, action: actions[i] }));
    // A first good step, so that the optimizer has slots and a non-zero state to protect.
    await s.step(shardsOf(Array(n).fill('ok')));
    return { vars, opt, rec, s, shardsOf };
  }

  async function expectReplicaError(p: Promise<unknown>): Promise<ReplicaError> {
    const e = await p.then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(ReplicaError);
    expect(e).toBeInstanceOf(SimdoptError);
    expect((e as ReplicaError).code).toBe('ReplicaFailed');
    return e as ReplicaError;
  }

  test('a replica that throws (others blocked in an all-reduce): typed error, nothing changed, the strategy goes on', async () => {
    const { vars, opt, rec, s, shardsOf } = await started(3);
    try {
      const before = state(opt, vars);
      const e = await expectReplicaError(s.step(shardsOf(['reduce', 'throw', 'reduce']), { experimentalAggregateGradients: false }));
      expect(e.replicaId).toBe(1);
      expect(e.exitCode).toBeUndefined();
      expect(e.message).toMatch(/replica 1 threw in step 1: RangeError: boom in replica 1/);
      expect((e.cause as Error).name).toBe('RangeError');
      expect(state(opt, vars)).toEqual(before);

      // With strategy aggregation too.
      const e2 = await expectReplicaError(s.step(shardsOf(['ok', 'ok', 'throw'])));
      expect(e2.replicaId).toBe(2);
      expect(state(opt, vars)).toEqual(before);

      // A gradient of the wrong length is the replica's error.
      const e3 = await expectReplicaError(s.step(shardsOf(['ok', 'wrong', 'ok'])));
      expect(e3.message).toMatch(/gradient of 'w' has 1 values; the variable has 5/);
      expect(state(opt, vars)).toEqual(before);
      const e4 = await expectReplicaError(s.step(shardsOf(['ok', 'ok', 'strings'])));
      expect(e4.message).toMatch(/the gradient of 'w' must be a Float32Array, an array of numbers or \{ indices, values \}/);
      expect(state(opt, vars)).toEqual(before);

      // The workers are still there and the next step applies.
      await s.step(shardsOf(['ok', 'ok', 'ok']));
      expect(opt.iterations).toBe(2);

      // All-reducing the variables' own buffers copies them (they stay usable, and go back).
      const r = await s.step(shardsOf(['reduce-values', 'reduce-values', 'reduce-values']));
      for (const aux of r.aux as { sum0: number; w0: number; wLength: number }[]) {
        expect(aux.wLength).toBe(FEATURES);
        expect(aux.sum0).toBeCloseTo(3 * aux.w0, 5);
      }
      expect(opt.iterations).toBe(3);
    } finally {
      await s.shutdown();
    }
    expect(rec.exits).toHaveLength(3);
  });

  test('a replica that calls process.exit mid-step: typed error with the exit code, nothing changed, later steps refused', async () => {
    const { vars, opt, rec, s, shardsOf } = await started(3);
    const before = state(opt, vars);
    const e = await expectReplicaError(s.step(shardsOf(['exit', 'reduce', 'reduce']), { experimentalAggregateGradients: false }));
    expect(e.replicaId).toBe(0);
    expect(e.exitCode).toBe(3);
    expect(e.message).toMatch(/replica 0 exited with code 3 during step 1/);
    expect(state(opt, vars)).toEqual(before);
    await expect(s.step(shardsOf(['ok', 'ok', 'ok']))).rejects.toThrow(StateError);
    await expect(s.step(shardsOf(['ok', 'ok', 'ok']))).rejects.toThrow(/lost a replica/);
    expect(state(opt, vars)).toEqual(before);
    await s.shutdown();
    expect(rec.exits.sort()).toEqual([1, 1, 3]); // the dead one, then the two terminated
  });

  test('a replica that hangs: the step times out (ReplicaTimeout), nothing changed, only the hung worker is terminated', async () => {
    const { vars, opt, rec, s, shardsOf } = await started(3, { stepTimeoutMs: 60_000 });
    const before = state(opt, vars);
    // Replicas 0 and 2 wait for 1 in an all-reduce; 1 never answers. (A per-step limit
    // overrides the strategy's; 2 s leaves 0 and 2 time to reach the all-reduce on a loaded
    // machine, else they would count as hung too.)
    const e = await s.step(shardsOf(['reduce', 'hang', 'reduce']), { experimentalAggregateGradients: false, timeoutMs: 2000 }).then(
      () => undefined,
      (x: unknown) => x as ReplicaError,
    );
    expect(e).toBeInstanceOf(ReplicaError);
    expect(e!.code).toBe('ReplicaTimeout');
    expect(e!.replicaId).toBe(1);
    expect(e!.message).toMatch(/step 1 timed out after 2000 ms: replica 1 did not finish and was terminated; nothing was applied/);
    expect(state(opt, vars)).toEqual(before);
    expect(rec.exits).toEqual([1]); // the hung one only; the others were aborted and stay
    await expect(s.step(shardsOf(['ok', 'ok', 'ok']))).rejects.toThrow(/lost a replica.*timed out/);
    await expect(s.step(shardsOf(['ok', 'ok', 'ok']), { timeoutMs: -1 })).rejects.toThrow(StateError);
    expect(state(opt, vars)).toEqual(before);
    await s.shutdown();
    expect(rec.exits).toHaveLength(3);
  });

  test('an uncaught exception kills the worker: typed error naming it', async () => {
    const { vars, opt, s, shardsOf } = await started(2);
    const before = state(opt, vars);
    const e = await expectReplicaError(s.step(shardsOf(['ok', 'uncaught'])));
    expect(e.replicaId).toBe(1);
    expect(e.exitCode).toBe(1);
    expect(e.message).toMatch(/uncaught in replica 1/);
    expect(state(opt, vars)).toEqual(before);
    await s.shutdown();
  });

  test.each([
    ['no-step.mjs', /replica [01] failed to start: TypeError: .*exports no `step` function/],
    ['setup-fails.mjs', /replica 1 failed to start: TypeError: setup failed on replica 1/],
    ['does-not-exist.mjs', /replica [01] failed to start: .*does-not-exist\.mjs/],
  ])('create rejects when a replica cannot start (%s) and leaves no worker running', async (file, message) => {
    const rec = recording();
    const vars = model();
    const p = WorkerMirroredStrategy.create({ module: fixture(file), numReplicas: 2, optimizer: adam(), variables: vars, spawn: rec.spawn });
    await expect(p).rejects.toThrow(ReplicaError);
    await expect(p).rejects.toThrow(message);
    expect(rec.exits).toHaveLength(rec.spawned);
    expect(rec.spawned).toBe(2);
  });
});

describe('arguments and life cycle', () => {
  test('refuses bad options and bad calls with typed errors', async () => {
    const vars = model();
    const base = { module: fixture('linreg.mjs'), numReplicas: 2, optimizer: adam(), variables: vars };
    await expect(WorkerMirroredStrategy.create({ ...base, numReplicas: 0 })).rejects.toThrow(ArgumentError);
    await expect(WorkerMirroredStrategy.create({ ...base, variables: [] })).rejects.toThrow(ArgumentError);
    await expect(WorkerMirroredStrategy.create({ ...base, variables: [vars[0], vars[0]] })).rejects.toThrow(/twice/);
    await expect(WorkerMirroredStrategy.create({ ...base, crossHost: { allReduce: async (v) => v, numReplicasInSync: 2, firstReplicaId: 1 } })).rejects.toThrow(/do not fit/);
    for (const bad of [0, -5, NaN, 2 ** 31, '100']) {
      await expect(WorkerMirroredStrategy.create({ ...base, stepTimeoutMs: bad as number })).rejects.toThrow(/`stepTimeoutMs` must be a number of milliseconds/);
    }

    const s = await WorkerMirroredStrategy.create(base);
    try {
      await expect(s.step([shards(0, 2)[0]])).rejects.toThrow(/one shard per replica \(2\), got 1/);
      await expect(s.step(shards(0, 2), { timeoutMs: 0 })).rejects.toThrow(/`timeoutMs` must be/);
      const first = s.step(shards(0, 2));
      await expect(s.step(shards(1, 2))).rejects.toThrow(/already running/);
      await first;
      // Without the all-reduce the replicas' gradients would not be aggregated: refused.
      await expect(s.step(shards(1, 2), { experimentalAggregateGradients: false })).rejects.toThrow(/called no ctx.allReduce/);
    } finally {
      await s.shutdown();
    }
    await expect(s.step(shards(0, 2))).rejects.toThrow(StateError);
    expect(s.isShutdown).toBe(true);
    await s.shutdown(); // twice is fine
  });

  test('shutdown during a step: the step rejects as disposed, nothing is applied, every worker exits', async () => {
    const vars = model();
    const opt = new SGD({ learningRate: 0.1 });
    const rec = recording();
    const s = await WorkerMirroredStrategy.create({ module: fixture('faulty.mjs'), numReplicas: 2, optimizer: opt, variables: vars, spawn: rec.spawn });
    const before = state(opt, vars);
    const p = s.step(shards(0, 2).map((sh) => ({ ...sh, action: 'hang' })));
    await new Promise((r) => setTimeout(r, 50));
    s.dispose();
    await expect(p).rejects.toThrow(StateError);
    await expect(p).rejects.toThrow(/shut down/);
    await s.shutdown();
    expect(state(opt, vars)).toEqual(before);
    expect(rec.exits).toHaveLength(2);
  });

  test("the optimizer's skipNonFinite: a step with a NaN gradient is reported as not applied", async () => {
    const vars = model();
    const opt = adam();
    opt.skipNonFinite = true;
    const s = await WorkerMirroredStrategy.create({ module: fixture('linreg.mjs'), numReplicas: 2, optimizer: opt, variables: vars });
    try {
      const r1 = await s.step(shards(0, 2));
      expect(r1.applied).toBe(true);
      const before = state(opt, vars);
      const bad = shards(1, 2);
      bad[1].y[0] = NaN;
      const r2 = await s.step(bad);
      expect(r2.applied).toBe(false);
      expect(r2.loss).toBeNaN();
      expect(state(opt, vars)).toEqual(before);
    } finally {
      await s.shutdown();
    }
  });

  test('splitBatch: contiguous rows, as even as possible, own buffers', () => {
    const parts = splitBatch(
      Float32Array.from({ length: 14 }, (_, i) => i),
      3,
      2,
    );
    expect(parts.map((p) => Array.from(p))).toEqual([
      [0, 1, 2, 3, 4, 5],
      [6, 7, 8, 9],
      [10, 11, 12, 13],
    ]);
    for (const p of parts) expect(p.byteLength).toBe(p.buffer.byteLength);
    expect(() => splitBatch(new Float32Array(5), 2, 2)).toThrow(ArgumentError);
  });
});

describe('Web Workers (webWorkerSpawner) in headless Chromium', () => {
  // dist/ and the fixtures served as they are (ES modules with relative imports, no bundler):
  // the strategy starts dist/distribute/worker-browser.js as module workers.
  let server: Awaited<ReturnType<typeof serveLocal>> | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    requireBuilt();
    server = await serveLocal(async (path) => {
      if (path === '/') return { type: 'text/html', body: '<!doctype html><title>distribute</title>' };
      const file = normalize(path);
      if (!/^\/(dist|tests\/distribute)\/[\w./-]+\.m?js$/.test(file)) return undefined;
      return readFile(join(ROOT, file)).then(
        (body) => ({ type: 'text/javascript', body }),
        () => undefined,
      );
    });
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  test('two replicas in Web Workers train exactly as in Node worker threads; a failing replica is a ReplicaError', async () => {
    const node = await distributed(2, adam);
    const page = await browser!.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    try {
      await page.goto(`${server!.origin}/`);
      const steps = DATA.map((_, k) => shards(k, 2).map((sh) => ({ x: Array.from(sh.x), y: Array.from(sh.y), globalBatchSize: sh.globalBatchSize })));
      const out = await page.evaluate(
        async ({ steps, features }) => {
          const simdoptUrl = '/dist/index.js';
          const distributeUrl = '/dist/distribute/browser.js';
          const { ready, Adam, Variable } = await import(simdoptUrl);
          const { WorkerMirroredStrategy } = await import(distributeUrl);
          await ready();
          const vars = [new Variable(new Float32Array(features), { shape: [features], name: 'w' }), new Variable(new Float32Array(1), { shape: [1], name: 'b' })];
          const opt = new Adam({ learningRate: 0.2 });
          const s = await WorkerMirroredStrategy.create({ module: '/tests/distribute/linreg.mjs', numReplicas: 2, optimizer: opt, variables: vars });
          for (const st of steps)
            await s.step(
              st.map((sh: { x: number[]; y: number[]; globalBatchSize: number }) => ({
                x: Float32Array.from(sh.x),
                y: Float32Array.from(sh.y),
                globalBatchSize: sh.globalBatchSize,
              })),
            );
          const values = vars.map((v: { read(): Float32Array }) => Array.from(v.read()));
          await s.shutdown();

          // Failures: a replica that throws, then one whose uncaught exception ends its worker.
          const f = await WorkerMirroredStrategy.create({ module: '/tests/distribute/faulty.mjs', numReplicas: 2, optimizer: opt, variables: vars });
          const shard = (action: string) => ({ ...steps[0][0], x: Float32Array.from(steps[0][0].x), y: Float32Array.from(steps[0][0].y), action });
          const errors: { name: string; code: string; replicaId: number; exitCode?: number; message: string }[] = [];
          for (const actions of [
            ['ok', 'throw'],
            ['uncaught', 'ok'],
          ]) {
            try {
              await f.step(actions.map(shard));
            } catch (e) {
              const x = e as { name: string; code: string; replicaId: number; exitCode?: number; message: string };
              errors.push({ name: x.name, code: x.code, replicaId: x.replicaId, exitCode: x.exitCode, message: x.message });
            }
          }
          await f.shutdown();
          return { values, errors, iterations: opt.iterations };
        },
        { steps, features: FEATURES },
      );
      expect(out.values).toEqual(node.values);
      expect(out.iterations).toBe(STEPS);
      expect(out.errors).toHaveLength(2);
      expect(out.errors[0]).toMatchObject({ name: 'ReplicaError', code: 'ReplicaFailed', replicaId: 1 });
      expect(out.errors[0].message).toMatch(/boom in replica 1/);
      expect(out.errors[1]).toMatchObject({ name: 'ReplicaError', code: 'ReplicaFailed', replicaId: 0, exitCode: 1 });
      expect(out.errors[1].message).toMatch(/uncaught in replica 0/);
      expect(pageErrors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
