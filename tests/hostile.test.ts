// Hostile JavaScript objects through the public entry points (fast-check): values that change
// between reads (getters, Proxies whose `length` changes, IndexedSlices subclasses with getters),
// buffers that grow, shrink or are detached while a call runs, and user code (learning-rate
// functions, schedules, gradient hooks, gradient sources) that mutates what is being passed.
//
// Every case runs twice, on two identical worlds: once with the attack, once with the values a
// careful facade takes, those of the first read, before any user code has run. The attacked call
// must end with a typed SimdoptError and its world exactly as before, or succeed with exactly the
// result of the plain call: the optimizer (iterations, every weight as bits, names, config), its
// variables, and a bystander optimizer with its own variables and tensor (WASM memory outside
// what the call may touch), bit for bit; no tensor or optimizer leaked, and the core still works.
import * as fc from 'fast-check';
import {
  ready,
  deserialize,
  Variable,
  Tensor,
  IndexedSlices,
  Optimizer,
  OptimizerSpec,
  ApplyState,
  LearningRateSchedule,
  SGD,
  stats,
  saveCheckpoint,
  restoreCheckpoint,
  encodeCheckpoint,
  Checkpoint,
} from 'simdopt';
import { expectUnchangedRefusal, outcomeReport, tallyOf } from './helpers/hostile';
import type { Outcomes } from './helpers/hostile';

beforeAll(async () => {
  await ready();
});

const RUNS = Number(process.env.SIMDOPT_FUZZ_RUNS ?? 60);
// As the other fuzz tests: a fixed seed on CI, a fresh one locally; SIMDOPT_FUZZ_SEED replays.
const SEED = process.env.SIMDOPT_FUZZ_SEED !== undefined ? Number(process.env.SIMDOPT_FUZZ_SEED) : process.env.CI ? 20261124 : undefined;

// ---- the worlds -----------------------------------------------------------------------------

const LR = 0.05;

/** A custom optimizer (its update in JavaScript): Adagrad in f32, one slot per variable. */
const MY_ADAGRAD: OptimizerSpec = { className: 'HostileAdagrad', config: [['learning_rate', LR]] };
class HostileAdagrad extends Optimizer {
  constructor(options: Record<string, unknown> = {}) {
    super(MY_ADAGRAD, options);
  }
  protected override createSlots(vars: readonly Variable[]): void {
    for (const v of vars) this.addSlot(v, 'acc', 0.1);
  }
  private update(g: Float32Array, gOff: number, v: Variable, off: number, n: number, lr: number): void {
    const f = Math.fround;
    const acc = this.getSlot(v, 'acc').value;
    const x = v.value;
    for (let i = 0; i < n; i++) {
      const gi = g[gOff + i];
      acc[off + i] = f(acc[off + i] + f(gi * gi));
      x[off + i] = f(x[off + i] - f(f(lr * gi) / f(Math.sqrt(acc[off + i]))));
    }
  }
  protected override resourceApplyDense(grad: Float32Array, v: Variable, s: ApplyState): void {
    this.update(grad, 0, v, 0, v.size, s.lrT);
  }
  protected override resourceApplySparse(values: Float32Array, v: Variable, indices: Int32Array, s: ApplyState): void {
    const w = v.size / v.shape[0];
    indices.forEach((row, k) => this.update(values, k * w, v, row * w, w, s.lrT));
  }
}

const CONFIGS: Array<[string, Record<string, unknown>]> = [
  ['SGD', { momentum: 0.9 }],
  ['Adam', { amsgrad: true }],
  ['RMSprop', { centered: true, momentum: 0.5 }],
  ['Adagrad', {}],
  ['Ftrl', { l1_regularization_strength: 0.01 }],
  ['Adam', { clipnorm: 1 }],
  ['SGD', { global_clipnorm: 0.5 }],
  ['Nadam', {}],
  ['custom', {}],
];

interface World {
  opt: Optimizer;
  /** [2, 3] */
  w: Variable;
  /** [5] */
  b: Variable;
  /** [4, 3], for sparse rows */
  table: Variable;
  /** Another optimizer with its own variable and a tensor: memory the call must not touch. */
  by: { opt: Optimizer; v: Variable; t: Tensor };
}

