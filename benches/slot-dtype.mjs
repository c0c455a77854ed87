#!/usr/bin/env node
// Adam with its slots stored as float32, bfloat16 and int8 (`slotDtype`, issue 16) in the wasm
// build: step time side by side in one run, and slot bytes per parameter measured from the WASM
// memory (not part of the test suite).
//
//   node benches/slot-dtype.mjs [--sizes 1M,16M] [--rounds 9] [--steps N] [--quantile Q] [--dist DIR]
//        [--no-memory] [--backend simd|threads]
//
// Speed: one process, one WebAssembly instance (`ready()`'s default build, the threads build in
// Node, which splits large passes over its workers; `--backend simd` for one thread), three Adam
// optimizers on their own variable of n parameters with the gradient already in WASM memory;
// each round times a few steps of each dtype in shuffled order, so that load from other
// processes hits all of them alike. Figures are medians over rounds, ratios are ratios of medians.
// With `--quantile Q` (for a shared machine, as benches/pair.mjs): the Q-quantile of the rounds
// instead (e.g. 0.1: the rounds other processes, and the host's other tenants on the core's
// sibling thread, interrupted least), beside the medians. `--steps N`: steps per round (default
// 10, 2 from 8M parameters).
//
// Memory: a fresh process per dtype (WASM memory never shrinks, so growth measured after other
// work would reuse freed space): `memory.buffer.byteLength` before anything, after the variable
// and its gradient, and after the first step (which creates the slots).
import { execFileSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import os from 'node:os';
import path from 'node:path';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const M = 1024 * 1024;
const DTYPES = ['float32', 'bfloat16', 'int8'];

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const parseSize = (s) => Math.round(parseFloat(s) * (s.endsWith('M') ? M : s.endsWith('K') ? 1024 : 1));
const DIST = path.resolve(opt('--dist', path.join(ROOT, 'dist')));
const so = await import(pathToFileURL(path.join(DIST, 'index.js')).href);
// `ready()`'s default: the threads build where the runtime has it (Node does), else SIMD.
const backendArg = opt('--backend', undefined);
await so.ready(backendArg ? { backend: backendArg } : undefined);

const gradAt = (i) => ((i % 17) - 8) * 1e-3 * (i % 97 === 0 ? 50 : 1);

function setup(dtype, n) {
  const v = new so.Variable(0.5, { shape: [n], name: 'w' });
  const g = new so.Tensor(0, { shape: [n], name: 'grad' });
  g.assign(Float32Array.from({ length: n }, (_, i) => gradAt(i)));
  const o = new so.Adam({ learningRate: 1e-3, slotDtype: dtype });
  const pairs = [[g, v]];
  return { o, v, g, pairs };
}

if (args[0] === '--memory-of') {
  // child: one dtype's memory, printed as JSON
  const [dtype, n] = [args[1], parseSize(args[2])];
  const start = so.memoryBytes();
  const { o, pairs } = setup(dtype, n);
  const withVarAndGrad = so.memoryBytes();
  o.applyGradients(pairs);
  const afterStep = so.memoryBytes();
  console.log(JSON.stringify({ dtype, n, start, withVarAndGrad, afterStep }));
  process.exit(0);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** The q-quantile (nearest rank). */
const quantileOf = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
};
const QUANTILE = opt('--quantile', undefined) === undefined ? undefined : Number(opt('--quantile'));
const STEPS = opt('--steps', undefined);
const shuffle = (xs) => {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
};

const sizes = opt('--sizes', '1M,16M').split(',').map(parseSize);
const rounds = Number(opt('--rounds', '9'));
console.log(`# slotDtype bench: ${new Date().toISOString()}, ${os.cpus()[0]?.model}, node ${process.version}, build ${so.backend?.() ?? 'simd'}`);
console.log(
  `# load before: ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
const rows = [];
for (const n of sizes) {
  const runs = Object.fromEntries(DTYPES.map((d) => [d, setup(d, n)]));
  const steps = STEPS ? Number(STEPS) : n >= 8 * M ? 2 : 10;
  for (const d of DTYPES) runs[d].o.applyGradients(runs[d].pairs); // slots made, codes running
  const times = Object.fromEntries(DTYPES.map((d) => [d, []]));
  for (let r = 0; r < rounds; r++) {
    for (const d of shuffle([...DTYPES])) {
      const { o, pairs } = runs[d];
      const t0 = performance.now();
      for (let s = 0; s < steps; s++) o.applyGradients(pairs);
      times[d].push((performance.now() - t0) / steps);
    }
  }
  const base = median(times.float32);
  const qBase = QUANTILE === undefined ? undefined : quantileOf(times.float32, QUANTILE);
  for (const d of DTYPES) {
    const m = median(times[d]);
    const q = QUANTILE === undefined ? undefined : quantileOf(times[d], QUANTILE);
    rows.push({ n, dtype: d, ms: m, ratio: m / base, nsPerParam: (m * 1e6) / n, q, qRatio: q === undefined ? undefined : q / qBase });
  }
  for (const d of DTYPES) {
    runs[d].o.dispose();
    runs[d].v.dispose();
    runs[d].g.dispose();
  }
}
if (QUANTILE === undefined) {
  console.log('| parameters | slotDtype | ms/step (median) | ns/param | × float32 |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.n / M}M | ${r.dtype} | ${r.ms.toFixed(2)} | ${r.nsPerParam.toFixed(2)} | ${r.ratio.toFixed(2)} |`);
} else {
  const q = `q${QUANTILE}`;
  console.log(`| parameters | slotDtype | ms/step (median) | × float32 (median) | ms/step (${q}) | × float32 (${q}) |`);
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.n / M}M | ${r.dtype} | ${r.ms.toFixed(2)} | ${r.ratio.toFixed(2)} | ${r.q.toFixed(2)} | ${r.qRatio.toFixed(2)} |`);
  }
}
console.log(
  `# load after: ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);

if (!args.includes('--no-memory')) {
  const n = 16 * M;
  const GiB4 = 4 * 1024 ** 3;
  console.log('\n| slotDtype | slot bytes/param | variable + gradient + slots bytes/param | largest Adam model in 4 GiB |');
  console.log('|---|---|---|---|');
  for (const d of DTYPES) {
    const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--memory-of', d, '16M', '--dist', DIST], { encoding: 'utf8' });
    const m = JSON.parse(out.trim().split('\n').pop());
    const slots = (m.afterStep - m.withVarAndGrad) / n;
    const all = (m.afterStep - m.start) / n;
    // what is left of 4 GiB after the instance's own memory, divided by the bytes per parameter
    const largest = (GiB4 - m.start) / all;
    console.log(`| ${d} | ${slots.toFixed(3)} | ${all.toFixed(3)} | ${(largest / 1e6).toFixed(0)}M parameters |`);
  }
  console.log(`# memory: n = 16M, start = the instance before any tensor; growth of memory.buffer.byteLength (64 KiB pages)`);
}
