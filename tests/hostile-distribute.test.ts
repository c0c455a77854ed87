// Hostile JavaScript objects through `simdopt/distribute` (fast-check): per-replica gradients and
// all-reduce parts that change between reads (getters, Proxies whose `length` changes,
// IndexedSlices subclasses), buffers resized or detached after they arrived, and user code (the
// replica aggregator, cross-host collectives, learning-rate functions) that mutates the arrays
// being passed. The replicas run in this thread through a spawner of the public `WorkerSpawner`
// interface, so nothing is structured-cloned: the strategy sees the very objects the user made,
// and user code can run between a result's arrival and its use.
//
// Every case runs on two identical worlds: once with the attack, once with the values of the
// first read. The attacked step must reject with a typed SimdoptError and leave its world exactly
// as before, or resolve with exactly the plain step's result: the optimizer (iterations, weights
// as bits, config), its variables, a bystander optimizer with its own variable and tensor (WASM
// memory outside the step), no tensor or optimizer leaked, and the strategy still steps.
import * as fc from 'fast-check';
import { ready, deserialize, Variable, Tensor, IndexedSlices, Optimizer, SGD, stats } from 'simdopt';
import { WorkerMirroredStrategy } from 'simdopt/distribute';
import type { WorkerSpawner, WorkerMirroredStrategyOptions, ReplicaGradient, SparseGradient } from 'simdopt/distribute';
import { expectUnchangedRefusal, outcomeReport, tallyOf } from './helpers/hostile';
import type { Outcomes } from './helpers/hostile';

beforeAll(async () => {
  await ready();
});

const RUNS = Number(process.env.SIMDOPT_FUZZ_RUNS ?? 40);
const SEED = process.env.SIMDOPT_FUZZ_SEED !== undefined ? Number(process.env.SIMDOPT_FUZZ_SEED) : process.env.CI ? 20261124 : undefined;
const LR = 0.05;
const REPLICAS = 2;

const CONFIGS: Array<[string, Record<string, unknown>]> = [
  ['SGD', { momentum: 0.9 }],
  ['Adam', { amsgrad: true }],
  ['Adagrad', {}],
  ['Ftrl', { l1_regularization_strength: 0.01 }],
  ['Adam', { clipnorm: 1 }],
  ['SGD', { global_clipnorm: 0.5 }],
];

// ---- replicas in this thread ---------------------------------------------------------------------

interface StepMsg {
  t: 'step';
  step: number;
  values: Float32Array[];
  aggregate: boolean;
}

/** What the in-thread replicas do in a step: `reply(r, msg)` is replica r's result message (any
 * object: the strategy must trust none of it); `parts(r)`, if given, is what replica r all-reduces
 * first (the step then waits for the reduced values); `between()` is user code that runs after
 * replica 0's messages arrived and before replica 1's. */
interface Replicas {
  reply(r: number, msg: StepMsg): unknown;
  parts?(r: number): unknown;
  between?(): void;
}

/** A spawner of replicas that answer in this thread, in replica order. */
function inThread(plan: () => Replicas): WorkerSpawner {
  return ({ localIndex: r }) => {
    let events: Parameters<ReturnType<WorkerSpawner>['listen']>[0] | undefined;
    let reduced: (() => void) | undefined;
    const tick = () => new Promise<void>((res) => setImmediate(res));
    return {
      listen: (ev) => void (events = ev),
      terminate: async () => events?.exit(0),
      postMessage(m: unknown) {
        const msg = m as { t: string; step: number };
        if (msg.t === 'init') void tick().then(() => events!.message({ t: 'ready' }));
        if (msg.t === 'reduced') reduced?.();
        // As runReplica does: an abort fails the all-reduce the replica waits in, so its step fails.
        if (msg.t === 'abort' && reduced) void tick().then(() => events!.message({ t: 'fail', step: msg.step, error: { name: 'AbortError', message: 'aborted' } }));
        if (msg.t !== 'step') return;
        const p = plan();
        void (async () => {
          for (let k = 0; k <= r; k++) await tick();
          if (r === REPLICAS - 1) p.between?.();
          if (p.parts) {
            const done = new Promise<void>((res) => (reduced = res));
            events!.message({ t: 'allreduce', step: msg.step, seq: 0, op: 'sum', values: p.parts(r) });
            await done;
          }
          events!.message(p.reply(r, msg as StepMsg));
        })();
      },
    };
  };
}

