// Custom Keras 3 optimizers (subclasses of simdopt/keras3's Optimizer with `build` and
// `updateStep`): the same numbers as a built-in written the same way, configs and registered
// names, checkpoints, and typed errors that change nothing. The Keras 3 reference trajectories
// are replayed in keras3-custom-replay.test.ts.
import {
  ready,
  Variable,
  IndexedSlices,
  ArgumentError,
  StateError,
  ShapeError,
  saveCheckpoint,
  restoreCheckpoint,
  encodeCheckpoint,
  deserialize as rootDeserialize,
  serialize as rootSerialize,
} from 'simdopt';
import type { Variable as VariableType } from 'simdopt';
import { SGD, Adam, ExponentialDecay, LossScaleOptimizer, MultiOptimizer, OptimizerMap, Optimizer, deserialize, get, serialize, registerKerasSerializable } from 'simdopt/keras3';
import { HandSGD, RowScaledMomentum } from './helpers/keras3-custom';
import { grads, model, run as runEvery } from './helpers/keras3-model';

/** The steps, with a None bias gradient every fourth. */
const run = (opt: Optimizer, vars: Variable[], from: number, to: number) => runEvery(opt, vars, from, to, 4);

beforeAll(async () => {
  await ready();
});

const bits = (x: ArrayLike<number | bigint>) => Array.from(x, (v) => (typeof v === 'bigint' ? v : Object.is(v, -0) ? '-0' : v));

describe("a custom subclass reproducing Keras 3's SGD(momentum) gives the built-in's numbers bit for bit", () => {
  const settings: Array<[string, Record<string, unknown>]> = [
    ['plain', { learningRate: 0.05 }],
    ['weight decay + EMA', { learningRate: 0.05, weightDecay: 0.1, useEma: true, emaMomentum: 0.9 }],
    [
      'every base option (schedule, loss scale, accumulation, global clip, EMA overwrite)',
      {
        learningRate: new ExponentialDecay(0.1, 3, 0.7),
        weightDecay: 0.02,
        globalClipnorm: 0.8,
        useEma: true,
        emaMomentum: 0.8,
        emaOverwriteFrequency: 3,
        lossScaleFactor: 8,
        gradientAccumulationSteps: 2,
      },
    ],
    ['clipnorm', { learningRate: 0.05, clipnorm: 0.5 }],
    ['clipvalue', { learningRate: 0.05, clipvalue: 0.05 }],
  ];
  test.each(settings)('%s', (_, options) => {
    const [va, vb] = [model(), model()];
    const builtin = new SGD({ ...options, momentum: 0.9, name: 'sgd' });
    const hand = new HandSGD({ ...options, momentum: 0.9, name: 'sgd' });
    for (let s = 0; s < 20; s++) {
      run(builtin, va, s, s + 1);
      run(hand, vb, s, s + 1);
      va.forEach((v, i) => expect(bits(vb[i].read())).toEqual(bits(v.read())));
      expect(hand.getWeights().map(bits)).toEqual(builtin.getWeights().map(bits));
    }
    expect(hand.getWeightNames()).toEqual(builtin.getWeightNames());
    expect(hand.iterations).toBe(builtin.iterations);
    builtin.dispose();
    hand.dispose();
  });

  test('with exclude_from_weight_decay, and after a skipped (non-finite) first step', () => {
    const [va, vb] = [model(), model()];
    const options = { learningRate: 0.05, momentum: 0.9, weightDecay: 0.1, useEma: true, name: 'sgd' };
    const [builtin, hand] = [new SGD(options), new HandSGD(options)];
    for (const o of [builtin, hand]) {
      o.excludeFromWeightDecay({ varNames: ['bias'] });
      o.skipNonFinite = true;
    }
    const nan = [new Float32Array(6).fill(NaN), new Float32Array(3)];
    expect(hand.applyGradients(vb.map((v, i) => [nan[i], v] as const))).toMatchObject({ applied: false });
    expect(builtin.applyGradients(va.map((v, i) => [nan[i], v] as const))).toMatchObject({ applied: false });
    expect(hand.built).toBe(false);
    run(builtin, va, 0, 10);
    run(hand, vb, 0, 10);
    va.forEach((v, i) => expect(bits(vb[i].read())).toEqual(bits(v.read())));
    expect(hand.getWeights().map(bits)).toEqual(builtin.getWeights().map(bits));
    builtin.dispose();
    hand.dispose();
  });

  test("the first step's build may use the step frame itself (another optimizer's step): the step is unchanged", () => {
    const other = new SGD({ learningRate: 0.1 });
    const w = new Variable(new Float32Array(64), { name: 'other' });
    class Busy extends HandSGD {
      override build(variables: readonly Variable[]): void {
        other.applyGradients([[new Float32Array(64).fill(-3), w]]);
        super.build(variables);
      }
    }
    const [va, vb] = [model(), model()];
    const [quiet, busy] = [new HandSGD({ clipnorm: 0.5, name: 'sgd' }), new Busy({ clipnorm: 0.5, name: 'sgd' })];
    run(quiet, va, 0, 3);
    run(busy, vb, 0, 3);
    va.forEach((v, i) => expect(bits(vb[i].read())).toEqual(bits(v.read())));
    expect(Array.from(w.read().slice(0, 2))).toEqual([Math.fround(0.3), Math.fround(0.3)]);
    [quiet, busy, other].forEach((o) => o.dispose());
  });

  test('an IndexedSlices gradient reaches updateStep densified (repeated rows summed)', () => {
    const v = new Variable(new Float32Array(6), { shape: [3, 2], name: 'embedding' });
    const seen: Float32Array[] = [];
    class Probe extends Optimizer {
      constructor() {
        super({ className: 'Probe', config: [['learning_rate', 0.1]] }, {});
      }
      protected override updateStep(gradient: Float32Array): void {
        seen.push(gradient);
      }
    }
    const p = new Probe();
    p.applyGradients([[new IndexedSlices(new Float32Array([1, 2, 3, 4, 5, 6]), new Int32Array([2, 0, 2])), v]]);
    expect(Array.from(seen[0])).toEqual([3, 4, 0, 0, 6, 8]);
    p.dispose();
  });
});

