// Keras 3.15.1's learning-rate schedules (simdopt/keras3) against real Keras 3
// (tests/fixtures/keras3/configs.json): the float32 values at 49 steps, get_config, serialize
// (Keras 3's `{module, class_name, config, registered_name}`) and deserialize, and Keras 3's
// argument errors and edge cases (`errors` probes).
import {
  CosineDecay,
  CosineDecayRestarts,
  ExponentialDecay,
  InverseTimeDecay,
  PiecewiseConstantDecay,
  PolynomialDecay,
  deserializeSchedule,
  serializeSchedule,
} from '../dist/keras3/schedules/index.js';
import { ConfigError, HyperparameterError, LearningRateSchedule, CosineDecay as Tf24CosineDecay, registerSchedule } from 'simdopt';
import { loadFixture } from './helpers/fixtures';

interface ScheduleCase {
  name: string;
  class_name: string;
  get_config: Record<string, unknown>;
  serialized: { module: string; class_name: string; config: Record<string, unknown>; registered_name: null };
  steps: number[];
  values: number[];
}
interface Probe {
  name: string;
  ok: boolean;
  error_type?: string;
  message?: string;
  result?: unknown;
}

const fixture = loadFixture<{ keras: string; schedules: ScheduleCase[]; errors: Probe[] }>('keras3/configs.json');
const probe = (name: string): Probe => {
  const p = fixture.errors.find((e) => e.name === name);
  if (!p) throw new Error(`no probe ${name}`);
  return p;
};

const CLASSES = { ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay, InverseTimeDecay, CosineDecay, CosineDecayRestarts } as const;
type ClassName = keyof typeof CLASSES;

/** |ours - keras| / max(|keras|, tiny): the schedules are float32 scalars, compared relatively. */
function relative(ours: number, keras: number): number {
  if (ours === keras) return 0;
  return Math.abs(ours - keras) / Math.max(Math.abs(keras), 1e-30);
}

// pow/exp/log/cos are computed in double and rounded once; XLA's float32 versions can differ by
// an ulp (6e-8 relative): 1e-6 is a few ulps, far below any formula difference.
const TOL = 1e-6;

test('the fixture is Keras 3.15.1 and has every schedule class', () => {
  expect(fixture.keras).toBe('3.15.1');
  expect(new Set(fixture.schedules.map((c) => c.class_name))).toEqual(new Set(Object.keys(CLASSES)));
});

describe.each(fixture.schedules.map((c) => [c.name, c] as const))('Keras 3 schedule %s', (_name, c) => {
  const cls = CLASSES[c.class_name as ClassName];

  test('values at every recorded step (float32, as Keras 3 computes them)', () => {
    const s = cls.fromConfig(c.get_config);
    let worst = 0;
    c.steps.forEach((step, i) => {
      const ours = s.call(step);
      expect(Math.fround(ours)).toBe(ours);
      const dev = relative(ours, c.values[i]);
      worst = Math.max(worst, dev);
      if (dev > TOL) throw new Error(`${c.name} step ${step}: ${ours}, Keras 3 ${c.values[i]}`);
    });
    expect(worst).toBeLessThanOrEqual(TOL);
  });

  test('getConfig, serialize and deserialize as Keras 3 writes and reads them', () => {
    const s = deserializeSchedule(c.serialized);
    expect(s).toBeInstanceOf(cls);
    expect(s.getConfig()).toEqual(c.get_config);
    // Keras 3's key order too (CosineDecay: name before the warmup keys).
    expect(Object.keys(s.getConfig())).toEqual(Object.keys(c.get_config));
    expect(serializeSchedule(s)).toEqual(c.serialized);
    expect(serializeSchedule(cls.fromConfig(c.get_config))).toEqual(c.serialized);
  });
});

test("Keras 3's default names", () => {
  expect(new ExponentialDecay(0.1, 10, 0.5).getConfig().name).toBe('ExponentialDecay');
  expect(new PiecewiseConstantDecay([1], [0.1, 0.2]).getConfig().name).toBe('PiecewiseConstant');
  expect(new PolynomialDecay(0.1, 10).getConfig().name).toBe('PolynomialDecay');
  expect(new InverseTimeDecay(0.1, 10, 0.5).getConfig().name).toBe('InverseTimeDecay');
  expect(new CosineDecay(0.1, 10).getConfig()).toEqual({ initial_learning_rate: 0.1, decay_steps: 10, alpha: 0, name: 'CosineDecay', warmup_target: null, warmup_steps: 0 });
  expect(new CosineDecayRestarts(0.1, 10).getConfig().name).toBe('SGDRDecay');
  expect(new CosineDecay({ initialLearningRate: 0, decaySteps: 10, warmupTarget: 0.1, warmupSteps: 5, name: null }).getConfig().name).toBeNull();
});

