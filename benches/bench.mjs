#!/usr/bin/env node
// simdopt's side-by-side speed benchmark (`npm run bench`; not part of the test suite).
//
// One process, one run: every engine lives in its own worker thread (its own JS heap and its own
// WebAssembly instance, so the SIMD and scalar builds of simdopt run side by side), the native C
// reference is a child process that answers timing requests, and the driver interleaves the
// candidates round by round in shuffled order, so that load from other processes hits all of
// them alike. Figures are medians over rounds; ratios are ratios of those medians.
//
//   node --expose-gc benches/bench.mjs [--json out.json] [--quick] [--rounds N]
//        [--sizes 64K,1M,16M] [--optimizers adam,sgd_momentum,rmsprop] [--no-extras] [--no-table]
//        [--dist DIR]   (a built package other than ./dist, e.g. a copy while dist/ is rebuilt)
//        [--engines simdopt-simd,native,...]  (only these engines: simdopt-simd, simdopt-scalar,
//                          js, tfjs-cpu, tfjs-wasm, native, native128)
//        [--baseline DIR]  (another built package raced as `simdopt simd@baseline`, e.g. the
//                          previous commit's dist: before/after ratios from one run)
//        [--keras3]        (only the Keras 3 extra: simdopt/keras3's Adam, AdamW, Lion, Adam
//                          with use_ema and with accumulation against TF 2.4 Adam; benches/keras3.mjs)
//
// Candidates per optimizer and size:
//   simdopt simd/scalar · Tensor   gradient already in WASM memory (kernel-only path)
//   simdopt simd/scalar · F32      Float32Array gradient (copied into WASM memory each step)
//   plain JS                       the same update as a JavaScript loop over Float32Arrays
//   tfjs cpu / tfjs wasm           @tensorflow/tfjs-core 4.x optimizers on those backends
//   C native / C 128-bit           the same update in C, gcc -O3 -march=native (and the same
//                                  without AVX: 128-bit vectors, the width of wasm simd128)
//   memory ceiling                 C, -march=native: the same bytes moved with no arithmetic
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createHash } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { keras3Scenario, keras3Targets, renderKeras3 } from './keras3.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const K = 1024;
const M = 1024 * 1024;

/** Bytes moved per parameter per step (reads + writes of f32 buffers). */
const OPTIMIZERS = {
  adam: { label: 'Adam', bytes: 28, traffic: 'read p,g,m,v; write p,m,v', native: 'adam', ceiling: 'stream28' },
  sgd_momentum: { label: 'SGD(momentum=0.9)', bytes: 20, traffic: 'read p,g,a; write p,a', native: 'sgd_momentum', ceiling: 'stream20' },
  rmsprop: { label: 'RMSprop', bytes: 20, traffic: 'read p,g,ms; write p,ms', native: 'rmsprop', ceiling: 'stream20' },
};

const gradAt = (i) => ((i % 17) - 8) * 1e-3;

/** The built package to measure (`--dist`, default dist/ of this repository). */
let DIST = path.join(ROOT, 'dist');

// ============================================================================================
// Workers: one engine each.
// ============================================================================================

async function makeEngine(name) {
  if (name.startsWith('simdopt-')) return simdoptEngine(name.slice('simdopt-'.length).replace(/@baseline$/, ''));
  if (name === 'js') return jsEngine();
  if (name.startsWith('tfjs-')) return tfjsEngine(name.slice('tfjs-'.length));
  throw new Error(`unknown engine ${name}`);
}

function timed(stepFn, steps) {
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) stepFn();
  return (performance.now() - t0) / steps;
}

function gradient(n) {
  const g = new Float32Array(n);
  for (let i = 0; i < n; i++) g[i] = gradAt(i);
  return g;
}

