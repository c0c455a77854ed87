#!/usr/bin/env node
// Sparse rows at scale (issue 14): an embedding table of [rows x width] (default 1,000,000 x 64)
// updated by `IndexedSlices` of k rows per step (default 4,096, about 10% of them repeats of an
// earlier row of the same step), against benches/native/sparse.c, the same sort, merge and
// update in C (gcc -O3 -march=native). Keras' sparse Adam decays every row, so it is compared with
// simdopt's dense Adam step on a Tensor gradient of the same size too.
//
// What the simdopt row includes: `applyGradients` with the slices as `Float32Array`/`Int32Array`
// (the facade copies values and indices into WASM memory each step, 1 MiB at the default shape;
// C reads its batches where they are). "core only" is the same step with the batches already in
// WASM memory (the step frame, filled once) and the core's `optimizer_apply` export called
// directly: no copy, no facade. "rows in a Tensor" is `applyGradients` with `IndexedSlices` whose
// values are a simdopt Tensor holding the batch (filled once): the whole call, without the copy;
// the route for a caller whose rows live in WASM memory.
// "C, 128-bit vectors" is the C loop compiled with `-mprefer-vector-width=128`, the vector width
// of wasm simd128 (the table's rows are scattered, so the loop is bound by its cache misses,
// and how many rows' misses overlap depends on the loads and stores per row).
//
// One process, one run: each simdopt build lives in its own worker thread (its own WebAssembly
// instance), the C reference is a child process, and the candidates take turns round by round in
// shuffled order, so load from other processes hits all alike. Figures are medians over rounds.
//
//   node benches/sparse.mjs [--rounds N] [--steps N] [--optimizers sgd_momentum,adagrad,adam]
//        [--baseline DIR]  (another built package, e.g. the previous commit's dist: before/after)
//        [--rows N] [--width N] [--k N] [--repeat PERCENT] [--json out.json]
//        [--slot-dtype float32|bfloat16|int8]  (simdopt's slot storage; C keeps float32 state)
//        [--backend simd|threads]  (the simdopt builds' backend; default simd)
//        [--family keras3]  (simdopt/keras3's classes: Keras 3 densifies IndexedSlices, so every
//                            row moves and the C loop, TF's row-only update, is not the same work)
//
// Each simdopt row also says how large its WebAssembly memory is after the optimizer's rounds
// (it never shrinks, so this is the step's peak: the table, the slots and any transient copy).
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const BATCHES = 8;
/** The optimizers' family: 'tf24' (the package root) or 'keras3' (`--family`). */
let FAMILY = 'tf24';
/** The simdopt builds' backend (`--backend`). */
let BACKEND = 'simd';

/** The batches of benches/native/sparse.c's generator (the same 32-bit LCG, the same draws). */
function batches({ rows, width, k, repeat }) {
  let s = 20261202;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
  const value = () => Math.fround(((next() >>> 8) - (1 << 23)) / (1 << 23));
  const out = [];
  for (let b = 0; b < BATCHES; b++) {
    const indices = new Int32Array(k);
    for (let i = 0; i < k; i++) indices[i] = i > 0 && next() % 100 < repeat ? indices[next() % i] : next() % rows;
    const values = new Float32Array(k * width);
    for (let i = 0; i < values.length; i++) values[i] = value();
    out.push({ indices, values });
  }
  return out;
}

// ---- a simdopt build, in a worker -----------------------------------------------------------------