/** A replica's result message. */
const result = (msg: StepMsg, grads: unknown, extra: Record<string, unknown> = {}) => ({
  t: 'result',
  step: msg.step,
  loss: 1,
  grads,
  values: msg.values,
  aux: null,
  allReduces: 0,
  ...extra,
});

// ---- the worlds ----------------------------------------------------------------------------------

interface World {
  opt: Optimizer;
  /** [2, 3], dense gradients */
  w: Variable;
  /** [4, 3], sparse rows */
  table: Variable;
  by: { opt: Optimizer; v: Variable; t: Tensor };
  strategy?: WorkerMirroredStrategy;
}

function makeWorld(ci: number): World {
  const [cls, config] = CONFIGS[ci];
  const opt = deserialize({ class_name: cls, config: { learning_rate: LR, ...config } });
  const w = new Variable([0.5, -1, 2, 3, -4, 0.25], { shape: [2, 3], name: 'w' });
  const table = new Variable(
    Float32Array.from({ length: 12 }, (_, i) => i / 3 - 1),
    { shape: [4, 3], name: 'table' },
  );
  opt.applyGradients([
    [[0.1, -0.2, 0.3, -0.4, 0.5, -0.6], w],
    [new IndexedSlices([1, 1, 1, 2, 2, 2], [3, 1], [4, 3]), table],
  ]);
  const byOpt = new SGD({ learningRate: 0.1, momentum: 0.5, name: 'bystander' });
  const v = new Variable(
    Float32Array.from({ length: 64 }, (_, i) => Math.sin(i)),
    { name: 'bystander_v' },
  );
  byOpt.applyGradients([[Float32Array.from({ length: 64 }, (_, i) => Math.cos(i)), v]]);
  const t = new Tensor(
    Float32Array.from({ length: 64 }, (_, i) => i * 0.5),
    { name: 'bystander_t' },
  );
  return { opt, w, table, by: { opt: byOpt, v, t } };
}

async function disposeWorld(x: World): Promise<void> {
  await x.strategy?.shutdown();
  for (const o of [x.opt, x.by.opt]) o.dispose();
  for (const t of [x.w, x.table, x.by.v, x.by.t]) t.dispose();
}

const bits = (a: Float32Array | BigInt64Array) =>
  a instanceof BigInt64Array ? a[0].toString() : Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length), (x) => x.toString(16)).join(',');

function observe(x: World): string {
  const o = (opt: Optimizer) => (opt.isDisposed ? 'disposed' : { iterations: opt.iterations, weights: opt.getWeights().map(bits), config: opt.getConfig() });
  const read = (t: Tensor) => (t.isDisposed ? 'disposed' : bits(t.read()));
  const { tensors, optimizers } = stats();
  return JSON.stringify({ opt: o(x.opt), vars: [x.w, x.table].map(read), by: { opt: o(x.by.opt), v: read(x.by.v), t: read(x.by.t) }, tensors, optimizers });
}

// ---- the check of one case -------------------------------------------------------------------------

interface Case {
  /** Strategy options of the attacked world (aggregator, crossHost, spawn...). */
  hostile: (x: World) => {
    options?: Partial<WorkerMirroredStrategyOptions>;
    replicas: () => Replicas;
    setup?: (s: WorkerMirroredStrategy) => Promise<unknown>;
    step?: (s: WorkerMirroredStrategy) => Promise<unknown>;
  };
  /** The same with the values of the first read. */
  plain: (x: World) => { options?: Partial<WorkerMirroredStrategyOptions>; replicas: () => Replicas };
  /** Steps of the plain world (default 1; the attacked world's `step` may run more). */
  plainSteps?: number;
}

