// The slot-quality tool's network: a multi-layer perceptron whose forward and backward passes are
// plain JavaScript and whose parameters are simdopt Variables (every update runs in simdopt's wasm
// core). The first layer takes dense rows (a Float32Array of n x inputs) or sparse ones (per row
// the indices of its non-zero inputs, all of the same value 1/sqrt(count)): the spam task's
// hashed word features, where a row touches a few hundred of 16,384 inputs.
import { Variable } from 'simdopt';

/** Dense layers `sizes[0]` -> ... -> `sizes.at(-1)`, Glorot-uniform kernels, zero biases. */
export function mlp(sizes, random) {
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

/** The rows `rows` of `data` as the first layer's input: a dense block, or the sparse rows. */
function gather(data, rows, fi) {
  if (data.sparse) return rows.map((r) => data.sparse[r]);
  const x = new Float32Array(rows.length * fi);
  rows.forEach((r, s) => x.set(data.x.subarray(r * fi, (r + 1) * fi), s * fi));
  return x;
}

/** z = input . W + b for a dense (n x fi) or sparse input. */
function affine(input, n, w, b, fi, fo) {
  const z = new Float32Array(n * fo);
  for (let s = 0; s < n; s++) {
    const zs = z.subarray(s * fo, (s + 1) * fo);
    zs.set(b);
    if (Array.isArray(input)) {
      const { idx, val } = input[s];
      for (let k = 0; k < idx.length; k++) {
        const row = idx[k] * fo;
        for (let j = 0; j < fo; j++) zs[j] += val * w[row + j];
      }
      continue;
    }
    for (let i = 0; i < fi; i++) {
      const a = input[s * fi + i];
      if (a === 0) continue;
      const row = i * fo;
      for (let j = 0; j < fo; j++) zs[j] += a * w[row + j];
    }
  }
  return z;
}

/** gW += input^T . delta (dense or sparse input), gb += sum of delta's rows. */
function accumulate(input, n, delta, gw, gb, fi, fo) {
  for (let s = 0; s < n; s++) {
    const ds = delta.subarray(s * fo, (s + 1) * fo);
    for (let j = 0; j < fo; j++) gb[j] += ds[j];
    if (Array.isArray(input)) {
      const { idx, val } = input[s];
      for (let k = 0; k < idx.length; k++) {
        const row = idx[k] * fo;
        for (let j = 0; j < fo; j++) gw[row + j] += val * ds[j];
      }
      continue;
    }
    for (let i = 0; i < fi; i++) {
      const a = input[s * fi + i];
      if (a === 0) continue;
      const row = i * fo;
      for (let j = 0; j < fo; j++) gw[row + j] += a * ds[j];
    }
  }
}

/**
 * Mean softmax cross-entropy and accuracy of the network on rows `rows` of `data` ({x, y, n} with
 * x dense, or {sparse, y, n}); `act` is the hidden layers' activation ('tanh' or 'relu'). With
 * `grads` (one Float32Array per kernel and bias, in that order per layer), also the gradients.
 */
export function pass(layers, act, data, rows, grads) {
  const n = rows.length;
  const acts = [gather(data, rows, layers[0].fi)];
  for (const [l, { fi, fo, kernel, bias }] of layers.entries()) {
    const z = affine(acts[l], n, kernel.value, bias.value, fi, fo);
    if (l < layers.length - 1) for (let k = 0; k < z.length; k++) z[k] = act === 'tanh' ? Math.tanh(z[k]) : z[k] > 0 ? z[k] : 0;
    acts.push(z);
  }
  const classes = layers[layers.length - 1].fo;
  const logits = acts[acts.length - 1];
  const delta = new Float32Array(n * classes);
  let loss = 0;
  let correct = 0;
  for (let s = 0; s < n; s++) {
    const y = data.y[rows[s]];
    const ls = logits.subarray(s * classes, (s + 1) * classes);
    let max = -Infinity;
    let arg = 0;
    for (let j = 0; j < classes; j++) if (ls[j] > max) [max, arg] = [ls[j], j];
    let sum = 0;
    for (let j = 0; j < classes; j++) sum += Math.exp(ls[j] - max);
    for (let j = 0; j < classes; j++) delta[s * classes + j] = (Math.exp(ls[j] - max) / sum - (j === y ? 1 : 0)) / n;
    loss -= ls[y] - max - Math.log(sum);
    if (arg === y) correct++;
  }
  if (grads) backward(layers, act, acts, delta, n, grads);
  return { loss: loss / n, accuracy: correct / n };
}

function backward(layers, act, acts, delta, n, grads) {
  let d = delta;
  for (let l = layers.length - 1; l >= 0; l--) {
    const { fi, fo, kernel } = layers[l];
    const [gw, gb] = [grads[2 * l], grads[2 * l + 1]];
    gw.fill(0);
    gb.fill(0);
    accumulate(acts[l], n, d, gw, gb, fi, fo);
    if (l === 0) break;
    const w = kernel.value;
    const a = acts[l];
    const prev = new Float32Array(n * fi);
    for (let s = 0; s < n; s++) {
      const ds = d.subarray(s * fo, (s + 1) * fo);
      for (let i = 0; i < fi; i++) {
        const h = a[s * fi + i];
        const deriv = act === 'tanh' ? 1 - h * h : h > 0 ? 1 : 0;
        if (deriv === 0) continue;
        const row = i * fo;
        let sum = 0;
        for (let j = 0; j < fo; j++) sum += ds[j] * w[row + j];
        prev[s * fi + i] = sum * deriv;
      }
    }
    d = prev;
  }
}
