// The rest of Keras' OptimizerV2 base API: gradient_aggregator / gradient_transformers,
// minimize with a pluggable gradient source, and custom optimizers written in TypeScript.
import {
  ready,
  Variable,
  Tensor,
  IndexedSlices,
  SGD,
  Adam,
  Optimizer,
  ExponentialDecay,
  serialize,
  deserialize,
  saveState,
  loadState,
  finiteDifferenceGradients,
  finiteDifferences,
  ArgumentError,
  HyperparameterError,
  StateError,
  SlotError,
  WeightsError,
  WasmTensor,
} from 'simdopt';
import type { ApplyState, GradsAndVars, OptimizerSpec, Gradient } from 'simdopt';

beforeAll(async () => {
  await ready();
});

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.slice().buffer));

/** Deterministic pseudo-random gradients. */
function grads(seed: number, n: number, scale = 1): Float32Array {
  let x = seed * 2654435761;
  return Float32Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) >>> 0;
    return ((x / 2 ** 32) * 2 - 1) * scale;
  });
}

describe('gradientAggregator and gradientTransformers', () => {
  test('transformers run in list order on Float32Array copies; the result is what gets applied', () => {
    const seen: string[] = [];
    const double = (gv: GradsAndVars) => {
      seen.push('double');
      return gv.map(([g, v]) => [(g as Float32Array).map((x) => 2 * x), v] as const);
    };
    const plusOne = (gv: GradsAndVars) => {
      seen.push('plusOne');
      return gv.map(([g, v]) => [(g as Float32Array).map((x) => x + 1), v] as const);
    };
    const a = new Variable([1, 2, 3]);
    const b = new Variable([1, 2, 3]);
    const t = new Tensor([0.5, -1, 2]);
    const opt = new SGD({ learningRate: 0.1, gradientTransformers: [double, plusOne] });
    opt.applyGradients([[t, a]]);
    expect(seen).toEqual(['double', 'plusOne']);
    expect(Array.from(t.read())).toEqual([0.5, -1, 2]); // the caller's tensor is untouched
    new SGD({ learningRate: 0.1 }).applyGradients([[new Float32Array([2, -1, 5]), b]]);
    expect(bits(a.read())).toEqual(bits(b.read()));
    expect(opt.getConfig()).toEqual({ name: 'SGD', learning_rate: 0.1, decay: 0, momentum: 0, nesterov: false });
    expect(opt.gradientTransformers).toHaveLength(2);
  });

  test('the aggregator runs first, then clipping in the core; skipped without experimentalAggregateGradients', () => {
    let calls = 0;
    const gradientAggregator = (gv: GradsAndVars) => {
      calls++;
      return gv.map(([g, v]) => [(g as Float32Array).map((x) => 3 * x), v] as const);
    };
    const v1 = new Variable([1, 1]);
    const v2 = new Variable([1, 1]);
    const v3 = new Variable([1, 1]);
    const opt = new Adam({ learningRate: 0.1, clipnorm: 1, gradientAggregator });
    expect(opt.gradientAggregator).toBe(gradientAggregator);
    opt.applyGradients([[[0.3, 0.4], v1]]);
    new Adam({ learningRate: 0.1, clipnorm: 1 }).applyGradients([[[0.9, Math.fround(0.4) * 3], v2]]);
    expect(calls).toBe(1);
    expect(bits(v1.read())).toEqual(bits(v2.read()));
    const o3 = new Adam({ learningRate: 0.1, clipnorm: 1, gradientAggregator });
    o3.applyGradients([[[0.3, 0.4], v3]], { experimentalAggregateGradients: false });
    expect(calls).toBe(1);
    expect(opt.getConfig()).not.toHaveProperty('gradient_aggregator');
  });

  test('null gradients are left out of the hooks and keep their positions; sparse gradients pass as IndexedSlices', () => {
    const w = new Variable([1, 2, 3, 4], { shape: [2, 2] });
    const u = new Variable([5]);
    let got: GradsAndVars = [];
    const opt = new SGD({ learningRate: 1, gradientTransformers: [(gv) => ((got = gv), gv)] });
    opt.applyGradients([
      [null, u],
      [new IndexedSlices([1, 1], [1]), w],
    ]);
    expect(got).toHaveLength(1);
    expect(got[0][0]).toBeInstanceOf(IndexedSlices);
    expect(got[0][1]).toBe(w);
    expect(Array.from(w.read())).toEqual([1, 2, 2, 3]);
    // skipNonFinite reports positions in the list given.
    const bad = new SGD({ gradientTransformers: [(gv) => gv] });
    const r = bad.applyGradients(
      [
        [null, u],
        [[NaN], new Variable([0])],
      ],
      { skipNonFinite: true },
    );
    expect(r.applied).toBe(false);
    expect(r.nonFiniteIndices).toEqual([1]);
  });

  test('what a hook returns is checked', () => {
    const a = new Variable([1]);
    const b = new Variable([1]);
    const mk = (f: (gv: GradsAndVars) => unknown) => new SGD({ gradientTransformers: [f as never] });
    expect(() => mk(() => [])).not.toThrow();
    expect(() => mk(() => []).applyGradients([[[1], a]])).toThrow(ArgumentError);
    expect(() => mk((gv) => gv.map(([g]) => [g, b])).applyGradients([[[1], a]])).toThrow(/where 'Variable' was given|at position 0/);
    expect(() => mk((gv) => gv.map(([, v]) => [null, v])).applyGradients([[[1], a]])).toThrow(ArgumentError);
    expect(() => mk(() => 'no').applyGradients([[[1], a]])).toThrow(ArgumentError);
    expect(() => new SGD({ gradientAggregator: 3 as never })).toThrow(ArgumentError);
    expect(() => new SGD({ gradientTransformers: [3 as never] })).toThrow(ArgumentError);
    expect(Array.from(a.read())).toEqual([1]);
  });

  test("Keras' check 4: clip options and transformers exclude each other, with Keras' texts", () => {
    const t = [(gv: GradsAndVars) => gv];
    const norm = '`clipnorm` cannot be set when `gradient_transformers` is set. Instead, use the `gradient_transformers` to specify clipping and other transformations.';
    const value = '`clipvalue` cannot be set when `gradient_transformers` is set. Instead, use the `gradient_transformers` to specify clipping and other transformations.';
    expect(() => new SGD({ clipnorm: 1, gradientTransformers: t })).toThrow(new HyperparameterError('InvalidHyperparameter', norm));
    expect(() => new SGD({ globalClipnorm: 1, gradientTransformers: t })).toThrow(norm);
    expect(() => new SGD({ clipvalue: 1, gradientTransformers: t })).toThrow(value);
    expect(() => new SGD({ clipvalue: 1, clipnorm: 1, gradientTransformers: t })).toThrow(norm);
    const opt = new SGD({ gradientTransformers: t });
    expect(() => (opt.clipnorm = 1)).toThrow(norm);
    expect(() => (opt.globalClipnorm = 1)).toThrow(norm);
    expect(() => (opt.clipvalue = 1)).toThrow(value);
    expect(opt.clipnorm).toBeUndefined();
    const clipped = new SGD({ clipvalue: 1 });
    expect(() => (clipped.gradientTransformers = t)).toThrow(value);
    expect(() => new SGD({ clipnorm: -1, gradientTransformers: t })).toThrow('Expected clipnorm >= 0, received: -1.0');
  });
});

