// The `slotDtype` option (issue 16): moment slots stored as bfloat16 or block-wise 8-bit codes.
// Trajectories through the wasm core equal the native Rust reference bit for bit
// (tests/fixtures/quant/slot_trajectories.json, written by crates/simdopt-core/tests/quant_slots.rs);
// float32 is today's numbers; checkpoints and raw weights restore the codes and scales exactly;
// bad input gets typed errors and changes nothing.
import { readFileSync } from 'fs';
import { join } from 'path';
import { FIXTURES_DIR } from './helpers/fixtures';
import { fnv, grad, start } from './helpers/slot-trajectories.mjs';
import {
  ready,
  deserialize,
  Adam,
  Ftrl,
  Adadelta,
  Variable,
  IndexedSlices,
  Optimizer,
  ArgumentError,
  ConfigError,
  StateError,
  WeightsError,
  saveCheckpoint,
  restoreCheckpoint,
  encodeCheckpoint,
  stats,
  RawSlotWeight,
} from 'simdopt';

beforeAll(async () => {
  await ready();
});

interface Case {
  class: string;
  options: Array<[string, number]>;
  dtype: 'float32' | 'bfloat16' | 'int8';
  vars: string[];
  weights: string[];
}
const FIXTURE = JSON.parse(readFileSync(join(FIXTURES_DIR, 'quant', 'slot_trajectories.json'), 'utf8')) as {
  big: number;
  small: number;
  steps: number;
  cases: Case[];
};
const FLAGS = new Set(['amsgrad', 'nesterov', 'centered']);

function build(c: Pick<Case, 'class' | 'options'>, dtype?: string): Optimizer {
  const config: Record<string, unknown> = {};
  for (const [k, v] of c.options) config[k] = FLAGS.has(k) ? v !== 0 : v;
  if (dtype !== undefined) config.slot_dtype = dtype;
  return deserialize({ class_name: c.class, config });
}

function run(opt: Optimizer, steps = FIXTURE.steps, from = 0): Variable[] {
  const { big, small } = FIXTURE;
  const vars = [
    new Variable(
      Float32Array.from({ length: big }, (_, i) => start(i)),
      { name: 'big' },
    ),
    new Variable(
      Float32Array.from({ length: small }, (_, i) => start(i)),
      { name: 'small' },
    ),
  ];
  step(opt, vars, steps, from);
  return vars;
}

function step(opt: Optimizer, vars: Variable[], steps: number, from = 0): void {
  for (let t = from; t < from + steps; t++) {
    opt.applyGradients(vars.map((v) => [Float32Array.from({ length: v.size }, (_, i) => grad(i, t, v.size)), v]));
  }
}

const f32Weights = (opt: Optimizer): Float32Array[] => opt.getWeights().slice(1) as Float32Array[];

// Lion is a Keras 3 class: its TypeScript class is not in this build (its Rust cases still run).
const JS_CASES = FIXTURE.cases.filter((c) => c.class !== 'Lion');

test.each(JS_CASES.map((c) => [`${c.class} ${JSON.stringify(c.options)} ${c.dtype}`, c] as const))('%s equals the native reference bit for bit', (_, c) => {
  const opt = build(c, c.dtype);
  expect(opt.slotDtype).toBe(c.dtype);
  const vars = run(opt);
  expect(vars.map((v) => fnv(v.read()))).toEqual(c.vars);
  expect(f32Weights(opt).map(fnv)).toEqual(c.weights);
  opt.dispose();
  vars.forEach((v) => v.dispose());
});

test('float32 is the default: the same bits as an optimizer without the option, and no key in the Keras config', () => {
  for (const c of JS_CASES.filter((c) => c.dtype === 'float32')) {
    const [a, b] = [build(c), build(c, 'float32')];
    const [va, vb] = [run(a), run(b)];
    expect(va.map((v) => fnv(v.read()))).toEqual(vb.map((v) => fnv(v.read())));
    expect(f32Weights(a).map(fnv)).toEqual(f32Weights(b).map(fnv));
    expect(a.getConfig()).toEqual(b.getConfig());
    expect(Object.keys(b.getConfig())).not.toContain('slot_dtype');
    [a, b].forEach((o) => o.dispose());
    [...va, ...vb].forEach((v) => v.dispose());
  }
  const int8 = new Adam({ slotDtype: 'int8' });
  expect(JSON.stringify(int8.getConfig())).toBe(JSON.stringify(new Adam().getConfig()));
});

test('checkpoints restore 8-bit and bfloat16 state exactly: the continued run equals one that never stopped', () => {
  for (const dtype of ['int8', 'bfloat16'] as const) {
    const c = { class: 'Adam', options: [] as Array<[string, number]> };
    const whole = build(c, dtype);
    const wholeVars = run(whole, 6);
    const first = build(c, dtype);
    const vars = run(first, 3);
    for (const form of ['json', 'bytes'] as const) {
      const ckpt = saveCheckpoint(first, vars);
      expect(ckpt.optimizer.slot_dtype).toBe(dtype);
      const fresh = [new Variable(new Float32Array(FIXTURE.big), { name: 'big' }), new Variable(new Float32Array(FIXTURE.small), { name: 'small' })];
      const restored = restoreCheckpoint(form === 'json' ? (JSON.parse(JSON.stringify(ckpt)) as typeof ckpt) : encodeCheckpoint(ckpt), fresh);
      expect(restored.slotDtype).toBe(dtype);
      expect(restored.getWeights({ raw: true })).toEqual(first.getWeights({ raw: true }));
      step(restored, fresh, 3, 3);
      expect(fresh.map((v) => fnv(v.read()))).toEqual(wholeVars.map((v) => fnv(v.read())));
      expect(restored.getWeights({ raw: true })).toEqual(whole.getWeights({ raw: true }));
      restored.dispose();
      fresh.forEach((v) => v.dispose());
    }
    [whole, first].forEach((o) => o.dispose());
    [...wholeVars, ...vars].forEach((v) => v.dispose());
  }
});

