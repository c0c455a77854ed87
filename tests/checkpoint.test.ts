// Checkpoints: save mid-run (JSON and bytes), restore into fresh variables, continue, and get the
// very same bits as a run that never stopped, for every optimizer and its slot variants, dense
// and sparse; and a damaged checkpoint is refused with a typed error while nothing changes.
import {
  ready,
  deserialize,
  Variable,
  Tensor,
  IndexedSlices,
  Optimizer,
  SimdoptError,
  ConfigError,
  WeightsError,
  ArgumentError,
  saveState,
  loadState,
  saveCheckpoint,
  restoreCheckpoint,
  encodeCheckpoint,
  decodeCheckpoint,
  sealCheckpoint,
  stats,
  ExponentialDecay,
  serializeSchedule,
  Checkpoint,
  OptimizerState,
  OptimizerSpec,
  ApplyState,
  WasmTensor,
} from 'simdopt';
import { rng } from './helpers/random';
import { everyClass } from './helpers/registry';

/** CRC32C bit by bit from its definition (reflected polynomial 0x82F63B78, initial value and
 * final xor 0xFFFFFFFF): the test's own reference, independent of the core's. */
function referenceCrc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** Checkpoint bytes with their last 4 bytes replaced by the CRC32C of the rest: damage that the
 * checksum no longer sees. */
function reseal(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  new DataView(out.buffer).setUint32(out.length - 4, referenceCrc32c(out.subarray(0, out.length - 4)), true);
  return out;
}

test('the checksum is CRC32C: the check value, and the trailer of checkpoint bytes of every size', () => {
  expect(referenceCrc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
  // Bytes of 1 to 200 000 values: the core hashes them in 64 KiB chunks.
  for (const n of [1, 7, 16_383, 16_384, 16_385, 200_000]) {
    const v = new Variable(
      Float32Array.from({ length: n }, (_, i) => Math.sin(i)),
      { name: 'v' },
    );
    const opt = deserialize({ class_name: 'SGD', config: {} });
    const bytes = encodeCheckpoint(saveCheckpoint(opt, [v]));
    const trailer = new DataView(bytes.buffer, bytes.byteOffset).getUint32(bytes.length - 4, true);
    expect([n, trailer]).toEqual([n, referenceCrc32c(bytes.subarray(0, bytes.length - 4))]);
    opt.dispose();
    v.dispose();
  }
});

beforeAll(async () => {
  await ready();
});

// Every registered class: these configs per class (its slot variants), or a learning rate alone.
const CONFIGS = everyClass<Record<string, unknown>>(
  {
    SGD: [{ learning_rate: 0.1 }, { learning_rate: 0.1, momentum: 0.9 }, { learning_rate: 0.1, momentum: 0.9, nesterov: true, clipnorm: 0.5 }],
    RMSprop: [
      { learning_rate: 0.01 },
      { learning_rate: 0.01, momentum: 0.5 },
      { learning_rate: 0.01, centered: true },
      { learning_rate: 0.01, centered: true, momentum: 0.5, clipvalue: 0.2 },
    ],
    Adam: [{ learning_rate: 0.01 }, { learning_rate: 0.01, amsgrad: true, global_clipnorm: 1 }, { learning_rate: 0.01, decay: 0.01 }],
    Adagrad: [{ learning_rate: 0.1, initial_accumulator_value: 0.5 }],
    Adadelta: [{ learning_rate: 1.0, rho: 0.9 }],
    Adamax: [{ learning_rate: 0.01 }],
    Nadam: [{ learning_rate: 0.01 }],
    Ftrl: [
      { learning_rate: 0.1, l1_regularization_strength: 0.01, l2_regularization_strength: 0.02, beta: 0.1 },
      { learning_rate: 0.1, learning_rate_power: -0.7, l2_shrinkage_regularization_strength: 0.05 },
    ],
  },
  [{ learning_rate: 0.01 }],
);
const SCHEDULED: Array<[string, Record<string, unknown>]> = [
  ['Adam', { learning_rate: serializeSchedule(new ExponentialDecay({ initialLearningRate: 0.05, decaySteps: 2, decayRate: 0.7 })) }],
  ['SGD', { learning_rate: serializeSchedule(new ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 1, decayRate: 0.9, staircase: true })), momentum: 0.5 }],
];

