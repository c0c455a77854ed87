// What Keras and tfjs users write out of habit: positional constructor arguments, snake_case
// option keys (refused, with the camelCase name), `toTfjs('adam')` or a Keras config, weights
// through JSON.stringify, console.log of an optimizer, typed configs, and the errors of common
// mistakes (a variable before ready(), a slot an optimizer does not have).
import { inspect } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import {
  ready,
  Variable,
  Optimizer,
  SGD,
  RMSprop,
  Adam,
  Adagrad,
  Adadelta,
  Adamax,
  Nadam,
  Ftrl,
  ExponentialDecay,
  PiecewiseConstantDecay,
  PolynomialDecay,
  InverseTimeDecay,
  CosineDecay,
  CosineDecayRestarts,
  LinearCosineDecay,
  NoisyLinearCosineDecay,
  ArgumentError,
  ConfigError,
  SlotError,
  serialize,
} from 'simdopt';
import type { AdamConfig, FtrlConfig, SGDConfig, LearningRateSchedule } from 'simdopt';
import { toTfjs } from 'simdopt/tfjs';
import { node } from './helpers/process';
import { CLASS_NAMES, classNamed, everyClass } from './helpers/registry';

beforeAll(async () => {
  await ready();
  await tf.setBackend('cpu');
});