describe('around a custom optimizer', () => {
  test('variables report addVariable shapes; a LossScaleOptimizer wraps it as it wraps the built-in', () => {
    class Shaped extends Optimizer {
      constructor() {
        super({ className: 'Shaped', config: [['learning_rate', 0.1]] }, { useEma: true });
      }
      override build(variables: readonly Variable[]): void {
        super.build(variables);
        this.addVariable({ shape: [2, 3], initializer: (shape) => Float32Array.from({ length: shape[0] * shape[1] }, (_, i) => i), name: 'table' });
      }
      protected override updateStep(): void {}
    }
    const o = new Shaped();
    o.build(model());
    expect(o.variables.map((v) => [v.path, v.shape])).toContainEqual(['shaped/table', [2, 3]]);
    const hand = new HandSGD();
    hand.build(model());
    const views = (hand as unknown as { momentums: Array<{ name: string; shape: readonly number[] }> }).momentums;
    expect(views.map((m) => [m.name, m.shape])).toEqual([
      ['hand_sgd/dense_kernel_momentum', [2, 3]],
      ['hand_sgd/dense_bias_momentum', [3]],
    ]);
    hand.dispose();
    expect(Array.from(o.variables.find((v) => v.path === 'shaped/table')!.value as Float32Array)).toEqual([0, 1, 2, 3, 4, 5]);
    o.dispose();

    const [va, vb] = [model(), model()];
    const a = new LossScaleOptimizer(new SGD({ learningRate: 0.05, momentum: 0.9, name: 'sgd', useEma: true }), 8, 2);
    const b = new LossScaleOptimizer(new HandSGD({ learningRate: 0.05, momentum: 0.9, name: 'sgd', useEma: true }), 8, 2);
    for (let s = 0; s < 8; s++) {
      const gs = model().map((_, i) => Float32Array.from({ length: va[i].size }, (_, k) => (s === 3 && k === 1 ? Infinity : Math.cos(k + s) * 16)));
      a.applyGradients(va.map((v, i) => [gs[i], v] as const));
      b.applyGradients(vb.map((v, i) => [gs[i], v] as const));
    }
    va.forEach((v, i) => expect(bits(vb[i].read())).toEqual(bits(v.read())));
    expect(b.getWeights().map(bits)).toEqual(a.getWeights().map(bits));
    a.dispose();
    b.dispose();
  });
  test('a MultiOptimizer routes variables to a custom sub-optimizer (its loss scale factor set on it)', () => {
    const [va, vb] = [model(), model()];
    const make = (sgd: Optimizer) => new MultiOptimizer(new OptimizerMap(new Adam({ learningRate: 0.01, name: 'adam' }), { 'dense/kernel': sgd }), 2, 'multi');
    const a = make(new SGD({ learningRate: 0.05, momentum: 0.9, name: 'sgd' }));
    const b = make(new HandSGD({ learningRate: 0.05, momentum: 0.9, name: 'sgd' }));
    for (let s = 0; s < 6; s++) {
      const gs = grads(s);
      a.applyGradients(va.map((v, i) => [gs[i], v] as const));
      b.applyGradients(vb.map((v, i) => [gs[i], v] as const));
    }
    va.forEach((v, i) => expect(bits(vb[i].read())).toEqual(bits(v.read())));
    expect(b.getWeights().map(bits)).toEqual(a.getWeights().map(bits));
    expect(b.variables.map((v) => v.path)).toEqual(a.variables.map((v) => v.path));
    a.dispose();
    b.dispose();
  });
});

