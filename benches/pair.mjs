// Two builds of the package side by side on a loaded machine: `applyGradients` of one variable
// (Tensor and Float32Array gradients) in short interleaved batches, in one process, reporting a
// low quantile of the per-batch times (default the 10th percentile: the batches that other
// processes interrupted least) and its ratio to the first build. For before/after checks where
// `bench.mjs`'s medians drown in load; not a replacement for it.
//
//   node benches/pair.mjs <optimizer> <params> <batches> <dist> <dist> [...]
//   optimizer: adam, adam_amsgrad, sgd, sgd_momentum, sgd_nesterov, rmsprop,
//   rmsprop_centered_momentum, adagrad, adadelta, adamax, nadam, ftrl (see OPTIMIZERS)
//   e.g. node benches/pair.mjs sgd_momentum 65536 150 ../old/dist dist
//   environment: Q (quantile, default 0.1), PER_ELEMS (elements per batch, default 1e6),
//   SLOT_DTYPE (the optimizer's slotDtype: compressed slots in every build),
//   WARMUP (steps of each build before timing, default 2000), BACKEND (ready()'s backend: simd,
//   the default, or auto for the threads build where the runtime has it), BIAS=1 (each step
//   also updates a 3-value bias, listed first, as a model's layer has: the gradient then
//   follows an odd number of values in the step frame)
//   A dist may name its backend, `dist@threads`: so one build's threads and SIMD backends run
//   side by side (a dist named twice is loaded from a copy: a process loads one backend per
//   copy), e.g. node benches/pair.mjs adam 1024 300 dist@simd dist@threads
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [opt, sizeArg, batchesArg, ...dists] = process.argv.slice(2);
if (!opt || dists.length < 2) {
  console.error('usage: node benches/pair.mjs <optimizer> <params> <batches> <dist> <dist> [...]');
  process.exit(2);
}
const n = Number(sizeArg);
const batches = Number(batchesArg);
const quantile = Number(process.env.Q ?? 0.1);
// (Only passed when set: builds before slotDtype refuse the option.)
const dtype = process.env.SLOT_DTYPE ? { slotDtype: process.env.SLOT_DTYPE } : {};
const warmup = Number(process.env.WARMUP ?? 2000);
const grad = Float32Array.from({ length: n }, (_, i) => ((i % 17) - 8) * 1e-3);
/** The TF 2.4 classes (and the kernel variants of SGD and RMSprop): class and options. */
const OPTIMIZERS = {
  adam: ['Adam', { learningRate: 1e-3 }],
  adam_amsgrad: ['Adam', { learningRate: 1e-3, amsgrad: true }],
  sgd: ['SGD', { learningRate: 0.01 }],
  sgd_momentum: ['SGD', { learningRate: 0.01, momentum: 0.9 }],
  sgd_nesterov: ['SGD', { learningRate: 0.01, momentum: 0.9, nesterov: true }],
  rmsprop: ['RMSprop', { learningRate: 1e-3 }],
  rmsprop_centered_momentum: ['RMSprop', { learningRate: 1e-3, centered: true, momentum: 0.5 }],
  adagrad: ['Adagrad', { learningRate: 1e-3 }],
  adadelta: ['Adadelta', { learningRate: 1e-3 }],
  adamax: ['Adamax', { learningRate: 1e-3 }],
  nadam: ['Nadam', { learningRate: 1e-3 }],
  ftrl: ['Ftrl', { learningRate: 1e-3 }],
};

const bias = process.env.BIAS === '1';
const seen = new Set();

async function load(arg) {
  const [dist, backend = process.env.BACKEND ?? 'simd'] = arg.split('@');
  let from = path.resolve(dist);
  if (seen.has(from)) {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'simdopt-pair-'));
    fs.cpSync(from, copy, { recursive: true });
    process.on('exit', () => fs.rmSync(copy, { recursive: true, force: true }));
    from = copy;
  }
  seen.add(from);
  const so = await import(pathToFileURL(path.join(from, 'index.js')).href);
  const loaded = await so.ready({ backend });
  const [className, options] = OPTIMIZERS[opt] ?? [];
  if (!className) throw new Error(`unknown optimizer ${opt} (one of ${Object.keys(OPTIMIZERS).join(', ')})`);
  const o = new so[className]({ ...options, ...dtype });
  const v = new so.Variable(0.5, { shape: [n], name: 'w' });
  const t = new so.Tensor(0, { shape: [n], name: 'grad' });
  t.assign(grad);
  const b = new so.Variable(0.5, { shape: [3], name: 'b' });
  const first = bias ? [[new Float32Array([1e-3, -2e-3, 3e-3]), b]] : [];
  const tensorPairs = [...first, [t, v]];
  const f32Pairs = [...first, [grad, v]];
  return { dist: `${dist}@${loaded}`, tensor: () => o.applyGradients(tensorPairs), f32: () => o.applyGradients(f32Pairs) };
}

const builds = [];
for (const d of dists) builds.push(await load(d));
// JIT and wasm tier-up.
for (const b of builds) {
  for (let i = 0; i < warmup; i++) {
    b.tensor();
    b.f32();
  }
}
const steps = Math.max(4, Math.round(Number(process.env.PER_ELEMS ?? 1e6) / n));
const candidates = builds.flatMap((b, i) => ['tensor', 'f32'].map((kind) => ({ i, kind, fn: b[kind], times: [] })));
for (let r = 0; r < batches; r++) {
  for (const c of [...candidates].sort(() => Math.random() - 0.5)) {
    const t0 = process.hrtime.bigint();
    for (let s = 0; s < steps; s++) c.fn();
    c.times.push(Number(process.hrtime.bigint() - t0) / steps / 1e3);
  }
}
const at = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * quantile)];
for (const kind of ['tensor', 'f32']) {
  const base = at(candidates.find((c) => c.kind === kind && c.i === 0).times);
  for (const c of candidates.filter((c) => c.kind === kind)) {
    const t = at(c.times);
    console.log(`${opt} ${n} ${kind.padEnd(6)} ${builds[c.i].dist.padEnd(28)} ${t.toFixed(2)} µs/step  ×${(t / base).toFixed(3)}`);
  }
}