describe('positional constructor arguments, in Keras order', () => {
  // Keras' positional signature of each class, spelled out (the order is the point); a class not
  // listed is checked by the next test only.
  const cases = everyClass<[() => Optimizer, () => Optimizer]>(
    {
      SGD: [[() => new SGD(0.1, 0.9, true, 'sgd'), () => new SGD({ learningRate: 0.1, momentum: 0.9, nesterov: true, name: 'sgd' })]],
      RMSprop: [[() => new RMSprop(0.01, 0.8, 0.5, 1e-3, true), () => new RMSprop({ learningRate: 0.01, rho: 0.8, momentum: 0.5, epsilon: 1e-3, centered: true })]],
      Adam: [[() => new Adam(0.01, 0.8, 0.99, 1e-3, true), () => new Adam({ learningRate: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-3, amsgrad: true })]],
      Adagrad: [[() => new Adagrad(0.01, 0.2, 1e-3), () => new Adagrad({ learningRate: 0.01, initialAccumulatorValue: 0.2, epsilon: 1e-3 })]],
      Adadelta: [[() => new Adadelta(1, 0.9, 1e-6), () => new Adadelta({ learningRate: 1, rho: 0.9, epsilon: 1e-6 })]],
      Adamax: [[() => new Adamax(0.002, 0.8, 0.99, 1e-3), () => new Adamax({ learningRate: 0.002, beta1: 0.8, beta2: 0.99, epsilon: 1e-3 })]],
      Nadam: [[() => new Nadam(0.002, 0.8, 0.99, 1e-3), () => new Nadam({ learningRate: 0.002, beta1: 0.8, beta2: 0.99, epsilon: 1e-3 })]],
      // Keras' Ftrl puts `name` before l2 shrinkage and beta.
      Ftrl: [
        [
          () => new Ftrl(0.05, -0.6, 0.2, 0.01, 0.02, 'f', 0.03, 0.1),
          () =>
            new Ftrl({
              learningRate: 0.05,
              learningRatePower: -0.6,
              initialAccumulatorValue: 0.2,
              l1RegularizationStrength: 0.01,
              l2RegularizationStrength: 0.02,
              name: 'f',
              l2ShrinkageRegularizationStrength: 0.03,
              beta: 0.1,
            }),
        ],
      ],
    },
    [],
  );
  test.each(cases)('%s: positional arguments make the same optimizer as the options object', (_, [positional, named]) => {
    const a = positional();
    const b = named();
    expect(a.getConfig()).toEqual(b.getConfig());
    a.dispose();
    b.dispose();
  });

  test.each(CLASS_NAMES)('%s: the learning rate is the first positional argument', (name) => {
    const cls = classNamed(name);
    const a = new cls(0.05 as never);
    const b = new cls({ learningRate: 0.05 });
    expect(a.getConfig()).toEqual(b.getConfig());
    expect(a.getConfig().learning_rate).toBe(0.05);
    a.dispose();
    b.dispose();
  });

  test('a learning rate alone, a function or a schedule', () => {
    expect(new Adam(0.01).getConfig()).toMatchObject({ learning_rate: 0.01, beta_1: 0.9 });
    expect(new SGD(() => 0.5).getConfig()).toMatchObject({ learning_rate: 0.5 });
    const schedule = new ExponentialDecay(0.1, 1000, 0.96);
    expect(serialize(new Adam(schedule)).config.learning_rate).toEqual({ class_name: 'ExponentialDecay', config: schedule.getConfig() });
  });

  test('too many arguments, and an object where a number goes, are refused', () => {
    // (Untyped calls, as from JavaScript.)
    const AnyAdam = Adam as unknown as new (...args: unknown[]) => Adam;
    expect(() => new AnyAdam(1, 2, 3, 4, true, 'a', 7)).toThrow(ArgumentError);
    expect(() => new AnyAdam(1, 2, 3, 4, true, 'a', 7)).toThrow(
      /Adam takes one options object or at most 6 arguments \(learningRate, beta1, beta2, epsilon, amsgrad, name\), got 7/,
    );
    expect(() => new Adam({} as never, 0.9)).toThrow(/learning_rate/);
  });

  const schedules: Array<[string, () => LearningRateSchedule, () => LearningRateSchedule]> = [
    [
      'ExponentialDecay',
      () => new ExponentialDecay(0.1, 1000, 0.96, true, 'e'),
      () => new ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 1000, decayRate: 0.96, staircase: true, name: 'e' }),
    ],
    ['PiecewiseConstantDecay', () => new PiecewiseConstantDecay([10, 20], [1, 0.5, 0.1]), () => new PiecewiseConstantDecay({ boundaries: [10, 20], values: [1, 0.5, 0.1] })],
    [
      'PolynomialDecay',
      () => new PolynomialDecay(0.1, 100, 0.01, 2, true),
      () => new PolynomialDecay({ initialLearningRate: 0.1, decaySteps: 100, endLearningRate: 0.01, power: 2, cycle: true }),
    ],
    ['InverseTimeDecay', () => new InverseTimeDecay(0.1, 100, 0.5), () => new InverseTimeDecay({ initialLearningRate: 0.1, decaySteps: 100, decayRate: 0.5 })],
    ['CosineDecay', () => new CosineDecay(0.1, 100, 0.1), () => new CosineDecay({ initialLearningRate: 0.1, decaySteps: 100, alpha: 0.1 })],
    [
      'CosineDecayRestarts',
      () => new CosineDecayRestarts(0.1, 100, 3, 0.5, 0.1),
      () => new CosineDecayRestarts({ initialLearningRate: 0.1, firstDecaySteps: 100, tMul: 3, mMul: 0.5, alpha: 0.1 }),
    ],
    [
      'LinearCosineDecay',
      () => new LinearCosineDecay(0.1, 100, 1, 0.1, 0.01),
      () => new LinearCosineDecay({ initialLearningRate: 0.1, decaySteps: 100, numPeriods: 1, alpha: 0.1, beta: 0.01 }),
    ],
    [
      'NoisyLinearCosineDecay',
      () => new NoisyLinearCosineDecay(0.1, 100, 2, 0.5, 1, 0.1, 0.01),
      () => new NoisyLinearCosineDecay({ initialLearningRate: 0.1, decaySteps: 100, initialVariance: 2, varianceDecay: 0.5, numPeriods: 1, alpha: 0.1, beta: 0.01 }),
    ],
  ];
  test.each(schedules)('%s: positional arguments make the same schedule as the options object', (_, positional, named) => {
    const a = positional();
    expect(a.getConfig()).toEqual(named().getConfig());
    if (!(a instanceof NoisyLinearCosineDecay)) expect(a.call(7)).toBe(named().call(7));
  });

  test('a schedule with too many arguments or a missing one is refused', () => {
    const AnyDecay = ExponentialDecay as unknown as new (...args: unknown[]) => ExponentialDecay;
    expect(() => new AnyDecay(0.1, 1000, 0.96, false, null, 5)).toThrow(/ExponentialDecay takes one options object or at most 5 arguments/);
    expect(() => new AnyDecay(0.1)).toThrow(/missing required argument `decaySteps`/);
  });
});

describe('snake_case option keys', () => {
  test('an optimizer option in Keras spelling is refused with its camelCase name', () => {
    expect(() => new Adam({ learning_rate: 0.01 } as never)).toThrow(ConfigError);
    expect(() => new Adam({ learning_rate: 0.01 } as never)).toThrow(
      'Unexpected keyword argument passed to optimizer: learning_rate (options are camelCase: did you mean learningRate?)',
    );
    expect(() => new Adam({ beta_1: 0.5 } as never)).toThrow(/did you mean beta1\?/);
    expect(() => new Ftrl({ l2_shrinkage_regularization_strength: 0.5 } as never)).toThrow(/did you mean l2ShrinkageRegularizationStrength\?/);
    // A key that is not an option in any spelling gets Keras' text alone.
    expect(() => new Adam({ foo_bar: 1 } as never)).toThrow(/: foo_bar$/);
  });

  test('a schedule option in Keras spelling is refused with its camelCase name', () => {
    expect(() => new ExponentialDecay({ initial_learning_rate: 0.1, decaySteps: 10, decayRate: 0.5 } as never)).toThrow(
      /unexpected keyword argument `initial_learning_rate` \(options are camelCase: did you mean initialLearningRate\?\)/,
    );
  });
});