describe("Keras 3's argument errors (configs.json probes)", () => {
  test.each([
    ['ExponentialDecay decay_steps 0', () => new ExponentialDecay(0.1, 0, 0.5)],
    ['PolynomialDecay decay_steps -1', () => new PolynomialDecay(0.1, -1)],
    ['InverseTimeDecay decay_steps 0', () => new InverseTimeDecay(0.1, 0, 0.5)],
    ['CosineDecay decay_steps 0', () => new CosineDecay(0.1, 0)],
    ['CosineDecayRestarts first_decay_steps 0', () => new CosineDecayRestarts(0.1, 0)],
    ['PiecewiseConstantDecay lengths', () => new PiecewiseConstantDecay([1, 2], [0.1, 0.2])],
  ] as const)('%s', (name, make) => {
    const p = probe(name);
    expect(p.error_type).toBe('ValueError');
    expect(make).toThrow(HyperparameterError);
    expect(make).toThrow(p.message!);
  });

  test('unsorted PiecewiseConstantDecay boundaries add the overlapping pieces, as Keras 3 does', () => {
    expect(new PiecewiseConstantDecay([5, 2], [0.1, 0.2, 0.3]).call(3)).toBe(probe('PiecewiseConstantDecay unsorted boundaries').result);
  });

  test('CosineDecay ignores warmupSteps without a warmupTarget, as Keras 3 does', () => {
    const s = new CosineDecay({ initialLearningRate: 0.1, decaySteps: 10, warmupSteps: 5 });
    expect(s.call(3)).toBe(probe('CosineDecay warmup_steps without target').result);
  });

  test('wrong types and non-finite numbers are typed errors', () => {
    expect(() => new CosineDecay({ initialLearningRate: 0.1, decaySteps: 10, warmupTarget: Number.NaN })).toThrow(HyperparameterError);
    expect(() => new CosineDecay({ initialLearningRate: 0.1, decaySteps: 10, warmupTarget: '0.1' as never })).toThrow('`warmupTarget` must be a number');
    expect(() => new ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.5, foo: 1 } as never)).toThrow(ConfigError);
  });
});

describe('deserializeSchedule', () => {
  test('reads the Keras 2 form without module / registered_name', () => {
    const s = deserializeSchedule({ class_name: 'ExponentialDecay', config: { initial_learning_rate: 0.1, decay_steps: 10, decay_rate: 0.5 } });
    expect(s).toBeInstanceOf(ExponentialDecay);
    expect(s.getConfig()).toMatchObject({ name: 'ExponentialDecay', staircase: false });
  });

  test('an unknown class or a non-Keras module is a ConfigError naming the class', () => {
    expect(() => deserializeSchedule({ module: SCHEDULES_MODULE_OF_TEST, class_name: 'Nope', config: {}, registered_name: null })).toThrow("Could not locate class 'Nope'");
    expect(() => deserializeSchedule({ module: 'mypackage', class_name: 'ExponentialDecay', config: {}, registered_name: null })).toThrow(ConfigError);
    expect(() => deserializeSchedule({ class_name: 'ExponentialDecay', config: [] })).toThrow("Expected 'config' to be a dict for ExponentialDecay");
    expect(() => deserializeSchedule('ExponentialDecay')).toThrow(ConfigError);
  });

  test('a Keras 3 config with an unknown key is refused as Keras does (cls(**config))', () => {
    expect(() => deserializeSchedule({ class_name: 'CosineDecay', config: { initial_learning_rate: 0.1, decay_steps: 10, foo: 1 } })).toThrow(ConfigError);
  });

  test('a user schedule round-trips through customObjects (registered name) and registerSchedule', () => {
    class Halving extends LearningRateSchedule {
      constructor(readonly config: { rate: number }) {
        super();
      }
      call(step: number): number {
        return Math.fround(this.config.rate / (step + 1));
      }
      getConfig(): Record<string, unknown> {
        return { rate: this.config.rate };
      }
    }
    const s = serializeSchedule(new Halving({ rate: 0.5 }));
    expect(s).toEqual({ module: null, class_name: 'Halving', config: { rate: 0.5 }, registered_name: 'Halving' });
    expect(() => deserializeSchedule(s)).toThrow("Could not locate class 'Halving'");
    expect(deserializeSchedule(s, { Halving }).call(1)).toBe(0.25);
    registerSchedule(Halving as unknown as typeof LearningRateSchedule, 'Halving');
    expect(deserializeSchedule(s)).toBeInstanceOf(Halving);
  });

  test("the root entry's TF 2.4 schedules serialize under Keras' module (Keras 3 reads them into its class)", () => {
    const s = serializeSchedule(new Tf24CosineDecay(0.1, 10));
    expect(s.module).toBe('keras.optimizers.schedules');
    expect(deserializeSchedule(s)).toBeInstanceOf(CosineDecay);
  });
});

const SCHEDULES_MODULE_OF_TEST = 'keras.optimizers.schedules';