const STEPS = 7;

const randoms = (rand: () => number, n: number) => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * 10 ** (rand() * 3 - 2));

interface Model {
  vars: Variable[];
  grad: Tensor;
}

/** Three dense variables (odd lengths), a table for sparse rows, one made only at step 3. */
function makeModel(initial = true): Model {
  const rand = rng(99);
  const shapes: number[][] = [[7], [3, 5], [1], [6, 4], [9]];
  const names = ['dense', 'matrix', 'scalarish', 'table', 'late'];
  const vars = shapes.map((shape, i) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return new Variable(initial ? randoms(rand, n) : new Float32Array(n), { shape, name: names[i] });
  });
  return { vars, grad: Tensor.zeros([7], 'g') };
}

/** Step `t` of the plan: dense, a WASM-side tensor, null gradients, sparse rows with repeats, a
 * variable that joins late (a second slot batch). */
function step(opt: Optimizer, m: Model, t: number): void {
  const rand = rng(1000 + t);
  const [dense, matrix, scalarish, table, late] = m.vars;
  m.grad.assign(randoms(rand, 7));
  const idx = t === 2 ? [] : [5, 0, 5, t % 6, 2];
  const pairs: Array<[Float32Array | Tensor | IndexedSlices | null, Variable]> = [
    [t % 2 === 0 ? m.grad : randoms(rand, 7), dense],
    [t === 1 ? null : randoms(rand, 15), matrix],
    [randoms(rand, 1), scalarish],
    [new IndexedSlices(randoms(rand, idx.length * 4), idx, [6, 4]), table],
  ];
  if (t >= 3) pairs.push([randoms(rand, 9), late]);
  opt.applyGradients(pairs);
}

/** Tensor and optimizer counts. (Not the size of WASM memory: it grows when any call needs
 * room, observing included, and never shrinks; growing changes no state.) */
const counts = () => {
  const { tensors, optimizers } = stats();
  return { tensors, optimizers };
};

const bits = (a: Float32Array | BigInt64Array) => (a instanceof BigInt64Array ? a[0].toString() : Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length)).join(','));

function observe(opt: Optimizer, m: Model): string {
  return JSON.stringify({
    iterations: opt.iterations,
    names: opt.getWeightNames(),
    weights: opt.getWeights().map(bits),
    vars: m.vars.map((v) => bits(v.read())),
    config: opt.getConfig(),
  });
}

type Round = 'json' | 'bytes';

let restored = 0;
afterAll(() => console.log(`checkpoint: ${restored} mid-run restores compared bit for bit with uninterrupted runs`));

/**
 * Runs STEPS steps of the plan without stopping, and again stopping after each of `stops` steps:
 * checkpoint (JSON and bytes), free everything, restore into fresh variables, continue. Every
 * resumed run must end with the very same bits. `customObjects` is what the restore needs (a
 * restore without it must fail then).
 */
