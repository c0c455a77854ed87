// Values that change between reads (issue 15, points 1 and 2). Every public entry point reads
// each user value once into a snapshot (reference, length, kind) before user code runs, copies
// only that snapshot and checks every write against the frame: a getter that answers
// differently, a Proxy whose length changes, a Float32Array over a resizable buffer that grows or
// shrinks, a callable that mutates or detaches the arrays being passed, a detached buffer. Each
// attack ends in a typed error with nothing changed, or in the result of the values as given.
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import {
  ready,
  Variable,
  IndexedSlices,
  SGD,
  Adam,
  Optimizer,
  ArgumentError,
  ShapeError,
  ReplicaError,
  saveCheckpoint,
  restoreCheckpoint,
  encodeCheckpoint,
  decodeCheckpoint,
} from 'simdopt';
import type { ApplyState, Gradient, GradsAndVars } from 'simdopt';
import { WorkerMirroredStrategy, nodeWorkerSpawner } from 'simdopt/distribute';

beforeAll(async () => {
  await ready();
});

const G = [0.1, -0.2, 0.3, -0.4];

/** Everything observable about an optimizer and its variables, as bits. */
function state(opt: Optimizer, vars: Variable[]): string {
  const bits = (a: Float32Array) => Array.from(new Uint32Array(Float32Array.from(a).buffer)).join(',');
  const weights = opt.getWeights().map((w) => (w instanceof BigInt64Array ? w[0].toString() : bits(w)));
  return JSON.stringify({ weights, iterations: opt.iterations, vars: vars.map((v) => bits(v.read())) });
}

/** An Adam and a variable 'w' of 4 values after one step (so that its slots hold state). */
function trained(lr: number | (() => number) = 0.01): { opt: Adam; w: Variable } {
  const w = new Variable(new Float32Array([1, 2, 3, 4]), { name: 'w' });
  const opt = new Adam({ learningRate: lr });
  opt.applyGradients([[Float32Array.from(G), w]]);
  return { opt, w };
}

/** The state after a step with gradient `g` from the same start (what a correct result is). */
function expected(g: readonly number[] = G): string {
  const { opt, w } = trained();
  opt.applyGradients([[Float32Array.from(g), w]]);
  return state(opt, [w]);
}

