// The registry (issue 11, point 2): one list of the built-in optimizer classes in the facade,
// whose tables (class names, config defaults, slots) agree with the core's: the defaults read
// through wasm from the core's own registry, the slots from the optimizers the core builds.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ready, optimizerClasses, declaredSlots, get, serialize, Variable, Optimizer } from 'simdopt';
import type { BuiltinOptimizerClass } from 'simdopt';

/** The core's registry as its binding gives it (`registry_json`), if this build has it. */
interface CoreClass {
  class_name: string;
  family: string;
  config: Array<[string, number | boolean]>;
  slots: Array<{ name: string; shape: string; dtype: string }>;
}
await ready();
// The same loader module as the package's (dist/index.js imports it), so the same instance.
const loader = (await import('../dist/wasm/loader.js' as string)) as { core(): { registry_json(): string } };
const coreRegistry = JSON.parse(loader.core().registry_json()) as CoreClass[];

const NAMES = ['SGD', 'RMSprop', 'Adam', 'Adagrad', 'Adadelta', 'Adamax', 'Nadam', 'Ftrl'];

test('one list: the eight TF 2.4 classes in Keras order, each reachable by name through serialization', () => {
  expect(optimizerClasses.map((c) => c.spec.className)).toEqual(NAMES);
  for (const cls of optimizerClasses) {
    const opt = get(cls.spec.className.toLowerCase());
    expect(opt).toBeInstanceOf(cls);
    expect(opt.className).toBe(cls.spec.className);
    expect(serialize(opt).class_name).toBe(cls.spec.className);
    opt.dispose();
  }
});

test("each class's config holds its declared defaults, in the declared order", () => {
  for (const cls of optimizerClasses) {
    const opt = new cls();
    const config = opt.getConfig();
    expect(Object.keys(config)).toEqual(['name', ...cls.spec.config.map(([k]) => k)]);
    for (const [key, dflt] of cls.spec.config) expect([cls.spec.className, key, config[key]]).toEqual([cls.spec.className, key, dflt]);
    opt.dispose();
  }
});

/** Configs that switch every conditional slot on and off. */
const VARIANTS: Record<string, Array<Record<string, unknown>>> = {
  SGD: [{}, { momentum: 0.9 }, { momentum: () => 0.5 }, { momentum: 0.9, nesterov: true }],
  RMSprop: [{}, { momentum: 0.9 }, { centered: true }, { momentum: 0.5, centered: true }],
  Adam: [{}, { amsgrad: true }],
};

/** The slots the core made for one variable after one step. */
function coreSlots(cls: BuiltinOptimizerClass, config: Record<string, unknown>): string[] {
  const options = Object.fromEntries(Object.entries(config).map(([k, v]) => [k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()), v]));
  const opt: Optimizer = new cls(options);
  const w = new Variable(new Float32Array([1, 2, 3]), { name: 'w' });
  try {
    opt.applyGradients([[new Float32Array([0.1, 0.2, 0.3]), w]]);
    return opt.getSlotNames();
  } finally {
    opt.dispose();
    w.dispose();
  }
}

test('the declared slots are the ones the core makes, for every switch of a conditional slot', () => {
  let checked = 0;
  for (const cls of optimizerClasses) {
    for (const config of VARIANTS[cls.spec.className] ?? [{}]) {
      expect([cls.spec.className, config, coreSlots(cls, config)]).toEqual([cls.spec.className, config, declaredSlots(cls.spec, config)]);
      checked++;
    }
  }
  expect(checked).toBe(15);
});

describe("the core's registry, read through wasm (binding registry_json)", () => {
  test('same TF 2.4 classes, same config keys and defaults (as f32), same default slots', () => {
    const tf24 = coreRegistry.filter((c) => c.family === 'tf24');
    expect(tf24.map((c) => c.class_name)).toEqual(NAMES);
    for (const cls of optimizerClasses) {
      const core = tf24.find((c) => c.class_name === cls.spec.className)!;
      const ts = cls.spec.config.map(([k, d]) => [k, typeof d === 'number' ? Math.fround(d) : d]);
      expect([cls.spec.className, core.config.map(([k, d]) => [k, typeof d === 'number' ? Math.fround(d) : d])]).toEqual([cls.spec.className, ts]);
      const like = core.slots.filter((s) => s.shape === 'like_var').map((s) => s.name);
      expect([cls.spec.className, like]).toEqual([cls.spec.className, declaredSlots(cls.spec)]);
    }
  });
});

test("each optimizer's TypeScript file names its Rust rule in its first line, and the rule exists", () => {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  for (const cls of optimizerClasses) {
    const file = join(root, 'ts', 'optimizers', `${cls.spec.className.toLowerCase()}.ts`);
    const first = readFileSync(file, 'utf8').split('\n')[0];
    const rule = /^\/\/ Rust rule: (crates\/simdopt-core\/src\/rules\/[a-z0-9_]+\.rs)\./.exec(first)?.[1];
    expect([cls.spec.className, rule !== undefined && existsSync(join(root, rule))]).toEqual([cls.spec.className, true]);
  }
});
