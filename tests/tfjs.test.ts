// simdopt/tfjs: simdopt optimizers as tf.Optimizer in TensorFlow.js (tfjs-layers' model.fit,
// minimize, custom loops), memory, save/load with the optimizer state, on the cpu and the
// wasm backends of tfjs.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { iris } from './helpers/iris';
import { ready, Adam, SGD, ExponentialDecay, Variable, StateError, Optimizer } from 'simdopt';
import { toTfjs, TfjsOptimizer, tfjsGradients, tfjsGradientSource } from 'simdopt/tfjs';
import { classNamed, everyClass } from './helpers/registry';
import { saveToMemory } from './helpers/tfjs-save';

const require = createRequire(import.meta.url);
setWasmPaths(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/');
tf.env().set('PROD', true); // no "install tfjs-node" banner

beforeAll(async () => {
  await ready();
});

function mlp(seed = 1): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.dense({ units: 16, activation: 'relu', inputShape: [4], kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
      tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
}

function weightsOf(model: tf.LayersModel): Float32Array[] {
  return model.getWeights().map((w) => Float32Array.from(w.dataSync()));
}

function maxRelDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((x, i) => x.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i][j]) / Math.max(1e-3, Math.abs(v))))));
  return m;
}

describe.each(['cpu', 'wasm'])('tfjs %s backend', (backendName) => {
  beforeAll(async () => {
    expect(await tf.setBackend(backendName)).toBe(true);
    await tf.ready();
    expect(tf.getBackend()).toBe(backendName);
  });

  test('model.fit with simdopt Adam follows tf.train.adam (same weights, data, epochs, no shuffle)', async () => {
    const { xs, ys } = iris();
    const a = mlp();
    const b = mlp(7);
    b.setWeights(a.getWeights());
    const opt = toTfjs(new Adam({ learningRate: 0.01 }));
    a.compile({ optimizer: opt, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    b.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const fit = { epochs: 15, batchSize: 32, shuffle: false, verbose: 0 as const };
    const ha = await a.fit(xs, ys, fit);
    const hb = await b.fit(xs, ys, fit);
    const la = ha.history.loss as number[];
    const lb = hb.history.loss as number[];
    expect(la).toHaveLength(15);
    // Keras' and tfjs' Adam differ only in where epsilon sits (Keras: not bias-corrected).
    la.forEach((l, i) => expect(Math.abs(l - lb[i]) / lb[i]).toBeLessThan(1e-4));
    expect(la[14]).toBeLessThan(la[0] * 0.6);
    expect(maxRelDiff(weightsOf(a), weightsOf(b))).toBeLessThan(1e-2);
    expect(opt.iterations).toBe(15 * 5);
    expect(opt.optimizer.iterations).toBe(75);
    expect(opt.stats.steps).toBe(75);
    // More epochs leave no tensor behind.
    const n = tf.memory().numTensors;
    await a.fit(xs, ys, { ...fit, epochs: 3 });
    expect(tf.memory().numTensors).toBe(n);
    a.dispose();
    b.dispose();
    opt.dispose();
    tf.dispose([xs, ys]);
  });

  test('SGD with momentum matches tf.train.momentum exactly enough', async () => {
    const { xs, ys } = iris();
    const a = mlp(3);
    const b = mlp(9);
    b.setWeights(a.getWeights());
    // Keras' momentum: m = 0.9 m - lr g; w += m. tfjs': a = 0.9 a + g; w -= lr a. Same maths.
    a.compile({ optimizer: toTfjs(new SGD({ learningRate: 0.1, momentum: 0.9 })), loss: 'categoricalCrossentropy' });
    b.compile({ optimizer: tf.train.momentum(0.1, 0.9), loss: 'categoricalCrossentropy' });
    const fit = { epochs: 5, batchSize: 50, shuffle: false, verbose: 0 as const };
    const la = (await a.fit(xs, ys, fit)).history.loss as number[];
    const lb = (await b.fit(xs, ys, fit)).history.loss as number[];
    la.forEach((l, i) => expect(Math.abs(l - lb[i]) / lb[i]).toBeLessThan(1e-4));
    expect(maxRelDiff(weightsOf(a), weightsOf(b))).toBeLessThan(1e-3);
    a.optimizer.dispose();
    a.dispose();
    b.dispose();
    tf.dispose([xs, ys]);
  });

  test('custom loop: minimize fits a line; tf.memory() stays flat over many steps', () => {
    const xs = tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7]);
    const ys = tf.tensor1d([1, 3, 5, 7, 9, 11, 13, 15]);
    const w = tf.variable(tf.scalar(0), true, `w_${backendName}`);
    const b = tf.variable(tf.scalar(0), true, `b_${backendName}`);
    const opt = toTfjs(new Adam({ learningRate: 0.1 }));
    const loss = () => tf.tidy(() => tf.mean(tf.square(tf.sub(tf.add(tf.mul(xs, w), b), ys))) as tf.Scalar);
    const first = opt.minimize(loss, true)!;
    const firstLoss = first.dataSync()[0];
    first.dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 400; i++) opt.minimize(loss, false, [w, b]);
    expect(tf.memory().numTensors).toBe(before);
    const last = opt.minimize(loss, true)!;
    expect(last.dataSync()[0]).toBeLessThan(firstLoss * 1e-3);
    last.dispose();
    expect(w.dataSync()[0]).toBeCloseTo(2, 1);
    expect(b.dataSync()[0]).toBeCloseTo(1, 1);
    // The mirror holds exactly what the tfjs variable holds.
    expect(Array.from(opt.mirror(w)!.read())).toEqual(Array.from(w.dataSync()));
    expect(tf.memory().numTensors).toBe(before);
    opt.dispose();
    tf.dispose([xs, ys, w, b]);
  });

  test('variables created after the first step get their own state; outside assigns are picked up', () => {
    const opt = toTfjs(new SGD({ learningRate: 0.5, momentum: 0.5 }));
    const u = tf.variable(tf.tensor1d([1, 2]), true, `u_${backendName}`);
    const g = tf.tensor1d([1, 1]);
    opt.applyGradients({ [u.name]: g });
    expect(Array.from(u.dataSync())).toEqual([0.5, 1.5]);
    const v = tf.variable(tf.tensor2d([[4, 4]]), true, `v_${backendName}`);
    const gv = tf.tensor2d([[2, -2]]);
    opt.applyGradients([
      { name: u.name, tensor: g },
      { name: v.name, tensor: gv },
    ]);
    // u: m = 0.5 * -0.5 - 0.5 = -0.75; v's first step: m = -1, +1.
    expect(Array.from(u.dataSync())).toEqual([-0.25, 0.75]);
    expect(Array.from(v.dataSync())).toEqual([3, 5]);
    expect(opt.iterations).toBe(2);
    expect(opt.optimizer.getWeightNames()).toEqual(['SGD/iter:0', `SGD/${u.name}/momentum:0`, `SGD/${v.name}/momentum:0`]);
    // Someone else writes u: the next step starts from that value.
    u.assign(tf.tensor1d([10, 10]));
    const zero = tf.zerosLike(g);
    opt.applyGradients({ [u.name]: zero });
    // m = 0.5 * -0.75 = -0.375
    expect(Array.from(u.dataSync())).toEqual([9.625, 9.625]);
    // A gradient for an unknown variable is refused.
    expect(() => opt.applyGradients({ nope: g })).toThrow(StateError);
    opt.dispose();
    expect(() => opt.applyGradients({ [u.name]: g })).toThrow(StateError);
    tf.dispose([u, v, g, gv, zero]);
  });

  test('write-back: in place on cpu (same buffer), never into memory another tensor shares; matMul sees every update', () => {
    const opt = toTfjs(new SGD({ learningRate: 0.5 }));
    const w = tf.variable(
      tf.tensor2d([
        [1, 0],
        [0, 1],
      ]),
      true,
      `wb_${backendName}`,
    );
    const g = tf.ones([2, 2]);
    const x = tf.tensor2d([[1, 2]]);
    let ids = 0;
    let last: unknown;
    for (let s = 1; s <= 3; s++) {
      opt.applyGradients({ [w.name]: g });
      if (w.dataId !== last) ids++;
      last = w.dataId;
      // w = I - 0.5 s, so x · w = [1 - 1.5 s, 2 - 1.5 s] (tfjs-wasm caches matMul weights per tensor).
      const y = tf.matMul(x, w);
      expect(Array.from(y.dataSync())).toEqual([1 - 1.5 * s, 2 - 1.5 * s]);
      y.dispose();
    }
    // cpu: one new buffer (the first step's, which the variable then holds alone), then in place.
    if (backendName === 'cpu') expect(ids).toBe(1);
    // A tensor that shares the variable's memory (a reshape) keeps its values.
    const shared = tf.reshape(w, [4]);
    opt.applyGradients({ [w.name]: g });
    expect(Array.from(shared.dataSync())).toEqual([-0.5, -1.5, -1.5, -0.5]);
    expect(Array.from(w.dataSync())).toEqual([-1, -2, -2, -1]);
    opt.dispose();
    tf.dispose([w, g, x, shared]);
  });

  test('tfjsGradients feeds simdopt’s own API', () => {
    const x = tf.variable(tf.tensor1d([3, -4]), true, `x_${backendName}`);
    const sv = new Variable(x.dataSync() as Float32Array, { shape: [2], name: 'x' });
    const opt = new SGD({ learningRate: 0.25 });
    const before = tf.memory().numTensors;
    const { loss, grads } = tfjsGradients(() => tf.sum(tf.square(x)) as tf.Scalar, [x]);
    expect(tf.memory().numTensors).toBe(before);
    expect(loss).toBe(25);
    expect(Array.from(grads[0])).toEqual([6, -8]);
    opt.applyGradients([[grads[0], sv]]);
    expect(Array.from(sv.value)).toEqual([1.5, -2]);
    sv.dispose();
    opt.dispose();
    x.dispose();
  });

  test('tfjsGradientSource drives Optimizer.minimize over simdopt Variables', () => {
    const sv = new Variable([3, -4], { name: 'x' });
    const opt = new SGD({ learningRate: 0.25 });
    const before = tf.memory().numTensors;
    const loss = opt.minimize(([x]: tf.Variable[]) => tf.sum(tf.square(x)) as tf.Scalar, [sv], { gradientSource: tfjsGradientSource });
    expect(tf.memory().numTensors).toBe(before);
    expect(loss).toBe(25);
    expect(Array.from(sv.value)).toEqual([1.5, -2]);
    sv.dispose();
    opt.dispose();
  });

  test('save with includeOptimizer, load, and training continues exactly as if never stopped', async () => {
    const { xs, ys } = iris();
    const fit = { epochs: 3, batchSize: 32, shuffle: false, verbose: 0 as const };
    const schedule = new ExponentialDecay({ initialLearningRate: 0.02, decaySteps: 10, decayRate: 0.9 });
    const a = mlp(5);
    a.compile({ optimizer: toTfjs(new Adam({ learningRate: schedule, clipnorm: 1.0, amsgrad: true })), loss: 'categoricalCrossentropy' });
    await a.fit(xs, ys, fit);

    const artifacts = await saveToMemory(a);
    const training = artifacts.trainingConfig! as unknown as { optimizer_config: { class_name: string; config: Record<string, unknown> } };
    expect(training.optimizer_config.class_name).toBe('SimdoptOptimizer');
    const inner = training.optimizer_config.config.optimizer as { class_name: string; config: Record<string, unknown> };
    expect(inner.class_name).toBe('Adam');
    expect(inner.config).toMatchObject({ clipnorm: 1, amsgrad: true, beta_1: 0.9, learning_rate: { class_name: 'ExponentialDecay' } });
    const optSpecs = artifacts.weightSpecs!.filter((s) => s.group === 'optimizer');
    expect(optSpecs[0]).toMatchObject({ name: 'Adam/iter:0', dtype: 'int32', shape: [] });
    expect(optSpecs).toHaveLength(1 + 3 * 4); // iterations, then m, v, vhat of 4 variables

    // Saving again does not leak: the adapter owns the weight tensors it handed out.
    const n = tf.memory().numTensors;
    await saveToMemory(a);
    await saveToMemory(a);
    expect(tf.memory().numTensors).toBe(n);

    const b = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
    expect(b.optimizer).toBeInstanceOf(TfjsOptimizer);
    const restored = b.optimizer as TfjsOptimizer;
    expect(restored.iterations).toBe(15);
    expect(restored.optimizer.getConfig()).toEqual((a.optimizer as TfjsOptimizer).optimizer.getConfig());
    expect(weightsOf(b)).toEqual(weightsOf(a));

    // Continue both: the one that never stopped and the one loaded.
    await a.fit(xs, ys, fit);
    await b.fit(xs, ys, fit);
    expect(restored.iterations).toBe(30);
    expect(weightsOf(b)).toEqual(weightsOf(a));
    const wa = (a.optimizer as TfjsOptimizer).optimizer.getWeights();
    const wb = restored.optimizer.getWeights();
    expect(wb.map((w) => Array.from(w as Float32Array, Number))).toEqual(wa.map((w) => Array.from(w as Float32Array, Number)));

    // Loading but not stopping to train first: getWeights gives the restored weights back.
    const c = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
    const again = await (c.optimizer as TfjsOptimizer).getWeights();
    expect(again.map((w) => w.name)).toEqual(optSpecs.map((s) => s.name));
    expect(Array.from(again[1].tensor.dataSync())).toEqual(Array.from((await tf.io.decodeWeights(artifacts.weightData!, artifacts.weightSpecs!))[optSpecs[1].name].dataSync()));

    for (const m of [a, b, c]) {
      m.optimizer.dispose();
      m.dispose();
    }
    tf.dispose([xs, ys]);
  });
});

