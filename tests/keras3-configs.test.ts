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

const records = fixture.optimizers.filter((r) => available.has(r.class_name) && !Object.values(r.kwargs).some((v) => v !== null && typeof v === 'object'));

describe('what each class writes, as Keras 3 writes it', () => {
  test('there are records of every available class', () => {
    for (const name of available) expect(records.some((r) => r.class_name === name)).toBe(true);
  });
  test.each(records.map((r) => [r.name, r] as const))('%s', (_, r) => {
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
  test.each(records.map((r) => [r.name, r] as const))('reads back what Keras wrote and steps: %s', (_, r) => {
    const opt = deserialize(JSON.parse(r.json) as Parameters<typeof deserialize>[0]);
    try {
      expect(opt.className).toBe(r.class_name);
      expect(serialize(opt)).toEqual(r.serialized);
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
