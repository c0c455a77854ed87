// The package's threads build against its single-threaded SIMD build and native C, side by side
// in one run (not a test; no assertion). Every simdopt candidate is the package (dist/) loaded
// by `ready()` in its own worker thread (its own WebAssembly instance and pool):
//
//   simdopt simd                  ready({ threads: false }): the single-threaded SIMD build
//   simdopt threads · 1 thread    ready({ threads: N }) with the split threshold above the size:
//                                 the threads build run by the calling thread alone
//   simdopt threads · N, split    the same with threshold 0: every pass of 2+ chunks is split,
//                                 so the table shows where splitting starts to pay
//   simdopt threads · N           ready({ threads: N }) as it ships (the default threshold)
//   simdopt threads · N, no spin  the same, but idle workers sleep at once after each pass (no
//                                 polling for the next): what each pass costs with a wake-up
//   C -O3 -march=native           benches/native/kernels.c, one thread
//   OpenMP C · N threads          the same file with -fopenmp, OMP_NUM_THREADS=N
//
// One variable, the gradient in a `Tensor` (the kernel-only path: no copy into WASM memory, as
// for C), the same inputs everywhere (p = 0.5, g[i] = ((i mod 17) - 8)·1e-3). `--gradient f32`
// passes it as a Float32Array instead (copied into WASM memory each step: on the threads build,
// into a SharedArrayBuffer); `--bias` adds a variable of 3 values before it in each step (a
// model's layer: the main gradient then follows an odd number of values in the step frame).
// The native candidates always run the one kernel. A batch of about
// 20 ms per candidate, then `--rounds` rounds in shuffled order; ms/step is the median over
// rounds, each ratio the median over rounds of the two candidates' ratio within a round (load
// from other processes largely cancels). `uptime` is printed before and after.
//
//   node benches/threads.mjs [--optimizers adam,sgd,rmsprop] [--sizes 1K,64K,128K,256K,512K,1M,16M]
//                            [--threads 2] [--rounds 11] [--gradient tensor|f32] [--bias]
//                            [--only simd,threads] [--json out.json]
//   --only: just these candidates (simd, one, split, threads, nospin, c, openmp; simd always)
//
// Needs the built package (bash scripts/build.sh).
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(HERE, '..');
const gradient = (n) => {
  const g = new Float32Array(n);
  for (let i = 0; i < n; i++) g[i] = ((i % 17) - 8) * 1e-3;
  return g;
};
// Keras class, options, and the native kernel with the same hyperparameters (kernels.c).
const OPTIMIZERS = {
  adam: { make: (s) => new s.Adam({ learningRate: 1e-3 }), c: 'adam' },
  sgd: { make: (s) => new s.SGD({ learningRate: 0.01 }), c: 'sgd' },
  rmsprop: { make: (s) => new s.RMSprop({ learningRate: 1e-3, rho: 0.9, momentum: 0.1 }), c: 'rmsprop' },
};

// ---- a simdopt candidate: runs in a worker thread ---------------------------------------------

async function engine({ ready, threshold, spin, f32, bias }) {
  const s = await import(pathToFileURL(path.join(ROOT, 'dist', 'index.js')).href);
  const loader = await import(pathToFileURL(path.join(ROOT, 'dist', 'wasm', 'loader.js')).href);
  const loaded = await s.ready(ready);
  if (threshold !== undefined) loader.__threadsThreshold(threshold);
  if (spin !== undefined) loader.__threadsSpin(spin);
  let state;
  parentPort.on('message', ({ op, optimizer, n, steps }) => {
    if (op === 'setup') {
      if (state?.optimizer !== optimizer || state.n !== n) {
        if (state) for (const x of state.owned) x.dispose();
        const v = new s.Variable(new Float32Array(n).fill(0.5));
        const g = f32 ? gradient(n) : new s.Tensor(gradient(n));
        const b = new s.Variable(new Float32Array(3).fill(0.5));
        const opt = OPTIMIZERS[optimizer].make(s);
        const pairs = bias
          ? [
              [gradient(3), b],
              [g, v],
            ]
          : [[g, v]];
        state = { optimizer, n, opt, pairs, owned: [v, b, opt, ...(f32 ? [] : [g])] };
      }
      parentPort.postMessage(0);
    } else {
      const t = performance.now();
      for (let i = 0; i < steps; i++) state.opt.applyGradients(state.pairs);
      parentPort.postMessage((performance.now() - t) / steps);
    }
  });
  parentPort.postMessage({ loaded, threads: s.stats().threads, threshold: loader.__threadsThreshold() });
}

