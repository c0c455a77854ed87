// simdopt/distribute with compressed optimizer state (`slotDtype`): the strategy's step on N
// replicas gives the bits of one optimizer applying the same (fixed-order) sum of the replicas'
// gradients, 8-bit codes and scales included; hosts that each keep their own copy of the
// optimizer (crossHost) agree bit for bit; a checkpoint of the strategy's optimizer restores
// into a new strategy that continues exactly as the one that never stopped.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ready, Adam, Variable, saveCheckpoint, restoreCheckpoint, encodeCheckpoint } from 'simdopt';
import type { Optimizer, RawSlotWeight } from 'simdopt';
import { Lion } from 'simdopt/keras3';
import { WorkerMirroredStrategy, splitBatch } from 'simdopt/distribute';
import type { AllReduce } from 'simdopt/distribute';
import { lossAndGrads } from './distribute/linreg.mjs';
import type { Shard } from './distribute/linreg.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const MODULE = join(HERE, 'distribute', 'linreg.mjs');

// A weight of 4,500 elements: over 4,096, so its slots are compressed (the bias keeps f32 ones).
const FEATURES = 4500;
const BATCH = 12;
const STEPS = 6;

function dataset(): { x: Float32Array; y: Float32Array }[] {
  let s = 99;
  const rand = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  };
  return Array.from({ length: STEPS }, () => {
    const x = new Float32Array(BATCH * FEATURES).map(() => rand());
    const y = new Float32Array(BATCH).map((_, i) => 0.5 + x[i * FEATURES] - 2 * x[i * FEATURES + 7]);
    return { x, y };
  });
}
const DATA = dataset();

function shards(k: number, n: number): Shard[] {
  const xs = splitBatch(DATA[k].x, n, FEATURES);
  const ys = splitBatch(DATA[k].y, n);
  return xs.map((x, r) => ({ x, y: ys[r], globalBatchSize: BATCH }));
}

function model(): Variable[] {
  return [
    new Variable(
      Float32Array.from({ length: FEATURES }, (_, i) => Math.fround(Math.sin(i) * 0.01)),
      { shape: [FEATURES], name: 'w' },
    ),
    new Variable(new Float32Array(1), { shape: [1], name: 'b' }),
  ];
}

const MAKERS: Array<[string, () => Optimizer]> = [
  ['Adam int8', () => new Adam({ learningRate: 0.01, slotDtype: 'int8' })],
  ['Adam bfloat16', () => new Adam({ learningRate: 0.01, slotDtype: 'bfloat16' })],
  ['Keras 3 Lion int8 with EMA', () => new Lion({ learningRate: 0.001, useEma: true, slotDtype: 'int8' }) as unknown as Optimizer],
];

beforeAll(async () => {
  await ready();
});

/** One optimizer in this thread, fed the sum of the n replicas' gradients in replica order
 * (f32, the first replica's values first: the strategy's sum in the core). */
function reference(make: () => Optimizer, n: number, from = 0, to = STEPS, vars = model(), opt = make()): { vars: Variable[]; opt: Optimizer } {
  for (let k = from; k < to; k++) {
    const parts = shards(k, n).map((sh) => lossAndGrads(sh, vars[0].value, vars[1].value, BATCH).grads as Float32Array[]);
    const sum = parts[0].map((g0, v) => g0.map((x, i) => parts.slice(1).reduce((s, p) => Math.fround(s + p[v][i]), x)));
    opt.applyGradients(vars.map((v, i) => [sum[i], v] as const));
  }
  return { vars, opt };
}

async function strategyRun(s: WorkerMirroredStrategy, n: number, from: number, to: number): Promise<void> {
  for (let k = from; k < to; k++) await s.step(shards(k, n));
}

const bits = (vars: readonly Variable[]): number[][] => vars.map((v) => Array.from(new Uint32Array(v.read().buffer)));
const isCompressed = (opt: Optimizer): boolean =>
  opt.getWeights({ raw: true }).some((w) => !(w instanceof Float32Array) && !(w instanceof BigInt64Array) && (w as RawSlotWeight).dtype !== undefined);

function release(opts: Optimizer[], vars: Variable[]): void {
  opts.forEach((o) => o.dispose());
  vars.forEach((v) => v.dispose());
}

