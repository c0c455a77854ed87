#!/usr/bin/env node
// How large the chunks of a streamed gradient should be (not part of the test suite): for each
// chunk size, simdopt's Float32Array path (the gradient streamed into the core a chunk at a
// time) against its Tensor path (the gradient already in WASM memory: the kernel alone) and
// against the whole copy (the same Float32Array copied into WASM memory whole, as below the
// streaming threshold), side by side in one process, rounds interleaved in shuffled order. Ratios
// are medians of per-round ratios (load from other processes mostly cancels). The streaming
// threshold (`STREAM_FROM`, ts/optimizer/stream.ts) is set per candidate through its hook: 1
// value for the streamed ones, never for the whole copy; so this also shows where it should be.
//
// With `--quantile Q` (for a loaded machine, as benches/pair.mjs): short batches of `--ms` each
// (default 2), and the ratios of the Q-quantiles of each candidate's batch times (the batches
// other processes interrupted least) instead.
//
// With `--threads N`: the threads build with N threads, where `--chunks` sets the chunk of the
// streamed passes it splits over its pool (`__stream_set_split_chunk`; the variables from about
// 256K values), the small chunk staying the core's.
//
//   node benches/stream-chunk.mjs [--rounds 9] [--sizes 1M,16M] [--chunks 16K,32K,64K,128K,256K]
//        [--optimizers adam,sgd_momentum,rmsprop] [--dist DIR] [--quantile 0.1 --ms 2] [--threads 2]
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import os from 'node:os';
import { ROOT, M, arg, size, fmt } from './cli.mjs';

const dist = path.resolve(arg('--dist', path.join(ROOT, 'dist')));
const rounds = +arg('--rounds', 9);
const sizes = arg('--sizes', '1M,16M').split(',').map(size);
const chunks = arg('--chunks', '16K,32K,64K,128K,256K').split(',').map(size);
const optimizers = arg('--optimizers', 'adam,sgd_momentum,rmsprop').split(',');
const quantile = arg('--quantile', undefined) === undefined ? undefined : +arg('--quantile');
const batchMs = +arg('--ms', 2);
const threads = +arg('--threads', 0);

const so = await import(pathToFileURL(path.join(dist, 'index.js')).href);
const { core } = await import(pathToFileURL(path.join(dist, 'wasm', 'loader.js')).href);
const stream = await import(pathToFileURL(path.join(dist, 'optimizer', 'stream.js')).href);
const build = await so.ready(threads ? { threads } : { backend: 'simd' });
const make = {
  adam: () => new so.Adam({ learningRate: 1e-3 }),
  sgd_momentum: () => new so.SGD({ learningRate: 0.01, momentum: 0.9 }),
  rmsprop: () => new so.RMSprop({ learningRate: 1e-3 }),
};

function timed(f, ms) {
  let steps = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms || steps < 2) {
    f();
    steps++;
    t = performance.now();
  }
  return (t - t0) / steps;
}
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const at = (a, q) => [...a].sort((x, y) => x - y)[Math.floor(a.length * q)];

console.log(
  `${os.cpus()[0].model}, ${os.cpus().length} cores, node ${process.version}; load ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}; ${build} build${threads ? ` (${threads} threads)` : ''}; ${rounds} rounds` +
    (quantile === undefined ? ' (medians of per-round ratios)' : ` of ${batchMs} ms batches (ratios of ${quantile}-quantiles)`),
);
console.log('| optimizer | params | Tensor ms | F32 whole copy (× Tensor) | ' + chunks.map((c) => `F32 ${fmt(c)} (× Tensor)`).join(' | ') + ' |');
console.log('|---|---|---:|---:|' + chunks.map(() => '---:').join('|') + '|');
for (const name of optimizers) {
  for (const n of sizes) {
    const opt = make[name]();
    const v = new so.Variable(0.5, { shape: [n], name: 'w' });
    const g = new Float32Array(n).map((_, i) => ((i % 17) - 8) * 1e-3);
    const t = new so.Tensor(g);
    const step = () => opt.applyGradients([[g, v]]);
    const candidates = [
      { label: 'tensor', f: () => opt.applyGradients([[t, v]]) },
      { label: 'whole', from: Number.MAX_SAFE_INTEGER, f: step },
      ...chunks.map((c) => ({ label: c, chunk: c, from: 1, f: step })),
    ];
    const setUp = (c) => {
      if (c.chunk) core()[threads ? '__stream_set_split_chunk' : '__stream_set_chunk'](c.chunk);
      if (c.from) stream.__streamFrom(c.from);
    };
    const samples = new Map(candidates.map((c) => [c.label, []]));
    const ms = quantile === undefined ? Math.min(200, Math.max(20, (n / M) * 12)) : batchMs;
    const times = new Map(candidates.map((c) => [c.label, []]));
    // Warm-up.
    for (const c of candidates) {
      setUp(c);
      timed(c.f, ms / 4);
    }
    for (let r = 0; r < rounds; r++) {
      const order = [...candidates].sort(() => Math.random() - 0.5);
      const round = {};
      for (const c of order) {
        setUp(c);
        round[c.label] = timed(c.f, ms);
      }
      for (const c of candidates) {
        samples.get(c.label).push(round[c.label] / (c.label === 'tensor' ? 1 : round.tensor));
        times.get(c.label).push(round[c.label]);
      }
    }
    const tensorMs = quantile === undefined ? median(samples.get('tensor')) : at(times.get('tensor'), quantile);
    const ratio = (label) => (quantile === undefined ? median(samples.get(label)) : at(times.get(label), quantile) / tensorMs).toFixed(3);
    console.log(`| ${name} | ${fmt(n)} | ${tensorMs.toFixed(3)} | ${ratio('whole')} | ` + chunks.map(ratio).join(' | ') + ' |');
    v.dispose();
    t.dispose();
    opt.dispose();
  }
}
console.log(
  `load after: ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
