#!/usr/bin/env node
// simdopt/tfjs inside tfjs-layers' `model.fit` (Node; not part of the test suite): per training
// step, the optimizer's time and the garbage collector's, for `tf.train.adam` and simdopt's Adam
// through `toTfjs` (this build, and optionally a baseline build raced in the same process),
// on the tfjs cpu and wasm backends. Candidates take turns, round by round in shuffled order.
//
//   node benches/tfjs-fit.mjs [--backends cpu,wasm] [--params 4.2M] [--rounds 5] [--steps 8]
//        [--baseline DIR]   (another built package inside this checkout, e.g. target/baseline/dist,
//                            so that it resolves the same @tensorflow packages)
//
// The model: dense(inputs -> width) + dense(width -> 10), width chosen for the parameter count;
// batches of 16 random rows. Optimizer time: simdopt's adapter `stats` (read + core + write);
// tf.train.adam's `applyGradients` timed around the call (tfjs' cpu and wasm kernels run
// synchronously). GC: `PerformanceObserver` 'gc' entries during the steps.
import { createRequire } from 'node:module';
import { PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL, fileURLToPath } from 'node:url';
import path from 'node:path';
import os from 'node:os';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const arg = (k, d) => {
  const i = process.argv.indexOf(k);
  return i < 0 ? d : process.argv[i + 1];
};
const backends = arg('--backends', 'cpu,wasm').split(',');
const params = Number.parseFloat(arg('--params', '4.2M')) * 1e6;
const rounds = +arg('--rounds', 5);
const steps = +arg('--steps', 8);
const baseline = arg('--baseline', undefined);

const tf = await import('@tensorflow/tfjs');
const { setWasmPaths } = await import('@tensorflow/tfjs-backend-wasm');
setWasmPaths(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/');
tf.env().set('PROD', true);

async function load(dist) {
  const so = await import(pathToFileURL(path.join(dist, 'index.js')).href);
  const adapter = await import(pathToFileURL(path.join(dist, 'tfjs', 'index.js')).href);
  await so.ready();
  return { so, adapter };
}
const builds = { simdopt: await load(path.join(ROOT, 'dist')) };
if (baseline) builds['simdopt baseline'] = await load(path.resolve(baseline));

let gcMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
}).observe({ entryTypes: ['gc'] });

const inputs = 1024;
const width = Math.round((params - 10) / (inputs + 1 + 10));
const batch = 16;

function model(optimizer) {
  const m = tf.sequential({
    layers: [
      tf.layers.dense({ units: width, activation: 'relu', inputShape: [inputs], kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  m.compile({ optimizer, loss: 'categoricalCrossentropy' });
  return m;
}

/** A candidate: its model, and how much optimizer time it has spent so far. */
function candidate(label) {
  if (label === 'tf.train.adam') {
    const opt = tf.train.adam(1e-3);
    let ms = 0;
    const apply = opt.applyGradients.bind(opt);
    opt.applyGradients = (g) => {
      const t0 = performance.now();
      apply(g);
      ms += performance.now() - t0;
    };
    return { label, m: model(opt), optimizerMs: () => ms, dispose: () => opt.dispose() };
  }
  const { so, adapter } = builds[label];
  const opt = adapter.toTfjs(new so.Adam({ learningRate: 1e-3 }));
  const s = opt.stats;
  return { label, m: model(opt), optimizerMs: () => s.readMs + s.coreMs + s.writeMs, dispose: () => opt.dispose() };
}

const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(`${os.cpus()[0].model}, ${os.cpus().length} cores, node ${process.version}, tfjs ${tf.version.tfjs}; load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log(`model: dense ${inputs}->${width}->10 (${(inputs * width + width + width * 10 + 10).toLocaleString('en')} parameters), batch ${batch}, ${steps} steps per round, ${rounds} rounds`);
console.log('| backend | optimizer | optimizer ms/step | GC ms/step | whole step ms |');
console.log('|---|---|---:|---:|---:|');
for (const backend of backends) {
  await tf.setBackend(backend);
  await tf.ready();
  const xs = tf.randomUniform([batch * steps, inputs], -1, 1, 'float32', 3);
  const ys = tf.oneHot(tf.randomUniform([batch * steps], 0, 10, 'int32', 4), 10).toFloat();
  const labels = ['tf.train.adam', ...Object.keys(builds)];
  const cs = labels.map(candidate);
  const samples = new Map(labels.map((l) => [l, { opt: [], gc: [], step: [] }]));
  for (const c of cs) await c.m.fit(xs, ys, { batchSize: batch, epochs: 1, shuffle: false, verbose: 0 }); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const c of [...cs].sort(() => Math.random() - 0.5)) {
      const opt0 = c.optimizerMs();
      const gc0 = gcMs;
      const t0 = performance.now();
      await c.m.fit(xs, ys, { batchSize: batch, epochs: 1, shuffle: false, verbose: 0 });
      const t = performance.now() - t0;
      await new Promise((res) => setTimeout(res, 0)); // let the gc observer report
      const s = samples.get(c.label);
      s.opt.push((c.optimizerMs() - opt0) / steps);
      s.gc.push((gcMs - gc0) / steps);
      s.step.push(t / steps);
    }
  }
  for (const l of labels) {
    const s = samples.get(l);
    console.log(`| ${backend} | ${l} | ${median(s.opt).toFixed(2)} | ${median(s.gc).toFixed(2)} | ${median(s.step).toFixed(1)} |`);
  }
  for (const c of cs) {
    c.m.dispose();
    c.dispose();
  }
  tf.dispose([xs, ys]);
}
console.log(`load after: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