function resumes(make: () => Optimizer, stops: number[], customObjects?: Record<string, unknown>, check?: (ckpt: Checkpoint, stopAt: number) => void): void {
  const ref = makeModel();
  const refOpt = make();
  for (let t = 0; t < STEPS; t++) step(refOpt, ref, t);
  const expected = observe(refOpt, ref);
  for (const stopAt of stops) {
    for (const round of ['json', 'bytes'] as Round[]) {
      const m = makeModel();
      const opt = make();
      for (let t = 0; t < stopAt; t++) step(opt, m, t);
      const ckpt = saveCheckpoint(opt, m.vars);
      check?.(ckpt, stopAt);
      const before = stats();
      // The run "stops": everything is freed.
      opt.dispose();
      m.vars.forEach((v) => v.dispose());
      m.grad.dispose();
      const fresh = makeModel(false);
      const saved = round === 'json' ? (JSON.parse(JSON.stringify(ckpt)) as Checkpoint) : encodeCheckpoint(ckpt);
      if (customObjects) expect(() => restoreCheckpoint(saved, fresh.vars)).toThrow(/Unknown optimizer/);
      const back = restoreCheckpoint(saved, fresh.vars, customObjects);
      expect(back.constructor).toBe(refOpt.constructor);
      expect(stats().optimizers).toBe(before.optimizers);
      expect(back.iterations).toBe(stopAt);
      for (let t = stopAt; t < STEPS; t++) step(back, fresh, t);
      expect([stopAt, round, observe(back, fresh)]).toEqual([stopAt, round, expected]);
      restored++;
      back.dispose();
      fresh.vars.forEach((v) => v.dispose());
      fresh.grad.dispose();
    }
  }
  refOpt.dispose();
  ref.vars.forEach((v) => v.dispose());
  ref.grad.dispose();
}

describe('restoring mid-run continues bit for bit', () => {
  test.each([...CONFIGS, ...SCHEDULED].map(([c, cfg]) => [`${c} ${JSON.stringify(cfg)}`, c, cfg] as const))('%s', (_label, cls, config) => {
    resumes(() => deserialize({ class_name: cls, config }), [0, 1, 3, 5]);
  });

  test('loadState alone restores the optimizer for the variables as they are', () => {
    const m = makeModel();
    const opt = deserialize({ class_name: 'Adam', config: { learning_rate: 0.01, amsgrad: true } });
    for (let t = 0; t < 4; t++) step(opt, m, t);
    const state = saveState(opt);
    expect(state.variables.map((v) => v.name)).toEqual(['dense', 'matrix', 'scalarish', 'table', 'late']);
    expect(state.slot_batches).toEqual([4, 1]);
    const copy = loadState(JSON.parse(JSON.stringify(state)) as OptimizerState, m.vars);
    const fromBytes = loadState(encodeCheckpoint(state), [...m.vars].reverse()); // matched by name
    for (const o of [copy, fromBytes]) {
      expect(o.getWeightNames()).toEqual(opt.getWeightNames());
      expect(o.getWeights().map(bits)).toEqual(opt.getWeights().map(bits));
      expect(o.getConfig()).toEqual(opt.getConfig());
      o.dispose();
    }
    expect(decodeCheckpoint(encodeCheckpoint(state))).toEqual(state);
  });

  test('NaN payloads, -0 and subnormals survive both forms exactly', () => {
    const v = new Variable(new Float32Array(4), { name: 'v' });
    const opt = deserialize({ class_name: 'SGD', config: { momentum: 0.5 } });
    opt.applyGradients([[[0, 0, 0, 0], v]]);
    const odd = new Float32Array(new Uint32Array([0x7fc00001, 0x80000000, 0x00000001, 0xff800000]).buffer);
    opt.setWeights([7, odd]);
    for (const back of [loadState(saveState(opt), [v]), loadState(encodeCheckpoint(saveState(opt)), [v])]) {
      expect(bits(back.getWeights()[1] as Float32Array)).toBe(bits(odd));
      expect(back.iterations).toBe(7);
      back.dispose();
    }
  });
});

// ---- custom optimizers --------------------------------------------------------------------------

const MY_ADAGRAD: OptimizerSpec = { className: 'MyAdagrad', config: [['learning_rate', 0.1]] };

/** Adagrad in TypeScript (f32 op by op) with a slot per variable and an optimizer-wide weight
 * (the sum of squared gradients so far) made at its first step. */