describe('minimize', () => {
  test('finite differences minimize a quadratic; the loss is returned', () => {
    const w = new Variable([3, -2]);
    const loss = () => (w.value[0] - 1) ** 2 + 2 * (w.value[1] + 0.5) ** 2;
    const opt = new SGD({ learningRate: 0.1 });
    const first = opt.minimize(loss, [w], { gradientSource: finiteDifferenceGradients });
    expect(first).toBe(4 + 2 * 1.5 ** 2);
    for (let i = 0; i < 100; i++) opt.minimize(loss, [w], { gradientSource: finiteDifferenceGradients });
    expect(w.value[0]).toBeCloseTo(1, 4);
    expect(w.value[1]).toBeCloseTo(-0.5, 4);
    expect(opt.iterations).toBe(101);
  });

  test('finite differences are close to the analytic gradient and restore every value', () => {
    const w = new Variable([0.3, -1.2, 2.5]);
    const before = w.read();
    const src = finiteDifferences({ step: 1e-2 });
    const { grads, loss } = src(
      () => w.value.reduce((s, x) => s + x ** 3, 0),
      () => [w],
    );
    expect(bits(w.read())).toEqual(bits(before));
    expect(loss).toBeCloseTo(0.3 ** 3 + (-1.2) ** 3 + 2.5 ** 3, 5);
    (grads[0] as Float32Array).forEach((g, i) => expect(g).toBeCloseTo(3 * before[i] ** 2, 2));
  });

  test("Keras' order: the loss first, then var_list, then gradients; the optimizer's gradientSource", () => {
    const order: string[] = [];
    let w: Variable | undefined;
    const opt = new SGD({ learningRate: 1 });
    opt.gradientSource = (loss: () => number, varList) => {
      const value = loss();
      order.push('loss');
      const vars = varList();
      order.push('vars');
      return { loss: value, grads: vars.map(() => [2]) };
    };
    const result = opt.minimize(
      () => {
        w ??= new Variable([5], { name: 'lazy' });
        return 7;
      },
      () => {
        order.push('varList()');
        return [w!];
      },
    );
    expect(result).toBe(7);
    expect(order).toEqual(['loss', 'varList()', 'vars']);
    expect(Array.from(w!.read())).toEqual([3]);
  });

  test('a missing or bad gradient source is a typed error, and nothing changes', () => {
    const w = new Variable([1]);
    const opt = new SGD();
    expect(() => opt.minimize(() => 1, [w])).toThrow(ArgumentError);
    expect(() => opt.minimize(() => 1, [w])).toThrow(/gradient source/);
    expect(() => opt.minimize(() => 1, [w], { gradientSource: () => ({ loss: 1, grads: [] }) })).toThrow(/0 gradients for 1 variables/);
    expect(() => opt.minimize(() => 1, [w], { gradientSource: () => ({ loss: 'x', grads: [[1]] }) as never })).toThrow(ArgumentError);
    expect(opt.iterations).toBe(0);
    expect(Array.from(w.read())).toEqual([1]);
  });

  test('applyGradients options pass through (skipNonFinite)', () => {
    const w = new Variable([1]);
    const opt = new SGD();
    const src = () => ({ loss: 0, grads: [[NaN]] as Gradient[] });
    opt.minimize(null, [w], { gradientSource: src, skipNonFinite: true });
    expect(opt.skippedSteps).toBe(1);
    expect(Array.from(w.read())).toEqual([1]);
  });
});

