// Adam on the threads build, side by side in one process (not a test; no assertion):
//
//   wasm threads · 1 thread      the threads build's Adam step (gradient in a core tensor) on the
//                                calling thread alone (pool threshold above the size)
//   wasm threads · 2 threads     the same step split with one worker thread (threshold 0; the
//                                calling thread runs chunks too), same instance and buffers
//   simdopt simd · Tensor        the single-threaded SIMD build's step, gradient in a Tensor
//                                (kernel only): what the package does today
//   C -O3 -march=native          benches/native/kernels.c, one thread
//   OpenMP C · 2 threads         the same file with -fopenmp, OMP_NUM_THREADS=2
//
// Every candidate gets the same inputs (p = 0.5, g[i] = ((i mod 17) - 8)·1e-3), a batch of about
// 20 ms, then `--rounds` rounds in shuffled order; ms/step is the median over rounds, each ratio
// the median over rounds of the two candidates' ratio within a round (load from other processes
// largely cancels). `uptime` is printed before and after.
//
//   node benches/threads.mjs [--sizes 1K,64K,128K,256K,512K,1M,16M] [--rounds 11] [--json out.json]
//
// Needs the package (bash scripts/build.sh) and the threads build (bash scripts/build-wasm-threads.sh).
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(HERE, '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const parseSize = (s) => Math.round(parseFloat(s) * ({ K: 1024, M: 1024 * 1024 }[s.slice(-1)] ?? 1));
const SIZES = opt('sizes', '1K,64K,128K,256K,512K,1M,16M').split(',').map(parseSize);
const ROUNDS = +opt('rounds', 11);
const JSON_OUT = opt('json', null);
const BATCH_MS = 20;
const LR = 1e-3;

const uptime = () => execFileSync('uptime').toString().trim();
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const fmtSize = (n) => (n >= 1 << 20 ? `${n / (1 << 20)}M` : n >= 1024 ? `${n / 1024}K` : `${n}`);
const gradient = (n) => {
  const g = new Float32Array(n);
  for (let i = 0; i < n; i++) g[i] = ((i % 17) - 8) * 1e-3;
  return g;
};

// ---- candidates: each has setup(n), run(steps) -> ms/step, free() ---------------------------

async function loadThreads() {
  const dir = path.join(ROOT, 'ts', 'wasm', 'generated', 'threads');
  const glue = await import(pathToFileURL(path.join(dir, 'simdopt_wasm.js')).href);
  const T = await import(pathToFileURL(path.join(ROOT, 'dist', 'wasm', 'threads.js')).href);
  const b64 = (await import(pathToFileURL(path.join(dir, 'threads-bytes.js')).href)).default;
  const module = new WebAssembly.Module(Buffer.from(b64, 'base64'));
  const { memory } = glue.initSync({ module });
  const pool = await T.startPool(module, memory, glue, 1);
  // One Adam optimizer on one variable, its gradient in a core tensor (the kernel-only step).
  let state;
  const split = (threshold) => ({
    setup(n) {
      if (state?.n === n) return;
      if (state) {
        glue.optimizer_dispose(state.opt);
        glue.tensor_dispose(state.v, glue.tensor_generation(state.v));
        glue.tensor_dispose(state.g, glue.tensor_generation(state.g));
      }
      const shape = Uint32Array.of(n);
      const v = glue.tensor_create('w', shape);
      const g = glue.tensor_create('g', shape);
      new Float32Array(memory.buffer, glue.tensor_ptr(v, glue.tensor_generation(v)), n).fill(0.5);
      new Float32Array(memory.buffer, glue.tensor_ptr(g, glue.tensor_generation(g)), n).set(gradient(n));
      state = { n, v, g, opt: glue.optimizer_create('Adam', 'Adam', ['learning_rate'], Float32Array.of(LR)) };
      state.command = [v, glue.tensor_generation(v), 2, g, glue.tensor_generation(g), 0, 0];
      glue.frame_reserve(7, 0, 0);
    },
    run(steps) {
      glue.threads_set_threshold(threshold);
      const command = new Uint32Array(memory.buffer, glue.frame_layout()[0], 7);
      const t = performance.now();
      for (let s = 0; s < steps; s++) {
        command.set(state.command);
        if (glue.optimizer_apply(state.opt, 1) !== 0) glue.take_error();
      }
      return (performance.now() - t) / steps;
    },
  });
  return { one: split(2 ** 31), two: split(0), chunk: glue.threads_chunk(), close: () => pool.terminate() };
}

async function loadPackage() {
  const simdopt = await import(pathToFileURL(path.join(ROOT, 'dist', 'index.js')).href);
  await simdopt.ready({ backend: 'simd' });
  let state;
  return {
    setup(n) {
      if (state?.n === n) return;
      if (state) for (const x of [state.v, state.g, state.opt]) x.dispose();
      state = { n, v: new simdopt.Variable(new Float32Array(n).fill(0.5)), g: new simdopt.Tensor(gradient(n)), opt: new simdopt.Adam({ learningRate: LR }) };
      state.pairs = [[state.g, state.v]];
    },
    run(steps) {
      const t = performance.now();
      for (let s = 0; s < steps; s++) state.opt.applyGradients(state.pairs);
      return (performance.now() - t) / steps;
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
  const request = (n, steps) =>
    new Promise((resolve) => {
      queue.push(resolve);
      proc.stdin.write(`adam ${n} ${steps}\n`);
    });
  let n = 0;
  return {
    command: `gcc ${flags.join(' ')}${env ? ` (${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')})` : ''}`,
    async setup(size) {
      n = size;
      await request(n, 2);
    },
    run: (steps) => request(n, steps),
    close: () => proc.stdin.end(),
  };
}

// ---- the run --------------------------------------------------------------------------------

const CFLAGS = ['-O3', '-march=native', '-ffp-contract=off', '-fno-math-errno'];
const threads = await loadThreads();
const pkg = await loadPackage();
const cOne = nativeCandidate('native', CFLAGS);
const cOmp = nativeCandidate('openmp', [...CFLAGS, '-fopenmp'], { OMP_NUM_THREADS: '2' });
const CANDIDATES = [
  ['wasm threads · 1 thread', threads.one],
  ['wasm threads · 2 threads', threads.two],
  ['simdopt simd · Tensor (kernel only)', pkg],
  ['C -O3 -march=native', cOne],
  ['OpenMP C · 2 threads', cOmp],
];

const before = uptime();
console.error(`[threads bench] ${before}`);
const rows = [];
for (const n of SIZES) {
  const batches = new Map();
  for (const [name, c] of CANDIDATES) {
    await c.setup(n);
    let steps = 1;
    while ((await c.run(steps)) * steps < BATCH_MS && steps < 1 << 20) steps *= 2;
    batches.set(name, steps);
  }
  const ms = new Map(CANDIDATES.map(([name]) => [name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    const order = [...CANDIDATES].sort(() => Math.random() - 0.5);
    for (const [name, c] of order) {
      await c.setup(n);
      ms.get(name).push(await c.run(batches.get(name)));
    }
  }
  const ratio = (a, b) => median(ms.get(a).map((x, i) => x / ms.get(b)[i]));
  for (const [name] of CANDIDATES) {
    rows.push({
      n,
      candidate: name,
      median_ms: median(ms.get(name)),
      vs_one_thread: ratio(name, 'wasm threads · 1 thread'),
      vs_c: ratio(name, 'C -O3 -march=native'),
      vs_openmp: ratio(name, 'OpenMP C · 2 threads'),
      ms: ms.get(name),
    });
  }
  console.error(`[threads bench] ${fmtSize(n)} done`);
}
const after = uptime();
console.error(`[threads bench] ${after}`);
await threads.close();
cOne.close();
cOmp.close();

const f = (x, d = 2) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(d));
const table = [
  '| params | candidate | ms/step | × 1 thread | × C | × OpenMP C |',
  '|---|---|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${fmtSize(r.n)} | ${r.candidate} | ${f(r.median_ms, 4)} | ${f(r.vs_one_thread)} | ${f(r.vs_c)} | ${f(r.vs_openmp)} |`),
].join('\n');
console.log(`${new Date().toISOString()}; \`node benches/threads.mjs ${args.join(' ')}\`; chunk ${threads.chunk} elements; ${ROUNDS} rounds`);
console.log(`load before: ${before}\nload after:  ${after}\n`);
console.log(table);
if (JSON_OUT) {
  const info = { date: new Date().toISOString(), node: process.version, cpu: os.cpus()[0]?.model, cores: os.availableParallelism(), before, after, c: cOne.command, openmp: cOmp.command };
  fs.writeFileSync(JSON_OUT, JSON.stringify({ info, rows }, null, 1));
}
process.exit(0);
