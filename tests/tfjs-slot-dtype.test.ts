// simdopt/tfjs with compressed optimizer state (`slotDtype`): model.fit trains; the adapter's
// weights (tfjs' getWeights/setWeights, what model.save with includeOptimizer stores) carry the
// 8-bit slots' codes and scales beside their f32 views, so a save/load cycle resumes bit for bit
// (the views alone would not: they quantize to other codes); the slot storage travels in the
// adapter's config, not in the Keras config.
import * as tf from '@tensorflow/tfjs';
import { ready, Adam, WeightsError } from 'simdopt';
import type { Optimizer, RawSlotWeight } from 'simdopt';
import { AdamW } from 'simdopt/keras3';
import { toTfjs, TfjsOptimizer } from 'simdopt/tfjs';
import type { NamedTensor } from 'simdopt/tfjs';
import { saveToMemory } from './helpers/tfjs-save';

tf.env().set('PROD', true); // no "install tfjs-node" banner

beforeAll(async () => {
  await ready();
  await tf.setBackend('cpu');
});

const FEATURES = 80;
const HIDDEN = 64; // a 5,120-element kernel: over 4,096, so its slots are compressed
const ROWS = 96;

function data(): { xs: tf.Tensor2D; ys: tf.Tensor2D } {
  let s = 7;
  const rand = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  };
  const x = Float32Array.from({ length: ROWS * FEATURES }, rand);
  const y = Float32Array.from({ length: ROWS }, (_, r) => x.subarray(r * FEATURES, r * FEATURES + 8).reduce((a, b) => a + b, 0.3));
  return { xs: tf.tensor2d(x, [ROWS, FEATURES]), ys: tf.tensor2d(y, [ROWS, 1]) };
}

function net(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.dense({ units: HIDDEN, activation: 'tanh', inputShape: [FEATURES], kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
      tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }),
    ],
  });
}

const FIT = { epochs: 3, batchSize: 32, shuffle: false, verbose: 0 as const };

const weightsOf = (model: tf.LayersModel): Float32Array[] => model.getWeights().map((w) => Float32Array.from(w.dataSync()));
const inner = (m: tf.LayersModel): Optimizer => (m.optimizer as TfjsOptimizer).optimizer;
const kinds = (opt: Optimizer): string[] =>
  opt.getWeights({ raw: true }).map((w) => (w instanceof Float32Array ? 'f32' : w instanceof BigInt64Array ? 'i64' : (w as RawSlotWeight).dtype));

function dispose(...models: tf.LayersModel[]): void {
  for (const m of models) {
    m.optimizer.dispose();
    m.dispose();
  }
}

describe.each([
  ['TF 2.4 Adam', () => new Adam({ learningRate: 0.01, slotDtype: 'int8' })],
  ['Keras 3 AdamW with EMA and accumulation', () => new AdamW({ learningRate: 0.01, useEma: true, gradientAccumulationSteps: 2, slotDtype: 'int8' }) as unknown as Optimizer],
])('%s with int8 slots', (_, make) => {
  test('model.fit trains; save/load with includeOptimizer resumes bit for bit, codes and scales included', async () => {
    const { xs, ys } = data();
    const a = net();
    a.compile({ optimizer: toTfjs(make()), loss: 'meanSquaredError' });
    const first = (await a.fit(xs, ys, FIT)).history.loss as number[];
    expect(first[2]).toBeLessThan(first[0]);
    expect(kinds(inner(a))).toContain('int8');

    const artifacts = await saveToMemory(a);
    const training = artifacts.trainingConfig! as unknown as { optimizer_config: { config: Record<string, unknown> } };
    expect(training.optimizer_config.config.slot_dtype).toBe('int8');
    expect(JSON.stringify(training.optimizer_config.config.optimizer)).not.toContain('slot');
    const specs = artifacts.weightSpecs!.filter((s) => s.group === 'optimizer');
    const names = inner(a).getWeightNames();
    // The Keras weights first (f32 views of the 8-bit slots), then each 8-bit slot's codes and absmax.
    expect(specs.slice(0, names.length).map((s) => s.name)).toEqual(names);
    const int8 = kinds(inner(a)).flatMap((k, i) => (k === 'int8' ? [names[i]] : []));
    expect(int8.length).toBeGreaterThan(0);
    expect(specs.slice(names.length).map((s) => [s.name, s.dtype])).toEqual(
      int8.flatMap((n) => [
        [`${n}:int8_codes`, 'int32'],
        [`${n}:int8_absmax`, 'float32'],
      ]),
    );

    const b = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
    expect(b.optimizer).toBeInstanceOf(TfjsOptimizer);
    expect(inner(b).slotDtype).toBe('int8');
    // Before its first step the loaded adapter gives back what was saved.
    const pending = await (b.optimizer as TfjsOptimizer).getWeights();
    const saved = tf.io.decodeWeights(artifacts.weightData!, artifacts.weightSpecs!);
    expect(pending.map((w) => w.name)).toEqual(specs.map((s) => s.name));
    pending.forEach((w) => expect(Array.from(w.tensor.dataSync())).toEqual(Array.from(saved[w.name].dataSync())));

    await a.fit(xs, ys, FIT);
    await b.fit(xs, ys, FIT);
    expect(weightsOf(b)).toEqual(weightsOf(a));
    expect(inner(b).getWeights({ raw: true })).toEqual(inner(a).getWeights({ raw: true }));
    dispose(a, b);
    tf.dispose([xs, ys, ...Object.values(saved)]);
  });

  test('the f32 views alone quantize to other codes: the raw entries are what makes a restore exact', async () => {
    const { xs, ys } = data();
    const a = net();
    a.compile({ optimizer: toTfjs(make()), loss: 'meanSquaredError' });
    await a.fit(xs, ys, FIT);
    const adapter = a.optimizer as TfjsOptimizer;
    const all = (await adapter.getWeights()).map((w): NamedTensor => ({ name: w.name, tensor: w.tensor.clone() }));
    const viewsOnly = all.filter((w) => !w.name.includes(':int8_'));
    const exact = toTfjs(make());
    const approx = toTfjs(make());
    // (the mirrors are made at the first step: a step with the model's variables builds both)
    for (const o of [exact, approx]) {
      const m = net();
      m.compile({ optimizer: o, loss: 'meanSquaredError' });
      await m.fit(xs, ys, { ...FIT, epochs: 1 });
      m.dispose();
    }
    await exact.setWeights(all);
    await approx.setWeights(viewsOnly);
    expect(exact.optimizer.getWeights({ raw: true })).toEqual(adapter.optimizer.getWeights({ raw: true }));
    expect(approx.optimizer.getWeights({ raw: true })).not.toEqual(adapter.optimizer.getWeights({ raw: true }));
    // The views themselves agree closely (within a code step of each block's scale).
    expect(approx.optimizer.getWeights().length).toBe(adapter.optimizer.getWeights().length);
    for (const o of [exact, approx]) o.dispose();
    dispose(a);
    tf.dispose([xs, ys, ...all.map((w) => w.tensor)]);
  });
});

