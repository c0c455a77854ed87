// The browser page of the demo (bundled by examples/browser/serve.mjs with esbuild): the same
// training as `npm run demo`, drawing the loss curves live. `?epochs=N` changes the length.
// The result is also left in `window.__demo` for the browser test.
import * as tf from '@tensorflow/tfjs';
import { ready, backend as simdoptBuild, Adam, ExponentialDecay } from 'simdopt';
import { toTfjs } from 'simdopt/tfjs';
import { irisData, trainSideBySide } from '../lib/iris.mjs';
import { lossCurvesSvg, demoSeries } from '../lib/svg.mjs';

const $ = (id) => document.getElementById(id);
const EPOCHS = Number(new URLSearchParams(location.search).get('epochs') ?? 100);
const BATCH = 16;
window.__demo = { done: false };

async function main() {
  await tf.setBackend('cpu');
  await tf.ready();
  await ready();
  const data = irisData(tf);
  const simdopt = toTfjs(new Adam({ learningRate: new ExponentialDecay({ initialLearningRate: 0.01, decaySteps: 200, decayRate: 0.8 }), clipnorm: 1.0 }));
  const runs = [
    { label: 'simdopt Adam', optimizer: simdopt },
    { label: 'tf.train.adam', optimizer: tf.train.adam(0.01) },
  ];
  $('progress').max = EPOCHS;
  const title = `Iris, ${EPOCHS} epochs: loss of simdopt Adam vs tf.train.adam`;
  $('chart').innerHTML = lossCurvesSvg(demoSeries(runs.map((r) => ({ label: r.label, loss: [], valLoss: [] }))), { epochs: EPOCHS, title });
  const results = await trainSideBySide(tf, runs, {
    data,
    epochs: EPOCHS,
    batchSize: BATCH,
    async onEpoch(epoch, rs) {
      $('progress').value = epoch + 1;
      $('status').textContent =
        `epoch ${epoch + 1}/${EPOCHS}   ` +
        rs.map((r) => `${r.label} loss ${r.loss[epoch].toFixed(4)}`).join('   ') +
        `\nsimdopt wasm build: ${simdoptBuild()}, tfjs backend: ${tf.getBackend()}`;
      $('chart').innerHTML = lossCurvesSvg(demoSeries(rs), { epochs: EPOCHS, title });
      await new Promise((r) => requestAnimationFrame(() => r()));
    },
  });
  const body = $('results').querySelector('tbody');
  for (const r of results) {
    const tr = document.createElement('tr');
    const cells = [
      r.label,
      `${(r.testAccuracy * 100).toFixed(1)}%`,
      `${(r.trainAccuracy * 100).toFixed(1)}%`,
      r.loss[r.loss.length - 1].toFixed(4),
      `${r.msPerStep.toFixed(3)} ms`,
    ];
    for (const c of cells) {
      const td = document.createElement('td');
      td.textContent = c;
      tr.append(td);
    }
    body.append(tr);
  }
  $('results').hidden = false;
  window.__demo = {
    done: true,
    epochs: EPOCHS,
    simdoptBuild: simdoptBuild(),
    results: results.map((r) => ({
      label: r.label,
      testAccuracy: r.testAccuracy,
      trainAccuracy: r.trainAccuracy,
      msPerStep: r.msPerStep,
      medianMsPerStep: r.medianMsPerStep,
      loss: r.loss,
      valLoss: r.valLoss,
    })),
  };
  for (const r of results) r.model.dispose();
  simdopt.dispose();
}

main().catch((e) => {
  $('error').textContent = String(e && e.stack ? e.stack : e);
  window.__demo = { done: true, error: String(e && e.message ? e.message : e) };
});