/** `f` throws `cls` matching `pattern`, leaves everything as it was, and a plain step then works. */
function refused(f: () => unknown, opt: Optimizer, vars: Variable[], cls: new (...a: never[]) => Error, pattern: RegExp): void {
  const before = state(opt, vars);
  let error: unknown;
  try {
    f();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(cls);
  expect((error as Error).message).toMatch(pattern);
  expect(state(opt, vars)).toBe(before);
  opt.applyGradients(vars.map((v) => [new Float32Array(v.size).fill(0.5), v] as [Gradient, Variable]));
  expect(state(opt, vars)).not.toBe(before);
}

/** Detaches a typed array's buffer (transfers it away). */
function detach(a: ArrayBufferView): void {
  structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
}

type Resizable = ArrayBuffer & { resize(bytes: number): void };
/** A Float32Array that tracks the length of a resizable buffer holding `values`. */
function resizable(values: readonly number[]): { array: Float32Array; buffer: Resizable } {
  const buffer = new (ArrayBuffer as unknown as new (bytes: number, o: { maxByteLength: number }) => Resizable)(4 * values.length, { maxByteLength: 4096 });
  const array = new Float32Array(buffer);
  array.set(values);
  return { array, buffer };
}

describe('applyGradients (built-in optimizers)', () => {
  test('a learning-rate function that grows a number[] gradient: the gradient as given is applied', () => {
    const g = [...G];
    let armed = false;
    const { opt, w } = trained(() => {
      if (armed) g.push(...new Array(100_000).fill(1));
      return 0.01;
    });
    armed = true;
    opt.applyGradients([[g, w]]);
    expect(g.length).toBe(100_004);
    expect(state(opt, [w])).toBe(expected());
  });

  test('a Proxy gradient whose length changes on every read is read once', () => {
    const { opt, w } = trained();
    let lengthReads = 0;
    const g = new Proxy([...G], {
      get: (t, k, r) => (k === 'length' ? (lengthReads++ === 0 ? 4 : 1_000_000) : Reflect.get(t, k, r)),
    });
    opt.applyGradients([[g, w]]);
    expect(lengthReads).toBe(1);
    expect(state(opt, [w])).toBe(expected());
  });

  test('a getter on the pair that answers a different gradient at each read is read once', () => {
    const { opt, w } = trained();
    let reads = 0;
    const pair = [null, w] as unknown as [Gradient, Variable];
    Object.defineProperty(pair, 0, { get: () => (reads++ === 0 ? Float32Array.from(G) : new Float32Array(1 << 20).fill(9)) });
    opt.applyGradients([pair]);
    expect(reads).toBe(1);
    expect(state(opt, [w])).toBe(expected());
  });

  test('a list Proxy whose length grows is read once', () => {
    const { opt, w } = trained();
    let lengthReads = 0;
    const list = new Proxy([[Float32Array.from(G), w]], {
      get: (t, k, r) => (k === 'length' ? (lengthReads++ === 0 ? 1 : 50) : Reflect.get(t, k, r)),
    });
    opt.applyGradients(list as unknown as [Gradient, Variable][]);
    expect(lengthReads).toBe(1);
    expect(state(opt, [w])).toBe(expected());
  });

  test('a Float32Array over a resizable buffer that a schedule grows or shrinks: ArgumentError, nothing changed', () => {
    for (const bytes of [4096, 8, 0]) {
      const { array, buffer } = resizable(G);
      const { opt, w } = trained();
      opt.learningRate = () => (buffer.resize(bytes), 0.01);
      refused(() => opt.applyGradients([[array, w]]), opt, [w], ArgumentError, /the gradient of 'w' changed after it was read/);
    }
  });

  test('a learning-rate function that detaches the gradient: ArgumentError naming it, nothing changed', () => {
    const g = Float32Array.from(G);
    const { opt, w } = trained();
    opt.learningRate = () => (detach(g), 0.01);
    refused(() => opt.applyGradients([[g, w]]), opt, [w], ArgumentError, /the gradient of 'w' changed after it was read.*detached/);
  });

  test('detached gradients and IndexedSlices: ArgumentError naming the argument, never a TypeError', () => {
    const { opt, w } = trained();
    const g = Float32Array.from(G);
    detach(g);
    refused(() => opt.applyGradients([[g, w]]), opt, [w], ArgumentError, /the gradient of 'w' is a typed array whose ArrayBuffer is detached/);
    const emb = new Variable(new Float32Array(8), { shape: [4, 2], name: 'emb' });
    const sparse = new IndexedSlices(new Float32Array([1, 2]), new Int32Array([3]));
    detach(sparse.values);
    refused(() => opt.applyGradients([[sparse, emb]]), opt, [emb], ArgumentError, /IndexedSlices values of 'emb'.*detached/);
    const rows = new IndexedSlices(new Float32Array([1, 2]), new Int32Array([3]));
    detach(rows.indices);
    refused(() => opt.applyGradients([[rows, emb]]), opt, [emb], ArgumentError, /IndexedSlices indices of 'emb'.*detached/);
  });

  test('an IndexedSlices subclass whose values getter changes is read once; an impostor is refused', () => {
    const run = (g: IndexedSlices) => {
      const emb = new Variable(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]), { shape: [4, 2], name: 'emb' });
      const opt = new SGD({ learningRate: 0.5 });
      opt.applyGradients([[g, emb]]);
      return Array.from(emb.read());
    };
    let reads = 0;
    class Shifting extends IndexedSlices {
      constructor() {
        super(new Float32Array([1, 1]), new Int32Array([2]));
        const first = this.values;
        Object.defineProperty(this, 'values', { get: () => (reads++ === 0 ? first : new Float32Array(1 << 20)) });
      }
    }
    expect(run(new Shifting())).toEqual(run(new IndexedSlices(new Float32Array([1, 1]), new Int32Array([2]))));
    expect(reads).toBe(1);
    const impostor = Object.create(IndexedSlices.prototype, { values: { value: [1, 1] }, indices: { value: [2] } }) as IndexedSlices;
    const emb = new Variable(new Float32Array(8), { shape: [4, 2], name: 'emb' });
    const sgd = new SGD();
    refused(() => sgd.applyGradients([[impostor, emb]]), sgd, [emb], ArgumentError, /IndexedSlices values of 'emb' must be a Float32Array/);
  });
});

