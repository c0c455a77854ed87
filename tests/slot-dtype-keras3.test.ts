// The `slotDtype` option on the Keras 3 classes of `simdopt/keras3` (issue 16, "and their Keras 3
// forms"): trajectories through the wasm core equal the native Rust reference bit for bit
// (tests/fixtures/quant/keras3_slot_trajectories.json, written by
// crates/simdopt-core/tests/quant_slots_keras3.rs), with Keras 3's stages too (EMA averages and
// accumulators stay f32); the Keras config is unchanged; checkpoints restore the codes and scales
// exactly; getWeights/setWeights take both forms; unsupported classes get a typed error.
import { readFileSync } from 'fs';
import { join } from 'path';
import { FIXTURES_DIR } from './helpers/fixtures';
import { bytesOf, fnv, fnvBytes, grad, start } from './helpers/slot-trajectories.mjs';
import { ready, Variable, ArgumentError, ConfigError, WeightsError, saveCheckpoint, restoreCheckpoint, encodeCheckpoint, stats } from 'simdopt';
import type { RawSlotWeight } from 'simdopt';
import { keras3Classes, serialize, deserialize, toKerasJson, Adam, AdamW, Lion } from 'simdopt/keras3';
import type { Optimizer } from 'simdopt/keras3';

beforeAll(async () => {
  await ready();
});

type Dtype = 'float32' | 'bfloat16' | 'int8';
interface Case {
  class: string;
  options: Array<[string, number]>;
  dtype: Dtype;
  iterations: number;
  vars: string[];
  weights: string[];
  raw: string[];
}
const FIXTURE = JSON.parse(readFileSync(join(FIXTURES_DIR, 'quant', 'keras3_slot_trajectories.json'), 'utf8')) as {
  big: number;
  small: number;
  steps: number;
  cases: Case[];
};
const FLAGS = new Set(['amsgrad', 'nesterov', 'centered', 'use_ema']);
const camel = (k: string): string => k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** The raw storage's hash: bfloat16 bits, or the codes then the absmax; '' for an f32 weight. */
function fnvRaw(w: unknown): string {
  if (w instanceof Float32Array) return '';
  const r = w as RawSlotWeight;
  if (r.dtype === 'bfloat16') return fnvBytes(bytesOf(r.bits));
  const both = new Uint8Array(r.codes.length + r.absmax.byteLength);
  both.set(r.codes);
  both.set(bytesOf(r.absmax), r.codes.length);
  return fnvBytes(both);
}

function make(c: Pick<Case, 'class' | 'options'>, dtype?: Dtype, name?: string): Optimizer {
  const cls = keras3Classes.find((k) => k.spec.className === c.class)!;
  const options: Record<string, unknown> = { name };
  for (const [k, v] of c.options) options[camel(k)] = FLAGS.has(k) ? v !== 0 : v;
  if (dtype !== undefined) options.slotDtype = dtype;
  return new cls(options);
}

function model(): Variable[] {
  return [
    new Variable(
      Float32Array.from({ length: FIXTURE.big }, (_, i) => start(i)),
      { name: 'big' },
    ),
    new Variable(
      Float32Array.from({ length: FIXTURE.small }, (_, i) => start(i)),
      { name: 'small' },
    ),
  ];
}

function step(opt: Optimizer, vars: Variable[], from: number, to: number): void {
  for (let t = from; t < to; t++) opt.applyGradients(vars.map((v) => [Float32Array.from({ length: v.size }, (_, i) => grad(i, t, v.size)), v]));
}

/** The core's weights (after `iteration` and the learning rate variable). */
const coreWeights = (opt: Optimizer, raw = false): unknown[] => (raw ? opt.getWeights({ raw: true }) : opt.getWeights()).slice(2);

const free = (opts: Optimizer[], vars: Variable[]): void => {
  opts.forEach((o) => o.dispose());
  vars.forEach((v) => v.dispose());
};

test('the fixture covers every Keras 3 class with moment slots, each dtype, and the stages', () => {
  const classes = new Set(FIXTURE.cases.map((c) => c.class));
  expect([...classes].sort()).toEqual(['Adagrad', 'Adam', 'AdamW', 'Adamax', 'Lion', 'Nadam', 'RMSprop', 'SGD']);
  const keys = new Set(FIXTURE.cases.flatMap((c) => c.options.map(([k]) => k)));
  for (const k of ['use_ema', 'gradient_accumulation_steps', 'weight_decay']) expect(keys).toContain(k);
  expect(new Set(FIXTURE.cases.map((c) => c.dtype))).toEqual(new Set(['float32', 'bfloat16', 'int8']));
});