function makeWorld(ci: number): World {
  const [cls, config] = CONFIGS[ci];
  const opt = cls === 'custom' ? new HostileAdagrad() : deserialize({ class_name: cls, config: { learning_rate: LR, ...config } });
  const w = new Variable([0.5, -1, 2, 3, -4, 0.25], { shape: [2, 3], name: 'w' });
  const b = new Variable([1, 2, 3, 4, 5], { name: 'b' });
  const table = new Variable(
    Float32Array.from({ length: 12 }, (_, i) => i / 3 - 1),
    { shape: [4, 3], name: 'table' },
  );
  opt.applyGradients([
    [[0.1, -0.2, 0.3, -0.4, 0.5, -0.6], w],
    [[0.3, 0.1, -0.7, 0.2, 0.9], b],
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
  return { opt, w, b, table, by: { opt: byOpt, v, t } };
}

function disposeWorld(x: World): void {
  for (const o of [x.opt, x.by.opt]) o.dispose();
  for (const t of [x.w, x.b, x.table, x.by.v, x.by.t]) t.dispose();
}

const bits = (a: Float32Array | BigInt64Array) =>
  a instanceof BigInt64Array ? a[0].toString() : Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length), (x) => x.toString(16)).join(',');

function observeOptimizer(o: Optimizer): unknown {
  if (o.isDisposed) return 'disposed';
  return { iterations: o.iterations, names: o.getWeightNames(), weights: o.getWeights().map(bits), config: o.getConfig() };
}

/** Everything observable in a world, as bits; with the global tensor and optimizer counts. */
function observe(x: World, result?: unknown): string {
  const { tensors, optimizers } = stats();
  const read = (t: Tensor) => (t.isDisposed ? 'disposed' : bits(t.read()));
  return JSON.stringify({
    opt: observeOptimizer(x.opt),
    vars: [x.w, x.b, x.table].map(read),
    by: { opt: observeOptimizer(x.by.opt), v: read(x.by.v), t: read(x.by.t) },
    result: result instanceof Optimizer ? observeOptimizer(result) : null,
    tensors,
    optimizers,
  });
}

// ---- the check of one case ----------------------------------------------------------------------

interface Case {
  /** The call with the attack. Its return value, if an Optimizer, is compared (and disposed). */
  hostile(x: World): unknown;
  /** The same call with the values of the first read. */
  plain(x: World): unknown;
}

const outcomes: Outcomes = new Map();
afterAll(() => console.log(outcomeReport('hostile inputs', outcomes, 'the plain call')));

function run(category: string, ci: number, c: Case): void {
  const a = makeWorld(ci);
  const b = makeWorld(ci);
  try {
    const before = observe(a);
    let error: unknown;
    let result: unknown;
    try {
      result = c.hostile(a);
    } catch (e) {
      error = e;
    }
    if (error !== undefined) {
      expectUnchangedRefusal(outcomes, category, error, before, observe(a));
    } else {
      const expected = c.plain(b);
      const got = observe(a, result);
      const want = observe(b, expected);
      for (const r of [result, expected]) if (r instanceof Optimizer) r.dispose();
      if (got !== want) throw new Error(`${category}: applied, but not as the plain call\nplain  ${want}\ngot    ${got}`);
      tallyOf(outcomes, category).applied++;
    }
    // The core still works.
    a.opt.applyGradients([[[0.25, 0.25, 0.25, 0.25, 0.25, 0.25], a.w]]);
  } finally {
    disposeWorld(a);
    disposeWorld(b);
  }
}

function property<T>(arb: fc.Arbitrary<T>, check: (value: T) => void): void {
  fc.assert(
    fc.property(arb, (v) => {
      check(v);
    }),
    { numRuns: RUNS, seed: SEED, endOnFailure: true },
  );
}

// ---- hostile objects ------------------------------------------------------------------------------

