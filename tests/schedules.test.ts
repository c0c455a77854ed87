// Learning-rate schedules against real TF 2.4.4 (tests/fixtures/tf24/schedules.json): values at
// every recorded step, get_config, serialize and deserialize; the literal values of TF's own
// schedule tests (spec §3); argument errors; and a user schedule through customObjects.
import {
  ready,
  LearningRateSchedule,
  ExponentialDecay,
  PiecewiseConstantDecay,
  PolynomialDecay,
  InverseTimeDecay,
  CosineDecay,
  CosineDecayRestarts,
  LinearCosineDecay,
  NoisyLinearCosineDecay,
  serializeSchedule,
  deserializeSchedule,
  registerSchedule,
  deserialize,
  serialize,
  SGD,
  Variable,
  ArgumentError,
  ConfigError,
  HyperparameterError,
} from 'simdopt';
import type { Serialized } from 'simdopt';
import { compareClose, loadFixture } from './helpers/fixtures';

interface ScheduleCase {
  name: string;
  class_name: string;
  config: Record<string, unknown>;
  serialized: Serialized;
  steps: number[];
  values: number[];
}

const fixture = loadFixture<{ tensorflow: string; schedules: ScheduleCase[] }>('tf24/schedules.json');
const TOL = 1e-6;

const CLASSES = {
  ExponentialDecay,
  PiecewiseConstantDecay,
  PolynomialDecay,
  InverseTimeDecay,
  CosineDecay,
  CosineDecayRestarts,
  LinearCosineDecay,
  NoisyLinearCosineDecay,
} as const;

beforeAll(async () => {
  await ready();
});

function values(s: LearningRateSchedule, steps: number[]): number[] {
  return steps.map((k) => s.call(k));
}

describe.each(fixture.schedules.map((c) => [c.name, c] as const))('TF 2.4.4 schedule %s', (_name, c) => {
  const cls = CLASSES[c.class_name as keyof typeof CLASSES];

  test('fromConfig(config) gives TF values at every step', () => {
    const s = cls.fromConfig(c.config);
    expect(s).toBeInstanceOf(cls);
    compareClose(values(s, c.steps), c.values, TOL, c.name);
  });

  test('getConfig equals TF get_config exactly (keys in Keras order)', () => {
    const s = cls.fromConfig(c.config);
    expect(s.getConfig()).toStrictEqual(c.config);
    expect(Object.keys(s.getConfig())).toEqual(Object.keys(c.config));
  });

  test('serializeSchedule equals TF serialize', () => {
    expect(serializeSchedule(cls.fromConfig(c.config))).toStrictEqual(c.serialized);
  });

  test('deserializeSchedule(TF serialized) reproduces the values', () => {
    const s = deserializeSchedule(c.serialized);
    expect(s).toBeInstanceOf(cls);
    compareClose(values(s, c.steps), c.values, TOL, c.name);
    expect(serializeSchedule(s)).toStrictEqual(c.serialized);
  });

  test('the step is used as a float32, like the optimizer passes it', () => {
    const s = cls.fromConfig(c.config);
    // k·(1 + 2^-30) rounds to k in float32 (every fixture step is an integer below 2^24).
    for (const k of c.steps) expect(s.call(k * (1 + 2 ** -30))).toBe(s.call(k));
  });
});