class MyAdagrad extends Optimizer {
  constructor(options: Record<string, unknown> = {}) {
    super(MY_ADAGRAD, options);
  }
  private sqSum?: WasmTensor;
  protected override createSlots(vars: readonly Variable[]): void {
    this.sqSum ??= this.addWeight('sq_sum');
    for (const v of vars) this.addSlot(v, 'acc', 0.1);
  }
  private update(g: Float32Array, gOff: number, v: Variable, off: number, n: number, state: ApplyState): void {
    const f = Math.fround;
    const acc = this.getSlot(v, 'acc').value;
    const x = v.value;
    const total = this.sqSum!;
    let sq = total.read()[0];
    for (let i = 0; i < n; i++) {
      const gi = g[gOff + i];
      acc[off + i] = f(acc[off + i] + f(gi * gi));
      x[off + i] = f(x[off + i] - f(f(state.lrT * gi) / f(Math.sqrt(acc[off + i]))));
      sq = f(sq + f(gi * gi));
    }
    total.assign([sq]);
  }
  protected override resourceApplyDense(grad: Float32Array, v: Variable, state: ApplyState): void {
    this.update(grad, 0, v, 0, v.size, state);
  }
  protected override resourceApplySparse(values: Float32Array, v: Variable, indices: Int32Array, state: ApplyState): void {
    const w = v.size / v.shape[0];
    indices.forEach((row, k) => this.update(values, k * w, v, row * w, w, state));
  }
}

/** The same class, but its slots come in another order: its checkpoints do not fit MyAdagrad's. */
class MyAdagradOtherOrder extends MyAdagrad {
  protected override createSlots(vars: readonly Variable[]): void {
    super.createSlots([...vars].reverse());
  }
}

describe('custom optimizers', () => {
  test('restoring mid-run continues bit for bit (slots in two batches, an optimizer-wide weight)', () => {
    const opt = new MyAdagrad();
    const m = makeModel();
    for (let t = 0; t < STEPS; t++) step(opt, m, t);
    expect(opt.getWeightNames()).toEqual([
      'MyAdagrad/iter:0',
      'MyAdagrad/sq_sum:0',
      'MyAdagrad/dense/acc:0',
      'MyAdagrad/matrix/acc:0',
      'MyAdagrad/scalarish/acc:0',
      'MyAdagrad/table/acc:0',
      'MyAdagrad/late/acc:0',
    ]);
    opt.dispose();
    m.vars.forEach((v) => v.dispose());
    m.grad.dispose();
    // `late` joins at step 3: a second batch.
    resumes(
      () => new MyAdagrad({ learningRate: 0.05 }),
      [0, 1, 4],
      { MyAdagrad },
      (ckpt, stopAt) => stopAt === 4 && expect(ckpt.optimizer.slot_batches).toEqual([4, 1]),
    );
  });

  test('a class that recreates the weights in another order is refused, and nothing is left behind', () => {
    const m = makeModel();
    const opt = new MyAdagrad();
    for (let t = 0; t < 4; t++) step(opt, m, t);
    const ckpt = saveCheckpoint(opt, m.vars);
    const target = makeModel(false);
    const before = stats();
    const values = target.vars.map((v) => bits(v.read()));
    expect(() => restoreCheckpoint(ckpt, target.vars, { MyAdagrad: MyAdagradOtherOrder })).toThrow(WeightsError);
    expect(() => restoreCheckpoint(ckpt, target.vars, { MyAdagrad: MyAdagradOtherOrder })).toThrow(
      /weight 2 is 'MyAdagrad\/table\/acc:0' in the restored optimizer but 'MyAdagrad\/dense\/acc:0'/,
    );
    expect(stats()).toEqual(before); // the half-built optimizer and its slot tensors are freed
    expect(target.vars.map((v) => bits(v.read()))).toEqual(values);
    opt.dispose();
    for (const x of [m, target]) {
      x.vars.forEach((v) => v.dispose());
      x.grad.dispose();
    }
  });
});