describe('applyGradients with gradient hooks', () => {
  test('a transformer that detaches what the one before returned: ArgumentError, nothing changed', () => {
    const w = new Variable(new Float32Array([1, 2, 3, 4]), { name: 'w' });
    let attacks = 1;
    const opt = new Adam({
      gradientTransformers: [
        (gv: GradsAndVars) => gv.map(([g, v]) => [Float32Array.from(g as Float32Array), v] as const),
        (gv: GradsAndVars) => (attacks-- > 0 && detach(gv[0][0] as Float32Array), gv),
      ],
    });
    refused(() => opt.applyGradients([[Float32Array.from(G), w]]), opt, [w], ArgumentError, /the gradient of 'w' is a typed array whose ArrayBuffer is detached/);
  });

  test("a learning-rate function that detaches a transformer's result: ArgumentError, nothing changed", () => {
    const w = new Variable(new Float32Array([1, 2, 3, 4]), { name: 'w' });
    let out: Float32Array | undefined;
    const opt = new Adam({ gradientTransformers: [(gv: GradsAndVars) => gv.map(([g, v]) => [(out = Float32Array.from(g as Float32Array)), v] as const)] });
    let attacks = 1;
    opt.learningRate = () => (out && attacks-- > 0 && detach(out), 0.001);
    refused(() => opt.applyGradients([[Float32Array.from(G), w]]), opt, [w], ArgumentError, /the gradient of 'w' changed after it was read/);
  });

  test("a transformer's pair whose gradient getter changes is read once", () => {
    const w = new Variable(new Float32Array([1, 2, 3, 4]), { name: 'w' });
    let reads = 0;
    const opt = new Adam({
      learningRate: 0.01,
      gradientTransformers: [
        (gv: GradsAndVars) =>
          gv.map(([g, v]) => {
            const pair = [null, v];
            Object.defineProperty(pair, 0, { get: () => (reads++ === 0 ? g : new Float32Array(1 << 20)) });
            return pair as unknown as [Float32Array, Variable];
          }),
      ],
    });
    opt.applyGradients([[Float32Array.from(G), w]]);
    expect(reads).toBe(1);
    const ref = new Variable(new Float32Array([1, 2, 3, 4]), { name: 'w' });
    new Adam({ learningRate: 0.01 }).applyGradients([[Float32Array.from(G), ref]]);
    expect(Array.from(w.read())).toEqual(Array.from(ref.read()));
  });
});

/** A custom optimizer (its update in JavaScript): plain SGD. */
class JsSgd extends Optimizer {
  constructor(options: Record<string, unknown> = {}) {
    super(
      {
        className: 'JsSgd',
        config: [
          ['learning_rate', 0.1],
          ['decay', 0],
        ],
      },
      options,
    );
  }
  protected override resourceApplyDense(grad: Float32Array, v: Variable, s: ApplyState): void {
    const x = v.value;
    for (let i = 0; i < x.length; i++) x[i] = Math.fround(x[i] - Math.fround(s.lrT * grad[i]));
  }
}