describe('config and serialization', () => {
  test('getConfig merges the subclass keys with the base config; fromConfig rebuilds it', () => {
    const opt = new HandSGD({ learningRate: 0.1, momentum: 0.5, weightDecay: 0.01, useEma: true });
    const config = opt.getConfig();
    expect(Object.keys(config)).toEqual([
      'name',
      'learning_rate',
      'weight_decay',
      'clipnorm',
      'global_clipnorm',
      'clipvalue',
      'use_ema',
      'ema_momentum',
      'ema_overwrite_frequency',
      'loss_scale_factor',
      'gradient_accumulation_steps',
      'momentum',
    ]);
    expect(config).toMatchObject({ momentum: 0.5, weight_decay: 0.01, use_ema: true, learning_rate: Math.fround(0.1) });
    const again = HandSGD.fromConfig(config) as HandSGD;
    expect(again.getConfig()).toEqual(config);
    expect(again.momentum).toBe(0.5);
    opt.dispose();
    again.dispose();
  });

  test('serialize writes the registered name; deserialize, get and the root deserialize find the class by it', () => {
    const opt = new RowScaledMomentum({ beta: 0.7 });
    const s = serialize(opt);
    expect(s).toEqual({ module: null, class_name: 'RowScaledMomentum', config: opt.getConfig(), registered_name: 'simdopt_tests>RowScaledMomentum' });
    for (const back of [deserialize(s), rootDeserialize(s as never), get(JSON.parse(JSON.stringify(s)))]) {
      expect(back).toBeInstanceOf(RowScaledMomentum);
      expect((back as RowScaledMomentum).beta).toBe(0.7);
      back.dispose();
    }
    const byName = get('simdopt_tests>HandSGD');
    expect(byName).toBeInstanceOf(HandSGD);
    byName.dispose();
    opt.dispose();
  });

  test('an unregistered class serializes under its class name and loads from customObjects', () => {
    class Plain extends HandSGD {}
    const opt = new Plain();
    const s = serialize(opt);
    expect(s.registered_name).toBe('HandSGD');
    expect(() => deserialize({ ...s, registered_name: 'nowhere>HandSGD', class_name: 'Nowhere' })).toThrow(/Could not interpret optimizer identifier: Nowhere/);
    const back = deserialize({ ...s, registered_name: 'mine>Plain' }, { 'mine>Plain': Plain });
    expect(back).toBeInstanceOf(Plain);
    back.dispose();
    opt.dispose();
  });

  test('the root serialize writes what simdopt/keras3 writes (module null, the registered name)', () => {
    const opt = new RowScaledMomentum({ beta: 0.7 });
    expect(rootSerialize(opt)).toEqual(serialize(opt));
    const builtIn = new Adam();
    expect(rootSerialize(builtIn)).toEqual(serialize(builtIn));
    opt.dispose();
    builtIn.dispose();
  });

  test('registerKerasSerializable refuses what is not an optimizer class', () => {
    expect(() => registerKerasSerializable('p')((() => 1) as never)).toThrow(ArgumentError);
    expect(() => registerKerasSerializable(7 as never)).toThrow(ArgumentError);
  });
});

