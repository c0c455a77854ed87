// The root entry's `deserialize` / `get` and configs written after TF 2.4 (issue 13): OptimizerV2
// configs of TF 2.10.1 and tf-keras' `.legacy` load into the TF 2.4 classes (keys TF 2.4 lacks
// only when they are off), and Keras 3 / TF 2.11–2.15 configs are sent to `simdopt/keras3`,
// with an error saying so while it is not imported. Fixtures: tests/fixtures/keras3/
// tf2.10.1_configs.json, tf2.13.1_configs.json, tf_keras_configs.json, configs.json.
import { ConfigError, Optimizer, SGD, Adam, Variable, deserialize, get, ready, serialize, optimizerClasses } from 'simdopt';
import type { Serialized } from 'simdopt';
import { loadFixture } from './helpers/fixtures';

type Config = Serialized & { module?: string; registered_name?: string | null; name: string };
const tf210 = loadFixture<{ tensorflow: string; configs: Config[] }>('keras3/tf2.10.1_configs.json');
const tf213 = loadFixture<{ tensorflow: string; configs: Config[] }>('keras3/tf2.13.1_configs.json');
const tfKeras = loadFixture<{ records: { family: string; class_name: string; setting: string; serialized?: Config }[] }>('keras3/tf_keras_configs.json');
const keras3 = loadFixture<{ optimizers: { name: string; class_name: string; serialized: Config }[] }>('keras3/configs.json');

const ROOT_CLASSES = new Map(optimizerClasses.map((c) => [c.spec.className, c]));

beforeAll(async () => {
  await ready();
});

/** Loads with the root entry and takes one step: the config is usable, not only accepted. */
function loadsAndSteps(c: Serialized): Optimizer {
  const opt = deserialize(c);
  const v = new Variable([1, -2, 3]);
  opt.applyGradients([[new Float32Array([0.1, 0.2, -0.3]), v]]);
  expect(Array.from(v.read()).every(Number.isFinite)).toBe(true);
  v.dispose();
  return opt;
}

test('the fixtures are the TensorFlow versions they say', () => {
  expect(tf210.tensorflow).toBe('2.10.1');
  expect(tf213.tensorflow).toBe('2.13.1');
});

describe('TF 2.10.1 (OptimizerV2) configs load into the TF 2.4 classes', () => {
  test.each(tf210.configs.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const opt = loadsAndSteps(c);
    expect(opt).toBeInstanceOf(ROOT_CLASSES.get(c.class_name)!);
    // Its TF 2.4 config has every key the TF 2.10 config had, with the same values (as float32).
    const ours = serialize(opt).config;
    for (const [k, v] of Object.entries(c.config)) {
      if (typeof v === 'number') expect(Math.fround(ours[k] as number)).toBe(Math.fround(v));
      else if (k !== 'learning_rate') expect(ours[k]).toEqual(v);
    }
  });
});

describe("tf-keras' keras.optimizers.legacy configs (OptimizerV2 in a Keras 3 wrapper) load into the TF 2.4 classes", () => {
  const legacy = [
    ...tf213.configs.filter((c) => c.module === 'keras.optimizers.legacy'),
    ...tfKeras.records.filter((r) => r.family === 'tf_keras.optimizers.legacy' && r.serialized).map((r) => ({ ...r.serialized!, name: `tf_keras ${r.class_name} ${r.setting}` })),
  ];
  test('there are such configs', () => expect(legacy.length).toBeGreaterThan(60));
  test.each(legacy.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(loadsAndSteps(c)).toBeInstanceOf(ROOT_CLASSES.get(c.class_name)!);
  });
});

