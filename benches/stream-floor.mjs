#!/usr/bin/env node
// Where the time of a streamed Float32Array gradient goes, and the floor that design has on this
// machine (not part of the test suite). In one process, rounds interleaved in shuffled order:
//
//   simdopt (SIMD build, this process)
//     Tensor       the gradient already in WASM memory (the kernel alone, plus the step's frame)
//     streamed     a plain Float32Array, streamed in chunks into the staging buffer
//     no copy      the same streamed step with the copy turned off (`__streamCopies(false)`: the
//                  kernel reads the staging buffer as it is; the calls per chunk remain)
//     JS copy      only the copies: `TypedArray.prototype.set` of each chunk's window into a
//                  chunk-sized buffer in WASM memory, as the streamed step does
//     whole copy   the same Float32Array copied into WASM memory whole (no streaming)
//   C model (benches/native/stream_model.c, a child process; gcc -O3 -march=native, and again with
//   128-bit vectors, the width of wasm simd128)
//     kernel, stream (memcpy a chunk, then the kernel over it), l2kernel (the kernel over the
//     staging buffer, no copy), copy (the memcpys alone)
//
// Every "×" is the median over rounds of (candidate ÷ reference in the same round): simdopt's
// against its Tensor step, the C model's against its kernel. "streamed ÷ C" is the streamed
// step against the C kernel (-march=native), issue 14's end-to-end figure. With `--quantile Q`
// (a loaded machine): the ratios of each candidate's Q-quantile over short batches of `--ms`.
//
//   node benches/stream-floor.mjs [--optimizers adam,sgd_momentum,rmsprop] [--sizes 1M,16M]
//        [--chunk 32K] [--rounds 15] [--dist DIR] [--quantile 0.1 --ms 2] [--json out.json]
import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createHash } from 'node:crypto';
import { pathToFileURL, fileURLToPath } from 'node:url';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const K = 1024;
const M = K * K;
const arg = (k, d) => {
  const i = process.argv.indexOf(k);
  return i < 0 ? d : process.argv[i + 1];
};
const size = (s) => +/^\d+/.exec(s)[0] * ({ K, M }[s.slice(-1).toUpperCase()] ?? 1);
const fmt = (n) => (n % M === 0 ? `${n / M}M` : `${n / K}K`);
const dist = path.resolve(arg('--dist', path.join(ROOT, 'dist')));
const rounds = +arg('--rounds', 15);
const sizes = arg('--sizes', '1M,16M').split(',').map(size);
const chunk = size(arg('--chunk', '32K'));
const optimizers = arg('--optimizers', 'adam,sgd_momentum,rmsprop').split(',');
const quantile = arg('--quantile', undefined) === undefined ? undefined : +arg('--quantile');
const batchMs = +arg('--ms', 2);
const jsonOut = arg('--json', undefined);

const so = await import(pathToFileURL(path.join(dist, 'index.js')).href);
const { core, heapFloat32 } = await import(pathToFileURL(path.join(dist, 'wasm', 'loader.js')).href);
const stream = await import(pathToFileURL(path.join(dist, 'optimizer', 'stream.js')).href);
await so.ready({ backend: 'simd' });
core().__stream_set_chunk(chunk);
const make = {
  adam: () => new so.Adam({ learningRate: 1e-3 }),
  sgd_momentum: () => new so.SGD({ learningRate: 0.01, momentum: 0.9 }),
  rmsprop: () => new so.RMSprop({ learningRate: 1e-3 }),
};

/** stream_model.c built with `flags`, answering requests as a `serve` child process. */
class Model {
  constructor(name, flags) {
    const src = path.join(HERE, 'native', 'stream_model.c');
    const key = createHash('sha256')
      .update(fs.readFileSync(src))
      .update(fs.readFileSync(path.join(HERE, 'native', 'kernels.c')))
      .update(flags.join(' '))
      .digest('hex')
      .slice(0, 12);
    const bin = path.join(os.tmpdir(), `simdopt-stream-model-${key}`);
    if (!fs.existsSync(bin)) execFileSync('gcc', [...flags, '-o', bin, src, '-lm'], { stdio: 'inherit' });
    this.name = name;
    this.command = `gcc ${flags.join(' ')}`;
    this.proc = spawn(bin, ['serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.queue = [];
    createInterface({ input: this.proc.stdout }).on('line', (l) => this.queue.shift()?.(+l));
  }
  /** ms per step of `what` (see stream_model.c). */
  run(opt, n, what, steps) {
    return new Promise((resolve, reject) => {
      this.queue.push((ms) => (ms < 0 ? reject(new Error(`stream_model: bad request ${what}`)) : resolve(ms)));
      this.proc.stdin.write(`${opt} ${n} ${what} ${chunk} ${steps}\n`);
    });
  }
}
const FLAGS = ['-O3', '-march=native', '-ffp-contract=off', '-fno-math-errno'];
const models = [new Model('C', FLAGS), new Model('C 128-bit', [...FLAGS, '-mno-avx', '-mno-avx2', '-mno-avx512f'])];

function timed(f, steps) {
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) f();
  return (performance.now() - t0) / steps;
}
const q = (a, p) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(a.length * p))];
const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