if (!isMainThread) {
  await engine(workerData);
} else {
  await main();
}

function simdoptCandidate(options) {
  const worker = new Worker(fileURLToPath(import.meta.url), { workerData: options });
  const queue = [];
  worker.on('message', (m) => queue.shift()?.(m));
  worker.on('error', (e) => {
    console.error(e);
    process.exit(1);
  });
  const ask = (m) =>
    new Promise((resolve) => {
      queue.push(resolve);
      if (m) worker.postMessage(m);
    });
  let current;
  return {
    started: ask(),
    async setup(optimizer, n) {
      current = { optimizer, n };
      await ask({ op: 'setup', optimizer, n });
    },
    run: (steps) => ask({ op: 'run', steps }),
    close: () => worker.terminate(),
    get current() {
      return current;
    },
  };
}

/** benches/native/kernels.c built with `flags`, as a `serve` child process. */
function nativeCandidate(name, flags, env) {
  const src = path.join(HERE, 'native', 'kernels.c');
  const key = createHash('sha256').update(fs.readFileSync(src)).update(flags.join(' ')).digest('hex').slice(0, 12);
  const bin = path.join(os.tmpdir(), `simdopt-bench-${name}-${key}`);
  if (!fs.existsSync(bin)) execFileSync('gcc', [...flags, '-o', bin, src, '-lm'], { stdio: 'inherit' });
  const proc = spawn(bin, ['serve'], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const queue = [];
  createInterface({ input: proc.stdout }).on('line', (l) => queue.shift()?.(+l));
  const request = (kernel, n, steps) =>
    new Promise((resolve) => {
      queue.push(resolve);
      proc.stdin.write(`${kernel} ${n} ${steps}\n`);
    });
  let kernel, n;
  return {
    command: `gcc ${flags.join(' ')}${
      env
        ? ` (${Object.entries(env)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')})`
        : ''
    }`,
    async setup(optimizer, size) {
      [kernel, n] = [OPTIMIZERS[optimizer].c, size];
      await request(kernel, n, 2);
    },
    run: (steps) => request(kernel, n, steps),
    close: () => proc.stdin.end(),
  };
}

async function main() {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : dflt;
  };
  const parseSize = (s) => Math.round(parseFloat(s) * ({ K: 1024, M: 1024 * 1024 }[s.slice(-1)] ?? 1));
  const optimizers = opt('optimizers', 'adam').split(',');
  const sizes = opt('sizes', '1K,64K,128K,256K,512K,1M,16M').split(',').map(parseSize);
  const threads = +opt('threads', 2);
  const rounds = +opt('rounds', 11);
  const jsonOut = opt('json', null);
  const f32 = opt('gradient', 'tensor') === 'f32';
  const bias = args.includes('--bias');
  const only = opt('only', null)?.split(',');
  const BATCH_MS = 20;
  const uptime = () => execFileSync('uptime').toString().trim();
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const fmtSize = (n) => (n >= 1 << 20 ? `${n / (1 << 20)}M` : n >= 1024 ? `${n / 1024}K` : `${n}`);

  const CFLAGS = ['-O3', '-march=native', '-ffp-contract=off', '-fno-math-errno'];
  const SIMD = 'simdopt simd';
  const ONE = 'simdopt threads · 1 thread';
  const SPLIT = `simdopt threads · ${threads}, split`;
  const SHIPPED = `simdopt threads · ${threads}`;
  const NO_SPIN = `simdopt threads · ${threads}, no spin`;
  const C = 'C -O3 -march=native';
  const OMP = `OpenMP C · ${threads} threads`;
  const step = { f32, bias };
  const all = [
    ['simd', SIMD, () => simdoptCandidate({ ready: { threads: false }, ...step })],
    ['one', ONE, () => simdoptCandidate({ ready: { threads }, threshold: 2 ** 31, ...step })],
    ['split', SPLIT, () => simdoptCandidate({ ready: { threads }, threshold: 0, ...step })],
    ['threads', SHIPPED, () => simdoptCandidate({ ready: { threads }, ...step })],
    ['nospin', NO_SPIN, () => simdoptCandidate({ ready: { threads }, spin: 0, ...step })],
    ['c', C, () => nativeCandidate('native', CFLAGS)],
    ['openmp', OMP, () => nativeCandidate('openmp', [...CFLAGS, '-fopenmp'], { OMP_NUM_THREADS: String(threads) })],
  ];
  // (simd always runs: the × simd column is every candidate's ratio to it. Without c or openmp
  // their columns are empty; OpenMP's threads keep spinning for a while after each step, which
  // the next candidate's batch may pay for on a busy machine.)
  const wanted = only ? new Set([...only, 'simd']) : undefined;
  const candidates = all.filter(([key]) => !wanted || wanted.has(key)).map(([, name, make]) => [name, make()]);
  const loaded = {};
  for (const [name, c] of candidates) if (c.started) loaded[name] = await c.started;
  const shippedThreshold = loaded[SHIPPED]?.threshold ?? loaded[ONE]?.threshold ?? loaded[SPLIT]?.threshold;

  const before = uptime();
  console.error(`[threads bench] ${before}`);
  const rows = [];
  for (const optimizer of optimizers) {
    for (const n of sizes) {
      const batches = new Map();
      for (const [name, c] of candidates) {
        await c.setup(optimizer, n);
        let steps = 1;
        while ((await c.run(steps)) * steps < BATCH_MS && steps < 1 << 20) steps *= 2;
        batches.set(name, steps);
      }
      const ms = new Map(candidates.map(([name]) => [name, []]));
      for (let r = 0; r < rounds; r++) {
        for (const [name, c] of [...candidates].sort(() => Math.random() - 0.5)) {
          await c.setup(optimizer, n);
          ms.get(name).push(await c.run(batches.get(name)));
        }
      }
      const ratio = (a, b) => (ms.has(b) ? median(ms.get(a).map((x, i) => x / ms.get(b)[i])) : undefined);
      for (const [name] of candidates) {
        rows.push({
          optimizer,
          n,
          candidate: name,
          median_ms: median(ms.get(name)),
          vs_simd: ratio(name, SIMD),
          vs_c: ratio(name, C),
          vs_openmp: ratio(name, OMP),
          ms: ms.get(name),
        });
      }
      console.error(`[threads bench] ${optimizer} ${fmtSize(n)} done`);
    }
  }
  const after = uptime();
  console.error(`[threads bench] ${after}`);
  for (const [, c] of candidates) c.close();

  const f = (x, d = 2) => (x === undefined ? '–' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(d));
  const table = [
    '| optimizer | params | candidate | ms/step | × simd | × C | × OpenMP C |',
    '|---|---|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.optimizer} | ${fmtSize(r.n)} | ${r.candidate} | ${f(r.median_ms, 4)} | ${f(r.vs_simd)} | ${f(r.vs_c)} | ${f(r.vs_openmp)} |`),
  ].join('\n');
  console.log(
    `${new Date().toISOString()}; \`node benches/threads.mjs ${args.join(' ')}\`; ${rounds} rounds; shipped threshold ${shippedThreshold}; ` +
      `gradient ${f32 ? 'Float32Array' : 'Tensor'}${bias ? ', after a bias of 3 values' : ''}`,
  );
  console.log(
    `loaded: ${Object.entries(loaded)
      .map(([k, v]) => `${k}: ${v.loaded} (${v.threads} threads)`)
      .join('; ')}`,
  );
  console.log(`load before: ${before}\nload after:  ${after}\n`);
  console.log(table);
  if (jsonOut) {
    const info = { date: new Date().toISOString(), node: process.version, cpu: os.cpus()[0]?.model, cores: os.availableParallelism(), before, after, loaded, shippedThreshold };
    fs.writeFileSync(jsonOut, JSON.stringify({ info, rows }, null, 1));
  }
  process.exit(0);
}