describe('keys TF 2.4 does not have, in an OptimizerV2 config', () => {
  const adam = tf210.configs.find((c) => c.name === 'tf.keras.optimizers.Adam default before step')!;
  const OFF = {
    weight_decay: null,
    use_ema: false,
    ema_momentum: 0.99,
    ema_overwrite_frequency: null,
    loss_scale_factor: null,
    gradient_accumulation_steps: null,
    jit_compile: true,
    is_legacy_optimizer: true,
  };

  test('holding their "off" values, they are dropped and the TF 2.4 class loads', () => {
    const opt = deserialize({ class_name: 'Adam', config: { ...adam.config, ...OFF } });
    expect(opt).toBeInstanceOf(Adam);
    expect(serialize(opt)).toEqual(serialize(deserialize(adam)));
    // ema_momentum / ema_overwrite_frequency do nothing without use_ema.
    expect(deserialize({ class_name: 'Adam', config: { ...adam.config, use_ema: false, ema_momentum: 0.5, ema_overwrite_frequency: 3 } })).toBeInstanceOf(Adam);
  });

  test.each([
    ['weight_decay', 0.01],
    ['use_ema', true],
    ['loss_scale_factor', 128],
    ['gradient_accumulation_steps', 2],
  ] as const)('%s=%p is a ConfigError naming the key and simdopt/keras3', (key, value) => {
    const c = { class_name: 'Adam', config: { ...adam.config, [key]: value } };
    expect(() => deserialize(c)).toThrow(ConfigError);
    expect(() => deserialize(c)).toThrow(new RegExp(`\`${key}\`.*'simdopt/keras3'`));
  });

  test('use_ema with a non-default momentum names use_ema', () => {
    expect(() => deserialize({ class_name: 'Adam', config: { ...adam.config, use_ema: true, ema_momentum: 0.9 } })).toThrow('`use_ema`=true');
  });
});

describe('Keras 3 and TF 2.11–2.15 configs, while simdopt/keras3 is not imported', () => {
  test.each(keras3.optimizers.slice(0, 12).map((c) => [c.name, c.serialized] as const))('Keras 3 %s: a ConfigError saying to import simdopt/keras3', (_name, c) => {
    expect(() => deserialize(c)).toThrow(ConfigError);
    expect(() => deserialize(c)).toThrow(/a Keras 3 (config|class).*Import 'simdopt\/keras3'/);
  });

  test('a TF 2.11–2.15 config is named as such', () => {
    const c = tf213.configs.find((x) => x.module === 'keras.optimizers' && x.class_name === 'Adam')!;
    expect(() => deserialize(c)).toThrow(/Adam: a TF 2\.11–2\.15 config \(jit_compile, is_legacy_optimizer\).*'simdopt\/keras3'/);
  });

  test('Keras 3 keys without the wrapper, and classes only Keras 3 has, are recognised too', () => {
    expect(() => deserialize({ class_name: 'SGD', config: { learning_rate: 0.1, use_ema: false } })).toThrow(/keys TF 2\.4 does not have: use_ema.*simdopt\/keras3/);
    expect(() => get('adamw')).toThrow(/only Keras 3 has adamw.*simdopt\/keras3/);
    expect(() => get({ class_name: 'Lion', config: {} })).toThrow(/simdopt\/keras3/);
  });
});

describe('TF 2.4 behaviour is unchanged', () => {
  test('TF 2.4 configs, names and errors', () => {
    expect(get('sgd')).toBeInstanceOf(SGD);
    expect(deserialize({ class_name: 'Adam', config: { learning_rate: 0.1, decay: 0.0 } })).toBeInstanceOf(Adam);
    expect(() => deserialize({ class_name: 'Adam', config: { beta_3: 1 } })).toThrow('Unexpected keyword argument passed to optimizer: beta_3');
    expect(() => deserialize({ class_name: 'Nope', config: {} })).toThrow('Unknown optimizer: Nope');
  });

  test('a user class gets its config as written, even with a key named like a Keras 3 one', () => {
    class AdamW extends Adam {
      static override fromConfig<T extends Optimizer>(this: new (options: Record<string, unknown>) => T, config: Record<string, unknown>): T {
        seen.push(config);
        return new (Adam as unknown as new (o: Record<string, unknown>) => T)({ learningRate: config.learning_rate });
      }
    }
    const seen: Record<string, unknown>[] = [];
    const opt = deserialize({ class_name: 'AdamW', config: { learning_rate: 0.1, decay: 0, weight_decay: 0.01 } }, { AdamW });
    expect(opt).toBeInstanceOf(Adam);
    expect(seen).toEqual([{ learning_rate: 0.1, decay: 0, weight_decay: 0.01 }]);
  });

  test('the config object is read once (a getter counts its reads)', () => {
    let reads = 0;
    const inner = { learning_rate: 0.1 };
    const c = {
      class_name: 'SGD',
      get config() {
        reads++;
        return inner;
      },
    };
    expect(deserialize(c)).toBeInstanceOf(SGD);
    expect(reads).toBe(1);
  });
});
