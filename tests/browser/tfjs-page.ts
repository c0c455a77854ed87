// The TensorFlow.js adapter in a browser page, on tfjs' webgl backend and on its cpu backend:
// a custom loop (`optimizer.minimize`) and `model.fit`, from the same fixed weights and data.
import * as tf from '@tensorflow/tfjs';
import { ready, Adam, ExponentialDecay } from 'simdopt';
import { toTfjs } from 'simdopt/tfjs';

export interface BackendRun {
  backend: string;
  /** The custom loop's loss at every step, its tensor count after every step, its final weights. */
  losses: number[];
  tensors: number[];
  /** Synchronous reads from the backend (`readSync`: a GPU readback on webgl) in each minimize. */
  readbacks: number[];
  /** simdopt's warnings printed during the run. */
  warnings: string[];
  values: number[][];
  /** model.fit's loss per epoch. */
  fitLosses: number[];
}

declare global {
  interface Window {
    __tfjs?: { runs: BackendRun[]; webglAvailable: boolean };
    __tfjsError?: string;
  }
}

const ROWS = 32;
const STEPS = 30;
/** Deterministic values in [-1, 1) (mulberry32). */
function values(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  });
}

async function run(backend: string): Promise<BackendRun> {
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend ${backend} did not start`);
  await tf.ready();
  const x = tf.tensor2d(values(ROWS * 4, 1), [ROWS, 4]);
  const y = tf.tensor2d(values(ROWS, 2), [ROWS, 1]);

  // A custom loop: two dense layers as variables, minimize with a schedule and clipping.
  const vars = [tf.variable(tf.tensor2d(values(32, 3), [4, 8])), tf.variable(tf.zeros([8])), tf.variable(tf.tensor2d(values(8, 4), [8, 1])), tf.variable(tf.zeros([1]))];
  const [w1, b1, w2, b2] = vars;
  const opt = toTfjs(new Adam({ learningRate: new ExponentialDecay({ initialLearningRate: 0.05, decaySteps: 10, decayRate: 0.9 }), clipnorm: 1 }));
  const loss = () => tf.tidy(() => x.matMul(w1).add(b1).relu().matMul(w2).add(b2).sub(y).square().mean() as tf.Scalar);
  const losses: number[] = [];
  const tensors: number[] = [];
  // Count the backend's synchronous reads (webgl: each one a blocking GPU readback).
  const be = tf.engine().backend as unknown as { readSync: (dataId: unknown) => unknown };
  const readSync = be.readSync;
  let reads = 0;
  be.readSync = function (this: unknown, dataId: unknown) {
    reads++;
    return readSync.call(this, dataId);
  };
  const warn = console.warn;
  const warnings: string[] = [];
  console.warn = (...a: unknown[]) => {
    if (String(a[0]).startsWith('simdopt')) warnings.push(String(a[0]));
    warn(...a);
  };
  const readbacks: number[] = [];
  for (let s = 0; s < STEPS; s++) {
    const before = reads;
    const l = opt.minimize(loss, true)!;
    readbacks.push(reads - before);
    losses.push((await l.data())[0]);
    l.dispose();
    tensors.push(tf.memory().numTensors);
  }
  be.readSync = readSync;
  console.warn = warn;
  const out = await Promise.all(vars.map(async (v) => Array.from(await v.data())));
  opt.dispose();
  vars.forEach((v) => v.dispose());

  // model.fit with the adapter as the compiled optimizer.
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ units: 8, activation: 'relu', inputShape: [4], kernelInitializer: tf.initializers.constant({ value: 0.1 }) }),
      tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.constant({ value: -0.2 }) }),
    ],
  });
  model.compile({ optimizer: toTfjs(new Adam({ learningRate: 0.02 })), loss: 'meanSquaredError' });
  const h = await model.fit(x, y, { epochs: 8, batchSize: 8, shuffle: false, verbose: 0 });
  model.dispose();
  x.dispose();
  y.dispose();
  return { backend: tf.getBackend(), losses, tensors, readbacks, warnings, values: out, fitLosses: h.history.loss as number[] };
}

async function main(): Promise<void> {
  await ready();
  const c = document.createElement('canvas');
  const webglAvailable = !!c.getContext('webgl2') || !!c.getContext('webgl');
  const runs = [await run('webgl'), await run('cpu')];
  window.__tfjs = { runs, webglAvailable };
}

main().catch((e: unknown) => {
  window.__tfjsError = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e);
});