describe('checkpoints', () => {
  test.each([
    ['HandSGD', () => new HandSGD({ learningRate: 0.05, weightDecay: 0.05, useEma: true, emaMomentum: 0.9, gradientAccumulationSteps: 3 })],
    ['RowScaledMomentum', () => new RowScaledMomentum({ weightDecay: 0.02, useEma: true, clipvalue: 1 })],
  ])('%s: restored custom variables continue bit for bit (JSON and binary)', (_, make) => {
    const [va, vb] = [model(), model()];
    const straight = make();
    run(straight, va, 0, 7);
    const ckpt = saveCheckpoint(straight, va);
    for (const form of [JSON.parse(JSON.stringify(ckpt)), encodeCheckpoint(ckpt)]) {
      vb.forEach((v, i) => v.assign(va[i].read()));
      const restored = restoreCheckpoint(form, vb) as Optimizer;
      expect(restored.getWeightNames()).toEqual(straight.getWeightNames());
      expect(restored.getWeights().map(bits)).toEqual(straight.getWeights().map(bits));
      const [ca, cb] = [model(), model()];
      ca.forEach((v, i) => v.assign(va[i].read()));
      cb.forEach((v, i) => v.assign(vb[i].read()));
      const twin = restoreCheckpoint(saveCheckpoint(straight, va), ca) as Optimizer;
      run(twin, ca, 7, 15);
      run(restored, vb, 7, 15);
      vb.forEach((v, i) => expect(bits(v.read())).toEqual(bits(ca[i].read())));
      expect(restored.getWeights().map(bits)).toEqual(twin.getWeights().map(bits));
      restored.dispose();
      twin.dispose();
    }
    straight.dispose();
  });

  test('a checkpoint keeps the registered name: two registered classes of one class name restore as their own', () => {
    const [first, second] = ['ckpt_a', 'ckpt_b'].map((pkg, k) => {
      class Twin extends HandSGD {
        readonly which = k;
      }
      registerKerasSerializable(pkg)(Twin);
      return Twin;
    });
    for (const [Cls, which] of [
      [first, 0],
      [second, 1],
    ] as const) {
      const vars = model();
      const opt = new Cls({ learningRate: 0.05 });
      run(opt, vars, 0, 2);
      const ckpt = saveCheckpoint(opt, vars);
      const state = JSON.parse(JSON.stringify(ckpt)) as { optimizer: { module: unknown; registered_name: unknown } };
      expect([state.optimizer.module, state.optimizer.registered_name]).toEqual([null, `ckpt_${'ab'[which]}>Twin`]);
      const restored = restoreCheckpoint(state as unknown as typeof ckpt, model());
      expect(restored).toBeInstanceOf(Cls);
      expect((restored as unknown as { which: number }).which).toBe(which);
      restored.dispose();
      opt.dispose();
    }
  });
});