describe('every simdopt optimizer through model.fit, save and load (cpu)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  // Every registered class: these options per class (slot variants; Adadelta moves only with a
  // learning rate of 1), or a learning rate alone. Adam's model.fit and save/load are above.
  const makers = everyClass<[string, Record<string, unknown>]>(
    {
      SGD: [['nesterov', { learningRate: 0.05, momentum: 0.9, nesterov: true }]],
      RMSprop: [['centered', { learningRate: 0.01, momentum: 0.5, centered: true }]],
      Adam: [],
      Adagrad: [['', { learningRate: 0.1 }]],
      Adadelta: [['', { learningRate: 1.0 }]],
      Ftrl: [['l1 l2 shrinkage', { learningRate: 0.1, l1RegularizationStrength: 0.001, l2RegularizationStrength: 0.001, l2ShrinkageRegularizationStrength: 0.001, beta: 0.1 }]],
    },
    [['', { learningRate: 0.01 }]],
  ).map(([cls, [variant, options]]): [string, () => Optimizer] => [variant ? `${cls} ${variant}` : cls, () => new (classNamed(cls))(options)]);
  test.each(makers)('%s: trains, and resumes after save/load exactly', async (_name, make) => {
    const { xs, ys } = iris();
    const fit = { epochs: 2, batchSize: 50, shuffle: false, verbose: 0 as const };
    const a = mlp(11);
    const opt = toTfjs(make());
    a.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
    const first = (await a.fit(xs, ys, fit)).history.loss as number[];
    const artifacts = await saveToMemory(a);
    const b = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
    const restored = b.optimizer as TfjsOptimizer;
    expect(restored.optimizer.getConfig()).toEqual(opt.optimizer.getConfig());
    const la = (await a.fit(xs, ys, fit)).history.loss as number[];
    const lb = (await b.fit(xs, ys, fit)).history.loss as number[];
    expect(lb).toEqual(la);
    expect(la[1]).toBeLessThan(first[0]);
    expect(weightsOf(b)).toEqual(weightsOf(a));
    expect(restored.optimizer.getWeightNames().length).toBe(opt.optimizer.getWeightNames().length);
    expect(restored.iterations).toBe(opt.iterations);
    for (const m of [a, b]) {
      m.optimizer.dispose();
      m.dispose();
    }
    tf.dispose([xs, ys]);
  });
});

