// Without tfjs: trains the same small network (2-64-64-3 MLP, tanh) on a three-arm spiral data
// set with simdopt's SGD (Nesterov momentum) and Adam, and prints the loss falling. The network's
// forward and backward passes are plain JavaScript; every parameter update runs in simdopt's
// wasm core, one call per step for all six parameter tensors.
import { ready, backend, Variable, SGD, Adam, serialize } from 'simdopt';
import { rng } from './lib/random.mjs';

const STEPS = Number(process.env.DEMO_STEPS ?? 600);
const HIDDEN = 64;
const CLASSES = 3;

function spirals(perClass, random) {
  const n = perClass * CLASSES;
  const x = new Float32Array(n * 2);
  const y = new Int32Array(n);
  for (let c = 0; c < CLASSES; c++) {
    for (let i = 0; i < perClass; i++) {
      const r = i / perClass;
      const t = c * 4.2 + r * 4 + (random() - 0.5) * 0.4;
      const k = c * perClass + i;
      x[2 * k] = r * Math.sin(t);
      x[2 * k + 1] = r * Math.cos(t);
      y[k] = c;
    }
  }
  return { x, y, n };
}

/** A dense layer's parameters as simdopt Variables (Glorot-uniform init). */
function dense(name, fanIn, fanOut, random) {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const w = Float32Array.from({ length: fanIn * fanOut }, () => (random() * 2 - 1) * limit);
  return {
    kernel: new Variable(w, { shape: [fanIn, fanOut], name: `${name}/kernel` }),
    bias: new Variable(new Float32Array(fanOut), { shape: [fanOut], name: `${name}/bias` }),
    fanIn,
    fanOut,
  };
}

/** Forward and backward pass: returns the mean cross-entropy, the accuracy and the gradients. */
function lossAndGrads(layers, data, scratch) {
  const { x, y, n } = data;
  const acts = [x];
  let input = x;
  for (const [li, layer] of layers.entries()) {
    const w = layer.kernel.value;
    const b = layer.bias.value;
    const out = scratch.acts[li];
    for (let s = 0; s < n; s++) {
      for (let j = 0; j < layer.fanOut; j++) {
        let z = b[j];
        for (let i = 0; i < layer.fanIn; i++) z += input[s * layer.fanIn + i] * w[i * layer.fanOut + j];
        out[s * layer.fanOut + j] = li < 2 ? Math.tanh(z) : z;
      }
    }
    acts.push(out);
    input = out;
  }
  // Softmax cross-entropy.
  const logits = acts[3];
  const dLogits = scratch.delta[2];
  let loss = 0;
  let correct = 0;
  for (let s = 0; s < n; s++) {
    let max = -Infinity;
    let arg = 0;
    for (let j = 0; j < CLASSES; j++) {
      if (logits[s * CLASSES + j] > max) {
        max = logits[s * CLASSES + j];
        arg = j;
      }
    }
    let sum = 0;
    for (let j = 0; j < CLASSES; j++) sum += Math.exp(logits[s * CLASSES + j] - max);
    for (let j = 0; j < CLASSES; j++) {
      const p = Math.exp(logits[s * CLASSES + j] - max) / sum;
      dLogits[s * CLASSES + j] = (p - (j === y[s] ? 1 : 0)) / n;
    }
    loss -= logits[s * CLASSES + y[s]] - max - Math.log(sum);
    if (arg === y[s]) correct++;
  }
  // Backward.
  const grads = scratch.grads;
  let delta = dLogits;
  for (let li = 2; li >= 0; li--) {
    const layer = layers[li];
    const a = acts[li];
    const gw = grads[2 * li];
    const gb = grads[2 * li + 1];
    gw.fill(0);
    gb.fill(0);
    for (let s = 0; s < n; s++) {
      for (let j = 0; j < layer.fanOut; j++) {
        const d = delta[s * layer.fanOut + j];
        gb[j] += d;
        for (let i = 0; i < layer.fanIn; i++) gw[i * layer.fanOut + j] += a[s * layer.fanIn + i] * d;
      }
    }
    if (li > 0) {
      const w = layer.kernel.value;
      const prev = scratch.delta[li - 1];
      for (let s = 0; s < n; s++) {
        for (let i = 0; i < layer.fanIn; i++) {
          let sum = 0;
          for (let j = 0; j < layer.fanOut; j++) sum += delta[s * layer.fanOut + j] * w[i * layer.fanOut + j];
          const h = a[s * layer.fanIn + i];
          prev[s * layer.fanIn + i] = sum * (1 - h * h);
        }
      }
      delta = prev;
    }
  }
  return { loss: loss / n, accuracy: correct / n };
}

function train(label, makeOptimizer, data) {
  const random = rng(42);
  const layers = [dense('dense', 2, HIDDEN, random), dense('dense_1', HIDDEN, HIDDEN, random), dense('dense_2', HIDDEN, CLASSES, random)];
  const params = layers.flatMap((l) => [l.kernel, l.bias]);
  const scratch = {
    acts: layers.map((l) => new Float32Array(data.n * l.fanOut)),
    delta: layers.map((l) => new Float32Array(data.n * l.fanOut)),
    grads: params.map((p) => new Float32Array(p.size)),
  };
  const opt = makeOptimizer();
  const pairs = params.map((p, i) => [scratch.grads[i], p]);
  const curve = [];
  let optimizerMs = 0;
  let last;
  for (let step = 0; step <= STEPS; step++) {
    last = lossAndGrads(layers, data, scratch);
    if (step % (STEPS / 10) === 0) curve.push(last);
    if (step === STEPS) break;
    const t0 = performance.now();
    opt.applyGradients(pairs);
    optimizerMs += performance.now() - t0;
  }
  const cfg = serialize(opt);
  console.log(`\n${label}  ${JSON.stringify(cfg)}`);
  const first = curve[0].loss;
  for (const [k, c] of curve.entries()) {
    const bar = '#'.repeat(Math.max(1, Math.round((c.loss / first) * 40)));
    console.log(`  step ${String((k * STEPS) / 10).padStart(4)}  loss ${c.loss.toFixed(4)}  acc ${(c.accuracy * 100).toFixed(1).padStart(5)}%  ${bar}`);
  }
  console.log(
    `  optimizer: ${opt.iterations} steps, ${((optimizerMs / STEPS) * 1000).toFixed(1)} µs/step for ${params.reduce((s, p) => s + p.size, 0)} parameters in ${params.length} tensors`,
  );
  opt.dispose();
  params.forEach((p) => p.dispose());
  return last;
}

await ready();
console.log(`simdopt demo: ${STEPS} full-batch steps on 3 interleaved spirals (wasm build: ${backend()})`);
const data = spirals(100, rng(7));
const sgd = train('SGD (momentum 0.9, Nesterov)', () => new SGD({ learningRate: 0.1, momentum: 0.9, nesterov: true }), data);
const adam = train('Adam (clipnorm 1.0)', () => new Adam({ learningRate: 0.01, clipnorm: 1.0 }), data);
const ok = sgd.loss < 0.5 && adam.loss < 0.2;
console.log(`\nfinal loss: SGD ${sgd.loss.toFixed(4)}, Adam ${adam.loss.toFixed(4)} — ${ok ? 'both trained' : 'TRAINING DID NOT CONVERGE'}`);
process.exitCode = ok ? 0 : 1;
