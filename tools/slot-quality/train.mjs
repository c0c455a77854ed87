// The slot-quality tool's training loop and its state check: one task trained with simdopt's Adam
// whose moment slots are stored as `slotDtype`, and the dequantized slots of compressed Adams
// compared with float32 Adam's when all are fed the same gradients.
import { Adam, Variable } from 'simdopt';
import { rng } from '../../examples/lib/random.mjs';
import { mlp, pass } from './mlp.mjs';

export const DTYPES = ['float32', 'bfloat16', 'int8'];

const everyRow = (n) => Array.from({ length: n }, (_, i) => i);

/** The minibatches of a task, step by step: fixed order (the demo's), or reshuffled each epoch. */
function batches(task, random) {
  const all = everyRow(task.train.n);
  if (!task.batch) return () => all;
  let order = [];
  let at = 0;
  return () => {
    if (at >= order.length) {
      order = all.slice();
      if (task.shuffle) {
        for (let i = order.length - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [order[i], order[j]] = [order[j], order[i]];
        }
      }
      at = 0;
    }
    const rows = order.slice(at, at + task.batch);
    at += task.batch;
    return rows;
  };
}

/** Steps in `epochs` epochs of a task. */
export function stepsOf(task, epochs = task.epochs) {
  return task.batch ? epochs * Math.ceil(task.train.n / task.batch) : epochs;
}

/**
 * Trains `task` from seed `seed`'s initial weights and batch order with Adam storing its slots as
 * `dtype`, for `steps` steps (the task's epochs by default). Returns the final loss and accuracy
 * on the whole training set and on the test set, and the loss curve: the mean minibatch loss
 * (before each update) of every `task.pointSteps` steps.
 */
export function train(task, dtype, seed, { steps = stepsOf(task) } = {}) {
  const random = rng(1000 + seed);
  const layers = mlp(task.sizes, random);
  const params = layers.flatMap((l) => [l.kernel, l.bias]);
  const grads = params.map((p) => new Float32Array(p.size));
  const pairs = params.map((p, i) => [grads[i], p]);
  const optimizer = new Adam({ ...task.adam(), slotDtype: dtype });
  const next = batches(task, random);
  const curve = [];
  let sum = 0;
  let count = 0;
  try {
    for (let step = 0; step < steps; step++) {
      sum += pass(layers, task.act, task.train, next(), grads).loss;
      if (++count === task.pointSteps) {
        curve.push(sum / count);
        [sum, count] = [0, 0];
      }
      optimizer.applyGradients(pairs);
    }
    const final = pass(layers, task.act, task.train, everyRow(task.train.n));
    const test = pass(layers, task.act, task.test, everyRow(task.test.n));
    return { loss: final.loss, accuracy: final.accuracy, testLoss: test.loss, testAccuracy: test.accuracy, curve };
  } finally {
    optimizer.dispose();
    params.forEach((p) => p.dispose());
  }
}

/**
 * The state check: float32 Adam trains the task for `steps` steps; at each step the same
 * gradients also go to a bfloat16 and an int8 Adam, each on its own copy of the initial weights.
 * Returns, per compressed dtype and per slot of the variables large enough to be compressed, the
 * relative error of its dequantized slot q (`getWeights`' f32 view) against float32's f,
 * ||q - f|| / ||f|| (zero would mean the slot was not compressed at all), and the median of q / f
 * over the elements where f is not 0 (above 1: the stored slot runs high; below: low).
 */
export function stateCheck(task, { steps = 100, seed = 0 } = {}) {
  const random = rng(1000 + seed);
  const layers = mlp(task.sizes, random);
  const params = layers.flatMap((l) => [l.kernel, l.bias]);
  const grads = params.map((p) => new Float32Array(p.size));
  const next = batches(task, random);
  const runs = DTYPES.map((dtype) => {
    const vars = dtype === 'float32' ? params : params.map((p) => new Variable(p.read(), { shape: p.shape, name: p.name }));
    return { dtype, vars, optimizer: new Adam({ ...task.adam(), slotDtype: dtype }) };
  });
  try {
    for (let step = 0; step < steps; step++) {
      pass(layers, task.act, task.train, next(), grads);
      for (const r of runs) r.optimizer.applyGradients(r.vars.map((v, i) => [grads[i], v]));
    }
    const names = runs[0].optimizer.getWeightNames();
    const weights = runs.map((r) => r.optimizer.getWeights());
    const errors = {};
    for (const [k, r] of runs.entries()) {
      if (k === 0) continue;
      errors[r.dtype] = {};
      for (let i = 1; i < names.length; i++) {
        const f = weights[0][i];
        if (f.length < 4096) continue;
        const q = weights[k][i];
        let diff = 0;
        let norm = 0;
        const ratios = [];
        for (let j = 0; j < f.length; j++) {
          diff += (q[j] - f[j]) ** 2;
          norm += f[j] ** 2;
          if (f[j] !== 0) ratios.push(q[j] / f[j]);
        }
        ratios.sort((a, b) => a - b);
        errors[r.dtype][names[i]] = { error: Math.sqrt(diff / norm), medianRatio: ratios[ratios.length >> 1] };
      }
    }
    return errors;
  } finally {
    for (const r of runs) {
      r.optimizer.dispose();
      if (r.dtype !== 'float32') r.vars.forEach((v) => v.dispose());
    }
    params.forEach((p) => p.dispose());
  }
}

/**
 * The decay probe: Adam on one variable of 4,096 elements (compressed) takes one step with
 * gradients between 0.5 and 1.36, then `steps` steps with zero gradients, as a sparse feature's
 * row does between the minibatches it is in. Returns per dtype the mean second moment after the
 * steps as a fraction of its mean after the first: float32's is beta2^steps (0.999^200 = 0.819);
 * a stored state that cannot follow so small a decay stays higher (bfloat16 under round-to-nearest).
 */
export function decayProbe({ steps = 200 } = {}) {
  const n = 4096;
  const grad = Float32Array.from({ length: n }, (_, i) => 0.5 + (i % 7) / 7);
  const zero = new Float32Array(n);
  const meanV = (optimizer) => optimizer.getWeights()[optimizer.getWeightNames().indexOf('Adam/probe/v:0')].reduce((sum, x) => sum + x, 0) / n;
  const kept = {};
  for (const dtype of DTYPES) {
    const variable = new Variable(new Float32Array(n), { shape: [n], name: 'probe' });
    const optimizer = new Adam({ learningRate: 1e-3, slotDtype: dtype });
    try {
      optimizer.applyGradients([[grad, variable]]);
      const first = meanV(optimizer);
      for (let s = 0; s < steps; s++) optimizer.applyGradients([[zero, variable]]);
      kept[dtype] = meanV(optimizer) / first;
    } finally {
      optimizer.dispose();
      variable.dispose();
    }
  }
  return { steps, kept };
}