describe('applyGradients (custom optimizers)', () => {
  test('a learning-rate function that grows a number[] gradient: the gradient as given is applied', () => {
    const g = [...G];
    const w = new Variable(new Float32Array([1, 2, 3, 4]), { name: 'w' });
    new JsSgd({ learningRate: () => (g.push(...new Array(100_000).fill(1)), 0.5) }).applyGradients([[g, w]]);
    expect(Array.from(w.read())).toEqual([1, 2, 3, 4].map((x, i) => Math.fround(x - Math.fround(0.5 * Math.fround(G[i])))));
  });

  test('a learning-rate function that shrinks or detaches the gradient: ArgumentError, nothing changed', () => {
    const w = new Variable(new Float32Array([1, 2, 3, 4]), { name: 'w' });
    const { array, buffer } = resizable(G);
    const opt = new JsSgd({ learningRate: () => (buffer.resize(4), 0.5) });
    refused(() => opt.applyGradients([[array, w]]), opt, [w], ArgumentError, /the gradient of 'w' changed after it was read/);
    const g = Float32Array.from(G);
    let attacks = 1;
    opt.learningRate = () => (attacks-- > 0 && detach(g), 0.5);
    refused(() => opt.applyGradients([[g, w]]), opt, [w], ArgumentError, /the gradient of 'w' changed after it was read.*detached/);
  });
});

describe('setWeights', () => {
  test('a weight Proxy whose length changes is read once, and gives the weights as read', () => {
    const { opt, w } = trained();
    const weights = opt.getWeights();
    const values = Array.from(w.read());
    const m = [0.5, 0.25, 0.125, 1];
    let lengthReads = 0;
    const proxy = new Proxy(m, { get: (t, k, r) => (k === 'length' ? (lengthReads++ === 0 ? 4 : 1 << 20) : Reflect.get(t, k, r)) });
    opt.setWeights([weights[0], proxy, weights[2]]);
    expect(lengthReads).toBe(1);
    expect(Array.from(opt.getWeights()[1] as Float32Array)).toEqual(m);
    expect(Array.from(opt.getWeights()[2] as Float32Array)).toEqual(Array.from(weights[2] as Float32Array));
    expect(Array.from(w.read())).toEqual(values);
  });

  test('a detached weight: ArgumentError naming it, nothing changed', () => {
    const { opt, w } = trained();
    const weights = opt.getWeights();
    detach(weights[2]);
    refused(() => opt.setWeights(weights), opt, [w], ArgumentError, /weight 2 is a Float32Array whose ArrayBuffer is detached/);
  });

  test('a weights list whose length changes between reads is read once', () => {
    const { opt, w } = trained();
    const weights = opt.getWeights();
    let reads = 0;
    const list = new Proxy(weights, { get: (t, k, r) => (k === 'length' ? (reads++ === 0 ? 3 : 2) : Reflect.get(t, k, r)) });
    const before = state(opt, [w]);
    opt.setWeights(list);
    expect(reads).toBe(1);
    expect(state(opt, [w])).toBe(before);
  });
});