const started = new Date();
console.log(
  `${started.toISOString()}; ${os.cpus()[0].model}, ${os.cpus().length} cores, node ${process.version}; load ${load()}; chunks of ${fmt(chunk)}; ${rounds} rounds` +
    (quantile === undefined ? ' (medians of per-round ratios)' : ` of ${batchMs} ms batches (ratios of ${quantile}-quantiles)`),
);
const rows = [];
for (const name of optimizers) {
  for (const n of sizes) {
    const opt = make[name]();
    const v = new so.Variable(0.5, { shape: [n], name: 'w' });
    const g = new Float32Array(n).map((_, i) => ((i % 17) - 8) * 1e-3);
    const t = new so.Tensor(g);
    const staging = new so.Tensor(0, { shape: [chunk], name: 'staging' });
    const step = () => opt.applyGradients([[g, v]]);
    const js = (label, f, before = () => {}, after = () => {}) => ({
      label,
      run: (steps) => {
        before();
        try {
          return timed(f, steps);
        } finally {
          after();
        }
      },
    });
    const copyOnly = () => {
      const heap = heapFloat32();
      const at = staging.value.byteOffset >>> 2;
      for (let o = 0; o < n; o += chunk) heap.set(g.subarray(o, Math.min(n, o + chunk)), at);
    };
    const candidates = [
      js('Tensor', () => opt.applyGradients([[t, v]])),
      js('streamed', step),
      js(
        'no copy',
        step,
        () => stream.__streamCopies(false),
        () => stream.__streamCopies(true),
      ),
      js('JS copy', copyOnly),
      js(
        'whole copy',
        step,
        () => stream.__streamFrom(2 ** 31),
        () => stream.__streamFrom(stream.STREAM_FROM),
      ),
      ...models.flatMap((m) => ['kernel', 'stream', 'l2kernel', 'copy'].map((w) => ({ label: `${m.name} ${w}`, run: (steps) => m.run(name, n, w, steps) }))),
    ];
    // Batch sizes: about 20 ms (or --ms) per batch after a warm-up.
    const target = quantile === undefined ? Math.max(20, (n / M) * 8) : batchMs;
    for (const c of candidates) {
      const ms = await c.run(1);
      c.steps = Math.max(1, Math.round(target / Math.max(1e-3, Math.min(ms, await c.run(1)))));
      c.times = [];
    }
    for (let r = 0; r < rounds; r++) {
      for (const c of [...candidates].sort(() => Math.random() - 0.5)) c.times.push(await c.run(c.steps));
    }
    const byLabel = Object.fromEntries(candidates.map((c) => [c.label, c]));
    const ratio = (a, b) =>
      quantile === undefined
        ? q(
            byLabel[a].times.map((x, i) => x / byLabel[b].times[i]),
            0.5,
          )
        : q(byLabel[a].times, quantile) / q(byLabel[b].times, quantile);
    const ms = (a) => q(byLabel[a].times, quantile ?? 0.5);
    const row = {
      optimizer: name,
      n,
      tensor_ms: ms('Tensor'),
      streamed: ratio('streamed', 'Tensor'),
      no_copy: ratio('no copy', 'Tensor'),
      js_copy: ratio('JS copy', 'Tensor'),
      whole: ratio('whole copy', 'Tensor'),
      streamed_vs_c: ratio('streamed', 'C kernel'),
      tensor_vs_c: ratio('Tensor', 'C kernel'),
    };
    for (const m of models) {
      const k = m.name === 'C' ? 'c' : 'c128';
      row[`${k}_kernel_ms`] = ms(`${m.name} kernel`);
      for (const w of ['stream', 'l2kernel', 'copy']) row[`${k}_${w}`] = ratio(`${m.name} ${w}`, `${m.name} kernel`);
    }
    row.samples = Object.fromEntries(candidates.map((c) => [c.label, c.times]));
    rows.push(row);
    v.dispose();
    t.dispose();
    staging.dispose();
    opt.dispose();
  }
}
for (const m of models) m.proc.stdin.end();

const f = (x, d = 2) => x.toFixed(d);
console.log('\nsimdopt (× its Tensor step):');
console.log('| optimizer | params | Tensor ms | streamed | no copy | JS copy | no copy + JS copy | whole copy | streamed ÷ C | Tensor ÷ C |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(
    `| ${r.optimizer} | ${fmt(r.n)} | ${f(r.tensor_ms, 3)} | **${f(r.streamed)}** | ${f(r.no_copy)} | ${f(r.js_copy)} | ${f(r.no_copy + r.js_copy)} | ${f(r.whole)} | ${f(r.streamed_vs_c)} | ${f(r.tensor_vs_c)} |`,
  );
}
console.log('\nC model (× its kernel; the floor of the design without JavaScript or WebAssembly):');
console.log('| optimizer | params | C kernel ms | stream | l2kernel | copy | 128-bit kernel ms | stream | l2kernel | copy |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(
    `| ${r.optimizer} | ${fmt(r.n)} | ${f(r.c_kernel_ms, 3)} | **${f(r.c_stream)}** | ${f(r.c_l2kernel)} | ${f(r.c_copy)} | ${f(r.c128_kernel_ms, 3)} | **${f(r.c128_stream)}** | ${f(r.c128_l2kernel)} | ${f(r.c128_copy)} |`,
  );
}
console.log(`\n${models.map((m) => `${m.name}: ${m.command}`).join('; ')}. ${new Date().toISOString()}, load after ${load()}.`);
if (jsonOut) {
  fs.writeFileSync(jsonOut, JSON.stringify({ started, cpu: os.cpus()[0].model, node: process.version, chunk, rounds, quantile, rows }, null, 1));
}
