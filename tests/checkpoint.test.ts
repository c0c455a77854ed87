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
  stats,
  ExponentialDecay,
  serializeSchedule,
  Checkpoint,
  OptimizerState,
  OptimizerSpec,
  ApplyState,
} from 'simdopt';
import { rng } from './helpers/random';

beforeAll(async () => {
  await ready();
});

const CONFIGS: Array<[string, Record<string, unknown>]> = [
  ['SGD', { learning_rate: 0.1 }],
  ['SGD', { learning_rate: 0.1, momentum: 0.9 }],
  ['SGD', { learning_rate: 0.1, momentum: 0.9, nesterov: true, clipnorm: 0.5 }],
  ['RMSprop', { learning_rate: 0.01 }],
  ['RMSprop', { learning_rate: 0.01, momentum: 0.5 }],
  ['RMSprop', { learning_rate: 0.01, centered: true }],
  ['RMSprop', { learning_rate: 0.01, centered: true, momentum: 0.5, clipvalue: 0.2 }],
  ['Adam', { learning_rate: 0.01 }],
  ['Adam', { learning_rate: 0.01, amsgrad: true, global_clipnorm: 1 }],
  ['Adam', { learning_rate: 0.01, decay: 0.01 }],
  ['Adagrad', { learning_rate: 0.1, initial_accumulator_value: 0.5 }],
  ['Adadelta', { learning_rate: 1.0, rho: 0.9 }],
  ['Adamax', { learning_rate: 0.01 }],
  ['Nadam', { learning_rate: 0.01 }],
  ['Ftrl', { learning_rate: 0.1, l1_regularization_strength: 0.01, l2_regularization_strength: 0.02, beta: 0.1 }],
  ['Ftrl', { learning_rate: 0.1, learning_rate_power: -0.7, l2_shrinkage_regularization_strength: 0.05 }],
];
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
  private sqSum?: Tensor;
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
    resumes(() => new MyAdagrad({ learningRate: 0.05 }), [0, 1, 4], { MyAdagrad }, (ckpt, stopAt) => stopAt === 4 && expect(ckpt.optimizer.slot_batches).toEqual([4, 1]));
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
    expect(() => restoreCheckpoint(ckpt, target.vars, { MyAdagrad: MyAdagradOtherOrder })).toThrow(/weight 2 is 'MyAdagrad\/table\/acc:0' in the restored optimizer but 'MyAdagrad\/dense\/acc:0'/);
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
  const edit = (f: (c: Checkpoint) => void): Mut => (c, t) => {
    const x = clone(c);
    f(x);
    return [x, t];
  };
  const cases: Array<[string, Mut, new (...a: never[]) => SimdoptError, RegExp]> = [
    ['wrong format', edit((c) => ((c as { format: string }).format = 'keras')), ConfigError, /format/],
    ['future version', edit((c) => (c.version = 2)), ConfigError, /version/],
    ['unknown class', edit((c) => (c.optimizer.class_name = 'Lion')), ConfigError, /Unknown optimizer: Lion/],
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
    ['a variable of another shape', (c, t) => [clone(c), [new Variable(new Float32Array(15), { shape: [5, 3], name: 'matrix' }), ...t.filter((v) => v.name !== 'matrix')]], WeightsError, /shape \[5, 3\]/],
    ['the same variable twice', (c, t) => [clone(c), [...t, t[0]]], ArgumentError, /twice/],
    ['truncated bytes', (c, t) => [encodeCheckpoint(c).slice(0, 100), t], ConfigError, /truncated|JSON/],
    ['wrong magic', (c, t) => [Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12), t], ConfigError, /magic/],
    ['payload cut short', (c, t) => [encodeCheckpoint(c).slice(0, -4), t], ConfigError, /payload/],
  ];

  test.each(cases)('%s', (_label, mutate, Cls, message) => {
    const { m, opt, ckpt, target } = setup();
    const [input, vars] = mutate(ckpt, target.vars);
    const before = { stats: stats(), target: target.vars.map((v) => bits(v.read())), source: observe(opt, m), proto: Object.getOwnPropertyNames(Object.prototype).join() };
    let error: unknown;
    try {
      restoreCheckpoint(input, vars);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Cls);
    expect((error as Error).message).toMatch(message);
    const after = { stats: stats(), target: target.vars.map((v) => bits(v.read())), source: observe(opt, m), proto: Object.getOwnPropertyNames(Object.prototype).join() };
    expect(after).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