async function worker() {
  const { dist, shape, coreOnly, tensorRows, slotDtype, family, backend } = workerData;
  const so = await import(pathToFileURL(path.join(dist, 'index.js')).href);
  const classes = family === 'keras3' ? await import(pathToFileURL(path.join(dist, 'keras3', 'index.js')).href) : so;
  await so.ready({ backend });
  const loader = coreOnly ? await import(pathToFileURL(path.join(dist, 'wasm', 'loader.js')).href) : null;
  const frames = coreOnly ? await import(pathToFileURL(path.join(dist, 'frame.js')).href) : null;
  const data = batches(shape);
  const n = shape.rows * shape.width;
  let run = null;
  let dispose = () => {};
  const make = (kind) => {
    dispose();
    const v = new so.Variable(0.5, { shape: [shape.rows, shape.width], name: 'table' });
    // (Passed only when set: builds before slotDtype refuse the option.)
    const dtype = slotDtype ? { slotDtype } : {};
    const opt =
      kind === 'adagrad'
        ? new classes.Adagrad({ learningRate: 0.01, initialAccumulatorValue: 0.1, epsilon: 1e-7, ...dtype })
        : kind === 'sgd_momentum'
          ? new classes.SGD({ learningRate: 0.01, momentum: 0.9, ...dtype })
          : new classes.Adam({ learningRate: 0.001, epsilon: 1e-7, ...dtype });
    let b = 0;
    let grad = null;
    let rows = [];
    if (kind === 'adam_dense') {
      grad = new so.Tensor(0, { shape: [shape.rows, shape.width], name: 'grad' });
      grad.assign(Float32Array.from({ length: n }, (_, i) => ((i % 17) - 8) * 1e-3));
      const pairs = [[grad, v]];
      run = () => opt.applyGradients(pairs);
    } else if (coreOnly) {
      // Every batch in the step frame once (values, then indices), then one command per step.
      const per = shape.k * shape.width;
      const frame = frames.reserveFrame(7, BATCHES * per, BATCHES * shape.k);
      const { f32, i32 } = loader.heapViews();
      data.forEach((d, i) => {
        f32.set(d.values, frame.values + i * per);
        i32.set(d.indices, frame.indices + i * shape.k);
      });
      const core = loader.core();
      run = () => {
        const { u32 } = loader.heapViews();
        const w = frame.commands;
        [u32[w], u32[w + 1], u32[w + 2]] = [v.handleIndex, v.handleGeneration, 3]; // KIND_SPARSE
        [u32[w + 3], u32[w + 4], u32[w + 5], u32[w + 6]] = [b * per, per, b * shape.k, shape.k];
        if (core.optimizer_apply(opt.id, 1) !== 0) core.take_error();
        b = (b + 1) % BATCHES;
      };
    } else {
      if (tensorRows) rows = data.map((d) => new so.Tensor(d.values, { shape: [shape.k, shape.width], name: 'rows' }));
      const slices = data.map((d, i) => new so.IndexedSlices(tensorRows ? rows[i] : d.values, d.indices, [shape.rows, shape.width]));
      run = () => {
        opt.applyGradients([[slices[b], v]]);
        b = (b + 1) % BATCHES;
      };
    }
    dispose = () => {
      opt.dispose();
      v.dispose();
      grad?.dispose();
      rows.forEach((t) => t.dispose());
    };
    return v;
  };
  let table = null;
  parentPort.on('message', (m) => {
    if (m.setup) table = make(m.setup);
    if (m.steps) {
      const t0 = performance.now();
      for (let s = 0; s < m.steps; s++) run();
      parentPort.postMessage({ ms: (performance.now() - t0) / m.steps });
    } else if (m.memory) {
      parentPort.postMessage({ bytes: so.memoryBytes() });
    } else if (m.sum) {
      let sum = 0;
      for (const x of table.read()) sum += x;
      parentPort.postMessage({ sum });
    } else {
      parentPort.postMessage({ ok: true });
    }
  });
  parentPort.postMessage({ ok: true });
}

class WorkerEngine {
  constructor(dist, shape, coreOnly = false, tensorRows = false, slotDtype = null) {
    const workerData = { dist, shape, coreOnly, tensorRows, slotDtype, family: FAMILY, backend: BACKEND };
    this.w = new Worker(fileURLToPath(import.meta.url), { workerData, resourceLimits: { maxOldGenerationSizeMb: 4096 } });
    this.queue = [];
    this.w.on('message', (m) => this.queue.shift()?.(m));
    this.w.on('error', (e) => {
      console.error(e);
      process.exit(1);
    });
    this.ready = new Promise((r) => this.queue.push(r));
  }
  call(m) {
    return new Promise((r) => {
      this.queue.push(r);
      this.w.postMessage(m);
    });
  }
}

// ---- the C reference, a child process ---------------------------------------------------------------

