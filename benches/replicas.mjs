#!/usr/bin/env node
// Data-parallel training speed of simdopt/distribute: steps per second of one global batch on
// an MLP (784 → 256 → 256 → 10, 269K parameters, softmax cross-entropy, Adam) whose gradients
// are computed in plain JavaScript, so that the gradient computation dominates the step.
//
//   node benches/replicas.mjs [--steps N] [--rounds N] [--batch N] [--replicas 1,2]
//
// Candidates, interleaved round by round (so that load from other processes hits all alike):
//   in-process   the same step on the main thread, no worker (the cost of the plumbing)
//   N replica(s) WorkerMirroredStrategy with N worker threads, the global batch split N ways
// Figures are medians over rounds of `steps` steps each. Run `npm run build` first.
//
// This file is also the replica module: the workers import it for `step`.
import { isMainThread } from 'node:worker_threads';
import os from 'node:os';

const LAYERS = [784, 256, 256, 10];

// ---- the model: forward and backward of the MLP (f32 storage, f64 accumulation per dot) ------

/** Loss (sum over the shard's rows / globalBatch) and gradients for [W1, b1, W2, b2, W3, b3]. */
export function mlpLossAndGrads(x, labels, params, globalBatch) {
  const rows = labels.length;
  const nl = LAYERS.length - 1;
  const acts = [x];
  for (let l = 0; l < nl; l++) {
    const [nin, nout] = [LAYERS[l], LAYERS[l + 1]];
    const W = params[2 * l];
    const b = params[2 * l + 1];
    const a = acts[l];
    const z = new Float32Array(rows * nout);
    for (let i = 0; i < rows; i++) {
      const zi = i * nout;
      z.set(b, zi);
      for (let k = 0; k < nin; k++) {
        const v = a[i * nin + k];
        if (v === 0) continue;
        const wk = k * nout;
        for (let j = 0; j < nout; j++) z[zi + j] += v * W[wk + j];
      }
      if (l < nl - 1) for (let j = 0; j < nout; j++) if (z[zi + j] < 0) z[zi + j] = 0;
    }
    acts.push(z);
  }
  // Softmax cross-entropy; d loss / d logits = (softmax − onehot) / globalBatch.
  const k = LAYERS[nl];
  const logits = acts[nl];
  let delta = new Float32Array(rows * k);
  let loss = 0;
  for (let i = 0; i < rows; i++) {
    let m = -Infinity;
    for (let j = 0; j < k; j++) m = Math.max(m, logits[i * k + j]);
    let s = 0;
    for (let j = 0; j < k; j++) s += Math.exp(logits[i * k + j] - m);
    loss += Math.log(s) + m - logits[i * k + labels[i]];
    for (let j = 0; j < k; j++) delta[i * k + j] = (Math.exp(logits[i * k + j] - m) / s - (j === labels[i] ? 1 : 0)) / globalBatch;
  }
  const grads = new Array(2 * nl);
  for (let l = nl - 1; l >= 0; l--) {
    const [nin, nout] = [LAYERS[l], LAYERS[l + 1]];
    const a = acts[l];
    const W = params[2 * l];
    const gW = new Float32Array(nin * nout);
    const gb = new Float32Array(nout);
    for (let i = 0; i < rows; i++) {
      const di = i * nout;
      for (let j = 0; j < nout; j++) gb[j] += delta[di + j];
      for (let q = 0; q < nin; q++) {
        const v = a[i * nin + q];
        if (v === 0) continue;
        const wq = q * nout;
        for (let j = 0; j < nout; j++) gW[wq + j] += v * delta[di + j];
      }
    }
    grads[2 * l] = gW;
    grads[2 * l + 1] = gb;
    if (l > 0) {
      const prev = new Float32Array(rows * nin);
      for (let i = 0; i < rows; i++) {
        for (let q = 0; q < nin; q++) {
          if (a[i * nin + q] === 0) continue; // ReLU'
          const wq = q * nout;
          let s = 0;
          for (let j = 0; j < nout; j++) s += delta[i * nout + j] * W[wq + j];
          prev[i * nin + q] = s;
        }
      }
      delta = prev;
    }
  }
  return { loss: loss / globalBatch, grads };
}

/** The replica step (the workers import this module for it). */
export function step(ctx, shard, params) {
  return mlpLossAndGrads(shard.x, shard.labels, params, shard.globalBatch);
}