test('bad raw entries are refused with a WeightsError, and nothing changes', async () => {
  const { xs, ys } = data();
  const a = net();
  a.compile({ optimizer: toTfjs(new Adam({ learningRate: 0.01, slotDtype: 'int8' })), loss: 'meanSquaredError' });
  await a.fit(xs, ys, { ...FIT, epochs: 1 });
  const adapter = a.optimizer as TfjsOptimizer;
  const good = (await adapter.getWeights()).map((w): NamedTensor => ({ name: w.name, tensor: w.tensor.clone() }));
  const before = adapter.optimizer.getWeights({ raw: true });
  const codes = good.findIndex((w) => w.name.endsWith(':int8_codes'));
  const cases: Array<[string, NamedTensor[], RegExp]> = [
    ['codes without absmax', good.filter((w) => !w.name.endsWith(':int8_absmax')), /needs both/],
    ['codes of no weight', good.map((w, i) => (i === codes ? { ...w, name: 'nope:int8_codes' } : w)), /not in the list/],
    ['codes too short', good.map((w, i) => (i === codes ? { ...w, tensor: tf.tensor1d([1, 2, 3], 'int32') } : w)), /int32 values/],
    ['codes as float32', good.map((w, i) => (i === codes ? { ...w, tensor: tf.cast(w.tensor, 'float32') } : w)), /got \d+ float32/],
  ];
  for (const [, list, message] of cases) {
    await expect(adapter.setWeights(list)).rejects.toThrow(WeightsError);
    await expect(adapter.setWeights(list)).rejects.toThrow(message);
    expect(adapter.optimizer.getWeights({ raw: true })).toEqual(before);
  }
  // an 8-bit slot's codes for a float32 optimizer: refused (not dropped)
  const f32 = toTfjs(new Adam({ learningRate: 0.01 }));
  const m = net();
  m.compile({ optimizer: f32, loss: 'meanSquaredError' });
  await m.fit(xs, ys, { ...FIT, epochs: 1 });
  await expect(f32.setWeights(good)).rejects.toThrow(/stored as float32/);
  dispose(a, m);
  tf.dispose([xs, ys, ...good.map((w) => w.tensor), ...cases.flatMap(([, l]) => l.map((w) => w.tensor))]);
});

test('float32 and bfloat16 state add no entries: bfloat16 views convert back to the same bits', async () => {
  const { xs, ys } = data();
  for (const slotDtype of ['float32', 'bfloat16'] as const) {
    const a = net();
    a.compile({ optimizer: toTfjs(new Adam({ learningRate: 0.01, slotDtype })), loss: 'meanSquaredError' });
    await a.fit(xs, ys, FIT);
    const artifacts = await saveToMemory(a);
    expect(artifacts.weightSpecs!.filter((s) => s.group === 'optimizer').map((s) => s.name)).toEqual(inner(a).getWeightNames());
    const config = (artifacts.trainingConfig! as unknown as { optimizer_config: { config: Record<string, unknown> } }).optimizer_config.config;
    expect(config.slot_dtype).toBe(slotDtype === 'float32' ? undefined : 'bfloat16');
    const b = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
    expect(inner(b).slotDtype).toBe(slotDtype);
    await a.fit(xs, ys, FIT);
    await b.fit(xs, ys, FIT);
    expect(weightsOf(b)).toEqual(weightsOf(a));
    expect(inner(b).getWeights({ raw: true })).toEqual(inner(a).getWeights({ raw: true }));
    dispose(a, b);
  }
  tf.dispose([xs, ys]);
});