const configIndex = fc.nat({ max: CONFIGS.length - 1 });
const f32 = fc.float({ min: -4, max: 4, noNaN: true, noDefaultInfinity: true });
/** Intended values of w's gradient (6 elements). */
const dense6 = fc.array(f32, { minLength: 6, maxLength: 6 });
/** Lengths a lying object reports or grows to: empty, one off, the size of the other variables,
 * and far beyond the step frame. */
const otherLength = fc.constantFrom(0, 1, 5, 7, 12, 64, 4096, 1 << 17);

const filled = (n: number, x = 3) => new Array<number>(n).fill(x);

/** An object whose property `key` reads `first` once, then `later` on every read after. */
function changingProperty<T extends object>(target: T, key: PropertyKey, first: unknown, later: () => unknown): T {
  let reads = 0;
  Object.defineProperty(target, key, { get: () => (reads++ === 0 ? first : later()), enumerable: true, configurable: true });
  return target;
}

/** A number[] Proxy whose `length` is `values.length` on its first read and `later` after. */
function changingLength(values: number[], later: number): number[] {
  let reads = 0;
  return new Proxy(values.slice(), {
    get(t, k, r) {
      if (k === 'length') return reads++ === 0 ? values.length : later;
      if (typeof k === 'string' && /^\d+$/.test(k) && Number(k) >= values.length) return 1;
      return Reflect.get(t, k, r);
    },
  });
}

/** A Float32Array over a resizable buffer (it follows the buffer's length). */
function resizable(values: number[], maxElements: number): { array: Float32Array; resize(n: number): void } {
  const buffer = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(n: number): void })(values.length * 4, {
    maxByteLength: Math.max(maxElements, values.length) * 4,
  });
  const array = new Float32Array(buffer);
  array.set(values);
  return { array, resize: (n) => buffer.resize(n * 4) };
}

function detach(a: ArrayBufferView): void {
  structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
}

/** An IndexedSlices whose `values` (or `indices`) reads the real one once, then `later`. */
class ChangingSlices extends IndexedSlices {
  constructor(values: number[], indices: number[], key: 'values' | 'indices', later: () => unknown) {
    super(values, indices, [4, 3]);
    changingProperty(this, key, key === 'values' ? this.values : this.indices, later);
  }
}

/** A schedule that runs `sideEffect` on every call, and returns LR. */
class SideEffectSchedule extends LearningRateSchedule {
  constructor(private readonly sideEffect: () => void) {
    super();
  }
  call(): number {
    this.sideEffect();
    return LR;
  }
  getConfig(): Record<string, unknown> {
    return {};
  }
}

/** User code that runs during the step, after the facade has read its arguments: a learning-rate
 * function, a schedule, or (for those who use them) a gradient transformer. The plain run gets
 * the same kind of user code, without the side effect. */
type Runner = 'lr function' | 'schedule' | 'transformer';
const runner = fc.constantFrom<Runner>('lr function', 'schedule', 'transformer');

function withUserCode(x: World, who: Runner, sideEffect: () => void, call: () => unknown): unknown {
  if (who === 'transformer') {
    x.opt.gradientTransformers = [
      (gv) => {
        sideEffect();
        return gv;
      },
    ];
  } else {
    x.opt.learningRate = who === 'schedule' ? new SideEffectSchedule(sideEffect) : () => (sideEffect(), LR);
  }
  try {
    return call();
  } finally {
    x.opt.gradientTransformers = [];
    x.opt.learningRate = LR;
  }
}

// ---- applyGradients: values that change between reads --------------------------------------------