const outcomes: Outcomes = new Map();
afterAll(() => console.log(outcomeReport(`hostile replica inputs (seed ${String(SEED)})`, outcomes, 'the plain step')));

async function strategyOf(x: World, o: { options?: Partial<WorkerMirroredStrategyOptions>; replicas: () => Replicas }): Promise<WorkerMirroredStrategy> {
  const options = { module: 'in-thread:', numReplicas: REPLICAS, optimizer: x.opt, variables: [x.w, x.table], spawn: inThread(o.replicas) };
  // (Copied by descriptor: a spread would read the attack's getters here, not in the strategy.)
  Object.defineProperties(options, Object.getOwnPropertyDescriptors(o.options ?? {}));
  x.strategy = await WorkerMirroredStrategy.create(options);
  return x.strategy;
}

const SHARDS = [null, null];

async function run(category: string, ci: number, c: Case): Promise<void> {
  const a = makeWorld(ci);
  const b = makeWorld(ci);
  try {
    const h = c.hostile(a);
    const s = await strategyOf(a, h);
    await h.setup?.(s);
    const before = observe(a);
    let error: unknown;
    try {
      await (h.step ? h.step(s) : s.step(SHARDS));
    } catch (e) {
      error = e;
    }
    if (error !== undefined) {
      expectUnchangedRefusal(outcomes, category, error, before, observe(a));
    } else {
      const p = c.plain(b);
      const plain = await strategyOf(b, p);
      for (let k = 0; k < (c.plainSteps ?? 1); k++) await plain.step(SHARDS);
      const got = observe(a);
      const want = observe(b);
      if (got !== want) throw new Error(`${category}: applied, but not as the plain step\nplain  ${want}\ngot    ${got}`);
      tallyOf(outcomes, category).applied++;
    }
    // The core and the strategy still work (a refused step leaves no replica waiting).
    a.opt.applyGradients([[[0.25, 0.25, 0.25, 0.25, 0.25, 0.25], a.w]]);
  } finally {
    await disposeWorld(a);
    await disposeWorld(b);
  }
}

function property<T>(arb: fc.Arbitrary<T>, check: (value: T) => Promise<void>): Promise<void> {
  return fc.assert(fc.asyncProperty(arb, check), { numRuns: RUNS, seed: SEED, endOnFailure: true });
}

// ---- hostile objects --------------------------------------------------------------------------------

const configIndex = fc.nat({ max: CONFIGS.length - 1 });
const f32 = fc.float({ min: -4, max: 4, noNaN: true, noDefaultInfinity: true });
/** Each replica's intended gradient of w (6 values) and rows 1 and 3 of the table (6 values). */
const replicaValues = fc.array(fc.array(f32, { minLength: 6, maxLength: 6 }), { minLength: REPLICAS, maxLength: REPLICAS });
const otherLength = fc.constantFrom(0, 1, 5, 7, 12, 64, 4096, 1 << 17);
const ROWS = [1, 3];

/** Replica r's plain gradients: w dense, the table sparse. */
const plainGrads = (vals: number[][], r: number): (Float32Array | SparseGradient)[] => [
  Float32Array.from(vals[r]),
  { indices: Int32Array.from(ROWS), values: Float32Array.from(vals[r]) },
];
const plainReplicas = (vals: number[][]) => () => ({ reply: (r: number, m: StepMsg) => result(m, plainGrads(vals, r)) });

/** An object whose property `key` reads `first` once, then `later()` on every read after. */
function changingProperty<T extends object>(target: T, key: PropertyKey, first: unknown, later: () => unknown): T {
  let reads = 0;
  Object.defineProperty(target, key, { get: () => (reads++ === 0 ? first : later()), enumerable: true, configurable: true });
  return target;
}

