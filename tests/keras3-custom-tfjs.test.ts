// A custom Keras 3 optimizer (build / updateStep) in tfjs' model.fit through simdopt/tfjs: the
// same losses and weights, bit for bit, as the built-in Keras 3 SGD it re-implements.
import * as tf from '@tensorflow/tfjs';
import { iris } from './helpers/iris';
import { ready } from 'simdopt';
import { SGD } from 'simdopt/keras3';
import type { Optimizer } from 'simdopt/keras3';
import { toTfjs } from 'simdopt/tfjs';
import { HandSGD } from './helpers/keras3-custom';

tf.env().set('PROD', true);

beforeAll(async () => {
  await ready();
  await tf.setBackend('cpu');
});

async function fit(optimizer: Optimizer): Promise<{ loss: number[]; weights: Float32Array[] }> {
  const { xs, ys } = iris();
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ units: 8, activation: 'relu', inputShape: [4], kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  const opt = toTfjs(optimizer);
  model.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
  const h = await model.fit(xs, ys, { epochs: 8, batchSize: 30, shuffle: false, verbose: 0 });
  const weights = model.getWeights().map((w) => w.dataSync() as Float32Array);
  model.dispose();
  opt.dispose();
  tf.dispose([xs, ys]);
  return { loss: h.history.loss as number[], weights };
}

test('model.fit with toTfjs(custom optimizer) equals the built-in SGD(momentum) bit for bit', async () => {
  const options = { learningRate: 0.05, momentum: 0.9, weightDecay: 0.01, useEma: true, emaOverwriteFrequency: 5, name: 'sgd' };
  const builtin = await fit(new SGD(options));
  const custom = await fit(new HandSGD(options));
  expect(custom.loss).toEqual(builtin.loss);
  custom.weights.forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(builtin.weights[i])));
  expect(builtin.loss[7]).toBeLessThan(builtin.loss[0]);
});