describe('applyGradients with values that change between reads', () => {
  test("a getter on a pair's gradient (dense)", () =>
    property(fc.tuple(configIndex, dense6, otherLength, fc.boolean()), ([ci, vals, n, typed]) =>
      run("getter on a pair's gradient", ci, {
        hostile: (x) => x.opt.applyGradients([changingProperty([null, x.w], 0, vals, () => (typed ? new Float32Array(n).fill(2) : filled(n))) as never]),
        plain: (x) => x.opt.applyGradients([[vals, x.w]]),
      }),
    ));

  test("a getter on a pair's variable", () =>
    property(fc.tuple(configIndex, dense6, fc.constantFrom<'b' | 'table'>('b', 'table')), ([ci, vals, other]) =>
      run("getter on a pair's variable", ci, {
        hostile: (x) => x.opt.applyGradients([changingProperty([vals, null], 1, x.w, () => x[other]) as never]),
        plain: (x) => x.opt.applyGradients([[vals, x.w]]),
      }),
    ));

  test('a Proxy gradient whose length changes', () =>
    property(fc.tuple(configIndex, dense6, otherLength), ([ci, vals, n]) =>
      run('Proxy gradient with a changing length', ci, {
        hostile: (x) => x.opt.applyGradients([[changingLength(vals, n), x.w]]),
        plain: (x) => x.opt.applyGradients([[vals, x.w]]),
      }),
    ));

  test('a Proxy list of pairs whose length changes', () =>
    property(fc.tuple(configIndex, dense6, fc.integer({ min: 2, max: 40 })), ([ci, vals, n]) =>
      run('Proxy list with a changing length', ci, {
        hostile: (x) => {
          const pairs = [[vals, x.w]];
          let reads = 0;
          const list = new Proxy(pairs, {
            get(t, k, r) {
              if (k === 'length') return reads++ === 0 ? 1 : n;
              if (typeof k === 'string' && /^\d+$/.test(k) && Number(k) >= 1) return [filled(5), x.b];
              return Reflect.get(t, k, r);
            },
          });
          return x.opt.applyGradients(list as never);
        },
        plain: (x) => x.opt.applyGradients([[vals, x.w]]),
      }),
    ));

  test('IndexedSlices subclasses whose values or indices change between reads', () =>
    property(fc.tuple(configIndex, fc.array(f32, { minLength: 6, maxLength: 6 }), fc.constantFrom<'values' | 'indices'>('values', 'indices'), otherLength), ([ci, vals, key, n]) =>
      run(`IndexedSlices subclass with a changing ${key}`, ci, {
        hostile: (x) =>
          x.opt.applyGradients([[new ChangingSlices(vals, [1, 3], key, () => (key === 'values' ? new Float32Array(n * 3).fill(2) : new Int32Array(n).fill(n))), x.table]]),
        plain: (x) => x.opt.applyGradients([[new IndexedSlices(vals, [1, 3], [4, 3]), x.table]]),
      }),
    ));
});

// ---- applyGradients: user code that changes what is being passed ----------------------------------