// ---- custom optimizers ----------------------------------------------------------------------

const MY_SGD: OptimizerSpec = {
  className: 'MySGD',
  config: [
    ['learning_rate', 0.01],
    ['decay', 0],
    ['momentum', 0],
    ['nesterov', false],
  ],
};

/** Keras' SGD with momentum (ResourceApplyKerasMomentum), in TypeScript, in f32 op by op. */
class MySGD extends Optimizer {
  constructor(options: Record<string, unknown> = {}) {
    super(MY_SGD, options);
  }
  declare momentum: number;
  declare readonly nesterov: boolean;

  protected override createSlots(vars: readonly Variable[]): void {
    for (const v of vars) this.addSlot(v, 'momentum');
  }

  protected override prepareLocal(state: ApplyState): void {
    state.momentum = this.getHyperValue('momentum');
  }

  private update(grad: Float32Array, gOff: number, m: Float32Array, x: Float32Array, off: number, n: number, state: ApplyState): void {
    const lr = state.lrT;
    const mu = state.momentum as number;
    const f = Math.fround;
    for (let i = 0; i < n; i++) {
      const g = grad[gOff + i];
      const a = f(f(m[off + i] * mu) - f(g * lr));
      m[off + i] = a;
      x[off + i] = f(x[off + i] + (this.nesterov ? f(f(a * mu) - f(g * lr)) : a));
    }
  }