describe('constructors with camelCase options', () => {
  test('give the same schedule as the Keras config', () => {
    const pairs: [LearningRateSchedule, Record<string, unknown>][] = [
      [
        new ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 30, decayRate: 0.5, staircase: true }),
        { initial_learning_rate: 0.1, decay_steps: 30, decay_rate: 0.5, staircase: true, name: null },
      ],
      [
        new PiecewiseConstantDecay({ boundaries: [100, 110, 120], values: [1, 0.1, 0.01, 0.001], name: 'pc' }),
        { boundaries: [100, 110, 120], values: [1, 0.1, 0.01, 0.001], name: 'pc' },
      ],
      [
        new PolynomialDecay({ initialLearningRate: 1, decaySteps: 20, power: 2 }),
        { initial_learning_rate: 1, decay_steps: 20, end_learning_rate: 0.0001, power: 2, cycle: false, name: null },
      ],
      [
        new InverseTimeDecay({ initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.5 }),
        { initial_learning_rate: 0.1, decay_steps: 10, decay_rate: 0.5, staircase: false, name: null },
      ],
      [new CosineDecay({ initialLearningRate: 0.1, decaySteps: 10 }), { initial_learning_rate: 0.1, decay_steps: 10, alpha: 0, name: null }],
      [new CosineDecayRestarts({ initialLearningRate: 1, firstDecaySteps: 1000 }), { initial_learning_rate: 1, first_decay_steps: 1000, t_mul: 2, m_mul: 1, alpha: 0, name: null }],
      [
        new LinearCosineDecay({ initialLearningRate: 0.1, decaySteps: 1000 }),
        { initial_learning_rate: 0.1, decay_steps: 1000, num_periods: 0.5, alpha: 0, beta: 0.001, name: null },
      ],
      [
        new NoisyLinearCosineDecay({ initialLearningRate: 0.1, decaySteps: 1000, seed: 1 }),
        { initial_learning_rate: 0.1, decay_steps: 1000, initial_variance: 1, variance_decay: 0.55, num_periods: 0.5, alpha: 0, beta: 0.001, name: null },
      ],
    ];
    for (const [s, config] of pairs) {
      expect(s.getConfig()).toStrictEqual(config);
      expect(Object.keys(s.getConfig())).toEqual(Object.keys(config));
    }
  });

  test('Keras default config of CosineDecay (TF 2.4.4 configs.json deserialize case)', () => {
    const s = deserializeSchedule({ class_name: 'CosineDecay', config: { initial_learning_rate: 0.1, decay_steps: 10 } });
    expect(serializeSchedule(s)).toStrictEqual({ class_name: 'CosineDecay', config: { initial_learning_rate: 0.1, decay_steps: 10, alpha: 0, name: null } });
  });

  test('getConfig returns copies', () => {
    const s = new PiecewiseConstantDecay({ boundaries: [5], values: [0.5, 0.05] });
    (s.getConfig().values as number[])[0] = 9;
    expect(s.call(0)).toBe(Math.fround(0.5));
  });
});