describe('applyGradients while user code changes what is being passed', () => {
  test('a number[] gradient grown or shrunk', () =>
    property(fc.tuple(configIndex, runner, dense6, otherLength), ([ci, who, vals, n]) =>
      run(`${who} resizes a number[] gradient`, ci, {
        hostile: (x) => {
          const g = vals.slice();
          return withUserCode(
            x,
            who,
            () => (g.length = n),
            () => x.opt.applyGradients([[g, x.w]]),
          );
        },
        plain: (x) =>
          withUserCode(
            x,
            who,
            () => {},
            () => x.opt.applyGradients([[vals, x.w]]),
          ),
      }),
    ));

  test("a pair's gradient or variable replaced, or pairs added", () =>
    property(fc.tuple(configIndex, runner, dense6, otherLength, fc.constantFrom('gradient', 'variable', 'pairs')), ([ci, who, vals, n, what]) =>
      run(`${who} replaces a ${what}`, ci, {
        hostile: (x) => {
          const pair: unknown[] = [vals, x.w];
          const list = [pair];
          const change = () => {
            if (what === 'gradient') pair[0] = filled(n);
            else if (what === 'variable') pair[1] = n % 2 ? x.b : x.table;
            else for (let i = 0; i < Math.min(n, 64); i++) list.push([filled(5), x.b]);
          };
          return withUserCode(x, who, change, () => x.opt.applyGradients(list as never));
        },
        plain: (x) =>
          withUserCode(
            x,
            who,
            () => {},
            () => x.opt.applyGradients([[vals, x.w]]),
          ),
      }),
    ));

  test('a Float32Array over a resizable buffer grown or shrunk', () =>
    property(fc.tuple(configIndex, runner, dense6, otherLength), ([ci, who, vals, n]) =>
      run(`${who} resizes a gradient's buffer`, ci, {
        hostile: (x) => {
          const g = resizable(vals, n);
          return withUserCode(
            x,
            who,
            () => g.resize(n),
            () => x.opt.applyGradients([[g.array, x.w]]),
          );
        },
        plain: (x) =>
          withUserCode(
            x,
            who,
            () => {},
            () => x.opt.applyGradients([[Float32Array.from(vals), x.w]]),
          ),
      }),
    ));

  test("a gradient's buffer detached (dense and sparse)", () =>
    property(fc.tuple(configIndex, runner, dense6, fc.boolean()), ([ci, who, vals, sparse]) =>
      run(`${who} detaches a gradient`, ci, {
        hostile: (x) => {
          const g = sparse ? new IndexedSlices(Float32Array.from(vals), Int32Array.of(1, 3), [4, 3]) : Float32Array.from(vals);
          const target = sparse ? x.table : x.w;
          return withUserCode(
            x,
            who,
            () => detach(g instanceof IndexedSlices ? g.values : g),
            () => x.opt.applyGradients([[g, target]]),
          );
        },
        plain: (x) =>
          withUserCode(
            x,
            who,
            () => {},
            () => x.opt.applyGradients([[sparse ? new IndexedSlices(Float32Array.from(vals), Int32Array.of(1, 3), [4, 3]) : Float32Array.from(vals), sparse ? x.table : x.w]]),
          ),
      }),
    ));

  test('already detached gradients and slices', () =>
    property(fc.tuple(configIndex, dense6, fc.constantFrom('dense', 'values', 'indices')), ([ci, vals, which]) =>
      run(`a detached ${which}`, ci, {
        hostile: (x) => {
          if (which === 'dense') {
            const g = Float32Array.from(vals);
            detach(g);
            return x.opt.applyGradients([[g, x.w]]);
          }
          const s = new IndexedSlices(Float32Array.from(vals), Int32Array.of(1, 3), [4, 3]);
          detach(which === 'values' ? s.values : s.indices);
          return x.opt.applyGradients([[s, x.table]]);
        },
        // (Nothing to apply: the plain call is never run, the attack must be refused.)
        plain: () => {
          throw new Error('a detached gradient was applied');
        },
      }),
    ));
});

// ---- the other entry points -------------------------------------------------------------------------