/** An array Proxy whose `length` is the real one on its first read and `later` after. */
function changingLength<T>(values: T[], later: number, filler: T): T[] {
  let reads = 0;
  return new Proxy(values.slice(), {
    get(t, k, r) {
      if (k === 'length') return reads++ === 0 ? values.length : later;
      if (typeof k === 'string' && /^\d+$/.test(k) && Number(k) >= values.length) return filler;
      return Reflect.get(t, k, r);
    },
  });
}

type Resizable = ArrayBuffer & { resize(n: number): void };
/** A Float32Array over a resizable buffer (it follows the buffer's length). */
function resizable(values: ArrayLike<number>, maxElements: number): { array: Float32Array; resize(n: number): void } {
  const buffer = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => Resizable)(values.length * 4, {
    maxByteLength: Math.max(maxElements, values.length, 7) * 4,
  });
  const array = new Float32Array(buffer);
  array.set(values);
  return { array, resize: (n) => buffer.resize(n * 4) };
}

function detach(a: ArrayBufferView): void {
  structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
}

/** What user code does to an array it holds, after it was handed over. */
type Change = 'grow' | 'shrink' | 'detach';
const change = fc.constantFrom<Change>('grow', 'shrink', 'detach');
function changeArray(r: { array: Float32Array; resize(n: number): void }, how: Change, n: number): void {
  if (how === 'detach') detach(r.array);
  else r.resize(how === 'grow' ? Math.max(n, 7) : Math.min(n, 5));
}

/** An IndexedSlices whose `values` (or `indices`) reads the real one once, then `later()`. */
class ChangingSlices extends IndexedSlices {
  constructor(values: number[], key: 'values' | 'indices', later: () => unknown) {
    super(values, ROWS, [4, 3]);
    changingProperty(this, key, key === 'values' ? this.values : this.indices, later);
  }
}

// ---- per-replica results ----------------------------------------------------------------------------

