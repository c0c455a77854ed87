// Hostile input to simdopt/keras3: detached buffers, values that change between reads, user code
// that mutates the step's arrays, non-finite options. Every case ends in a typed error with the
// variables, the optimizer's variables, iterations and the core's object count as they were.
import { ready, stats, Variable, ArgumentError, HyperparameterError, SimdoptError } from 'simdopt';
import { Lion } from 'simdopt/keras3';
import type { Optimizer } from 'simdopt/keras3';

beforeAll(async () => {
  await ready();
});

function detach(a: Float32Array): void {
  structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
}

/** A Lion with state (two steps on two variables). */
function stepped(options: Record<string, unknown> = {}): { opt: Optimizer; vars: Variable[] } {
  const vars = [new Variable(new Float32Array([1, -2, 3, 0.5]), { shape: [2, 2], name: 'dense/kernel' }), new Variable(new Float32Array([0.1, -0.2]), { name: 'dense/bias' })];
  const opt = new Lion({ learningRate: 0.01, useEma: true, weightDecay: 0.1, ...options });
  for (let i = 0; i < 2; i++) opt.applyGradients(vars.map((v) => [new Float32Array(v.size).fill(0.5 - i), v] as const));
  return { opt, vars };
}

/** Runs `bad`, expects a typed error of class `Err`, and that nothing changed. */
function nothingChanged(opt: Optimizer, vars: Variable[], bad: () => unknown, Err: new (...a: never[]) => SimdoptError, message?: RegExp): void {
  const before = { vars: vars.map((v) => v.read()), weights: opt.getWeights().map((w) => w.slice()), iterations: opt.iterations, count: stats().optimizers };
  let thrown: unknown;
  try {
    bad();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(Err);
  if (message) expect((thrown as Error).message).toMatch(message);
  expect(vars.map((v) => v.read())).toEqual(before.vars);
  expect(opt.getWeights()).toEqual(before.weights);
  expect(opt.iterations).toBe(before.iterations);
  expect(stats().optimizers).toBe(before.count);
}

describe('hostile input to simdopt/keras3', () => {
  test('a detached gradient', () => {
    const { opt, vars } = stepped();
    const g = new Float32Array(4).fill(1);
    detach(g);
    nothingChanged(
      opt,
      vars,
      () =>
        opt.applyGradients([
          [g, vars[0]],
          [new Float32Array(2), vars[1]],
        ]),
      ArgumentError,
      /detached/,
    );
  });

  test('a learning-rate function that detaches a gradient of the step it runs in', () => {
    const g = new Float32Array(4).fill(1);
    let armed = false;
    const { opt, vars } = stepped({
      learningRate: () => {
        if (armed) detach(g);
        return 0.01;
      },
    });
    armed = true;
    nothingChanged(
      opt,
      vars,
      () =>
        opt.applyGradients([
          [g, vars[0]],
          [new Float32Array(2), vars[1]],
        ]),
      ArgumentError,
      /changed after it was read/,
    );
    armed = false;
  });

  test('a weight-decay function (simdopt extension) that shrinks a gradient, or returns NaN or a string', () => {
    let mode: 'ok' | 'shrink' | 'nan' | 'string' = 'ok';
    const buffer = new (ArrayBuffer as unknown as new (bytes: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(bytes: number): void })(16, { maxByteLength: 16 });
    const g = new Float32Array(buffer);
    const { opt, vars } = stepped({
      weightDecay: () => {
        if (mode === 'shrink') buffer.resize(8);
        return (mode === 'nan' ? Number.NaN : mode === 'string' ? '0.1' : 0.1) as number;
      },
    });
    mode = 'shrink';
    nothingChanged(
      opt,
      vars,
      () =>
        opt.applyGradients([
          [g, vars[0]],
          [new Float32Array(2), vars[1]],
        ]),
      ArgumentError,
      /changed after it was read/,
    );
    mode = 'nan';
    const g2 = new Float32Array(4);
    nothingChanged(opt, vars, () => opt.applyGradients([[g2, vars[0]]]), HyperparameterError, /weight_decay/);
    mode = 'string';
    nothingChanged(opt, vars, () => opt.applyGradients([[g2, vars[0]]]), HyperparameterError, /weight_decay/);
  });

  test('an options object whose getters change answer: each is read once', () => {
    let reads = 0;
    const options = {
      get learningRate() {
        reads++;
        return reads === 1 ? 0.01 : Number.NaN;
      },
      get clipnorm() {
        reads++;
        return reads <= 2 ? 1 : 'x';
      },
    };
    const opt = new Lion(options as never);
    expect(opt.getConfig().learning_rate).toBe(Math.fround(0.01));
    expect(opt.getConfig().clipnorm).toBe(1);
    expect(reads).toBe(2);
    opt.dispose();
  });

  test.each([
    ['learningRate', Infinity],
    ['learningRate', Number.NaN],
    ['weightDecay', Infinity],
    ['clipnorm', Infinity],
    ['clipvalue', -Infinity],
    ['globalClipnorm', Number.NaN],
    ['emaMomentum', Infinity],
    ['emaOverwriteFrequency', Infinity],
    ['lossScaleFactor', Infinity],
    ['gradientAccumulationSteps', Infinity],
    ['beta1', Infinity],
    ['beta2', Number.NaN],
  ])('option %s = %p is a typed error and creates nothing', (key, value) => {
    const count = stats().optimizers;
    expect(() => new Lion({ useEma: true, [key]: value })).toThrow(SimdoptError);
    expect(stats().optimizers).toBe(count);
  });

  test('setters: an infinite clip or weight decay is refused and changes nothing', () => {
    const { opt, vars } = stepped();
    nothingChanged(
      opt,
      vars,
      () => {
        opt.clipnorm = Infinity;
      },
      HyperparameterError,
    );
    nothingChanged(
      opt,
      vars,
      () => {
        opt.weightDecay = Number.NaN;
      },
      HyperparameterError,
    );
    expect(opt.clipnorm).toBeUndefined();
    expect(opt.weightDecay).toBe(0.1);
  });

  test('setWeights with a detached weight, a wrong size or too many weights changes nothing', () => {
    const { opt, vars } = stepped();
    const ws = opt.getWeights();
    const bad = ws.map((w) => w.slice()) as Float32Array[];
    detach(bad[3] as Float32Array);
    nothingChanged(opt, vars, () => opt.setWeights(bad), ArgumentError, /detached/);
    nothingChanged(opt, vars, () => opt.setWeights([...ws.slice(0, 3), new Float32Array(3)]), SimdoptError, /not compatible/);
    nothingChanged(opt, vars, () => opt.setWeights([...ws, new Float32Array(1)]), SimdoptError, /variables, got a list of/);
  });

  test('excludeFromWeightDecay: a pattern JavaScript cannot compile, a varList that is not Variables', () => {
    const { opt, vars } = stepped();
    nothingChanged(opt, vars, () => opt.excludeFromWeightDecay({ varNames: ['(unclosed'] }), ArgumentError, /regular expression/);
    nothingChanged(opt, vars, () => opt.excludeFromWeightDecay({ varList: [{}] as never }), ArgumentError);
  });

  test('finalizeVariableValues with the wrong variables changes nothing', () => {
    const { opt, vars } = stepped();
    nothingChanged(opt, vars, () => opt.finalizeVariableValues([vars[0]]), ArgumentError, /The length of model variables \(1\)/);
    nothingChanged(opt, vars, () => opt.finalizeVariableValues([vars[1], vars[0]]), ArgumentError, /has 2 values, its average 4/);
  });
});
