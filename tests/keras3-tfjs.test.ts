// simdopt/keras3 classes in tfjs' model.fit through simdopt/tfjs (toTfjs), as TF 2.4's are.
import * as tf from '@tensorflow/tfjs';
import { iris } from './helpers/iris';
import { ready } from 'simdopt';
import { Lion, CosineDecay } from 'simdopt/keras3';
import { toTfjs } from 'simdopt/tfjs';

tf.env().set('PROD', true);

beforeAll(async () => {
  await ready();
  await tf.setBackend('cpu');
});

test('model.fit with toTfjs(new Lion({...})): a warmup-cosine schedule, weight decay, EMA, clipping, accumulation', async () => {
  const { xs, ys } = iris();
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ units: 16, activation: 'relu', inputShape: [4], kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  const lion = new Lion({
    learningRate: new CosineDecay({ initialLearningRate: 0, decaySteps: 150, warmupTarget: 0.01, warmupSteps: 10 }),
    weightDecay: 0.01,
    clipnorm: 1,
    useEma: true,
    gradientAccumulationSteps: 2,
  });
  const opt = toTfjs(lion);
  model.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
  const h = await model.fit(xs, ys, { epochs: 20, batchSize: 30, shuffle: false, verbose: 0 });
  const loss = h.history.loss as number[];
  expect(loss[19]).toBeLessThan(loss[0] * 0.6);
  // 20 epochs of 5 batches: 100 calls, 50 updates.
  expect(lion.iterations).toBe(50);
  expect(lion.getWeightNames()[0]).toBe('lion/iteration');
  expect(lion.getWeightNames().filter((n) => n.endsWith('_average'))).toHaveLength(4);
  model.dispose();
  opt.dispose();
  tf.dispose([xs, ys]);
});