describe('replica results that change between reads', () => {
  test('getters on the message, its gradient list and a gradient', () =>
    property(fc.tuple(configIndex, replicaValues, otherLength, fc.constantFrom('grads', 'gradient', 'values', 'loss')), ([ci, vals, n, where]) =>
      run(`result: getter on ${where}`, ci, {
        hostile: () => ({
          replicas: () => ({
            reply: (r, m) => {
              const grads = plainGrads(vals, r);
              if (r === 0) return result(m, grads);
              if (where === 'grads') return changingProperty(result(m, null), 'grads', grads, () => [new Float32Array(n), null]);
              if (where === 'values') return changingProperty(result(m, grads), 'values', m.values, () => [new Float32Array(n), new Float32Array(n)]);
              if (where === 'loss') return changingProperty(result(m, grads), 'loss', 1, () => 'one');
              return result(
                m,
                changingProperty(grads, 0, grads[0], () => new Float32Array(n).fill(2)),
              );
            },
          }),
        }),
        plain: () => ({ replicas: plainReplicas(vals) }),
      }),
    ));

  test('a Proxy gradient list whose length changes', () =>
    property(fc.tuple(configIndex, replicaValues, fc.integer({ min: 0, max: 40 })), ([ci, vals, n]) =>
      run('result: Proxy gradient list', ci, {
        hostile: () => ({
          replicas: () => ({ reply: (r, m) => result(m, r === 0 ? plainGrads(vals, r) : changingLength<unknown>(plainGrads(vals, r), n, new Float32Array(6))) }),
        }),
        plain: () => ({ replicas: plainReplicas(vals) }),
      }),
    ));

  test('sparse rows as IndexedSlices subclasses whose values or indices change', () =>
    property(fc.tuple(configIndex, replicaValues, fc.constantFrom<'values' | 'indices'>('values', 'indices'), otherLength), ([ci, vals, key, n]) =>
      run(`result: IndexedSlices subclass, changing ${key}`, ci, {
        hostile: () => ({
          replicas: () => ({
            reply: (r, m) => {
              const grads: unknown[] = plainGrads(vals, r);
              grads[1] = new ChangingSlices(vals[r], key, () => (key === 'values' ? new Float32Array(n * 3).fill(2) : new Int32Array(n).fill(n)));
              return result(m, grads);
            },
          }),
        }),
        plain: () => ({ replicas: plainReplicas(vals) }),
      }),
    ));

  test('gradients resized or detached after they arrived (by user code before the step ends)', () =>
    property(fc.tuple(configIndex, replicaValues, change, otherLength, fc.constantFrom('dense', 'sparse values', 'sparse indices')), ([ci, vals, how, n, which]) =>
      run(`result: ${which} ${how} after arrival`, ci, {
        hostile: () => {
          let held: { array: Float32Array; resize(n: number): void } | undefined;
          let indices: Int32Array | undefined;
          return {
            replicas: () => ({
              reply: (r, m) => {
                const grads = plainGrads(vals, r);
                if (r !== 0) return result(m, grads);
                held = resizable(vals[0], n);
                if (which === 'dense') grads[0] = held.array;
                else if (which === 'sparse values') grads[1] = { indices: Int32Array.from(ROWS), values: held.array };
                else grads[1] = { indices: (indices = Int32Array.from(ROWS)), values: Float32Array.from(vals[0]) };
                return result(m, grads);
              },
              between: () => {
                if (which !== 'sparse indices') return changeArray(held!, how, n);
                if (how === 'detach') detach(indices!);
                else indices!.fill(how === 'grow' ? 4 + n : -1 - n);
              },
            }),
          };
        },
        plain: () => ({ replicas: plainReplicas(vals) }),
      }),
    ));

  test('the variables buffers handed back, resized or detached before the next step', () =>
    property(fc.tuple(configIndex, replicaValues, change, otherLength), ([ci, vals, how, n]) =>
      run(`result: variable buffers ${how} before the next step`, ci, {
        hostile: () => {
          const back: { array: Float32Array; resize(n: number): void }[] = [];
          return {
            replicas: () => ({
              reply: (r, m) => {
                const values = m.values.map((v) => resizable(v, Math.max(n, v.length)));
                back.push(...values);
                return result(m, plainGrads(vals, r), { values: values.map((v) => v.array) });
              },
            }),
            setup: async (s) => {
              await s.step(SHARDS);
              for (const v of back.splice(0)) changeArray(v, how, n);
            },
          };
        },
        plain: () => ({ replicas: plainReplicas(vals) }),
        plainSteps: 2,
      }),
    ));
});

// ---- user code on the main thread: the aggregator and the cross-host collectives ----------------------

/** The plain aggregator: each variable's first replica gradient plus the second's, as the default
 * sum would be; sparse rows concatenated. */
function sumOf(rg: ReplicaGradient[][]): ReplicaGradient[] {
  return rg[0].map((g, i) => {
    const h = rg[1][i];
    if (g instanceof IndexedSlices && h instanceof IndexedSlices) {
      return new IndexedSlices(Float32Array.of(...g.values, ...h.values), Int32Array.of(...g.indices, ...h.indices), [4, 3]);
    }
    return Float32Array.from(g as Float32Array, (x, k) => Math.fround(x + (h as Float32Array)[k]));
  });
}

