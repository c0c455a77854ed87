// Keras 3 configs (tests/fixtures/keras3/configs.json, written by Keras 3.15.1): what each class
// writes (get_config, serialize, the JSON text of a .keras file), that it reads back what Keras
// wrote and steps, the default names, and Keras's error probes (verbatim messages).
import { ready, Variable, ConfigError, HyperparameterError, ArgumentError, StateError, WeightsError, ExponentialDecay } from 'simdopt';
import { clearSession, deserialize, get, keras3Classes, serialize, toKerasJson } from 'simdopt/keras3';
import type { Optimizer } from 'simdopt/keras3';
import { loadFixture } from './helpers/fixtures';
import { camelCase } from '../ts/keys';

interface OptimizerRecord {
  name: string;
  kwargs: Record<string, unknown>;
  class_name: string;
  get_config: Record<string, unknown>;
  serialized: Record<string, unknown>;
  json: string;
  deserialize: { ok: boolean; round_trip?: boolean; step_ok?: boolean };
}
interface Probe {
  name: string;
  ok: boolean;
  error_type?: string;
  message?: string;
  result?: unknown;
}
const fixture = loadFixture<{ optimizers: OptimizerRecord[]; errors: Probe[]; deserialize: Probe[]; names: Array<{ class_name: string; name: string; after?: string }> }>(
  'keras3/configs.json',
);

const available = new Set(keras3Classes.map((c) => c.spec.className));
const cls = (name: string) => keras3Classes.find((c) => c.spec.className === name)!;

beforeAll(async () => {
  await ready();
});

/** Keras kwargs (snake_case) as constructor options. */
function options(kwargs: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(kwargs).map(([k, v]) => [camelCase(k), v]));
}

function probeVars(): Variable[] {
  return [new Variable(new Float32Array([1, -2, 3, 0.5]), { shape: [2, 2], name: 'dense/kernel' }), new Variable(new Float32Array([0.1, -0.2]), { name: 'dense/bias' })];
}

function oneStep(opt: Optimizer): void {
  const vs = probeVars();
  opt.applyGradients([
    [new Float32Array([0.1, 0.2, -0.3, 0.4]), vs[0]],
    [new Float32Array([0.5, -0.5]), vs[1]],
  ]);
  vs.forEach((v) => v.dispose());
}

const records = fixture.optimizers.filter((r) => available.has(r.class_name));
/** Records whose optimizer the kwargs describe (the others were made with schedule objects). */
const fromKwargs = records.filter((r) => !Object.values(r.kwargs).some((v) => v !== null && typeof v === 'object') && typeof r.get_config.learning_rate !== 'object');

describe('what each class writes, as Keras 3 writes it', () => {
  test('there are records of every available class', () => {
    for (const name of available) expect(records.some((r) => r.class_name === name)).toBe(true);
  });
  test.each(fromKwargs.map((r) => [r.name, r] as const))('%s', (_, r) => {
    clearSession();
    const opt = new (cls(r.class_name))(options(r.kwargs));
    try {
      expect(opt.getConfig()).toEqual(r.get_config);
      // Key order too: Keras's get_config order.
      expect(Object.keys(opt.getConfig())).toEqual(Object.keys(r.get_config));
      expect(serialize(opt)).toEqual(r.serialized);
      expect(toKerasJson(serialize(opt))).toBe(r.json);
    } finally {
      opt.dispose();
    }
  });
  test.each(records.map((r) => [r.name, r] as const))('reads back what Keras wrote, writes it again (JSON text too) and steps: %s', (_, r) => {
    const opt = deserialize(JSON.parse(r.json) as Parameters<typeof deserialize>[0]) as Optimizer;
    try {
      expect(opt.className).toBe(r.class_name);
      expect(serialize(opt)).toEqual(r.serialized);
      expect(toKerasJson(serialize(opt))).toBe(r.json);
      oneStep(opt);
      expect(opt.iterations).toBe(r.kwargs.gradient_accumulation_steps ? 0 : 1);
    } finally {
      opt.dispose();
    }
  });
});