describe.each(MAKERS)('%s', (_, make) => {
  test('2 replicas: the same bits as one optimizer applying the summed gradients', async () => {
    const ref = reference(make, 2);
    expect(isCompressed(ref.opt)).toBe(true);
    const vars = model();
    const s = await WorkerMirroredStrategy.create({ module: MODULE, numReplicas: 2, optimizer: make(), variables: vars });
    try {
      await strategyRun(s, 2, 0, STEPS);
    } finally {
      await s.shutdown();
    }
    expect(bits(vars)).toEqual(bits(ref.vars));
    expect(s.optimizer.getWeights({ raw: true })).toEqual(ref.opt.getWeights({ raw: true }));
    release([ref.opt, s.optimizer], [...ref.vars, ...vars]);
  });

  test('two hosts of one replica each (crossHost): each host keeps its own optimizer, and they agree bit for bit', async () => {
    const ref = reference(make, 2);
    // An in-process all-reduce of two participants: sums in participant order.
    const waiting: Array<{ values: Float32Array[]; done: (v: Float32Array[]) => void }> = [];
    const allReduce =
      (host: number): AllReduce =>
      (values) =>
        new Promise((resolve) => {
          waiting[host] = { values, done: resolve };
          if (waiting.filter(Boolean).length < 2) return;
          const [p0, p1] = waiting.splice(0, 2);
          const sum = p0.values.map((a, k) => a.map((x, i) => Math.fround(x + p1.values[k][i])));
          p0.done(sum.map((x) => x.slice()));
          p1.done(sum);
        });
    const hosts = [0, 1].map((host) => ({ vars: model(), opt: make(), host }));
    const strategies = await Promise.all(
      hosts.map((h) =>
        WorkerMirroredStrategy.create({
          module: MODULE,
          numReplicas: 1,
          optimizer: h.opt,
          variables: h.vars,
          crossHost: { allReduce: allReduce(h.host), numReplicasInSync: 2, firstReplicaId: h.host },
        }),
      ),
    );
    try {
      for (let k = 0; k < STEPS; k++) {
        const sh = shards(k, 2);
        await Promise.all(strategies.map((s, h) => s.step([sh[h]])));
      }
    } finally {
      await Promise.all(strategies.map((s) => s.shutdown()));
    }
    for (const h of hosts) {
      expect(bits(h.vars)).toEqual(bits(ref.vars));
      expect(h.opt.getWeights({ raw: true })).toEqual(ref.opt.getWeights({ raw: true }));
    }
    release([ref.opt, ...hosts.map((h) => h.opt)], [...ref.vars, ...hosts.flatMap((h) => h.vars)]);
  });

  test("a checkpoint of the strategy's optimizer restores into a new strategy that continues exactly (JSON and binary)", async () => {
    const vars = model();
    const s = await WorkerMirroredStrategy.create({ module: MODULE, numReplicas: 2, optimizer: make(), variables: vars });
    let ckpt: ReturnType<typeof saveCheckpoint>;
    try {
      await strategyRun(s, 2, 0, 3);
      ckpt = saveCheckpoint(s.optimizer, vars);
      expect(ckpt.optimizer.slot_dtype).toBe(s.optimizer.slotDtype);
      await strategyRun(s, 2, 3, STEPS);
    } finally {
      await s.shutdown();
    }
    for (const form of [JSON.parse(JSON.stringify(ckpt)) as typeof ckpt, encodeCheckpoint(ckpt)]) {
      const fresh = model();
      const restored = restoreCheckpoint(form, fresh);
      expect(restored.slotDtype).toBe(s.optimizer.slotDtype);
      const s2 = await WorkerMirroredStrategy.create({ module: MODULE, numReplicas: 2, optimizer: restored, variables: fresh });
      try {
        await strategyRun(s2, 2, 3, STEPS);
      } finally {
        await s2.shutdown();
      }
      expect(bits(fresh)).toEqual(bits(vars));
      expect(restored.getWeights({ raw: true })).toEqual(s.optimizer.getWeights({ raw: true }));
      release([restored], fresh);
    }
    release([s.optimizer], vars);
  });
});