describe('the replica aggregator and cross-host collectives', () => {
  test('an aggregator returning lists and gradients that change between reads', () =>
    property(
      fc.tuple(configIndex, replicaValues, otherLength, fc.constantFrom('Proxy list', 'getter on a gradient', 'IndexedSlices subclass', 'Array subclass')),
      ([ci, vals, n, how]) =>
        run(`aggregator result: ${how}`, ci, {
          hostile: () => ({
            options: {
              gradientAggregator: (rg) => {
                const out = sumOf(rg);
                if (how === 'Proxy list') return changingLength<ReplicaGradient>(out, n, new Float32Array(n));
                if (how === 'getter on a gradient') return changingProperty(out, 0, out[0], () => new Float32Array(n));
                if (how === 'IndexedSlices subclass') {
                  const s = out[1] as IndexedSlices;
                  out[1] = new (class extends IndexedSlices {})(s.values, s.indices, [4, 3]);
                  changingProperty(out[1], 'indices', s.indices, () => new Int32Array(n).fill(n));
                  return out;
                }
                class Lying<T> extends Array<T> {
                  static override get [Symbol.species]() {
                    return Array;
                  }
                  override map<U>(): U[] {
                    return new Array<U>(n);
                  }
                }
                return Lying.from(out);
              },
            },
            replicas: plainReplicas(vals),
          }),
          plain: () => ({ options: { gradientAggregator: sumOf }, replicas: plainReplicas(vals) }),
        }),
    ));

  test("an aggregator or learning-rate function that resizes or detaches the replicas' arrays", () =>
    property(fc.tuple(configIndex, replicaValues, change, otherLength, fc.constantFrom('aggregator', 'lr function')), ([ci, vals, how, n, who]) =>
      run(`${who} ${how}s a replica's gradient`, ci, {
        hostile: (x) => {
          const held: { array: Float32Array; resize(n: number): void }[] = [];
          const attack = () => held.forEach((h) => changeArray(h, how, n));
          if (who === 'lr function') x.opt.learningRate = () => (attack(), LR);
          return {
            options: {
              gradientAggregator: (rg) => {
                if (who === 'aggregator') attack();
                // The aggregator hands the replicas' own arrays to the optimizer.
                return rg[0].map((g, i) => (i === 0 ? (held[0]?.array ?? g) : g));
              },
            },
            replicas: () => ({
              reply: (r, m) => {
                const grads: unknown[] = plainGrads(vals, r);
                if (r === 0) {
                  held.push(resizable(vals[0], n));
                  grads[0] = held[0].array;
                }
                return result(m, grads);
              },
            }),
          };
        },
        plain: (x) => {
          if (who === 'lr function') x.opt.learningRate = () => LR;
          return { options: { gradientAggregator: (rg) => rg[0] }, replicas: plainReplicas(vals) };
        },
      }),
    ));

  test('crossHost collectives returning arrays that change between reads', () =>
    property(
      fc.tuple(
        configIndex,
        replicaValues,
        otherLength,
        fc.constantFrom('allReduce: Proxy list', 'allReduce: getter', 'allReduce: grown by the lr function', 'allGather: getter', 'allGather: Proxy'),
      ),
      ([ci, vals, n, how]) =>
        run(`crossHost ${how}`, ci, {
          hostile: (x) => {
            let grow = () => {};
            x.opt.learningRate = () => (grow(), LR);
            return {
              options: {
                crossHost: {
                  numReplicasInSync: REPLICAS,
                  firstReplicaId: 0,
                  allReduce: (values: Float32Array[]) => {
                    const out: Float32Array[] = values.map((v) => v.slice());
                    if (how === 'allReduce: Proxy list') return Promise.resolve(changingLength(out, n, new Float32Array(n)));
                    if (how === 'allReduce: getter') return Promise.resolve(changingProperty(out, 0, out[0], () => new Float32Array(n)));
                    if (how === 'allReduce: grown by the lr function') {
                      const r = resizable(out[0], n);
                      grow = () => r.resize(Math.max(n, 7));
                      out[0] = r.array;
                    }
                    return Promise.resolve(out);
                  },
                  allGather: (rows: SparseGradient[]) => {
                    const mine = rows.map((g) => ({ indices: g.indices.slice(), values: g.values.slice() }));
                    if (how === 'allGather: getter')
                      return Promise.resolve([changingProperty(mine, 0, mine[0], () => ({ indices: new Int32Array(n), values: new Float32Array(n) }))]);
                    if (how === 'allGather: Proxy') return Promise.resolve(changingLength([mine], n, mine));
                    return Promise.resolve([mine]);
                  },
                },
              },
              replicas: plainReplicas(vals),
            };
          },
          plain: (x) => {
            x.opt.learningRate = () => LR;
            return {
              options: {
                crossHost: {
                  numReplicasInSync: REPLICAS,
                  firstReplicaId: 0,
                  allReduce: (values: Float32Array[]) => Promise.resolve(values.map((v) => v.slice())),
                  allGather: (rows: SparseGradient[]) => Promise.resolve([rows.map((g) => ({ indices: g.indices.slice(), values: g.values.slice() }))]),
                },
              },
              replicas: plainReplicas(vals),
            };
          },
        }),
    ));

  test('ctx.allReduce parts that change between reads or after they arrived', () =>
    property(fc.tuple(configIndex, replicaValues, change, otherLength, fc.constantFrom('resized after arrival', 'getter on values', 'Proxy values')), ([ci, vals, how, n, what]) =>
      run(`all-reduce part: ${what === 'resized after arrival' ? `${how} after arrival` : what}`, ci, {
        hostile: () => {
          let held: { array: Float32Array; resize(n: number): void } | undefined;
          return {
            replicas: () => ({
              parts: (r) => {
                if (r !== 0 || what === 'getter on values') return [Float32Array.from(vals[r])];
                if (what === 'Proxy values') return changingLength([Float32Array.from(vals[r])], n, new Float32Array(n));
                held = resizable(vals[r], n);
                return [held.array];
              },
              between: () => held && changeArray(held, how, n),
              reply: (r, m) =>
                r === 1 && what === 'getter on values' ? changingProperty(result(m, plainGrads(vals, r)), 'values', m.values, () => []) : result(m, plainGrads(vals, r)),
            }),
          };
        },
        plain: () => ({ replicas: () => ({ parts: (r) => [Float32Array.from(vals[r])], reply: (r, m) => result(m, plainGrads(vals, r)) }) }),
      }),
    ));
});