test.each(FIXTURE.cases.map((c) => [`${c.class} ${JSON.stringify(c.options)} ${c.dtype}`, c] as const))('%s equals the native reference bit for bit', (_, c) => {
  const opt = make(c, c.dtype);
  expect(opt.slotDtype).toBe(c.dtype);
  const vars = model();
  step(opt, vars, 0, FIXTURE.steps);
  expect(vars.map((v) => fnv(v.read()))).toEqual(c.vars);
  expect(Number((opt.getWeights()[0] as BigInt64Array)[0])).toBe(c.iterations);
  expect(coreWeights(opt).map((w) => fnv(w as Float32Array))).toEqual(c.weights);
  expect(coreWeights(opt, true).map(fnvRaw)).toEqual(c.raw);
  // EMA averages and accumulators stay f32 (only moments of the big variable are compressed).
  const names = opt.getWeightNames().slice(2);
  coreWeights(opt, true).forEach((w, i) => {
    if (/_(average|gradient_accumulator)$/.test(names[i]) || names[i].includes('small')) expect(w).toBeInstanceOf(Float32Array);
  });
  free([opt], vars);
});

test('the Keras config and serialization are the same with any slotDtype (Keras 3 loads them as before)', () => {
  const seen = new Set<string>();
  for (const c of FIXTURE.cases.filter((x) => x.dtype === 'int8')) {
    const plain = make(c, undefined, 'opt');
    const compressed = make(c, 'int8', 'opt');
    expect(JSON.stringify(compressed.getConfig())).toBe(JSON.stringify(plain.getConfig()));
    expect(JSON.stringify(serialize(compressed))).toBe(JSON.stringify(serialize(plain)));
    expect(toKerasJson(serialize(compressed))).toBe(toKerasJson(serialize(plain)));
    expect(JSON.stringify(compressed.getConfig())).not.toContain('slot');
    // (and a config read back gives float32: the storage is not part of it)
    const back = deserialize(serialize(compressed)) as Optimizer;
    expect(back.slotDtype).toBe('float32');
    seen.add(c.class);
    free([plain, compressed, back], []);
  }
  expect(seen.size).toBe(8);
});

const CHECKPOINTED: Array<[string, () => Optimizer]> = [
  ['Adam', () => new Adam({ learningRate: 0.01, slotDtype: 'int8' })],
  ['AdamW + EMA + accumulation', () => new AdamW({ learningRate: 0.01, useEma: true, emaMomentum: 0.9, gradientAccumulationSteps: 2, slotDtype: 'int8' })],
  ['Lion + EMA overwrite + weight decay', () => new Lion({ learningRate: 0.01, useEma: true, emaOverwriteFrequency: 2, weightDecay: 0.05, slotDtype: 'int8' })],
  ['AdamW bfloat16 + accumulation', () => new AdamW({ learningRate: 0.01, gradientAccumulationSteps: 3, slotDtype: 'bfloat16' })],
];

test.each(CHECKPOINTED)('%s: a checkpoint restores the slots exactly; the resumed run equals the uninterrupted one (JSON and binary)', (_, build) => {
  const whole = build();
  const wholeVars = model();
  step(whole, wholeVars, 0, 7);
  const first = build();
  const vars = model();
  step(first, vars, 0, 3);
  const ckpt = saveCheckpoint(first, vars);
  expect(ckpt.optimizer.slot_dtype).toBe(first.slotDtype);
  expect(ckpt.optimizer.config).toEqual(JSON.parse(JSON.stringify(serialize(first).config)));
  for (const form of [JSON.parse(JSON.stringify(ckpt)) as typeof ckpt, encodeCheckpoint(ckpt)]) {
    const fresh = [new Variable(new Float32Array(FIXTURE.big), { name: 'big' }), new Variable(new Float32Array(FIXTURE.small), { name: 'small' })];
    const restored = restoreCheckpoint(form, fresh) as unknown as Optimizer;
    expect(restored.constructor).toBe(first.constructor);
    expect(restored.slotDtype).toBe(first.slotDtype);
    expect(restored.getWeights({ raw: true })).toEqual(first.getWeights({ raw: true }));
    step(restored, fresh, 3, 7);
    expect(fresh.map((v) => fnv(v.read()))).toEqual(wholeVars.map((v) => fnv(v.read())));
    expect(restored.getWeights({ raw: true })).toEqual(whole.getWeights({ raw: true }));
    free([restored], fresh);
  }
  free([whole, first], [...wholeVars, ...vars]);
});