describe('minimize, hooks, setWeights and checkpoints', () => {
  test('a gradient source whose result changes between reads', () =>
    property(fc.tuple(configIndex, dense6, otherLength, fc.constantFrom('getter', 'proxy')), ([ci, vals, n, how]) =>
      run(`gradient source: ${how}`, ci, {
        hostile: (x) =>
          x.opt.minimize(null, [x.w], {
            gradientSource: () => ({ loss: 1, grads: how === 'getter' ? changingProperty([null], 0, vals, () => filled(n)) : [changingLength(vals, n)] }),
          }),
        plain: (x) => x.opt.minimize(null, [x.w], { gradientSource: () => ({ loss: 1, grads: [vals] }) }),
      }),
    ));

  test('a transformer returning pairs that change between reads', () =>
    property(fc.tuple(configIndex, dense6, otherLength, fc.constantFrom('gradient getter', 'proxy gradient', 'resizable, grown later')), ([ci, vals, n, how]) =>
      run(`transformer result: ${how}`, ci, {
        hostile: (x) => {
          let grow = () => {};
          x.opt.gradientTransformers = [
            (gv) =>
              gv.map(([, v]) => {
                if (how === 'gradient getter') return changingProperty([null, v], 0, Float32Array.from(vals), () => new Float32Array(n)) as never;
                if (how === 'proxy gradient') return [changingLength(vals, n), v] as never;
                const r = resizable(vals, n);
                grow = () => r.resize(n);
                return [r.array, v];
              }),
          ];
          x.opt.learningRate = () => (grow(), LR);
          try {
            return x.opt.applyGradients([[[9, 9, 9, 9, 9, 9], x.w]]);
          } finally {
            x.opt.gradientTransformers = [];
            x.opt.learningRate = LR;
          }
        },
        plain: (x) => {
          x.opt.gradientTransformers = [(gv) => gv.map(([, v]) => [Float32Array.from(vals), v])];
          x.opt.learningRate = () => LR;
          try {
            return x.opt.applyGradients([[[9, 9, 9, 9, 9, 9], x.w]]);
          } finally {
            x.opt.gradientTransformers = [];
            x.opt.learningRate = LR;
          }
        },
      }),
    ));

  test('setWeights with weights that change between reads', () =>
    property(fc.tuple(configIndex, otherLength, fc.constantFrom('getter', 'proxy list', 'proxy weight', 'grown by a getter', 'detached')), ([ci, n, how]) =>
      run(`setWeights: ${how}`, ci, {
        hostile: (x) => {
          const ws: unknown[] = x.opt.getWeights().map((w, i) => (i === 0 ? 5 : Float32Array.from(w as Float32Array, (v) => v + 1)));
          const k = ws.length - 1; // the last weight
          if (k === 0) return x.opt.setWeights(ws as never); // (plain SGD has no weight but iterations)
          const last = ws[k] as Float32Array;
          if (how === 'getter') changingProperty(ws, k, last, () => new Float32Array(n));
          else if (how === 'proxy weight') ws[k] = changingLength(Array.from(last), n);
          else if (how === 'detached') detach(last);
          else if (how === 'grown by a getter') {
            const r = resizable(Array.from(last), n);
            ws[k] = r.array;
            changingProperty(ws, 0, 5, () => (r.resize(n), 5));
          }
          if (how === 'proxy list') {
            let reads = 0;
            return x.opt.setWeights(
              new Proxy(ws, { get: (t, p, r) => (p === 'length' ? (reads++ === 0 ? ws.length : n) : p === String(ws.length) ? last : Reflect.get(t, p, r)) }) as never,
            );
          }
          return x.opt.setWeights(ws as never);
        },
        plain: (x) => x.opt.setWeights(x.opt.getWeights().map((w, i) => (i === 0 ? 5 : Float32Array.from(w as Float32Array, (v) => v + 1)))),
      }),
    ));

  test('restoreCheckpoint with a checkpoint or bytes that change between reads', () =>
    property(
      fc.tuple(configIndex, otherLength, fc.constantFrom('getter on variables', 'getter on iterations', 'proxy weights', 'Uint8Array subclass', 'variables list proxy')),
      ([ci, n, how]) =>
        run(`restoreCheckpoint: ${how}`, ci, {
          hostile: (x) => {
            const ckpt = JSON.parse(JSON.stringify(saveCheckpoint(x.opt, [x.w, x.b, x.table]))) as Checkpoint;
            const fresh = [x.w, x.b, x.table];
            if (how === 'getter on variables') changingProperty(ckpt, 'variables', ckpt.variables, () => ckpt.variables.slice(0, 1));
            if (how === 'getter on iterations') changingProperty(ckpt.optimizer, 'iterations', ckpt.optimizer.iterations, () => n);
            if (how === 'proxy weights') {
              const ws = ckpt.optimizer.weights;
              let reads = 0;
              ckpt.optimizer.weights = new Proxy(ws, { get: (t, p, r) => (p === 'length' ? (reads++ === 0 ? ws.length : n) : Reflect.get(t, p, r)) });
            }
            if (how === 'Uint8Array subclass') {
              const bytes = encodeCheckpoint(ckpt);
              class Lying extends Uint8Array {
                override get length(): number {
                  return n;
                }
                override subarray() {
                  return new Uint8Array(n);
                }
              }
              const lying = new Lying(bytes.length);
              Uint8Array.prototype.set.call(lying, bytes);
              return restoreCheckpoint(lying, fresh);
            }
            if (how === 'variables list proxy') {
              let reads = 0;
              return restoreCheckpoint(ckpt, new Proxy(fresh, { get: (t, p, r) => (p === 'length' ? (reads++ === 0 ? 3 : n) : Reflect.get(t, p, r)) }));
            }
            return restoreCheckpoint(ckpt, fresh);
          },
          plain: (x) => restoreCheckpoint(saveCheckpoint(x.opt, [x.w, x.b, x.table]), [x.w, x.b, x.table]),
        }),
    ));
});