describe('toTfjs takes what Keras optimizers.get takes', () => {
  test("a class name, with Keras' defaults", () => {
    const opt = toTfjs('adam');
    expect(opt.getConfig().optimizer).toEqual({ class_name: 'Adam', config: new Adam().getConfig() });
    opt.dispose();
  });

  test('a Keras config, as an object or as the JSON Python writes', () => {
    const config = { class_name: 'SGD', config: { name: 'SGD', learning_rate: 0.05, decay: 0.0, momentum: 0.9, nesterov: false } };
    for (const identifier of [config, JSON.stringify(config, null, 1)]) {
      const opt = toTfjs(identifier);
      expect(opt.getConfig().optimizer).toEqual(config);
      opt.dispose();
    }
    expect(() => toTfjs('{"class_name": "SGD", ')).toThrow(ConfigError);
    expect(() => toTfjs('nosuch')).toThrow(/Unknown optimizer: nosuch/);
  });

  test('trains a tfjs variable', () => {
    const opt = toTfjs('{"class_name": "SGD", "config": {"learning_rate": 0.5}}');
    const x = tf.variable(tf.tensor1d([1, 2]));
    opt.minimize(() => tf.sum(tf.square(x)));
    expect(Array.from(x.dataSync())).toEqual([0, 0]); // x - 0.5 * 2x
    opt.dispose();
    x.dispose();
  });
});

describe('state as JavaScript tools show it', () => {
  test('JSON.stringify(getWeights()) gives numbers (iterations included), not a BigInt TypeError', () => {
    const w = new Variable([1, 2], { name: 'w' });
    const opt = new Adam(0.1);
    opt.applyGradients([[new Float32Array([1, 1]), w]]);
    const weights = opt.getWeights();
    expect(weights[0]).toBeInstanceOf(BigInt64Array);
    expect(JSON.parse(JSON.stringify(weights))).toEqual(weights.map((x) => Array.from(x as ArrayLike<number | bigint>, Number)));
    expect(JSON.stringify({ iterations: weights[0] })).toBe('{"iterations":[1]}');
    opt.dispose();
    w.dispose();
  });

  test('console.log(optimizer) shows the class, iterations and config, not private fields', () => {
    const opt = new SGD(0.1, 0.9);
    const shown = inspect(opt);
    expect(shown).toBe(`SGD ${inspect({ iterations: 0, ...opt.getConfig() })}`);
    expect(shown).not.toMatch(/hypers|spec|flags|readIterations|aggregatorFn/);
    opt.dispose();
    expect(inspect(opt)).toBe('SGD (disposed)');
  });

  test('getConfig() is typed per class', () => {
    // Compile-time (`npm run typecheck`; tests/package.test.ts checks the same with tsc on the
    // packed types): these assignments fail type-checking if getConfig() is untyped.
    const adam: AdamConfig = new Adam(0.01).getConfig();
    const beta1: number = adam.beta_1;
    const amsgrad: boolean = adam.amsgrad;
    const sgd: SGDConfig = new SGD().getConfig();
    const ftrl: FtrlConfig = new Ftrl().getConfig();
    expect([beta1, amsgrad, sgd.nesterov, ftrl.l2_shrinkage_regularization_strength]).toEqual([0.9, false, false, 0]);
    // @ts-expect-error Adam's config has no `momentum`
    void adam.momentum;
  });
});

describe('errors of common mistakes', () => {
  test("getSlot names the variable as the caller did, and the optimizer's slots", () => {
    const w = new Variable([1, 2], { name: 'w' });
    expect(() => new SGD().getSlot(w, 'm')).toThrow(SlotError);
    expect(() => new SGD().getSlot(w, 'm')).toThrow("no slot 'm' for variable 'w' in optimizer 'SGD' (it has no slots)");
    const adam = new Adam(0.1);
    expect(() => adam.getSlot(w, 'm')).toThrow("no slot 'm' for variable 'w' in optimizer 'Adam' (its slots are 'm', 'v'; a variable gets them at its first step)");
    w.dispose();
  });

  test('a Variable before ready() is a StateError (code NotReady), also after minification-proof naming', async () => {
    const out = await node([
      '--input-type=module',
      '-e',
      "const s = await import('simdopt'); try { new s.Variable([1]); } catch (e) { console.log(JSON.stringify({ name: e.name, state: e instanceof s.StateError, code: e.code, message: e.message })); }",
    ]);
    expect(JSON.parse(out.stdout)).toEqual({
      name: 'StateError',
      state: true,
      code: 'NotReady',
      message: 'simdopt is not loaded yet: `await ready()` before creating variables or optimizers',
    });
  });
});