async function simdoptEngine(backend) {
  const so = await import(pathToFileURL(path.join(DIST, 'index.js')).href);
  const got = await so.ready({ backend });
  let state = null;
  const disposables = [];
  const track = (x) => (disposables.push(x), x);
  const makeOpt = (opt, extra = {}) => {
    switch (opt) {
      case 'adam':
        return track(new so.Adam({ learningRate: 1e-3, ...extra }));
      case 'sgd_momentum':
        return track(new so.SGD({ learningRate: 0.01, momentum: 0.9, ...extra }));
      case 'rmsprop':
        if (!so.RMSprop) return null;
        return track(new so.RMSprop({ learningRate: 1e-3, ...extra }));
      case 'sgd':
        return track(new so.SGD({ learningRate: 0.01, ...extra }));
      default:
        throw new Error(`unknown optimizer ${opt}`);
    }
  };
  const denseVar = (name, n) => track(new so.Variable(0.5, { shape: [n], name }));
  const denseGrad = (n) => {
    const f32 = gradient(n);
    const tensor = track(new so.Tensor(0, { shape: [n], name: 'grad' }));
    tensor.assign(f32);
    return { f32, tensor };
  };

  const scenarios = {
    // One variable of n parameters.
    dense({ opt, n }) {
      const o = makeOpt(opt);
      if (!o) return null;
      const v = denseVar('w', n);
      const g = denseGrad(n);
      const tensorPairs = [[g.tensor, v]];
      const f32Pairs = [[g.f32, v]];
      return { tensor: () => o.applyGradients(tensorPairs), f32: () => o.applyGradients(f32Pairs) };
    },
    // `vars` variables of `size` parameters against one variable of vars * size.
    manyvars({ opt, vars, size }) {
      const many = makeOpt(opt);
      const one = makeOpt(opt);
      if (!many || !one) return null;
      const g = denseGrad(size);
      const manyTensor = [];
      const manyF32 = [];
      for (let i = 0; i < vars; i++) {
        const v = denseVar(`w${i}`, size);
        manyTensor.push([g.tensor, v]);
        manyF32.push([g.f32, v]);
      }
      const w = denseVar('w', vars * size);
      const gw = denseGrad(vars * size);
      const oneTensor = [[gw.tensor, w]];
      const oneF32 = [[gw.f32, w]];
      return {
        'many·Tensor': () => many.applyGradients(manyTensor),
        'one·Tensor': () => one.applyGradients(oneTensor),
        'many·F32': () => many.applyGradients(manyF32),
        'one·F32': () => one.applyGradients(oneF32),
      };
    },
    // A [rows, width] variable: sparse gradients touching a fraction of the rows, and dense.
    sparse({ opt, rows, width, fractions }) {
      const o = makeOpt(opt);
      if (!o) return null;
      const v = track(new so.Variable(0.5, { shape: [rows, width], name: 'emb' }));
      const fns = {};
      for (const f of fractions) {
        const touched = Math.max(1, Math.round(rows * f));
        // Distinct rows in scattered order: a stride coprime with `rows` visits each row once.
        const indices = new Int32Array(touched);
        for (let k = 0; k < touched; k++) indices[k] = (k * 7919) % rows;
        const slices = new so.IndexedSlices(gradient(touched * width), indices, [rows, width]);
        const pairs = [[slices, v]];
        fns[`${touched} rows (${+(f * 100).toFixed(2)}%)`] = () => o.applyGradients(pairs);
      }
      const g = denseGrad(rows * width);
      const densePairs = [[g.tensor, v]];
      fns['dense·Tensor'] = () => o.applyGradients(densePairs);
      return fns;
    },
    // `parts` variables of n / parts parameters without clipping, with clipnorm and with
    // global_clipnorm (Tensor gradients: the kernel-only path, where the overhead shows most).
    clip({ opt, n, parts }) {
      const size = n / parts;
      const g = denseGrad(size);
      const vars = Array.from({ length: parts }, (_, i) => denseVar(`w${i}`, size));
      const pairs = vars.map((v) => [g.tensor, v]);
      const fns = {};
      for (const [label, extra] of [
        ['no clipping', {}],
        ['clipnorm=1', { clipnorm: 1 }],
        ['global_clipnorm=1', { globalClipnorm: 1 }],
      ]) {
        const o = makeOpt(opt, extra);
        if (!o) return null;
        fns[label] = () => o.applyGradients(pairs);
      }
      return fns;
    },
    // simdopt/keras3's classes against TF 2.4 Adam (benches/keras3.mjs).
    keras3({ n }) {
      return keras3Scenario({ so, dist: DIST, track, denseVar, denseGrad, n });
    },
  };

  return {
    info: () => ({ backend: got, flavor: so.backend?.() }),
    async setup(scenario) {
      this.free();
      state = await scenarios[scenario.kind](scenario);
      return state ? Object.keys(state) : null;
    },
    run({ variant, steps }) {
      return timed(state[variant], steps);
    },
    free() {
      state = null;
      for (const d of disposables.splice(0)) d.dispose();
    },
    /** JS heap over `steps` steps of a variant: allocation (growth with no GC in between) and
     * retention (after a full GC). */
    /** JS allocations of a variant's steps: two runs of `base` and `base + steps` steps, each
     * under V8's sampling heap profiler (objects already collected included); their difference
     * is what `steps` steps allocate, without the fixed costs of the measurement itself. */
    async heap({ variant, steps, base, warmup }) {
      const fn = state[variant];
      for (let i = 0; i < warmup; i++) fn();
      const { Session } = await import('node:inspector/promises');
      const dist = pathToFileURL(DIST).href;
      const measure = async (k) => {
        const session = new Session();
        session.connect();
        globalThis.gc?.();
        globalThis.gc?.();
        const before = process.memoryUsage().heapUsed;
        await session.post('HeapProfiler.startSampling', { samplingInterval: 64, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
        for (let i = 0; i < k; i++) fn();
        const { profile } = await session.post('HeapProfiler.stopSampling');
        session.disconnect();
        globalThis.gc?.();
        globalThis.gc?.();
        const after = process.memoryUsage().heapUsed;
        let simdopt = 0;
        let total = 0;
        const sites = new Map();
        (function walk(node, under, stack) {
          const f = node.callFrame;
          const here = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}:${f.columnNumber + 1}`;
          const mine = under || f.url.startsWith(dist);
          total += node.selfSize;
          if (mine && node.selfSize) {
            simdopt += node.selfSize;
            const key = [...stack.slice(-4), here].join(' < ');
            sites.set(key, (sites.get(key) ?? 0) + node.selfSize);
          }
          for (const c of node.children) walk(c, mine, [...stack, here]);
        })(profile.head, false, []);
        return { before, after, simdopt, total, sites };
      };
      const wasmBefore = so.memoryBytes();
      const short = await measure(base);
      const long = await measure(base + steps);
      const wasmAfter = so.memoryBytes();
      return {
        steps,
        wasmBefore,
        wasmAfter,
        before: long.before,
        after: long.after,
        allocatedPerStep: (long.simdopt - short.simdopt) / steps,
        allAllocatedPerStep: (long.total - short.total) / steps,
        retainedPerStep: (long.after - long.before - (short.after - short.before)) / steps,
        // Where simdopt code allocated in the longer run (bytes per step of that run).
        sites: [...long.sites].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([k, b]) => [k, b / (base + steps)]),
        exposedGc: typeof globalThis.gc === 'function',
      };
    },
    /** WASM memory against what the parameters, gradients and slots need. */
    memory({ n }) {
      const start = so.memoryBytes();
      const o = makeOpt('adam');
      const v = denseVar('w', n);
      const g = denseGrad(n);
      o.applyGradients([[g.tensor, v]]);
      const afterTensorStep = so.memoryBytes();
      o.applyGradients([[g.f32, v]]);
      const afterF32Step = so.memoryBytes();
      for (let i = 0; i < 100; i++) o.applyGradients([[g.f32, v]]);
      const after100 = so.memoryBytes();
      const r = { n, start, afterTensorStep, afterF32Step, after100, needTensor: 4 * n * 4, needF32: 5 * n * 4 };
      this.free();
      return r;
    },
  };
}

function jsEngine() {
  let step = null;
  const steps = {
    adam(n) {
      const p = new Float32Array(n).fill(0.5), g = gradient(n), m = new Float32Array(n), v = new Float32Array(n);
      const lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-7;
      let t = 0;
      return () => {
        t++;
        const alpha = (lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t);
        for (let i = 0; i < n; i++) {
          const gi = g[i];
          const mi = m[i] + (gi - m[i]) * (1 - b1);
          const vi = v[i] + (gi * gi - v[i]) * (1 - b2);
          m[i] = mi;
          v[i] = vi;
          p[i] -= (mi * alpha) / (Math.sqrt(vi) + eps);
        }
      };
    },
    sgd_momentum(n) {
      const p = new Float32Array(n).fill(0.5), g = gradient(n), a = new Float32Array(n);
      const lr = 0.01, mu = 0.9;
      return () => {
        for (let i = 0; i < n; i++) {
          const ai = a[i] * mu - g[i] * lr;
          a[i] = ai;
          p[i] += ai;
        }
      };
    },
    rmsprop(n) {
      const p = new Float32Array(n).fill(0.5), g = gradient(n), r = new Float32Array(n);
      const lr = 1e-3, rho = 0.9, eps = 1e-7;
      return () => {
        for (let i = 0; i < n; i++) {
          const gi = g[i];
          const ri = rho * r[i] + (1 - rho) * (gi * gi);
          r[i] = ri;
          p[i] -= (lr * gi) / (Math.sqrt(ri) + eps);
        }
      };
    },
  };
  return {
    info: () => ({}),
    setup({ kind, opt, n }) {
      step = kind === 'dense' && steps[opt] ? steps[opt](n) : null;
      return step ? ['step'] : null;
    },
    run: ({ steps: k }) => timed(step, k),
    free() {
      step = null;
    },
  };
}

async function tfjsEngine(backend) {
  const tfm = await import('@tensorflow/tfjs-core');
  const tf = tfm.default ?? tfm;
  if (backend === 'cpu') {
    await import('@tensorflow/tfjs-backend-cpu');
  } else {
    const wm = await import('@tensorflow/tfjs-backend-wasm');
    const w = wm.default ?? wm;
    // The .wasm files ship inside the npm package: a file path, no download.
    w.setWasmPaths(path.join(ROOT, 'node_modules/@tensorflow/tfjs-backend-wasm/dist') + path.sep);
  }
  // Production mode, as a deployment would run (no debug checks, no console banner).
  tf.enableProdMode();
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend ${backend} failed to initialise`);
  await tf.ready();
  let state = null;
  let serial = 0;
  return {
    info: () => ({
      backend: tf.getBackend(),
      version: tf.version_core,
      simd: backend === 'wasm' ? tf.env().getBool('WASM_HAS_SIMD_SUPPORT') : undefined,
      threads: backend === 'wasm' ? tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') : undefined,
      prodMode: tf.env().getBool('PROD'),
    }),
    setup({ kind, opt, n }) {
      this.free();
      if (kind !== 'dense') return null;
      const name = `w${++serial}`;
      const v = tf.variable(tf.fill([n], 0.5), true, name);
      const g = tf.tensor1d(gradient(n));
      const o = { adam: () => tf.train.adam(1e-3, 0.9, 0.999, 1e-7), sgd_momentum: () => tf.train.momentum(0.01, 0.9), rmsprop: () => tf.train.rmsprop(1e-3, 0.9, 0, 1e-7) }[opt]?.();
      if (!o) return null;
      const grads = { [name]: g };
      state = { v, g, o, step: () => o.applyGradients(grads) };
      return ['step'];
    },
    run({ steps }) {
      const ms = timed(state.step, steps);
      // Both backends compute synchronously; reading the values makes sure of it.
      state.v.dataSync();
      return ms;
    },
    free() {
      if (!state) return;
      state.o.dispose();
      state.v.dispose();
      state.g.dispose();
      state = null;
    },
  };
}

// ============================================================================================
// Driver.
// ============================================================================================

function parseArgs(argv) {
  const a = { json: null, quick: false, rounds: null, sizes: null, optimizers: null, extras: true, main: true, dist: null, baseline: null, keras3Only: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--json') a.json = argv[++i];
    else if (k === '--quick') a.quick = true;
    else if (k === '--rounds') a.rounds = +argv[++i];
    else if (k === '--sizes') a.sizes = argv[++i].split(',').map(parseSize);
    else if (k === '--optimizers') a.optimizers = argv[++i].split(',');
    else if (k === '--no-extras') a.extras = false;
    else if (k === '--engines') a.engines = argv[++i].split(',');
    else if (k === '--no-table') a.main = false;
    else if (k === '--dist') a.dist = path.resolve(argv[++i]);
    else if (k === '--baseline') a.baseline = path.resolve(argv[++i]);
    else if (k === '--keras3') Object.assign(a, { keras3Only: true, main: false });
    else if (k === '--help' || k === '-h') {
      console.log(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 28).join('\n'));
      process.exit(0);
    } else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

function parseSize(s) {
  const m = /^(\d+)([KM]?)$/i.exec(s.trim());
  if (!m) throw new Error(`bad size ${s}`);
  return +m[1] * { '': 1, K, M }[m[2].toUpperCase()];
}

const fmtSize = (n) => (n % M === 0 ? `${n / M}M` : n % K === 0 ? `${n / K}K` : `${n}`);

class WorkerEngine {
  constructor(name, dist = DIST) {
    this.name = name;
    this.pending = new Map();
    this.nextId = 1;
    this.worker = new Worker(fileURLToPath(import.meta.url), { workerData: { engine: name, dist }, resourceLimits: { maxOldGenerationSizeMb: 8192 } });
    this.ready = new Promise((resolve, reject) => {
      this.pending.set(0, { resolve, reject });
      this.worker.on('error', (e) => {
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
        this.dead = e;
      });
    });
    this.worker.on('message', ({ id, result, error }) => {
      const p = this.pending.get(id);
      this.pending.delete(id);
      if (error) p.reject(new Error(`${name}: ${error}`));
      else p.resolve(result);
    });
  }
  call(cmd, arg) {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, cmd, arg });
    });
  }
  close() {
    return this.worker.terminate();
  }
}

/** The C reference: a `serve` child process per build, answering "<kernel> <n> <steps>". */
class NativeEngine {
  constructor(name, binary) {
    this.name = name;
    this.proc = spawn(binary, ['serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.lines = createInterface({ input: this.proc.stdout });
    this.queue = [];
    this.lines.on('line', (l) => this.queue.shift()?.(+l));
    this.ready = Promise.resolve('ready');
    this.kernel = null;
  }
  request(kernel, n, steps) {
    return new Promise((resolve) => {
      this.queue.push(resolve);
      this.proc.stdin.write(`${kernel} ${n} ${steps}\n`);
    });
  }
  async call(cmd, arg) {
    if (cmd === 'info') return {};
    if (cmd === 'free') return null;
    if (cmd === 'setup') {
      if (arg.kind !== 'dense') return null;
      this.n = arg.n;
      this.kernels = arg.kernels;
      await this.request(this.kernels[0], this.n, 2); // allocates and touches the buffers
      return this.kernels;
    }
    if (cmd === 'run') return this.request(arg.variant, this.n, arg.steps);
    throw new Error(`native: ${cmd}`);
  }
  close() {
    this.proc.stdin.end();
  }
}

function compileNative() {
  const src = path.join(HERE, 'native/kernels.c');
  const builds = [
    { name: 'native', flags: ['-O3', '-march=native', '-ffp-contract=off', '-fno-math-errno'] },
    { name: 'native128', flags: ['-O3', '-march=native', '-mno-avx', '-mno-avx2', '-mno-avx512f', '-ffp-contract=off', '-fno-math-errno'] },
  ];
  const out = {};
  for (const b of builds) {
    const key = createHash('sha256').update(fs.readFileSync(src)).update(b.flags.join(' ')).digest('hex').slice(0, 12);
    const bin = path.join(os.tmpdir(), `simdopt-bench-${b.name}-${key}`);
    try {
      if (!fs.existsSync(bin)) execFileSync('gcc', [...b.flags, '-o', bin, src, '-lm'], { stdio: 'inherit' });
      out[b.name] = { bin, command: `gcc ${b.flags.join(' ')}` };
    } catch (e) {
      console.error(`[bench] gcc failed (${b.name}): ${e.message}; the native reference is skipped`);
    }
  }
  return out;
}

function lcg(seed) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function shuffle(xs, rnd) {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** Median over rounds of a's time / b's time in the same round. */
function pairedRatio(a, b) {
  return quantile(a.samples.map((x, i) => x / b.samples[i]), 0.5);
}

function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  const p = (s.length - 1) * q;
  const lo = Math.floor(p);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (p - lo);
}

/**
 * Times candidates side by side. `candidates`: [{ label, engine, variant }], already set up.
 * Each gets a batch size aiming at `targetMs` per batch, then `rounds` rounds in shuffled order.
 */
async function race(candidates, { rounds, targetMs, maxSteps, rnd }) {
  for (const c of candidates) {
    await c.engine.call('run', { variant: c.variant, steps: 1 }); // warm-up (JIT, first touch)
    let ms = await c.engine.call('run', { variant: c.variant, steps: 1 });
    let steps = Math.max(1, Math.min(maxSteps, Math.ceil(targetMs / Math.max(ms, 1e-4))));
    if (steps > 1) {
      ms = await c.engine.call('run', { variant: c.variant, steps });
      steps = Math.max(1, Math.min(maxSteps, Math.ceil(targetMs / Math.max(ms, 1e-4))));
    }
    c.steps = steps;
    c.samples = [];
  }
  for (let r = 0; r < rounds; r++) {
    for (const c of shuffle(candidates, rnd)) c.samples.push(await c.engine.call('run', { variant: c.variant, steps: c.steps }));
  }
  for (const c of candidates) {
    c.median = quantile(c.samples, 0.5);
    c.iqr = (quantile(c.samples, 0.75) - quantile(c.samples, 0.25)) / c.median;
  }
  return candidates;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const quick = args.quick;
  const rounds = args.rounds ?? (quick ? 5 : 15);
  const targetMs = quick ? 8 : 20;
  const sizes = args.sizes ?? (quick ? [64 * K, M] : [64 * K, M, 16 * M]);
  const optimizers = args.main ? (args.optimizers ?? Object.keys(OPTIMIZERS)) : [];
  const rnd = lcg(20240611);
  const log = (...a) => console.error('[bench]', ...a);

  if (args.dist) DIST = args.dist;
  if (!fs.existsSync(path.join(DIST, 'index.js'))) throw new Error(`${DIST}/index.js is missing: run \`bash scripts/build.sh\` (or \`npm run bench\`)`);
  if (typeof globalThis.gc !== 'function') log('note: run with --expose-gc for the heap figures (npm run bench does)');

  const natives = compileNative();
  const engineNames = ['simdopt-simd', 'simdopt-scalar', 'js', 'tfjs-cpu', 'tfjs-wasm'];
  const engines = {};
  const only = args.engines ?? (args.keras3Only ? ['simdopt-simd'] : null);
  const wanted = (name) => !only || only.includes(name.replace(/@baseline$/, ''));
  for (const name of engineNames) if (wanted(name)) engines[name] = new WorkerEngine(name);
  if (args.baseline) engines['simdopt-simd@baseline'] = new WorkerEngine('simdopt-simd@baseline', args.baseline);
  for (const [name, b] of Object.entries(natives)) if (wanted(name)) engines[name] = new NativeEngine(name, b.bin);
  const info = {};
  for (const [name, e] of Object.entries(engines)) {
    try {
      await e.ready;
      info[name] = await e.call('info');
    } catch (err) {
      log(`engine ${name} unavailable: ${err.message.split('\n')[0]}`);
      delete engines[name];
    }
  }

  const machine = {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.arch()}`,
    gcc: natives.native ? execFileSync('gcc', ['-dumpfullversion']).toString().trim() : null,
  };
  log(`machine: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}; ${rounds} rounds per figure`);

  // ---- the main table ----------------------------------------------------------------------
  const rows = [];
  for (const opt of optimizers) {
    const spec = OPTIMIZERS[opt];
    if (!spec) throw new Error(`unknown optimizer ${opt}`);
    for (const n of sizes) {
      log(`${spec.label} @ ${fmtSize(n)}`);
      const candidates = [];
      const add = (label, engine, variants, pick) => {
        if (!variants) return;
        for (const [suffix, variant] of pick) if (variants.includes(variant)) candidates.push({ label: label + suffix, engineName: engine, engine: engines[engine], variant });
      };
      for (const name of Object.keys(engines)) {
        const e = engines[name];
        let variants;
        try {
          variants = await e.call('setup', name.startsWith('native') ? { kind: 'dense', opt, n, kernels: name === 'native' ? [spec.native, spec.ceiling] : [spec.native] } : { kind: 'dense', opt, n });
        } catch (err) {
          log(`  ${name}: setup failed: ${err.message.split('\n')[0]}`);
          continue;
        }
        if (!variants) {
          log(`  ${name}: ${spec.label} not available`);
          continue;
        }
        if (name.startsWith('simdopt-')) {
          const b = name.slice(8);
          add(`simdopt ${b}`, name, variants, [[' · Tensor (kernel only)', 'tensor'], [' · Float32Array (copy incl.)', 'f32']]);
        } else if (name === 'native') {
          add('C -O3 -march=native', name, variants, [['', spec.native]]);
          add(`memory ceiling (C, ${spec.bytes} B/param, no math)`, name, variants, [['', spec.ceiling]]);
        } else if (name === 'native128') {
          add('C -O3, 128-bit vectors (no AVX)', name, variants, [['', spec.native]]);
        } else if (name === 'js') {
          add('plain JS loop (Float32Array)', name, variants, [['', 'step']]);
        } else {
          add(`tfjs ${name.slice(5)} ${info[name]?.version ?? ''}`.trimEnd(), name, variants, [['', 'step']]);
        }
      }
      await race(candidates, { rounds, targetMs, maxSteps: 20000, rnd });
      for (const c of candidates) {
        rows.push({ optimizer: opt, label: spec.label, n, candidate: c.label, engine: c.engineName, variant: c.variant, median_ms: c.median, iqr: c.iqr, steps_per_sample: c.steps, samples: c.samples, gbps: (spec.bytes * n) / (c.median * 1e6), bytes_per_param: spec.bytes });
      }
      for (const name of Object.keys(engines)) await engines[name].call('free').catch(() => {});
    }
  }
  // Ratios against the native reference and against simdopt (SIMD, both paths): the median over
  // rounds of the ratio within each round (the two were timed close together, so load from
  // other processes mostly cancels), rather than a ratio of medians.
  const paired = (a, b) => (b ? pairedRatio(a, b) : null);
  for (const r of rows) {
    const same = rows.filter((x) => x.optimizer === r.optimizer && x.n === r.n);
    const find = (engine, variant) => same.find((x) => x.engine === engine && (!variant || x.variant === variant));
    const nat = find('native', OPTIMIZERS[r.optimizer].native);
    const kern = find('simdopt-simd', 'tensor');
    const copy = find('simdopt-simd', 'f32');
    r.vs_native = paired(r, nat);
    r.vs_simdopt_kernel = paired(r, kern);
    r.vs_simdopt_f32 = paired(r, copy);
  }

  // ---- extras ------------------------------------------------------------------------------
  const extras = {};
  const so = engines['simdopt-simd'];
  const raceScenario = async (scenario, eng = so) => {
    const variants = await eng.call('setup', scenario);
    if (!variants) return null;
    const cs = await race(
      variants.map((v) => ({ label: v, engine: eng, variant: v })),
      { rounds, targetMs, maxSteps: 20000, rnd },
    );
    await eng.call('free');
    return Object.fromEntries(cs.map((c) => [c.label, { median_ms: c.median, iqr: c.iqr, samples: c.samples }]));
  };
  if ((args.extras || args.keras3Only) && so) {
    // The Keras 3 classes at 1M and 16M (--sizes picks others, --quick 1M only).
    const keras3Sizes = args.sizes ?? (quick ? [M] : [M, 16 * M]);
    log(`Keras 3 classes at ${keras3Sizes.map(fmtSize).join(', ')}`);
    extras.keras3 = {};
    for (const n of keras3Sizes) {
      const r = await raceScenario({ kind: 'keras3', n });
      if (r) extras.keras3[fmtSize(n)] = r;
    }
  }
  if (args.extras && so && !args.keras3Only) {
    log('1000 variables x 256 vs one of 256K');
    extras.manyVars = {};
    for (const opt of ['adam', 'sgd_momentum']) {
      const r = await raceScenario({ kind: 'manyvars', opt, vars: 1000, size: 256 });
      if (r) extras.manyVars[opt] = r;
    }
    log('sparse steps vs rows touched');
    extras.sparse = {};
    for (const opt of ['adam', 'sgd_momentum']) {
      const r = await raceScenario({ kind: 'sparse', opt, rows: 16384, width: 64, fractions: [0.001, 0.01, 0.1, 1] });
      if (r) extras.sparse[opt] = r;
    }
    log('clipping overhead');
    extras.clipping = {};
    for (const opt of ['adam', 'sgd_momentum']) {
      const r = await raceScenario({ kind: 'clip', opt, n: M, parts: 8 });
      if (r) extras.clipping[opt] = r;
    }
    log('JS heap over 10 000 steps');
    const heapSteps = quick ? 2000 : 10000;
    extras.heap = {};
    for (const [label, scenario, variant] of [
      ['Adam 1M · Float32Array', { kind: 'dense', opt: 'adam', n: M }, 'f32'],
      ['Adam 1M · Tensor', { kind: 'dense', opt: 'adam', n: M }, 'tensor'],
      ['Adam 1000x256 · Float32Array', { kind: 'manyvars', opt: 'adam', vars: 1000, size: 256 }, 'many·F32'],
      ['Adam 1000x256 · Tensor', { kind: 'manyvars', opt: 'adam', vars: 1000, size: 256 }, 'many·Tensor'],
    ]) {
      await so.call('setup', scenario);
      extras.heap[label] = await so.call('heap', { variant, steps: heapSteps, base: heapSteps / 5, warmup: heapSteps / 5 });
      await so.call('free');
    }
    log('WASM memory vs params + slots');
    // A fresh instance, so that earlier scenarios do not inflate the memory.
    const fresh = new WorkerEngine('simdopt-simd');
    await fresh.ready;
    extras.memory = [];
    for (const n of [M, 16 * M]) extras.memory.push(await fresh.call('memory', { n }));
    await fresh.close();
  }

  for (const e of Object.values(engines)) await e.close();

  const report = {
    date: new Date().toISOString(),
    command: `node ${process.execArgv.join(' ')} ${path.relative(process.cwd(), fileURLToPath(import.meta.url))} ${process.argv.slice(2).join(' ')}`.replace(/\s+/g, ' ').trim(),
    machine,
    engines: info,
    native: Object.fromEntries(Object.entries(natives).map(([k, v]) => [k, v.command])),
    rounds,
    rows,
    extras,
  };
  report.targets = checkTargets(report);
  console.log(render(report));
  if (args.json) {
    fs.writeFileSync(args.json, JSON.stringify(report, null, 2) + '\n');
    log(`wrote ${args.json}`);
  }
}

function checkTargets({ rows, extras }) {
  const get = (opt, n, engine, variant) => rows.find((r) => r.optimizer === opt && r.n === n && r.engine === engine && (!variant || r.variant === variant));
  const t = [];
  const add = (what, value, op, limit) => {
    if (value == null || !Number.isFinite(value)) return;
    t.push({ what, value, limit, op, met: op === '<=' ? value <= limit : value >= limit });
  };
  for (const opt of Object.keys(OPTIMIZERS)) {
    const L = OPTIMIZERS[opt].label;
    const k1 = get(opt, M, 'simdopt-simd', 'tensor');
    const f1 = get(opt, M, 'simdopt-simd', 'f32');
    const k16 = get(opt, 16 * M, 'simdopt-simd', 'tensor');
    add(`${L} 1M: kernel / native C`, k1?.vs_native, '<=', 1.3);
    add(`${L} 16M: kernel / native C`, k16?.vs_native, '<=', 1.05);
    add(`${L} 1M: Float32Array path / kernel-only`, f1?.vs_simdopt_kernel, '<=', 1.5);
    if (opt === 'adam') {
      // tfjs' gradients are tensors in its backend's memory: the like-for-like simdopt figure is
      // the Tensor path; the Float32Array path (a copy per step) is checked too.
      for (const [peer, limit] of [['tfjs-wasm', 10], ['tfjs-cpu', 100]]) {
        add(`${L} 1M: ${peer} / simdopt (Tensor path)`, get(opt, M, peer)?.vs_simdopt_kernel, '>=', limit);
        add(`${L} 1M: ${peer} / simdopt (Float32Array path)`, get(opt, M, peer)?.vs_simdopt_f32, '>=', limit);
      }
    }
  }
  for (const [opt, r] of Object.entries(extras.manyVars ?? {})) {
    add(`${OPTIMIZERS[opt].label}: 1000x256 / one 256K (Tensor)`, pairedRatio(r['many·Tensor'], r['one·Tensor']), '<=', 2);
    add(`${OPTIMIZERS[opt].label}: 1000x256 / one 256K (Float32Array)`, pairedRatio(r['many·F32'], r['one·F32']), '<=', 2);
  }
  keras3Targets(extras.keras3 ?? {}, add, pairedRatio);
  for (const [label, h] of Object.entries(extras.heap ?? {})) {
    // The whole thread's difference is the robust figure (a one-off allocation, e.g. by the JIT,
    // may be sampled under simdopt's frames in one run and elsewhere in the other); one object
    // per step would be >= 16 B/step.
    add(`JS bytes allocated per step (whole thread), ${label}`, h.allAllocatedPerStep, '<=', 4);
    add(`JS heap growth over ${h.steps} steps after GC (KiB; noise ~ ±500), ${label}`, (h.after - h.before) / 1024, '<=', 1024);
  }
  return t;
}

function render({ rows, extras, machine, targets, rounds, date }) {
  const out = [];
  const f = (x, d = 3) => (x == null ? '–' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(d));
  const ms = (x) => (x >= 100 ? x.toFixed(1) : x >= 1 ? x.toFixed(3) : x.toFixed(4));
  out.push(`simdopt benchmark — ${date.slice(0, 10)} — ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, ${rounds} rounds (medians)`);
  if (rows.length) {
    out.push('');
    out.push('| optimizer | params | candidate | ms/step | ±IQR | GB/s | × native C | × simdopt Tensor | × simdopt F32 |');
    out.push('|---|---|---|---:|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      out.push(`| ${r.label} | ${fmtSize(r.n)} | ${r.candidate} | ${ms(r.median_ms)} | ${(r.iqr * 50).toFixed(0)}% | ${f(r.gbps, 1)} | ${f(r.vs_native, 2)} | ${f(r.vs_simdopt_kernel, 2)} | ${f(r.vs_simdopt_f32, 2)} |`);
    }
    out.push('');
    out.push('GB/s counts the f32 traffic of the update (Adam 28 B/param: read p,g,m,v, write p,m,v; SGD momentum and RMSprop 20 B; the F32 path also copies the gradient, not counted). "× X" = median over rounds of this ms/step ÷ X ms/step in the same round.');
  }
  if (extras.keras3) renderKeras3(extras.keras3, out, { ms, f, pairedRatio });
  if (extras.manyVars) {
    out.push('');
    out.push('Many small variables vs one (simdopt simd, ms/step):');
    out.push('| optimizer | 1000×256 Tensor | one 256K Tensor | ratio | 1000×256 F32 | one 256K F32 | ratio |');
    out.push('|---|---:|---:|---:|---:|---:|---:|');
    for (const [opt, r] of Object.entries(extras.manyVars)) {
      const [a, b, c, d] = ['many·Tensor', 'one·Tensor', 'many·F32', 'one·F32'].map((k) => r[k]);
      out.push(`| ${OPTIMIZERS[opt].label} | ${ms(a.median_ms)} | ${ms(b.median_ms)} | ${f(pairedRatio(a, b), 2)} | ${ms(c.median_ms)} | ${ms(d.median_ms)} | ${f(pairedRatio(c, d), 2)} |`);
    }
  }
  if (extras.sparse) {
    out.push('');
    out.push('Sparse steps on a [16384, 64] variable (1M params) vs rows touched (simdopt simd, IndexedSlices, ms/step):');
    for (const [opt, r] of Object.entries(extras.sparse)) {
      out.push(`- ${OPTIMIZERS[opt].label}: ` + Object.entries(r).map(([k, v]) => `${k}: ${ms(v.median_ms)}`).join(' · '));
    }
  }
  if (extras.clipping) {
    out.push('');
    out.push('Clipping, 8 variables × 128K (simdopt simd, Tensor gradients, ms/step and × no clipping):');
    for (const [opt, r] of Object.entries(extras.clipping)) {
      const base = r['no clipping'];
      out.push(`- ${OPTIMIZERS[opt].label}: ` + Object.entries(r).map(([k, v]) => `${k}: ${ms(v.median_ms)} (${f(pairedRatio(v, base), 2)}×)`).join(' · '));
    }
  }
  if (extras.heap) {
    out.push('');
    out.push('JS heap (simdopt simd): bytes allocated per step by the whole thread and under simdopt frames (V8 sampling heap profiler, collected objects included; the difference of a run of N/5 and one of 6N/5 steps, so fixed costs cancel; one object per step would be >= 16 B/step), and heapUsed before → after the longer run (each after a full GC):');
    for (const [label, h] of Object.entries(extras.heap)) {
      const kb = (x) => `${(x / 1024).toFixed(0)} KiB`;
      out.push(`- ${label}, N = ${h.steps} steps: ${h.allAllocatedPerStep.toFixed(2)} B/step (under simdopt frames: ${h.allocatedPerStep.toFixed(2)}); heap ${kb(h.before)} → ${kb(h.after)}${h.exposedGc ? '' : ' (no --expose-gc: no GC forced)'}`);
    }
  }
  if (extras.memory) {
    out.push('');
    out.push('WASM memory (fresh instance, Adam; params + gradient + m + v = 16 B/param, + 4 B/param frame for a Float32Array gradient):');
    for (const m of extras.memory) {
      const mb = (x) => `${(x / M).toFixed(1)} MiB`;
      out.push(`- ${fmtSize(m.n)} params: start ${mb(m.start)}; after a Tensor step ${mb(m.afterTensorStep)} (need ${mb(m.needTensor)}, ×${(m.afterTensorStep / m.needTensor).toFixed(2)}); after a Float32Array step ${mb(m.afterF32Step)} (need ${mb(m.needF32)}, ×${(m.afterF32Step / m.needF32).toFixed(2)}); after 100 more ${mb(m.after100)}`);
    }
  }
  if (targets?.length) {
    out.push('');
    out.push('Targets:');
    for (const t of targets) out.push(`- [${t.met ? 'met' : 'MISSED'}] ${t.what}: ${f(t.value, 2)} (target ${t.op} ${t.limit})`);
  }
  return out.join('\n');
}

// ============================================================================================
// Entry points (last, so that every declaration above is initialised).
// ============================================================================================

if (!isMainThread) {
  DIST = workerData.dist;
  const engine = await makeEngine(workerData.engine);
  parentPort.on('message', async ({ id, cmd, arg }) => {
    try {
      const result = await engine[cmd](arg);
      parentPort.postMessage({ id, result });
    } catch (e) {
      parentPort.postMessage({ id, error: String(e?.stack ?? e) });
    }
  });
  parentPort.postMessage({ id: 0, result: 'ready' });
}

if (isMainThread) await main();