describe('a damaged checkpoint is refused and changes nothing', () => {
  function setup() {
    const m = makeModel();
    const opt = deserialize({ class_name: 'Adam', config: { learning_rate: 0.01 } });
    for (let t = 0; t < 4; t++) step(opt, m, t);
    const ckpt = saveCheckpoint(opt, m.vars);
    // Targets of the restore: other values, so a partial write would show.
    const target = makeModel(false);
    return { m, opt, ckpt, target };
  }
  const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;
  type Mut = (c: Checkpoint, target: Variable[]) => [Checkpoint | Uint8Array, Variable[]];
  /** An edit as made on purpose: sealed again, so the checks behind the checksum are what refuse it. */
  const edit =
    (f: (c: Checkpoint) => void): Mut =>
    (c, t) => {
      const x = clone(c);
      f(x);
      return [sealCheckpoint(x), t];
    };
  /** An edit as damage: not sealed again. */
  const damage =
    (f: (c: Checkpoint) => void): Mut =>
    (c, t) => {
      const x = clone(c);
      f(x);
      return [x, t];
    };
  const cases: Array<[string, Mut, new (...a: never[]) => SimdoptError, RegExp]> = [
    ['wrong format', edit((c) => ((c as { format: string }).format = 'keras')), ConfigError, /format/],
    ['future version', damage((c) => (c.version = 3)), ConfigError, /unsupported version 3/],
    ['a variable value changed, checksum not updated', damage((c) => (c.variables[0].values = `A${c.variables[0].values.slice(1)}`)), ConfigError, /checksum mismatch/],
    ['a slot value changed, checksum not updated', damage((c) => (c.optimizer.weights[1] = c.optimizer.weights[2])), ConfigError, /checksum mismatch/],
    ['iterations changed, checksum not updated', damage((c) => (c.optimizer.iterations += 1)), ConfigError, /checksum mismatch/],
    ['the checksum removed', damage((c) => delete c.checksum), ConfigError, /has none/],
    ['the checksum garbled', damage((c) => (c.checksum = 'crc32c:xyz')), ConfigError, /8 hex digits/],
    ['version 1 with a checksum (a damaged version field)', damage((c) => (c.version = 1)), ConfigError, /version 1 has no checksum/],
    ['a checksum inside the optimizer state', edit((c) => (c.optimizer.checksum = 'crc32c:00000000')), ConfigError, /no checksum of its own/],
    ['a getter in the checkpoint', damage((c) => Object.defineProperty(c, 'variables', { get: () => () => 0, enumerable: true })), ConfigError, /not JSON data/],
    ['unknown class', edit((c) => (c.optimizer.class_name = 'NoSuchOptimizer')), ConfigError, /Unknown optimizer: NoSuchOptimizer/],
    // A class only Keras 3 has, in a file this entry reads without simdopt/keras3 imported.
    ['a Keras 3 class', edit((c) => (c.optimizer.class_name = 'Lion')), ConfigError, /only Keras 3 has Lion.*Import 'simdopt\/keras3'/],
    ['unknown config key', edit((c) => (c.optimizer.config.beta_9 = 1)), ConfigError, /beta_9/],
    ['config key __proto__', edit((c) => Object.defineProperty(c.optimizer.config, '__proto__', { value: { polluted: 1 }, enumerable: true })), ConfigError, /Unexpected keyword/],
    ['class with config keys it does not have', edit((c) => (c.optimizer.class_name = 'Adagrad')), ConfigError, /Unexpected keyword/],
    ['class with other slots', edit((c) => ((c.optimizer.class_name = 'Adagrad'), (c.optimizer.config = { name: 'Adam', learning_rate: 0.01 }))), WeightsError, /weights/],
    ['negative iterations', edit((c) => (c.optimizer.iterations = -1)), ConfigError, /iterations/],
    ['fractional iterations', edit((c) => (c.optimizer.iterations = 1.5)), ConfigError, /iterations/],
    ['a weight too short', edit((c) => (c.optimizer.weights[2] = c.optimizer.weights[2].slice(0, -8))), WeightsError, /elements/],
    ['a weight missing', edit((c) => c.optimizer.weights.pop()), ConfigError, /weights for/],
    ['not base64', edit((c) => (c.optimizer.weights[0] = '@@@@')), ConfigError, /base64/],
    ['a renamed weight', edit((c) => (c.optimizer.weight_names[3] = 'Adam/other/m:0')), WeightsError, /weight 3/],
    ['batches not adding up', edit((c) => (c.optimizer.slot_batches = [4])), ConfigError, /slot_batches/],
    ['a variable with another size', edit((c) => (c.optimizer.variables[0].size = 8)), ConfigError, /elements/],
    ['variable values of the wrong length', edit((c) => (c.variables[1].values = c.variables[0].values)), ConfigError, /values for shape/],
    ['a variable not given', (c, t) => [clone(c), t.slice(1)], WeightsError, /'dense'.*not among/],
    [
      'a variable of another shape',
      (c, t) => [clone(c), [new Variable(new Float32Array(15), { shape: [5, 3], name: 'matrix' }), ...t.filter((v) => v.name !== 'matrix')]],
      WeightsError,
      /shape \[5, 3\]/,
    ],
    ['the same variable twice', (c, t) => [clone(c), [...t, t[0]]], ArgumentError, /twice/],
    ['truncated bytes', (c, t) => [encodeCheckpoint(c).slice(0, 100), t], ConfigError, /checksum mismatch/],
    ['bytes with a damaged version', (c, t) => [Object.assign(encodeCheckpoint(c), { [8]: 7 }), t], ConfigError, /unsupported binary version 7/],
    ['bytes of a version 1 with the checksum left on', (c, t) => [Object.assign(encodeCheckpoint(c), { [8]: 1 }), t], ConfigError, /header says version 2/],
    ['wrong magic', (c, t) => [Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12), t], ConfigError, /magic/],
    [
      'detached bytes',
      (c, t) => {
        const b = encodeCheckpoint(c);
        structuredClone(b.buffer, { transfer: [b.buffer] });
        return [b, t];
      },
      ArgumentError,
      /detached/,
    ],
    ['payload cut short', (c, t) => [encodeCheckpoint(c).slice(0, -4), t], ConfigError, /checksum mismatch/],
    ['payload cut short, resealed', (c, t) => [reseal(encodeCheckpoint(c).slice(0, -4)), t], ConfigError, /payload/],
    ['bytes beyond the arrays, resealed', (c, t) => [reseal(Uint8Array.from([...encodeCheckpoint(c), 0, 0, 0, 0])), t], ConfigError, /bytes of a/],
    ['a header that is not JSON, resealed', (c, t) => [reseal(Object.assign(encodeCheckpoint(c), { [17]: 0x7b })), t], ConfigError, /not valid UTF-8 JSON/],
  ];

  test.each(cases)('%s', (_label, mutate, Cls, message) => {
    const { m, opt, ckpt, target } = setup();
    const [input, vars] = mutate(ckpt, target.vars);
    const before = { stats: counts(), target: target.vars.map((v) => bits(v.read())), source: observe(opt, m), proto: Object.getOwnPropertyNames(Object.prototype).join() };
    let error: unknown;
    try {
      restoreCheckpoint(input, vars);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Cls);
    expect((error as Error).message).toMatch(message);
    const after = { stats: counts(), target: target.vars.map((v) => bits(v.read())), source: observe(opt, m), proto: Object.getOwnPropertyNames(Object.prototype).join() };
    expect(after).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

// ---- integrity: every byte -------------------------------------------------------------------

describe('every byte of a checkpoint, damaged in turn, is refused and changes nothing', () => {
  /** A character replaced by another of its kind where there is one (a digit by a digit, a
   * letter by a letter, base64's + and /), so that most damaged texts still parse as JSON and
   * reach the checks; other characters have their lowest bit flipped. */
  const otherChar = (ch: string): string => {
    const c = ch.charCodeAt(0);
    if (ch >= '0' && ch <= '9') return String((c - 48 + 1) % 10);
    if (ch >= 'a' && ch <= 'z') return String.fromCharCode(97 + ((c - 97 + 1) % 26));
    if (ch >= 'A' && ch <= 'Z') return String.fromCharCode(65 + ((c - 65 + 1) % 26));
    if (ch === '+') return '/';
    if (ch === '/') return '+';
    return String.fromCharCode(c ^ 1);
  };

  function world() {
    const m = makeModel();
    const opt = deserialize({ class_name: 'Adam', config: { learning_rate: 0.01, amsgrad: true } });
    for (let t = 0; t < 4; t++) step(opt, m, t);
    const target = makeModel(false);
    const look = () => JSON.stringify({ stats: counts(), target: target.vars.map((v) => bits(v.read())), source: observe(opt, m) });
    const done = () => {
      opt.dispose();
      for (const x of [m, target]) {
        x.vars.forEach((v) => v.dispose());
        x.grad.dispose();
      }
    };
    return { m, opt, target, look, done };
  }

  /** Runs `restore`, which must throw a ConfigError, and checks that nothing changed. */
  function refusedUnchanged(look: () => string, before: string, restore: () => unknown, what: string): void {
    let error: unknown;
    try {
      const back = restore() as Optimizer;
      back.dispose();
    } catch (e) {
      error = e;
    }
    if (!(error instanceof ConfigError)) throw new Error(`${what}: ${error === undefined ? 'restored' : `not a ConfigError: ${String(error)}`}`);
    const after = look();
    if (after !== before) throw new Error(`${what}: something changed after ${String(error)}`);
  }

  test('the JSON text of a checkpoint and of an optimizer state', () => {
    const w = world();
    const forms: Array<[string, string, (x: unknown) => unknown]> = [
      ['checkpoint', JSON.stringify(saveCheckpoint(w.opt, w.m.vars)), (x) => restoreCheckpoint(x as Checkpoint, w.target.vars)],
      ['state', JSON.stringify(saveState(w.opt)), (x) => loadState(x as OptimizerState, w.target.vars)],
    ];
    let parsed = 0;
    let unparsable = 0;
    for (const [form, text, restore] of forms) {
      // The intact text restores (so what refuses the damaged ones is the damage); the targets
      // then hold its values, and must keep them.
      (restore(JSON.parse(text)) as Optimizer).dispose();
      const intact = w.look();
      for (let i = 0; i < text.length; i++) {
        const damaged = text.slice(0, i) + otherChar(text[i]) + text.slice(i + 1);
        let x: unknown;
        try {
          x = JSON.parse(damaged);
        } catch {
          unparsable++;
          continue;
        }
        parsed++;
        refusedUnchanged(w.look, intact, () => restore(x), `${form} character ${i} '${text[i]}'`);
      }
    }
    console.log(`checkpoint JSON: ${parsed} damaged texts that still parse refused, ${unparsable} more no longer JSON`);
    expect(parsed).toBeGreaterThan(3000);
    w.done();
  });

  test('the bytes of a checkpoint and of an optimizer state, each bit pattern', () => {
    const w = world();
    const forms: Array<[string, Uint8Array, (b: Uint8Array) => unknown]> = [
      ['checkpoint', encodeCheckpoint(saveCheckpoint(w.opt, w.m.vars)), (b) => restoreCheckpoint(b, w.target.vars)],
      ['state', encodeCheckpoint(saveState(w.opt)), (b) => loadState(b, w.target.vars)],
    ];
    let flipped = 0;
    for (const [form, bytes, restore] of forms) {
      (restore(bytes) as Optimizer).dispose();
      const intact = w.look();
      for (let i = 0; i < bytes.length; i++) {
        for (const mask of [0x01, 0x80, 0xff]) {
          const damaged = bytes.slice();
          damaged[i] ^= mask;
          refusedUnchanged(w.look, intact, () => restore(damaged), `${form} byte ${i} ^ ${mask}`);
          flipped++;
        }
        // decodeCheckpoint refuses it too (it never hands out damaged data, sealed anew).
        const damaged = bytes.slice();
        damaged[i] ^= 0x10;
        expect(() => decodeCheckpoint(damaged)).toThrow(ConfigError);
      }
    }
    console.log(`checkpoint bytes: ${flipped} damaged byte patterns refused`);
    w.done();
  });
});

describe('version 1 (before checksums) is still read, unchecked', () => {
  /** A version 1 checkpoint as simdopt 0.1 wrote it: no checksum, version 1 inside and out. */
  function asVersion1(c: Checkpoint): Checkpoint {
    const x = JSON.parse(JSON.stringify(c)) as Checkpoint;
    delete x.checksum;
    x.version = 1;
    x.optimizer.version = 1;
    return x;
  }
  /** Its bytes: version 1, the same header with version 1, no checksum at the end. */
  function bytesVersion1(c: Checkpoint): Uint8Array {
    const b = encodeCheckpoint(c).slice(0, -4);
    b[8] = 1;
    const len = new DataView(b.buffer).getUint32(12, true);
    const header = new TextDecoder().decode(b.subarray(16, 16 + len)).replaceAll('"version":2', '"version":1');
    b.set(new TextEncoder().encode(header), 16);
    return b;
  }

  test('JSON and bytes restore and continue bit for bit; the bytes decode to version 1, and encode to version 2', () => {
    const ref = makeModel();
    const refOpt = deserialize({ class_name: 'RMSprop', config: { learning_rate: 0.01, centered: true, momentum: 0.5 } });
    for (let t = 0; t < STEPS; t++) step(refOpt, ref, t);
    const expected = observe(refOpt, ref);
    for (const form of ['json', 'bytes'] as const) {
      const m = makeModel();
      const opt = deserialize({ class_name: 'RMSprop', config: { learning_rate: 0.01, centered: true, momentum: 0.5 } });
      for (let t = 0; t < 3; t++) step(opt, m, t);
      const ckpt = saveCheckpoint(opt, m.vars);
      const old = form === 'json' ? asVersion1(ckpt) : bytesVersion1(ckpt);
      if (old instanceof Uint8Array) {
        const decoded = decodeCheckpoint(old);
        expect([decoded.version, decoded.checksum]).toEqual([1, undefined]);
        expect(decodeCheckpoint(encodeCheckpoint(decoded))).toEqual(ckpt);
      }
      const fresh = makeModel(false);
      const back = restoreCheckpoint(old, fresh.vars);
      for (let t = 3; t < STEPS; t++) step(back, fresh, t);
      expect(observe(back, fresh)).toBe(expected);
      for (const o of [opt, back]) o.dispose();
      for (const x of [m, fresh]) {
        x.vars.forEach((v) => v.dispose());
        x.grad.dispose();
      }
    }
    refOpt.dispose();
    ref.vars.forEach((v) => v.dispose());
    ref.grad.dispose();
  });

  test('what version 1 cannot tell: a damaged value restores; bytes beyond its arrays do not', () => {
    const m = makeModel();
    const opt = deserialize({ class_name: 'SGD', config: { momentum: 0.5 } });
    step(opt, m, 0);
    const b = bytesVersion1(saveCheckpoint(opt, m.vars));
    b[b.length - 1] ^= 0x40; // the last float of the payload
    const fresh = makeModel(false);
    restoreCheckpoint(b, fresh.vars).dispose();
    expect(() => restoreCheckpoint(Uint8Array.from([...b, 0, 0, 0, 0]), fresh.vars)).toThrow(/the arrays hold \d+ bytes of a \d+-byte payload/);
    opt.dispose();
    for (const x of [m, fresh]) {
      x.vars.forEach((v) => v.dispose());
      x.grad.dispose();
    }
  });
});