describe('default names', () => {
  test('snake_case of the class, numbered from the second instance until clearSession()', () => {
    clearSession();
    const made: Optimizer[] = [];
    for (const n of fixture.names) {
      if (!available.has(n.class_name)) continue;
      if (n.after) clearSession();
      const explicit = n.name === 'adam' && made.some((o) => o.name === 'adam') && !n.after;
      const opt = new (cls(n.class_name))(explicit ? { name: n.name } : {});
      made.push(opt);
      expect(opt.name).toBe(n.name);
    }
    made.forEach((o) => o.dispose());
  });
});

// ---- error probes ------------------------------------------------------------------------------

/** Keras's exception type → the simdopt error class that stands for it. */
const TYPES: Record<string, unknown[]> = {
  ValueError: [HyperparameterError, ConfigError, ArgumentError, WeightsError, StateError],
  TypeError: [ArgumentError, ConfigError],
};

type Run = () => unknown;
/** Each probe of configs.json done through simdopt/keras3 (the class it needs, and the call). */
const PROBES: Record<string, [string, Run]> = {
  'unknown kwarg lr': ['Lion', () => new (cls('Lion'))({ lr: 0.1 })],
  'unknown kwargs': ['Lion', () => new (cls('Lion'))({ foo: 1, bar: 2 })],
  'learning_rate str': ['Lion', () => new (cls('Lion'))({ learningRate: '0.1' })],
  'learning_rate None': ['Lion', () => new (cls('Lion'))({ learningRate: null })],
  'clipnorm and clipvalue': ['Lion', () => new (cls('Lion'))({ clipnorm: 1.0, clipvalue: 0.5 })],
  'clipnorm and global_clipnorm': ['Lion', () => new (cls('Lion'))({ clipnorm: 1.0, globalClipnorm: 1.0 })],
  'all three clips': ['Lion', () => new (cls('Lion'))({ clipnorm: 1.0, clipvalue: 1.0, globalClipnorm: 1.0 })],
  'clipnorm 0 and clipvalue': ['Lion', () => new (cls('Lion'))({ clipnorm: 0.0, clipvalue: 0.5 })],
  'negative clipnorm': ['Lion', () => new (cls('Lion'))({ clipnorm: -1.0 }).getConfig().clipnorm],
  'gradient_accumulation_steps 1': ['Lion', () => new (cls('Lion'))({ gradientAccumulationSteps: 1 })],
  'gradient_accumulation_steps 0': ['Lion', () => new (cls('Lion'))({ gradientAccumulationSteps: 0 }).getConfig().gradient_accumulation_steps],
  'gradient_accumulation_steps -2': ['Lion', () => new (cls('Lion'))({ gradientAccumulationSteps: -2 })],
  'ema_momentum 1.5': ['Lion', () => new (cls('Lion'))({ useEma: true, emaMomentum: 1.5 })],
  'ema_momentum -0.1': ['Lion', () => new (cls('Lion'))({ useEma: true, emaMomentum: -0.1 })],
  'ema_momentum 1.5 without use_ema': ['Lion', () => new (cls('Lion'))({ emaMomentum: 1.5 }).getConfig().ema_momentum],
  'ema_overwrite_frequency 0': ['Lion', () => new (cls('Lion'))({ useEma: true, emaOverwriteFrequency: 0 }).getConfig().ema_overwrite_frequency],
  'ema_overwrite_frequency -1': ['Lion', () => new (cls('Lion'))({ useEma: true, emaOverwriteFrequency: -1 })],
  'ema_overwrite_frequency 2.5': ['Lion', () => new (cls('Lion'))({ useEma: true, emaOverwriteFrequency: 2.5 })],
  'name with slash': ['Lion', () => new (cls('Lion'))({ name: 'a/b' })],
  'Lion beta_1 0': ['Lion', () => new (cls('Lion'))({ beta1: 0.0 })],
  'Lion beta_1 1.5': ['Lion', () => new (cls('Lion'))({ beta1: 1.5 })],
  'Lion beta_1 -0.5': ['Lion', () => new (cls('Lion'))({ beta1: -0.5 })],
  'apply unknown variable': [
    'Lion',
    () => {
      const opt = new (cls('Lion'))();
      opt.build(probeVars());
      opt.applyGradients([[new Float32Array([1, 1]), new Variable(new Float32Array(2), { name: 'other/bias' })]]);
    },
  ],
  'apply all None': [
    'Lion',
    () => {
      const vs = probeVars();
      new (cls('Lion'))().applyGradients([
        [null, vs[0]],
        [null, vs[1]],
      ]);
    },
  ],
  'apply empty': [
    'Lion',
    () => {
      const opt = new (cls('Lion'))();
      opt.applyGradients([]);
      return { built: opt.built, iterations: opt.iterations };
    },
  ],
  'set_weights unbuilt': ['Lion', () => new (cls('Lion'))().setWeights([0])],
  decay: ['Adam', () => new (cls('Adam'))({ decay: 0.1 }).getConfig()],
  'decay None': ['Adam', () => new (cls('Adam'))({ decay: null }).getConfig()],
  'learning_rate callable': [
    'Adam',
    () => {
      function constant_lr(): number {
        return 0.01;
      }
      return new (cls('Adam'))({ learningRate: constant_lr }).getConfig().learning_rate;
    },
  ],
  'SGD momentum 1.5': ['SGD', () => new (cls('SGD'))({ momentum: 1.5 })],
  'SGD momentum -0.1': ['SGD', () => new (cls('SGD'))({ momentum: -0.1 })],
  'SGD momentum 1.0': ['SGD', () => new (cls('SGD'))({ momentum: 1.0 }).getConfig().momentum],
  'AdamW weight_decay None': ['AdamW', () => new (cls('AdamW'))({ weightDecay: null })],
  'AdamW weight_decay 0': ['AdamW', () => new (cls('AdamW'))({ weightDecay: 0.0 }).getConfig().weight_decay],
  'Ftrl learning_rate_power 0.5': ['Ftrl', () => new (cls('Ftrl'))({ learningRatePower: 0.5 })],
  'Ftrl initial_accumulator_value -1': ['Ftrl', () => new (cls('Ftrl'))({ initialAccumulatorValue: -1.0 })],
  'Ftrl l1 -1': ['Ftrl', () => new (cls('Ftrl'))({ l1RegularizationStrength: -1.0 })],
  'Ftrl l2 -1': ['Ftrl', () => new (cls('Ftrl'))({ l2RegularizationStrength: -1.0 })],
  'Ftrl l2_shrinkage -1': ['Ftrl', () => new (cls('Ftrl'))({ l2ShrinkageRegularizationStrength: -1.0 })],
  'Ftrl beta -1': ['Ftrl', () => new (cls('Ftrl'))({ beta: -1.0 }).getConfig().beta],
  'RMSprop rho 2': ['RMSprop', () => new (cls('RMSprop'))({ rho: 2.0 }).getConfig().rho],
  'Adam beta_1 2': ['Adam', () => new (cls('Adam'))({ beta1: 2.0 }).getConfig().beta_1],
  'apply some None': [
    'Adam',
    () => {
      const opt = new (cls('Adam'))();
      const vs = probeVars();
      opt.applyGradients([
        [null, vs[0]],
        [new Float32Array([1, 1]), vs[1]],
      ]);
      return { iterations: opt.iterations, kernel: [Array.from(vs[0].read().slice(0, 2)), Array.from(vs[0].read().slice(2))] };
    },
  ],
  'set_weights wrong shape': [
    'Adam',
    () => {
      const opt = new (cls('Adam'))();
      opt.build(probeVars());
      opt.setWeights([3, new Float32Array([0.5]), new Float32Array(9)]);
    },
  ],
  'set_weights short list': [
    'Adam',
    () => {
      const opt = new (cls('Adam'))();
      opt.build(probeVars());
      opt.setWeights([7]);
      return { iterations: opt.iterations };
    },
  ],
  'exclude_from_weight_decay after build': [
    'AdamW',
    () => {
      const opt = new (cls('AdamW'))({ learningRate: 0.1, weightDecay: 0.5 });
      const vs = probeVars();
      opt.build(vs);
      opt.excludeFromWeightDecay({ varNames: ['kernel'] });
      opt.applyGradients([
        [new Float32Array(4), vs[0]],
        [new Float32Array(2), vs[1]],
      ]);
      return { kernel: [Array.from(vs[0].read().slice(0, 2)), Array.from(vs[0].read().slice(2))], bias: Array.from(vs[1].read()) };
    },
  ],
  'set learning_rate on schedule': [
    'Lion',
    () => {
      const opt = new (cls('Lion'))({ learningRate: new ExponentialDecay(0.1, 10, 0.5) });
      opt.learningRate = 0.5;
    },
  ],
};