test('getWeights: f32 views by default, raw codes and scales on request; setWeights takes both, and a shorter list keeps the storage it does not reach', () => {
  const opt = new AdamW({ name: 'adamw', learningRate: 0.01, useEma: true, slotDtype: 'int8' });
  const vars = model();
  step(opt, vars, 0, 2);
  const views = opt.getWeights();
  const raw = opt.getWeights({ raw: true });
  expect(opt.getWeightNames()).toEqual([
    'adamw/iteration',
    'adamw/learning_rate',
    'adamw/big_average',
    'adamw/small_average',
    'adamw/big_momentum',
    'adamw/big_velocity',
    'adamw/small_momentum',
    'adamw/small_velocity',
  ]);
  const kinds = raw.map((w) => (w instanceof BigInt64Array ? 'i64' : w instanceof Float32Array ? 'f32' : (w as RawSlotWeight).dtype));
  expect(kinds).toEqual(['i64', 'f32', 'f32', 'f32', 'int8', 'int8', 'f32', 'f32']);
  expect(views.slice(1).every((w) => w instanceof Float32Array)).toBe(true);
  const m = raw[4] as Extract<RawSlotWeight, { dtype: 'int8' }>;
  expect([m.codes.length, m.absmax.length, m.blockSize]).toEqual([FIXTURE.big, Math.ceil(FIXTURE.big / 256), 256]);
  expect((views[4] as Float32Array).every((x, i) => Math.abs(x) <= m.absmax[Math.floor(i / 256)])).toBe(true);

  const other = new AdamW({ learningRate: 0.5, useEma: true, slotDtype: 'int8' });
  other.build(vars);
  other.setWeights(raw);
  expect(other.getWeights({ raw: true })).toEqual(raw);
  expect(other.getWeights()).toEqual(views);
  // A shorter list (iteration and learning rate): the 8-bit slots keep their codes, not their
  // views quantized again.
  other.setWeights([BigInt64Array.of(9n), Float32Array.of(0.25)]);
  const after = other.getWeights({ raw: true });
  expect(after.slice(2)).toEqual(raw.slice(2));
  expect(after[0]).toEqual(BigInt64Array.of(9n));
  expect(after[1]).toEqual(Float32Array.of(0.25));
  // Bad raw entries: a WeightsError naming the weight as numbered in this list; nothing changes.
  const before = other.getWeights({ raw: true });
  const short = [...raw];
  short[4] = { ...m, codes: m.codes.subarray(1) };
  expect(() => other.setWeights(short)).toThrow(/weight 4: codes must be a Uint8Array of 5003/);
  const onF32 = [...raw];
  onF32[2] = m;
  expect(() => other.setWeights(onF32)).toThrow(WeightsError);
  expect(() => other.setWeights(onF32)).toThrow(/weight 2 is stored as float32/);
  expect(other.getWeights({ raw: true })).toEqual(before);
  free([opt, other], vars);
});

test('an unsupported class or dtype gets a typed error naming the classes that support it, and creates nothing', () => {
  const before = stats().optimizers;
  for (const cls of keras3Classes.filter((c) => ['Ftrl', 'Adadelta', 'Lamb', 'Adafactor', 'Muon', 'ScheduleFreeAdamW'].includes(c.spec.className))) {
    let error: unknown;
    try {
      new cls({ slotDtype: 'int8' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('UnsupportedSlotDtype');
    const message = (error as Error).message;
    expect(message).toContain(cls.spec.className);
    for (const name of ['SGD (keras3)', 'RMSprop (keras3)', 'Adam (keras3)', 'AdamW (keras3)', 'Adagrad (keras3)', 'Adamax (keras3)', 'Nadam (keras3)', 'Lion (keras3)']) {
      expect(message).toContain(name);
    }
  }
  expect(() => new Adam({ slotDtype: 'int4' as 'int8' })).toThrow(ArgumentError);
  expect(() => new Lion({ slotDtype: 8 as unknown as 'int8' })).toThrow(ArgumentError);
  expect(stats().optimizers).toBe(before);
});

test('the options object is read once: a getter for slotDtype is called once', () => {
  let reads = 0;
  const options = {
    learningRate: 0.01,
    get slotDtype(): 'int8' {
      reads++;
      return 'int8';
    },
  };
  const opt = new Adam(options);
  expect(opt.slotDtype).toBe('int8');
  expect(reads).toBe(1);
  opt.dispose();
});

test('a raw setWeights entry is read once: each field one read, the values copied before anything is written', () => {
  const opt = new Adam({ learningRate: 0.01, slotDtype: 'int8' });
  const vars = model();
  step(opt, vars, 0, 2);
  const raw = opt.getWeights({ raw: true });
  const k = raw.findIndex((w) => (w as RawSlotWeight).dtype === 'int8');
  const reads: string[] = [];
  const entry = new Proxy(raw[k] as object, {
    get(target, key, receiver) {
      reads.push(String(key));
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
  const other = new Adam({ learningRate: 0.01, slotDtype: 'int8' });
  other.build(vars);
  other.setWeights(raw.map((w, i) => (i === k ? (entry as RawSlotWeight) : w)));
  expect(reads.sort()).toEqual(['absmax', 'codes', 'dtype']);
  expect(other.getWeights({ raw: true })).toEqual(raw);
  free([opt, other], vars);
});