describe('config', () => {
  test('getConfig is the Keras config; fromConfig reads it as is and as tfjs-layers converts it', () => {
    const opt = toTfjs(
      new Adam({ learningRate: new ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 5, decayRate: 0.5, staircase: true }), beta1: 0.8, globalClipnorm: 2 }),
    );
    const config = opt.getConfig();
    expect(opt.getClassName()).toBe('SimdoptOptimizer');
    const direct = TfjsOptimizer.fromConfig(TfjsOptimizer as never, config) as unknown as TfjsOptimizer;
    expect(direct.optimizer.getConfig()).toEqual(opt.optimizer.getConfig());
    const camel = {
      optimizer: {
        className: 'Adam',
        config: {
          name: 'Adam',
          globalClipnorm: 2,
          learningRate: { className: 'ExponentialDecay', config: { initialLearningRate: 0.1, decaySteps: 5, decayRate: 0.5, staircase: true, name: null } },
          decay: 0,
          beta1: 0.8,
          beta2: 0.999,
          epsilon: 1e-7,
          amsgrad: false,
        },
      },
      customObjects: {},
    };
    const converted = TfjsOptimizer.fromConfig(TfjsOptimizer as never, camel) as unknown as TfjsOptimizer;
    expect(converted.optimizer.getConfig()).toEqual(opt.optimizer.getConfig());
    for (const o of [opt, direct, converted]) o.dispose();
  });
});