/** Keras's messages quote values as Python prints them; these differ for a reason stated here. */
const MESSAGE_DIFFERS: Record<string, RegExp> = {
  // simdopt names the weight by its position and sizes (its weights are flat).
  'set_weights wrong shape': /^Optimizer variable 2 has 4 values, not compatible with the provided weight of 9 values\.$/,
  // The core's error names the variables too.
  'apply all None': /^No gradients provided for any variable/,
  // simdopt's variables have no dtype or value in their repr.
  'apply unknown variable': /^Unknown variable: <Variable path=other\/bias, shape=\(2,\)>\. This optimizer can only be called for the variables it was originally built with\./,
};

const probes = fixture.errors.filter((p) => p.name in PROBES);
describe("Keras's error probes", () => {
  test.each(probes.map((p) => [p.name, p] as const))('%s', (name, p) => {
    clearSession();
    const [needs, run] = PROBES[name];
    expect(available.has(needs)).toBe(true);
    if (p.ok) {
      const got = run();
      if (p.result !== undefined) expect(got).toEqual(p.result);
      return;
    }
    let thrown: unknown;
    try {
      run();
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeDefined();
    expect(TYPES[p.error_type!]?.some((C) => thrown instanceof (C as new () => unknown))).toBe(true);
    const message = (thrown as Error).message;
    if (MESSAGE_DIFFERS[name]) expect(message).toMatch(MESSAGE_DIFFERS[name]);
    else expect(message.split(' (options are camelCase')[0]).toBe(p.message);
  });
});

/**
 * Probes where simdopt differs from Keras on purpose: JavaScript has one number type (an int and a
 * float are the same value; there is no numpy scalar), and a count of calls must be whole.
 */
const DEVIATIONS: Record<string, () => void> = {
  'learning_rate int': () => expect(new (cls('Adam'))({ learningRate: 1 }).getConfig().learning_rate).toBe(1),
  'SGD momentum int 0': () => expect(new (cls('SGD'))({ momentum: 0 }).getConfig().momentum).toBe(0),
  'gradient_accumulation_steps 2.5': () =>
    expect(() => new (cls('Adam'))({ gradientAccumulationSteps: 2.5 })).toThrow(
      new HyperparameterError('InvalidHyperparameter', '`gradient_accumulation_steps` must be an integer >= 2. Received: gradient_accumulation_steps=2.5'),
    ),
};

describe('where simdopt differs from Keras on purpose', () => {
  test.each(Object.keys(DEVIATIONS))('%s', (name) => {
    expect(fixture.errors.some((p) => p.name === name)).toBe(true);
    DEVIATIONS[name]();
  });
});

/** Keras 3 probes of the other helpers' classes and of Python-only inputs (numpy scalars). */
const ELSEWHERE = /^(LossScaleOptimizer|OptimizerMap|MultiOptimizer|Adafactor|Muon|.*Decay|learning_rate numpy float32$)/;

test("every error probe of configs.json is checked here, a deviation, or another family member's", () => {
  const unchecked = fixture.errors.map((p) => p.name).filter((n) => !(n in PROBES) && !(n in DEVIATIONS) && !ELSEWHERE.test(n));
  expect(unchecked).toEqual([]);
});

const ADAM_V2 = { class_name: 'Adam', config: { name: 'Adam', learning_rate: 0.001, decay: 0.0, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, amsgrad: false } };
const adamConfig = () => serialize(new (cls('Adam'))());
/** configs.json's deserialize/get inputs, through simdopt/keras3. */
const LOADS: Record<string, () => unknown> = {
  'get adam': () => get('adam'),
  'get Adam': () => get('Adam'),
  'get ADAM': () => get('ADAM'),
  'get adamw': () => get('adamw'),
  'get AdamW': () => get('AdamW'),
  'get sgd': () => get('sgd'),
  'get rmsprop': () => get('rmsprop'),
  'get None': () => get(null),
  'get unknown': () => get('nope'),
  'get number': () => get(5 as never),
  'deserialize Keras 3 Adam': () => deserialize(adamConfig()),
  'deserialize without module (TF 2.11-2.15 style keys)': () => deserialize({ class_name: 'Adam', config: adamConfig().config }),
  'deserialize OptimizerV2 style (decay)': () => deserialize(ADAM_V2),
  'deserialize with lr key': () => deserialize({ class_name: 'Adam', config: { lr: 0.1 } }),
  'deserialize unknown key': () => deserialize({ class_name: 'Adam', config: { foo: 1 } }),
  'deserialize wrong module': () => deserialize({ ...adamConfig(), module: 'keras.foo' }),
  'deserialize is_legacy_optimizer': () => deserialize({ class_name: 'Adam', config: { learning_rate: 0.01, is_legacy_optimizer: false } }),
  'deserialize jit_compile': () => deserialize({ class_name: 'Adam', config: { learning_rate: 0.01, jit_compile: true } }),
  'deserialize schedule dict lr': () =>
    deserialize({
      class_name: 'SGD',
      config: {
        learning_rate: {
          module: 'keras.optimizers.schedules',
          class_name: 'ExponentialDecay',
          config: { initial_learning_rate: 0.1, decay_steps: 10, decay_rate: 0.5, staircase: false, name: 'ExponentialDecay' },
          registered_name: null,
        },
      },
    }),
  'deserialize lowercase class_name': () => deserialize({ class_name: 'adamw', config: {} }),
};
/** Inputs Keras 3.15.1 gets wrong or that JavaScript cannot tell apart, and what simdopt does instead. */
const LOAD_DEVIATIONS: Record<string, () => void> = {
  // Keras returns the string 'Foo'; a deserialize that returns a string is a bug to users.
  'deserialize unknown class': () =>
    expect(() => deserialize({ class_name: 'Foo', config: {} })).toThrow(new ConfigError('UnknownClass', 'Could not interpret optimizer identifier: Foo')),
  // JSON's 1 is 1.0 here.
  'deserialize learning_rate int': () => expect((deserialize({ class_name: 'Adam', config: { learning_rate: 1 } }) as Optimizer).getConfig().learning_rate).toBe(1),
  // Keras 3 cannot read a schedule without `module`; the schedules module reads the Keras 2 form.
  'deserialize TF2-style schedule lr': () =>
    expect(
      (
        deserialize({
          class_name: 'SGD',
          config: { learning_rate: { class_name: 'ExponentialDecay', config: { initial_learning_rate: 0.1, decay_steps: 10, decay_rate: 0.5, staircase: false, name: null } } },
        }) as Optimizer
      ).getConfig().learning_rate,
    ).toMatchObject({ module: 'keras.optimizers.schedules', class_name: 'ExponentialDecay' }),
};

describe("configs.json's deserialize and get inputs", () => {
  test.each(fixture.deserialize.filter((p) => p.name in LOADS).map((p) => [p.name, p] as const))('%s', (name, p) => {
    clearSession();
    let got: unknown;
    let thrown: unknown;
    try {
      got = LOADS[name]();
    } catch (e) {
      thrown = e;
    }
    if (!p.ok) {
      expect(thrown).toBeInstanceOf(ConfigError);
      expect((thrown as Error).message).toBe(p.message);
      return;
    }
    if (thrown) throw thrown;
    const want = p.result as { type?: string; serialized?: unknown; value?: unknown };
    if (want.type === undefined) return expect(got).toEqual(want.value);
    expect((got as Optimizer).className).toBe(want.type);
    expect(serialize(got as Optimizer)).toEqual(want.serialized);
    (got as Optimizer).dispose();
  });
  test.each(Object.keys(LOAD_DEVIATIONS))('differs on purpose: %s', (name) => {
    expect(fixture.deserialize.some((p) => p.name === name)).toBe(true);
    LOAD_DEVIATIONS[name]();
  });
  test("every input is checked here, a deviation, or another family member's", () => {
    const other = /Lamb|lamb|muon|schedulefree|ScheduleFree|lossscale|multioptimizer/;
    expect(fixture.deserialize.map((p) => p.name).filter((n) => !(n in LOADS) && !(n in LOAD_DEVIATIONS) && !other.test(n))).toEqual([]);
  });
});

describe('get and deserialize', () => {
  test("get: an optimizer as is, a class name in any case, a config; null gives null; anything else Keras's error", () => {
    const opt = get('LION');
    expect(opt.className).toBe('Lion');
    expect(get(opt)).toBe(opt);
    expect(get(null)).toBeNull();
    expect(() => get('nope')).toThrow(new ConfigError('UnknownClass', 'Could not interpret optimizer identifier: nope'));
    expect(() => get(5 as never)).toThrow('Could not interpret optimizer identifier: 5');
    opt.dispose();
  });
  test('deserialize reads a config without module (TF 2.11-2.15), with another Keras module, or a lowercase class name', () => {
    const s = serialize(new (cls('Lion'))({ name: 'l' }));
    for (const c of [
      { class_name: 'Lion', config: s.config },
      { ...s, module: 'keras.foo' },
      { ...s, class_name: 'lion' },
    ]) {
      const opt = deserialize(c as Parameters<typeof deserialize>[0]);
      expect(serialize(opt)).toEqual(s);
      opt.dispose();
    }
  });
  test("deserialize refuses what Keras refuses, with Keras's message", () => {
    expect(() => deserialize({ class_name: 'Lion', config: { lr: 0.1 } })).toThrow("Argument(s) not recognized: {'lr': 0.1}");
    expect(() => deserialize({ class_name: 'Lion', config: { learning_rate: 0.01, is_legacy_optimizer: false } })).toThrow(
      "Argument(s) not recognized: {'is_legacy_optimizer': False}",
    );
    expect(() => deserialize({ class_name: 'Lion', config: { learning_rate: 0.01, jit_compile: true } })).toThrow("Argument(s) not recognized: {'jit_compile': True}");
    expect(() => deserialize({ class_name: 'Foo', config: {} })).toThrow(ConfigError);
  });
  test('a function learning rate is written as Keras writes a function, and read back through customObjects', () => {
    function constant_lr(): number {
      return 0.01;
    }
    const opt = new (cls('Lion'))({ learningRate: constant_lr });
    const s = serialize(opt);
    expect(s.config.learning_rate).toEqual({ module: 'builtins', class_name: 'function', config: 'constant_lr', registered_name: 'function' });
    const back = deserialize(s, { constant_lr });
    expect(back.learningRate).toBe(constant_lr);
    expect(() => deserialize(s)).toThrow(/Could not locate function 'constant_lr'/);
    opt.dispose();
    back.dispose();
  });
});