// ---- the benchmark (main thread only) ----------------------------------------------------------

if (isMainThread && import.meta.url === (await import('node:url')).pathToFileURL(process.argv[1]).href) {
  await main();
}

async function main() {
  const { ready, backend, Adam, Variable } = await import('simdopt');
  const { WorkerMirroredStrategy, splitBatch } = await import('simdopt/distribute');
  const arg = (name, dflt) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : dflt;
  };
  const steps = Number(arg('steps', 5));
  const rounds = Number(arg('rounds', 3));
  const batch = Number(arg('batch', 256));
  const replicaCounts = arg('replicas', '1,2').split(',').map(Number);

  await ready();
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
  const initial = [];
  for (let l = 0; l + 1 < LAYERS.length; l++) {
    const scale = Math.sqrt(6 / LAYERS[l]);
    initial.push(Float32Array.from({ length: LAYERS[l] * LAYERS[l + 1] }, () => rand() * scale), new Float32Array(LAYERS[l + 1]));
  }
  const params = initial.reduce((s, p) => s + p.length, 0);
  // Synthetic data: inputs in [0, 1) with some zeros (as pixels), labels from a fixed rule.
  const x = Float32Array.from({ length: batch * LAYERS[0] }, () => Math.max(0, rand() * 1.6));
  const labels = Int32Array.from({ length: batch }, (_, i) => {
    let s = 0;
    for (let j = 0; j < 20; j++) s += x[i * LAYERS[0] + j];
    return Math.floor(s * 7) % 10;
  });
  const shardsFor = (n) => {
    const xs = splitBatch(x, n, LAYERS[0]);
    const ls = splitBatch(labels, n).map((l) => Int32Array.from(l));
    return xs.map((xi, r) => ({ x: xi, labels: ls[r], globalBatch: batch }));
  };

  const makeModel = () => {
    const vars = initial.map((v, i) => new Variable(v, { shape: [v.length], name: `p${i}` }));
    return { vars, opt: new Adam({ learningRate: 1e-3 }) };
  };

  const candidates = [];
  {
    const { vars, opt } = makeModel();
    candidates.push({
      name: 'in-process',
      run: async () => {
        const { loss, grads } = mlpLossAndGrads(x, labels, vars.map((v) => v.value.slice()), batch);
        opt.applyGradients(grads.map((g, i) => [g, vars[i]]));
        return loss;
      },
      close: async () => {},
    });
  }
  for (const n of replicaCounts) {
    const { vars, opt } = makeModel();
    const strategy = await WorkerMirroredStrategy.create({ module: new URL(import.meta.url), numReplicas: n, optimizer: opt, variables: vars });
    const shards = shardsFor(n);
    candidates.push({
      name: `${n} replica${n > 1 ? 's' : ''}`,
      run: async () => (await strategy.step(shards)).loss,
      close: () => strategy.shutdown(),
    });
  }

  console.log(`simdopt/distribute: MLP ${LAYERS.join('-')} (${params.toLocaleString('en')} params), global batch ${batch}, Adam, wasm ${backend()}`);
  console.log(`${os.availableParallelism?.() ?? os.cpus().length} CPUs, node ${process.version}; ${rounds} rounds × ${steps} steps (medians), warm-up 2 steps each`);
  for (const c of candidates) {
    c.times = [];
    for (let i = 0; i < 2; i++) c.firstLoss ??= await c.run();
  }
  for (let r = 0; r < rounds; r++) {
    for (const c of candidates) {
      const t0 = performance.now();
      for (let i = 0; i < steps; i++) c.lastLoss = await c.run();
      c.times.push((performance.now() - t0) / steps);
    }
  }
  const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
  const base = median(candidates[1]?.times ?? candidates[0].times);
  for (const c of candidates) {
    const ms = median(c.times);
    const vs = c === candidates[0] ? '' : `  (${(base / ms).toFixed(2)}× one replica)`;
    console.log(`  ${c.name.padEnd(12)} ${(1000 / ms).toFixed(2).padStart(7)} steps/s  ${ms.toFixed(1).padStart(8)} ms/step  loss ${c.firstLoss.toFixed(4)} → ${c.lastLoss.toFixed(4)}${vs}`);
  }
  for (const c of candidates) await c.close();
}