describe('bad input: typed errors, nothing changed', () => {
  test("super(options) as in Python's Keras (no class description): an ArgumentError saying what super takes", () => {
    class Pythonic extends Optimizer {
      constructor() {
        super({ learningRate: 0.1 } as never, undefined);
      }
      protected override updateStep(): void {}
    }
    expect(() => new Pythonic()).toThrow(ArgumentError);
    expect(() => new Pythonic()).toThrow(/Pythonic must call super\(\{ className, config: \[\['learning_rate', default\]/);
  });

  test('slotDtype other than float32 on a custom class: a ConfigError naming the class', () => {
    expect(() => new HandSGD({ slotDtype: 'int8' } as never)).toThrow(expect.objectContaining({ name: 'ConfigError', code: 'UnsupportedSlotDtype' }));
    expect(() => new HandSGD({ slotDtype: 'bfloat16' } as never)).toThrow(/'HandSGD' is a custom optimizer/);
    new HandSGD({ slotDtype: 'float32' } as never).dispose();
  });

  function snapshot(opt: Optimizer, vars: VariableType[]) {
    return {
      vars: vars.map((v) => bits(v.read())),
      built: opt.built,
      names: opt.built ? opt.getWeightNames() : [],
      weights: opt.built ? opt.getWeights().map(bits) : [],
      it: opt.iterations,
    };
  }

  test('a wrong gradient size on the first step leaves the optimizer unbuilt; later, unchanged', () => {
    const vars = model();
    const opt = new HandSGD({ useEma: true, weightDecay: 0.1 });
    const before = snapshot(opt, vars);
    expect(() =>
      opt.applyGradients([
        [new Float32Array(5), vars[0]],
        [new Float32Array(3), vars[1]],
      ]),
    ).toThrow(ShapeError);
    expect(snapshot(opt, vars)).toEqual(before);
    expect(opt.built).toBe(false);
    run(opt, vars, 0, 3);
    const after = snapshot(opt, vars);
    expect(() =>
      opt.applyGradients([
        [new Float32Array(6), vars[0]],
        [new Float32Array(4), vars[1]],
      ]),
    ).toThrow(ShapeError);
    expect(() => opt.applyGradients([[new Float32Array(6), new Variable(new Float32Array(6), { name: 'other' })]])).toThrow(/Unknown variable/);
    expect(snapshot(opt, vars)).toEqual(after);
    opt.dispose();
  });

  test('what build may add is checked', () => {
    const vars = model();
    const stranger = new Variable(new Float32Array(2), { name: 'stranger' });
    const attempts: Array<[string, (o: Bad) => void, new (...a: never[]) => Error]> = [
      ['a variable the optimizer is not built with', (o) => o.ref(stranger, 'm'), StateError],
      ['a name used twice for a variable', (o) => (o.ref(vars[0], 'm'), o.ref(vars[0], 'm')), ArgumentError],
      ["a name with '/'", (o) => o.ref(vars[0], 'a/b'), ArgumentError],
      ['a non-Variable', (o) => o.ref({} as never, 'm'), ArgumentError],
      ['an int32 variable', (o) => o.add({ shape: [2], dtype: 'int32' as never, name: 'n' }), ArgumentError],
      ['a negative dimension', (o) => o.add({ shape: [-1], name: 'n' }), ArgumentError],
      ['a weight name used twice', (o) => (o.add({ shape: [], name: 'n' }), o.add({ shape: [], name: 'n' })), ArgumentError],
    ];
    class Bad extends Optimizer {
      constructor(private readonly attempt: (o: Bad) => void) {
        super({ className: 'Bad', config: [['learning_rate', 0.1]] }, {});
      }
      ref(v: VariableType, n: string) {
        return this.addVariableFromReference(v, n);
      }
      add(o: Parameters<Optimizer['addVariable']>[0]) {
        return this.addVariable(o);
      }
      override build(variables: readonly VariableType[]): void {
        super.build(variables);
        this.attempt(this);
      }
      protected override updateStep(): void {}
    }
    for (const [what, attempt, type] of attempts) {
      const o = new Bad(attempt);
      expect(() => o.build(vars)).toThrow(type);
      o.dispose();
      void what;
    }
    const twice = new HandSGD();
    twice.build(vars);
    const names = twice.getWeightNames();
    expect(() => Optimizer.prototype.build.call(twice, vars)).toThrow(/already built/);
    expect(twice.getWeightNames()).toEqual(names);
    twice.dispose();
  });

  test('addVariableFromReference outside a custom optimizer, and TF 2.4 hooks on a Keras 3 subclass, are refused', () => {
    const sgd = new SGD();
    expect(() => (sgd as unknown as { addVariable(o: unknown): void }).addVariable({ shape: [] })).toThrow(StateError);
    sgd.dispose();
    class Mixed extends Optimizer {
      constructor() {
        super({ className: 'Mixed', config: [['learning_rate', 0.1]] }, {});
      }
      protected override resourceApplyDense(): void {}
    }
    expect(() => new Mixed()).toThrow(/implements build and updateStep/);
  });

  test('assign ops check the operand before writing', () => {
    const v = new Variable(new Float32Array([1, 2, 3]), { name: 'v' });
    class Ops extends Optimizer {
      constructor() {
        super({ className: 'Ops', config: [['learning_rate', 0.1]] }, {});
      }
      protected override updateStep(): void {}
      run(f: (o: Ops) => void) {
        f(this);
      }
      add(x: VariableType, y: unknown) {
        this.assignAdd(x, y as number);
      }
    }
    const o = new Ops();
    expect(() => o.add(v, [1, 2])).toThrow(ArgumentError);
    expect(() => o.add(v, 'x')).toThrow(ArgumentError);
    expect(Array.from(v.read())).toEqual([1, 2, 3]);
    o.add(v, 0.1);
    expect(Array.from(v.read())).toEqual([1, 2, 3].map((x) => Math.fround(x + Math.fround(0.1))));
    o.dispose();
  });

  test("hostile objects are read once: addVariable's options, the constructor's options", () => {
    const reads: Record<string, number> = {};
    const counted = <T extends object>(o: T): T =>
      new Proxy(o, {
        get(t, k, r) {
          reads[String(k)] = (reads[String(k)] ?? 0) + 1;
          return Reflect.get(t, k, r);
        },
      });
    class Counting extends Optimizer {
      constructor(options: Record<string, unknown>) {
        super({ className: 'Counting', config: [['learning_rate', 0.1]] }, options);
      }
      override build(variables: readonly VariableType[]): void {
        super.build(variables);
        this.addVariable(counted({ shape: [2], initializer: 'ones', name: 'w' }));
      }
      protected override updateStep(): void {}
    }
    const o = new Counting(counted({ learningRate: 0.2, useEma: true, weightDecay: 0.1 }));
    o.build(model());
    for (const k of ['shape', 'initializer', 'name', 'dtype', 'learningRate', 'useEma', 'weightDecay']) expect([k, reads[k]]).toEqual([k, 1]);
    expect(o.getWeightNames()).toContain('counting/w');
    o.dispose();
  });
});