describe('literal values of TF 2.4 schedule tests (spec §3)', () => {
  const close = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(b)));

  test('ExponentialDecay', () => {
    close(new ExponentialDecay({ initialLearningRate: 0.05, decaySteps: 10, decayRate: 0.96 }).call(5), 0.0489898);
    close(new ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 3, decayRate: 0.96, staircase: true }).call(100), 0.1 * 0.96 ** 33);
    close(0.1 * 0.96 ** 33, 0.0259986);
  });

  test('PiecewiseConstantDecay', () => {
    const s = new PiecewiseConstantDecay({ boundaries: [100, 110, 120], values: [1, 0.1, 0.01, 0.001] });
    const steps = [-999, 100, 105, 110, 120, 999];
    const expected = [1, 1, 0.1, 0.1, 0.01, 0.001];
    steps.forEach((k, i) => expect(s.call(k)).toBe(Math.fround(expected[i])));
  });

  test('PolynomialDecay with cycle', () => {
    close(new PolynomialDecay({ initialLearningRate: 0.05, decaySteps: 10, endLearningRate: 0.001, cycle: true }).call(15), 0.01325);
  });

  // TF's np_cosine_decay / np_cosine_decay_restarts (the tests use steps 0..1250 every 250).
  const npCosine = (k: number, d: number, alpha: number) => {
    const c = 0.5 * (1 + Math.cos((Math.PI * Math.min(k, d)) / d));
    return (1 - alpha) * c + alpha;
  };
  const npRestarts = (k: number, d: number, tMul: number, mMul: number, alpha: number) => {
    let fac = 1;
    while (k >= d) {
      k -= d;
      d *= tMul;
      fac *= mMul;
    }
    const c = fac * 0.5 * (1 + Math.cos((Math.PI * k) / d));
    return (1 - alpha) * c + alpha;
  };
  const steps = [0, 250, 500, 750, 1000, 1250];

  test('CosineDecay', () => {
    for (const alpha of [0, 0.1]) {
      const s = new CosineDecay({ initialLearningRate: 1, decaySteps: 1000, alpha });
      for (const k of steps) close(s.call(k), npCosine(k, 1000, alpha));
    }
  });

  test('CosineDecayRestarts', () => {
    for (const [tMul, mMul, alpha] of [
      [2, 1, 0],
      [1, 1, 0],
      [2, 0.9, 0],
      [2, 1, 0.1],
      [3, 0.8, 0.05],
    ]) {
      const s = new CosineDecayRestarts({ initialLearningRate: 1, firstDecaySteps: 1000, tMul, mMul, alpha });
      for (const k of steps) close(s.call(k), npRestarts(k, 1000, tMul, mMul, alpha));
    }
  });

  test('LinearCosineDecay (np_linear_cosine_decay)', () => {
    const s = new LinearCosineDecay({ initialLearningRate: 1, decaySteps: 1000, numPeriods: 2, alpha: 0.1, beta: 0.01 });
    for (const k of [0, 100, 250, 500, 750, 1000, 1250]) {
      const kk = Math.min(k, 1000);
      const lin = (1000 - kk) / 1000;
      const cos = 0.5 * (1 + Math.cos(Math.PI * 2 * 2 * (kk / 1000)));
      close(s.call(k), (0.1 + lin) * cos + 0.01);
    }
  });
});

describe('NoisyLinearCosineDecay', () => {
  test('is reproducible with a seed (not with TF), and noisy around LinearCosineDecay', () => {
    const opts = { initialLearningRate: 0.1, decaySteps: 100 };
    const a = new NoisyLinearCosineDecay({ ...opts, seed: 42 });
    const b = new NoisyLinearCosineDecay({ ...opts, seed: 42 });
    const plain = new LinearCosineDecay(opts);
    const va = [0, 10, 50, 99, 100, 200].map((k) => a.call(k));
    expect([0, 10, 50, 99, 100, 200].map((k) => b.call(k))).toEqual(va);
    va.forEach((v) => expect(Number.isFinite(v)).toBe(true));
    expect(va.some((v, i) => v !== plain.call([0, 10, 50, 99, 100, 200][i]))).toBe(true);
    expect(Object.keys(serializeSchedule(a).config)).not.toContain('seed');
  });
});

