#!/usr/bin/env node
// What Keras 3's `use_ema` costs in the wasm SIMD build (issue 13: at most one extra read and write
// per parameter, i.e. <= 9/7 of Adam, whose pass moves seven arrays). Not part of the test suite.
//
// Keras 3 Adam, Adam(use_ema) and Adam(amsgrad) on one variable with a Tensor gradient (the kernel
// alone), single `applyGradients` calls alternated in rotating order, each timed on its own.
// AMSGrad is the yardstick: its `velocity_hat` slot is exactly one more array read and written in
// the same pass, so "EMA extra / AMSGrad extra" near 1 means the average costs what its traffic
// costs. Calls of a millisecond fit between the scheduler's interruptions on a loaded machine,
// so the low quantile of each candidate's call times (--quantile, default 0.1) is what the
// ratios use; the medians are printed beside it.
//
//   node benches/ema-cost.mjs [--sizes 256K,1M,16M] [--calls 300] [--quantile 0.1] [--dist DIR]
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import os from 'node:os';
import { ROOT, M, arg, size, fmt } from './cli.mjs';

const dist = path.resolve(arg('--dist', path.join(ROOT, 'dist')));
const sizes = arg('--sizes', '256K,1M,16M').split(',').map(size);
const calls = +arg('--calls', 300);
const q = +arg('--quantile', 0.1);

const so = await import(pathToFileURL(path.join(dist, 'index.js')).href);
const backend = await so.ready({ threads: false });
const k3 = await import(pathToFileURL(path.join(dist, 'keras3', 'index.js')).href);

const quantile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.round((s.length - 1) * p)];
};
const LIMIT = 9 / 7;

console.log(
  `use_ema cost — ${new Date().toISOString()} — ${os.cpus()[0]?.model}, ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(2)}, node ${process.version}, simdopt ${backend}`,
);
console.log(`ms per applyGradients call (q${q} of the call times; median in brackets); × Keras 3 Adam from the q${q} times`);
console.log('| params | Adam | Adam(use_ema) | Adam(amsgrad) | EMA extra / AMSGrad extra |');
console.log('|---|---:|---:|---:|---:|');
for (const n of sizes) {
  const grad = new so.Tensor(0, { shape: [n], name: 'grad' });
  grad.assign(Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 1e-2));
  const v = new so.Variable(0.5, { shape: [n], name: 'w' });
  const candidates = [
    ['Adam', new k3.Adam({ learningRate: 1e-3 })],
    ['use_ema', new k3.Adam({ learningRate: 1e-3, useEma: true })],
    ['amsgrad', new k3.Adam({ learningRate: 1e-3, amsgrad: true })],
  ];
  const pairs = [[grad, v]];
  const times = candidates.map(() => []);
  const perSize = Math.max(30, Math.round((calls * M) / Math.max(n, M)));
  for (let c = -5; c < perSize; c++) {
    for (let j = 0; j < candidates.length; j++) {
      const k = (j + Math.max(c, 0)) % candidates.length; // rotate who goes first
      const t0 = process.hrtime.bigint();
      candidates[k][1].applyGradients(pairs);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (c >= 0) times[k].push(ms);
    }
  }
  const [plain, ema, ams] = times.map((t) => quantile(t, q));
  const cell = (t, x) => `${x.toFixed(3)} [${quantile(t, 0.5).toFixed(3)}]${x === plain ? '' : ` (${(x / plain).toFixed(3)}×)`}`;
  console.log(`| ${fmt(n)} | ${cell(times[0], plain)} | ${cell(times[1], ema)} | ${cell(times[2], ams)} | ${((ema - plain) / (ams - plain)).toFixed(2)} |`);
  for (const [, o] of candidates) o.dispose?.();
  v.dispose();
  grad.dispose();
}
console.log(`Target (issue 13): Adam(use_ema) / Adam <= ${LIMIT.toFixed(3)} (one extra read and write of seven).`);