// ---- the strategy's own arguments -------------------------------------------------------------------

describe("create and step's arguments", () => {
  test('step: a Proxy shard list and option getters', () =>
    property(fc.tuple(configIndex, replicaValues, fc.integer({ min: 0, max: 8 }), fc.constantFrom('shards', 'timeoutMs', 'aggregate')), ([ci, vals, n, how]) =>
      run(`step: changing ${how}`, ci, {
        hostile: () => ({
          replicas: plainReplicas(vals),
          step: (s) => {
            if (how === 'shards') return s.step(changingLength(SHARDS, n, null));
            if (how === 'timeoutMs')
              return s.step(
                SHARDS,
                changingProperty({}, 'timeoutMs', 60000, () => -1),
              );
            return s.step(
              SHARDS,
              changingProperty({}, 'experimentalAggregateGradients', true, () => 'no'),
            );
          },
        }),
        plain: () => ({ replicas: plainReplicas(vals) }),
      }),
    ));

  test('create: options whose variables change between reads', () =>
    property(fc.tuple(configIndex, replicaValues, fc.constantFrom('getter', 'Proxy')), ([ci, vals, how]) =>
      run(`create: changing variables (${how})`, ci, {
        hostile: (x) => {
          const vars = [x.w, x.table];
          const bad = [x.w, x.w, 'w'] as unknown as Variable[];
          return {
            options: how === 'getter' ? changingProperty({}, 'variables', vars, () => bad) : { variables: changingLength(vars, 3, x.w) },
            replicas: plainReplicas(vals),
          };
        },
        plain: () => ({ replicas: plainReplicas(vals) }),
      }),
    ));
});