describe('errors', () => {
  test('PiecewiseConstantDecay length mismatch has Keras text', () => {
    const make = () => new PiecewiseConstantDecay({ boundaries: [1, 2], values: [0.1, 0.2] });
    expect(make).toThrow(HyperparameterError);
    expect(make).toThrow('The length of boundaries should be 1 less than the length of values');
    expect(() => PiecewiseConstantDecay.fromConfig({ boundaries: [1, 2], values: [0.1, 0.2], name: null })).toThrow(
      'The length of boundaries should be 1 less than the length of values',
    );
  });

  test('non-finite numbers are HyperparameterError', () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      expect(() => new ExponentialDecay({ initialLearningRate: bad, decaySteps: 1, decayRate: 0.5 })).toThrow(HyperparameterError);
      expect(() => new CosineDecayRestarts({ initialLearningRate: 0.1, firstDecaySteps: 10, tMul: bad })).toThrow(HyperparameterError);
      expect(() => new PiecewiseConstantDecay({ boundaries: [bad], values: [1, 2] })).toThrow(HyperparameterError);
      expect(() => new PolynomialDecay({ initialLearningRate: 0.1, decaySteps: 10, power: bad })).toThrow(HyperparameterError);
    }
  });

  test('wrong types and missing arguments are ArgumentError', () => {
    const any = (x: unknown) => x as never;
    expect(() => new ExponentialDecay(any({ initialLearningRate: '0.1', decaySteps: 1, decayRate: 0.5 }))).toThrow(ArgumentError);
    expect(() => new ExponentialDecay(any({ initialLearningRate: 0.1, decaySteps: 1 }))).toThrow(ArgumentError);
    expect(() => new ExponentialDecay(any({ initialLearningRate: 0.1, decaySteps: 1, decayRate: 0.5, staircase: 1 }))).toThrow(ArgumentError);
    expect(() => new InverseTimeDecay(any({ initialLearningRate: 0.1, decaySteps: 1, decayRate: 0.5, name: 3 }))).toThrow(ArgumentError);
    expect(() => new PiecewiseConstantDecay(any({ boundaries: 5, values: [1, 2] }))).toThrow(ArgumentError);
    expect(() => new PiecewiseConstantDecay(any({ boundaries: ['5'], values: [1, 2] }))).toThrow(ArgumentError);
    expect(() => new CosineDecay(any(null))).toThrow(ArgumentError);
    expect(() => new NoisyLinearCosineDecay(any({ initialLearningRate: 0.1, decaySteps: 10, seed: 'x' }))).toThrow(ArgumentError);
    expect(() => new CosineDecay({ initialLearningRate: 0.1, decaySteps: 10 }).call(any('3'))).toThrow(ArgumentError);
    expect(() => new ExponentialDecay(any({ initialLearningRate: 0.1, decaySteps: 1 }))).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
  });

  test('unknown options and config keys are ConfigError UnknownOption', () => {
    const any = (x: unknown) => x as never;
    expect(() => new CosineDecay(any({ initialLearningRate: 0.1, decaySteps: 10, initial_learning_rate: 0.1 }))).toThrow(ConfigError);
    try {
      CosineDecay.fromConfig({ initial_learning_rate: 0.1, decay_steps: 10, warmup_steps: 5 });
      throw new Error('no error');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).code).toBe('UnknownOption');
    }
    expect(() => NoisyLinearCosineDecay.fromConfig({ initial_learning_rate: 0.1, decay_steps: 10, seed: 1 })).toThrow(ConfigError);
  });

  test('deserializeSchedule: unknown and case-mismatched names (TF 2.4.4 resolves case-sensitively)', () => {
    for (const name of ['NoSuchDecay', 'exponentialdecay', 'constructor', 'toString', 'LearningRateSchedule']) {
      try {
        deserializeSchedule({ class_name: name, config: { initial_learning_rate: 0.1, decay_steps: 10, decay_rate: 0.5 } });
        throw new Error('no error');
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        expect((e as ConfigError).code).toBe('UnknownClass');
        expect((e as Error).message).toBe(`Unknown decay: ${name}`);
      }
    }
  });

  test('deserializeSchedule: improper format is ConfigError InvalidConfig', () => {
    const any = (x: unknown) => x as never;
    for (const bad of [null, 3, [], { class_name: 'CosineDecay' }, { config: {} }, { class_name: 3, config: {} }]) {
      try {
        deserializeSchedule(any(bad));
        throw new Error('no error');
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        expect((e as ConfigError).code).toBe('InvalidConfig');
      }
    }
    expect(() => deserializeSchedule({ class_name: 'CosineDecay', config: any(null) })).toThrow(ConfigError);
    expect(() => deserializeSchedule({ class_name: 'X', config: {} }, { X: { notAClass: true } })).toThrow(ConfigError);
  });

  test('an optimizer config with an unknown schedule fails like Keras', () => {
    expect(() =>
      deserialize({ class_name: 'Adam', config: { learning_rate: { class_name: 'exponentialdecay', config: { initial_learning_rate: 0.1, decay_steps: 10, decay_rate: 0.5 } } } }),
    ).toThrow('Unknown decay: exponentialdecay');
  });
});