  protected override resourceApplyDense(grad: Float32Array, variable: Variable, state: ApplyState): void {
    const m = this.getSlot(variable, 'momentum').value;
    this.update(grad, 0, m, variable.value, 0, variable.size, state);
  }

  protected override resourceApplySparse(values: Float32Array, variable: Variable, indices: Int32Array, state: ApplyState): void {
    const m = this.getSlot(variable, 'momentum').value;
    const x = variable.value;
    const w = variable.size / variable.shape[0];
    indices.forEach((row, k) => this.update(values, k * w, m, x, row * w, w, state));
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), custom_note: undefined };
  }
}

describe('custom optimizers (subclasses with Keras hooks)', () => {
  const schedule = () => new ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 3, decayRate: 0.7 });

  for (const nesterov of [false, true]) {
    test(`a TypeScript SGD with momentum matches the built-in bit for bit over 20 steps (dense + sparse, clipnorm, schedule, decay, nesterov ${nesterov})`, () => {
      const make = () => [
        new Variable(grads(1, 6), { shape: [3, 2], name: 'w' }),
        new Variable(grads(2, 5), { name: 'b' }),
        new Variable(grads(3, 8), { shape: [4, 2], name: 'e' }),
      ];
      const va = make();
      const vb = make();
      const opts = { learningRate: schedule(), momentum: 0.9, nesterov, clipnorm: 0.7, decay: 0.01, name: 'SGD' };
      const builtin = new SGD(opts);
      const mine = new MySGD(opts);
      for (let step = 0; step < 20; step++) {
        const gw = grads(10 + step, 6, 2);
        const gb = grads(50 + step, 5, 3);
        const ge = new IndexedSlices(grads(90 + step, 6, 2), [3, 0, 3]); // duplicate row 3
        const pairs = (v: Variable[]): Array<[Gradient, Variable]> => [
          [gw, v[0]],
          [new Tensor(gb), v[1]],
          [ge, v[2]],
        ];
        builtin.applyGradients(pairs(va));
        mine.applyGradients(pairs(vb));
      }
      va.forEach((v, i) => expect(bits(vb[i].read())).toEqual(bits(v.read())));
      expect(mine.iterations).toBe(20);
      expect(mine.getSlotNames()).toEqual(builtin.getSlotNames());
      expect(mine.getWeightNames()).toEqual(builtin.getWeightNames());
      const wa = builtin.getWeights();
      const wb = mine.getWeights();
      expect(wb[0]).toEqual(wa[0]);
      wa.slice(1).forEach((w, i) => expect(bits(wb[i + 1] as Float32Array)).toEqual(bits(w as Float32Array)));
      expect(bits(mine.getSlot(vb[2], 'momentum').read())).toEqual(bits(builtin.getSlot(va[2], 'momentum').read()));
    });
  }

  test('clipvalue + globalClipnorm and a function momentum, too', () => {
    const va = [new Variable(grads(4, 7)), new Variable(grads(5, 3))];
    const vb = va.map((v) => new Variable(v.read()));
    let mu = 0.5;
    const opts = { learningRate: 0.05, momentum: () => mu, clipvalue: 0.4, globalClipnorm: 0.5 };
    const builtin = new SGD(opts);
    const mine = new MySGD(opts);
    for (let step = 0; step < 20; step++) {
      mu = 0.5 + step / 50;
      const g = [grads(step, 7, 2), grads(step + 100, 3, 2)];
      builtin.applyGradients(g.map((x, i) => [x, va[i]] as const));
      mine.applyGradients(g.map((x, i) => [x, vb[i]] as const));
    }
    va.forEach((v, i) => expect(bits(vb[i].read())).toEqual(bits(v.read())));
  });

  test('config round trip through serialize / deserialize with customObjects', () => {
    const opt = new MySGD({ learningRate: schedule(), momentum: 0.8, nesterov: true, clipnorm: 2 });
    const s = serialize(opt);
    expect(s.class_name).toBe('MySGD');
    expect(s.config).toMatchObject({ name: 'MySGD', clipnorm: 2, decay: 0, momentum: 0.8, nesterov: true });
    const back = deserialize(JSON.parse(JSON.stringify(s)), { MySGD });
    expect(back).toBeInstanceOf(MySGD);
    expect(JSON.parse(JSON.stringify(serialize(back)))).toEqual(JSON.parse(JSON.stringify(s)));
    expect(() => deserialize(s)).toThrow(/Unknown optimizer: MySGD/);
  });

  test('setWeights, build, addWeight, getSlot errors, skipNonFinite, constraints and checkpoints', () => {
    class WithWeight extends MySGD {
      counter!: WasmTensor;
      protected override createSlots(vars: readonly Variable[]): void {
        if (!this.counter) this.counter = this.addWeight('counter', [2], (shape) => new Float32Array(shape[0]).fill(7));
        for (const v of vars) this.addSlot(v, 'momentum', 'ones');
      }
    }
    const v = new Variable([1, 2], { name: 'v', constraint: (x) => x.map((y) => Math.min(y, 1.5)) });
    const opt = new WithWeight({ momentum: 0.5, learningRate: 0.1, name: 'W' });
    expect(opt.getWeights()).toHaveLength(1);
    opt.build([v]);
    expect(opt.getWeightNames()).toEqual(['W/iter:0', 'W/counter:0', 'W/v/momentum:0']);
    expect(Array.from(opt.getWeights()[1] as Float32Array)).toEqual([7, 7]);
    expect(Array.from(opt.getSlot(v, 'momentum').read())).toEqual([1, 1]);
    expect(() => opt.getSlot(v, 'nope')).toThrow(SlotError);
    opt.applyGradients([[[1, -1], v]]);
    expect(v.read()[1]).toBe(1.5); // the constraint ran
    const r = opt.applyGradients([[[NaN, 1], v]], { skipNonFinite: true });
    expect(r.applied).toBe(false);
    expect(opt.iterations).toBe(1);
    opt.setWeights([5n, [1, 2], [3, 4]]);
    expect(opt.iterations).toBe(5);
    expect(Array.from(opt.getSlot(v, 'momentum').read())).toEqual([3, 4]);
    expect(() => opt.setWeights([5n, [1, 2], [3]])).toThrow(WeightsError);
    expect(() => opt.setWeights([5n, [1, 2]])).toThrow(WeightsError);
    // A checkpoint of it (tests/checkpoint.test.ts continues runs from them). The class saves as
    // 'MySGD'; MySGD itself makes no 'counter' weight and is refused.
    expect(() => loadState(saveState(opt), [v], { MySGD })).toThrow(/the optimizer state has 3 weights, the restored optimizer 2/);
    const back = loadState(saveState(opt), [v], { MySGD: WithWeight });
    expect(back.getWeightNames()).toEqual(opt.getWeightNames());
    expect(back.getWeights()).toEqual(opt.getWeights());
    back.dispose();
    opt.dispose();
  });

  test('a custom optimizer also takes gradient hooks and minimize; a missing hook is a typed error', () => {
    const v = new Variable([1, 1, 1, 1], { shape: [2, 2] });
    const opt = new MySGD({
      learningRate: 0.5,
      momentum: 0.5,
      gradientTransformers: [(gv: GradsAndVars) => gv.map(([g, x]) => [(g as Float32Array).map((y) => y * 2), x] as const)],
    });
    opt.minimize(null, [v], { gradientSource: () => ({ loss: 0, grads: [[1, 1, 1, 1]] }) });
    expect(Array.from(v.read())).toEqual([0, 0, 0, 0]);
    class DenseOnly extends Optimizer {
      constructor() {
        super({ className: 'DenseOnly', config: [['learning_rate', 0.1]] }, {});
      }
      protected override resourceApplyDense(): void {}
    }
    const d = new DenseOnly();
    expect(() => d.applyGradients([[new IndexedSlices([1, 1], [0]), v]])).toThrow(StateError);
    expect(() => new SGD().build([v])).not.toThrow();
  });
});