test('getWeights gives f32 views by default and raw codes and scales on request; setWeights takes both', () => {
  const opt = new Adam({ slotDtype: 'int8' });
  const vars = run(opt, 2);
  const views = opt.getWeights();
  expect(views.slice(1).every((w) => w instanceof Float32Array)).toBe(true);
  const raw = opt.getWeights({ raw: true });
  const kinds = raw.slice(1).map((w) => (w instanceof Float32Array ? 'f32' : (w as RawSlotWeight).dtype));
  // weights: m(big), m(small), v(big), v(small): the small variable keeps f32 slots
  expect(kinds).toEqual(['int8', 'f32', 'int8', 'f32']);
  const m = raw[1] as Extract<RawSlotWeight, { dtype: 'int8' }>;
  expect([m.codes.length, m.absmax.length, m.blockSize]).toEqual([FIXTURE.big, Math.ceil(FIXTURE.big / 256), 256]);
  // the view is the dequantized codes: code value times the block's absmax, so within the absmax
  const mView = views[1] as Float32Array;
  expect(mView.every((x, i) => Math.abs(x) <= m.absmax[Math.floor(i / 256)])).toBe(true);

  const other = new Adam({ slotDtype: 'int8' });
  other.build(vars);
  other.setWeights(raw);
  expect(other.getWeights({ raw: true })).toEqual(raw);
  expect(other.getWeights()).toEqual(views);
  // a raw slot of the wrong size, or for an f32 weight: a WeightsError, nothing changes
  const before = other.getWeights({ raw: true });
  const bad = [...raw];
  bad[1] = { ...m, codes: m.codes.subarray(1) };
  expect(() => other.setWeights(bad)).toThrow(WeightsError);
  const wrongSlot = [...raw];
  wrongSlot[2] = m;
  expect(() => other.setWeights(wrongSlot)).toThrow(WeightsError);
  const nanScale = [...raw];
  nanScale[1] = { ...m, absmax: m.absmax.map((a, i) => (i === 0 ? NaN : a)) };
  expect(() => other.setWeights(nanScale)).toThrow(WeightsError);
  expect(other.getWeights({ raw: true })).toEqual(before);
  // a live slot view does not exist for compressed storage
  expect(() => other.getSlot(vars[0], 'm')).toThrow(StateError);
  expect(other.getSlot(vars[1], 'm').read()).toEqual(views[2]);
  [opt, other].forEach((o) => o.dispose());
  vars.forEach((v) => v.dispose());
});

test('an unsupported dtype gets a typed error naming the optimizers that support it, and creates nothing', () => {
  const before = stats().optimizers;
  for (const make of [() => new Ftrl({ slotDtype: 'int8' }), () => new Adadelta({ slotDtype: 'bfloat16' })]) {
    let error: unknown;
    try {
      make();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('UnsupportedSlotDtype');
    for (const name of ['Adam', 'SGD', 'RMSprop', 'Adagrad', 'Adamax', 'Nadam']) expect((error as Error).message).toContain(name);
  }
  expect(() => new Adam({ slotDtype: 'int4' as 'int8' })).toThrow(ArgumentError);
  expect(() => new Adam({ slotDtype: 8 as unknown as 'int8' })).toThrow(ArgumentError);
  expect(stats().optimizers).toBe(before);
});

/** Gradients within one decade (0.05 to 0.25 in magnitude), both signs. */
const rowGrad = (i: number, t: number): number => Math.fround((((i * 7919 + t * 104729) % 2001) + 500) * 1e-4 * (i % 2 ? 1 : -1));

test('sparse gradients on compressed slots: the rows move as with f32 state, within the storage rounding', () => {
  const rows = 64;
  const width = 128; // 8,192 elements: compressed
  const table = (dtype: 'float32' | 'int8' | 'bfloat16') => {
    const v = new Variable(
      Float32Array.from({ length: rows * width }, (_, i) => start(i)),
      { name: 'table', shape: [rows, width] },
    );
    const opt = new Adam({ learningRate: 0.01, slotDtype: dtype });
    for (let t = 0; t < 4; t++) {
      const idx = [t, 5, 17 + t, 5];
      opt.applyGradients([
        [
          new IndexedSlices(
            Float32Array.from({ length: idx.length * width }, (_, i) => rowGrad(i, t)),
            idx,
            [rows, width],
          ),
          v,
        ],
      ]);
    }
    const out = v.read();
    opt.dispose();
    v.dispose();
    return out;
  };
  const ref = table('float32');
  // (tiny gradients next to large ones in a block are what 8-bit second moments cannot hold:
  // there the sparse and dense paths alike round them to 0; see the dense trajectories above)
  const x0 = Float32Array.from({ length: rows * width }, (_, i) => start(i));
  const moved = ref.reduce((m, x, i) => Math.max(m, Math.abs(x - x0[i])), 0);
  for (const dtype of ['int8', 'bfloat16'] as const) {
    const x = table(dtype);
    expect(x.reduce((m, v, i) => Math.max(m, Math.abs(v - ref[i])), 0)).toBeLessThan(0.2 * moved);
  }
});