class NativeEngine {
  constructor(shape, extra = []) {
    const bin = path.join(os.tmpdir(), `simdopt-sparse-${process.pid}-${extra.length}`);
    const flags = ['-O3', '-march=native', '-ffp-contract=off', '-fno-math-errno', ...extra];
    execFileSync('gcc', [...flags, '-o', bin, path.join(HERE, 'native/sparse.c'), '-lm'], { stdio: 'inherit' });
    this.command = `gcc ${flags.join(' ')}`;
    this.p = spawn(bin, ['serve', shape.rows, shape.width, shape.k, shape.repeat, BATCHES], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.p.on('exit', () => fs.rmSync(bin, { force: true }));
    this.queue = [];
    createInterface({ input: this.p.stdout }).on('line', (l) => this.queue.shift()?.(Number(l)));
  }
  ask(line) {
    return new Promise((r) => {
      this.queue.push(r);
      this.p.stdin.write(`${line}\n`);
    });
  }
  end() {
    this.p.stdin.end();
  }
}

// ---- the driver --------------------------------------------------------------------------------------

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function shuffle(xs, seed) {
  let s = seed;
  for (let i = xs.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

async function main() {
  const args = { rounds: 9, steps: 200, optimizers: ['sgd_momentum', 'adagrad', 'adam'], baseline: null, json: null, rows: 1000000, width: 64, k: 4096, repeat: 10 };
  let slotDtype = null;
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, '');
    if (k === 'optimizers') args.optimizers = argv[++i].split(',');
    else if (k === 'slot-dtype') slotDtype = argv[++i];
    else if (k === 'family') FAMILY = argv[++i];
    else if (k === 'backend') BACKEND = argv[++i];
    else if (k === 'baseline' || k === 'json') args[k] = path.resolve(argv[++i]);
    else if (k in args) args[k] = Number(argv[++i]);
    else throw new Error(`unknown option ${argv[i]}`);
  }
  const shape = { rows: args.rows, width: args.width, k: args.k, repeat: args.repeat };
  // Fresh workers for each optimizer: a WASM memory never shrinks, so its size after the rounds
  // is this optimizer's peak, not an earlier one's.
  const start = async () => {
    const engines = { [`simdopt ${BACKEND}`]: new WorkerEngine(path.join(ROOT, 'dist'), shape, false, false, slotDtype) };
    if (args.baseline) engines[`simdopt ${BACKEND}@baseline`] = new WorkerEngine(args.baseline, shape, false, false, slotDtype);
    const w = {
      engines,
      // The core alone, on slices already in WASM memory (SGD-momentum and Adagrad only).
      coreOnly: new WorkerEngine(path.join(ROOT, 'dist'), shape, true, false, slotDtype),
      // `applyGradients` with the rows in a Tensor (SGD-momentum and Adagrad only).
      tensorRows: new WorkerEngine(path.join(ROOT, 'dist'), shape, false, true, slotDtype),
      // Dense Adam in a worker of its own, so the sparse candidates keep their state across rounds.
      dense: new WorkerEngine(path.join(ROOT, 'dist'), shape),
    };
    const all = [...Object.values(engines), w.coreOnly, w.tensorRows, w.dense];
    await Promise.all(all.map((e) => e.ready));
    w.end = () => Promise.all(all.map((e) => e.w.terminate()));
    return w;
  };
  const native = new NativeEngine(shape);
  const native128 = new NativeEngine(shape, ['-mprefer-vector-width=128']);
  const load = () => os.loadavg()[0].toFixed(2);
  const info = {
    date: new Date().toISOString(),
    cpu: os.cpus()[0]?.model,
    cores: os.cpus().length,
    node: process.version,
    gcc: native.command,
    loadBefore: load(),
    slotDtype: slotDtype ?? 'float32',
    family: FAMILY,
    backend: BACKEND,
    ...shape,
  };
  console.log(
    `sparse rows: [${shape.rows} x ${shape.width}], ${shape.k} rows/step (${shape.repeat}% repeats), ${args.rounds} rounds x ${args.steps} steps, slotDtype ${info.slotDtype}, ${FAMILY}, ${BACKEND}; load ${info.loadBefore}`,
  );
  const results = [];
  for (const opt of args.optimizers) {
    const { engines, coreOnly, tensorRows, dense, end } = await start();
    if (opt === 'adam') await dense.call({ setup: 'adam_dense' });
    const steps = opt === 'adam' ? Math.max(3, Math.round(args.steps / 40)) : args.steps;
    const CORE = `simdopt ${BACKEND}, core only (slices in WASM memory)`;
    const TENSOR = `simdopt ${BACKEND}, rows in a Tensor (no copy)`;
    const C128 = 'C native, 128-bit vectors';
    const candidates = [...Object.keys(engines), 'C native'];
    if (opt === 'adam') candidates.push(`simdopt ${BACKEND} dense Adam (Tensor gradient)`);
    else candidates.push(TENSOR, CORE, C128);
    const times = Object.fromEntries(candidates.map((c) => [c, []]));
    for (const e of Object.values(engines)) await e.call({ setup: opt });
    if (opt !== 'adam') await coreOnly.call({ setup: opt });
    if (opt !== 'adam') await tensorRows.call({ setup: opt });
    for (let r = 0; r < args.rounds; r++) {
      for (const c of shuffle([...candidates], r + 1)) {
        if (c === 'C native') times[c].push(await native.ask(`${opt} ${steps}`));
        else if (c === C128) times[c].push(await native128.ask(`${opt} ${steps}`));
        else if (c === CORE) times[c].push((await coreOnly.call({ steps })).ms);
        else if (c === TENSOR) times[c].push((await tensorRows.call({ steps })).ms);
        else times[c].push((await (c.includes('dense') ? dense : engines[c]).call({ steps })).ms);
      }
    }
    const c = median(times['C native']);
    const engineOf = (name) => engines[name] ?? (name === CORE ? coreOnly : name === TENSOR ? tensorRows : name.includes('dense') ? dense : null);
    for (const name of candidates) {
      const ms = median(times[name]);
      const bytes = (await engineOf(name)?.call({ memory: true }))?.bytes;
      results.push({ optimizer: opt, candidate: name, median_ms: ms, vs_native: ms / c, wasm_memory_bytes: bytes, rounds: times[name] });
      const memory = bytes ? `  WASM memory ${(bytes / 2 ** 20).toFixed(0)} MiB` : '';
      console.log(`  ${opt.padEnd(13)} ${name.padEnd(48)} ${ms.toFixed(3).padStart(9)} ms/step  ${(ms / c).toFixed(2)}x C${memory}`);
    }
    await end();
  }
  info.loadAfter = load();
  console.log(`load after: ${info.loadAfter}`);
  native.end();
  native128.end();
  if (args.json) fs.writeFileSync(args.json, JSON.stringify({ info, results }, null, 2));
  process.exit(0);
}

if (isMainThread) await main();
else await worker();