describe('decay_steps is not checked (Keras 2.4)', () => {
  test('decaySteps 0 is accepted and computes like TF (NaN at step 0, then the limit)', () => {
    const s = new ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 0, decayRate: 0.5 });
    expect(s.call(0)).toBeNaN(); // 0.5 ^ (0/0)
    expect(s.call(1)).toBe(0); // 0.5 ^ inf
    const one = new ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 0, decayRate: 1 });
    expect(one.call(0)).toBe(Math.fround(0.1)); // C pow(1, NaN) = 1
    expect(new InverseTimeDecay({ initialLearningRate: 0.1, decaySteps: 0, decayRate: 0.5 }).call(3)).toBe(0);
    expect(new CosineDecay({ initialLearningRate: 0.1, decaySteps: -5 }).getConfig().decay_steps).toBe(-5);
  });
});

describe('user schedules', () => {
  class WarmUp extends LearningRateSchedule {
    readonly peak: number;
    readonly warmupSteps: number;
    constructor(config: { peak: number; warmup_steps: number }) {
      super();
      this.peak = config.peak;
      this.warmupSteps = config.warmup_steps;
    }
    call(step: number): number {
      return Math.fround((this.peak * Math.min(step + 1, this.warmupSteps)) / this.warmupSteps);
    }
    getConfig() {
      return { peak: this.peak, warmup_steps: this.warmupSteps };
    }
  }

  test('serialize under the class name and deserialize with customObjects', () => {
    const s = new WarmUp({ peak: 0.1, warmup_steps: 4 });
    const ser = serializeSchedule(s);
    expect(ser).toEqual({ class_name: 'WarmUp', config: { peak: 0.1, warmup_steps: 4 } });
    expect(() => deserializeSchedule(ser)).toThrow(ConfigError);
    const back = deserializeSchedule(ser, { WarmUp });
    expect(back).toBeInstanceOf(WarmUp);
    expect(back.call(1)).toBe(s.call(1));
  });

  test('customObjects win over built-ins; subclasses of built-ins keep their own name', () => {
    class MyExp extends ExponentialDecay {}
    const s = new MyExp({ initialLearningRate: 0.1, decaySteps: 5, decayRate: 0.5 });
    const ser = serializeSchedule(s);
    expect(ser.class_name).toBe('MyExp');
    const back = deserializeSchedule(ser, { MyExp });
    expect(back).toBeInstanceOf(MyExp);
    expect(back.call(3)).toBe(s.call(3));
    const shadow = deserializeSchedule({ class_name: 'ExponentialDecay', config: ser.config }, { ExponentialDecay: MyExp });
    expect(shadow).toBeInstanceOf(MyExp);
  });

  test('registerSchedule makes a class known without customObjects', () => {
    class Halving extends LearningRateSchedule {
      static override className = 'HalvingForTest';
      call(step: number) {
        return Math.fround(0.5 ** step);
      }
      getConfig() {
        return {};
      }
    }
    registerSchedule(Halving);
    const s = deserializeSchedule({ class_name: 'HalvingForTest', config: {} });
    expect(s).toBeInstanceOf(Halving);
    expect(serializeSchedule(s)).toEqual({ class_name: 'HalvingForTest', config: {} });
  });

  test('an optimizer uses a user schedule and round-trips it with customObjects', () => {
    const v = new Variable([1, 1], { name: 'w' });
    const opt = new SGD({ learningRate: new WarmUp({ peak: 0.4, warmup_steps: 4 }) });
    opt.applyGradients([[new Float32Array([1, 1]), v]]);
    expect(v.value[0]).toBe(Math.fround(1 - Math.fround(0.1)));
    const ser = serialize(opt);
    expect(ser.config.learning_rate).toEqual({ class_name: 'WarmUp', config: { peak: 0.4, warmup_steps: 4 } });
    const back = deserialize(ser, { WarmUp });
    expect(back.learningRate).toBeInstanceOf(WarmUp);
  });
});