describe('checkpoints, tensors and IndexedSlices', () => {
  test('checkpoint bytes: detached refused; over a resizable buffer copied once', () => {
    const { opt, w } = trained();
    const bytes = encodeCheckpoint(saveCheckpoint(opt, [w]));
    const gone = bytes.slice();
    detach(gone);
    expect(() => restoreCheckpoint(gone, [w])).toThrow(ArgumentError);
    expect(() => decodeCheckpoint(gone)).toThrow(/detached/);
    const buffer = new (ArrayBuffer as unknown as new (bytes: number, o: { maxByteLength: number }) => Resizable)(bytes.length, { maxByteLength: bytes.length * 2 });
    const view = new Uint8Array(buffer);
    view.set(bytes);
    const restored = restoreCheckpoint(view, [w]);
    expect(state(restored, [w])).toBe(state(opt, [w]));
  });

  test('a checkpoint object whose getters answer differently is read once', () => {
    const { opt, w } = trained();
    const ckpt = saveCheckpoint(opt, [w]);
    const weights = ckpt.optimizer.weights;
    let reads = 0;
    Object.defineProperty(ckpt.optimizer, 'weights', { enumerable: true, get: () => (reads++ === 0 ? weights : ['AAAA', 'AAAA']) });
    const restored = restoreCheckpoint(ckpt, [w]);
    expect(reads).toBe(1);
    expect(state(restored, [w])).toBe(state(opt, [w]));
  });

  test('Tensor.assign and IndexedSlices read a changing Proxy once', () => {
    const w = new Variable(new Float32Array(4), { name: 'w' });
    let lengthReads = 0;
    const values = new Proxy([1, 2, 3, 4], { get: (t, k, r) => (k === 'length' ? (lengthReads++ === 0 ? 4 : 1 << 20) : Reflect.get(t, k, r)) });
    w.assign(values);
    expect(lengthReads).toBe(1);
    expect(Array.from(w.read())).toEqual([1, 2, 3, 4]);
    let longerReads = 0;
    const longer = new Proxy([1, 2, 3, 4], { get: (t, k, r) => (k === 'length' ? (longerReads++ === 0 ? 1 << 20 : 4) : Reflect.get(t, k, r)) });
    expect(() => w.assign(longer)).toThrow(/element 4 is undefined/); // read with the length first read
    expect(Array.from(w.read())).toEqual([1, 2, 3, 4]);
    let indexReads = 0;
    const indices = new Proxy([0, 1], { get: (t, k, r) => (k === 'length' ? (indexReads++ === 0 ? 2 : 9) : Reflect.get(t, k, r)) });
    const s = new IndexedSlices([1, 2, 3, 4], indices);
    expect(indexReads).toBe(1);
    expect(Array.from(s.indices)).toEqual([0, 1]);
    const detachedValues = new Float32Array(4);
    detach(detachedValues);
    expect(() => w.assign(detachedValues)).toThrow(ArgumentError);
    expect(() => new IndexedSlices(detachedValues, [0])).toThrow(/detached/);
    expect(() => w.assign(new Float32Array(3))).toThrow(ShapeError);
  });
});

describe('the replica strategy', () => {
  const module = join(dirname(fileURLToPath(import.meta.url)), 'distribute', 'forged.mjs');

  test('results and all-reduces posted by user code in a worker are checked: ReplicaError, nothing applied', async () => {
    const w = new Variable(new Float32Array([1, 2, 3, 4]), { name: 'w' });
    const opt = new SGD({ learningRate: 0.1 });
    for (const action of ['long', 'not-f32', 'bad-reduce']) {
      const s = await WorkerMirroredStrategy.create({ module, numReplicas: 1, optimizer: opt, variables: [w], spawn: nodeWorkerSpawner() });
      try {
        const before = state(opt, [w]);
        await expect(s.step([{ action }])).rejects.toThrow(ReplicaError);
        expect(state(opt, [w])).toBe(before);
      } finally {
        await s.shutdown();
      }
    }
    const s = await WorkerMirroredStrategy.create({ module, numReplicas: 1, optimizer: opt, variables: [w], spawn: nodeWorkerSpawner() });
    await s.step([{ action: 'ok' }]);
    await s.shutdown();
    expect(Array.from(w.read())).toEqual([1, 2, 3, 4].map((x) => Math.fround(x - Math.fround(0.1))));
  });

  test('an aggregator whose Float32Array lies about its length: ArgumentError, nothing applied', async () => {
    const w = new Variable(new Float32Array([1, 2, 3, 4]), { name: 'w' });
    const opt = new SGD({ learningRate: 0.1 });
    const lie = new Float32Array(1 << 16);
    Object.defineProperty(lie, 'length', { value: 4 });
    const s = await WorkerMirroredStrategy.create({ module, numReplicas: 1, optimizer: opt, variables: [w], spawn: nodeWorkerSpawner(), gradientAggregator: () => [lie] });
    try {
      const before = state(opt, [w]);
      await expect(s.step([{ action: 'ok' }])).rejects.toThrow(ArgumentError);
      expect(state(opt, [w])).toBe(before);
    } finally {
      await s.shutdown();
    }
  });
});
