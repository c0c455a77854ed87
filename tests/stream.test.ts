// Streamed gradients (issue 14, item 1): a Float32Array or number[] gradient from the streaming
// threshold on streams into the core a chunk at a time (here the threshold is lowered to two
// chunks, so that the boundaries are tested at small sizes; the default is tested at the end). Against the whole path (the same values in a
// SharedArrayBuffer, which is copied whole, and as a Tensor, the kernel-only path): the same bits
// for every TF 2.4 class and option, at lengths around the chunk boundaries, with the guard; the
// same errors, and nothing changed by a failure.
import { ready, deserialize, memoryBytes, optimizerClasses, Variable, Tensor, IndexedSlices, Optimizer, ArgumentError, IndexError, ShapeError } from 'simdopt';
import type { Gradient } from 'simdopt';
import { createHash } from 'node:crypto';

/** The streaming threshold's hook (not part of the API), and the loader (whose core export of
 * streamed steps a test wraps to see which steps stream). */
const stream = (await import('../dist/optimizer/stream.js' as string)) as {
  STREAM_FROM: number;
  __streamFrom(elements?: number): number;
  __streamCopies(on?: boolean): boolean;
};
const wasmLoader: unknown = await import('../dist/wasm/loader.js' as string);

/** `stream_chunk()` of the core. */
const CHUNK = 1 << 15;
/** The threshold the tests stream from: two chunks. */
const FROM = 2 * CHUNK;

beforeAll(async () => {
  // The SIMD build's path (the threads build's, whose passes split over its pool, is in
  // tests/threads-stream.test.ts).
  await ready({ threads: false });
  stream.__streamFrom(FROM);
});
afterAll(() => stream.__streamFrom(stream.STREAM_FROM));

/** The bits of `a`, as a digest (the arrays are long). */
const bits = (a: Float32Array) => createHash('sha256').update(Float32Array.from(a)).digest('hex');

/** Everything observable about an optimizer and its variables. */
function state(opt: Optimizer, vars: Variable[]): string {
  const weights = opt.getWeights().map((w) => (w instanceof BigInt64Array ? w[0].toString() : bits(w)));
  return JSON.stringify({ weights, iterations: opt.iterations, vars: vars.map((v) => bits(v.read())) });
}

/** Mixed magnitudes and signs (a different summation order gives other bits). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const x = (Math.imul(i ^ seed, 0x9e3779b1) >>> 8) / (1 << 24) - 0.5;
    out[i] = x > 0.3 ? x * 40 : x * 0.01;
  }
  return out;
}

type Way = 'float32' | 'array' | 'shared' | 'tensor';
/** The gradient as a caller passes it: streamed (`float32`, `array`) or whole (`shared`, `tensor`). */
function as(way: Way, g: Float32Array): Gradient {
  if (way === 'float32') return Float32Array.from(g);
  if (way === 'array') return Array.from(g);
  if (way === 'tensor') return new Tensor(g);
  const shared = new Float32Array(new SharedArrayBuffer(4 * g.length));
  shared.set(g);
  return shared;
}

/** Steps of a big variable (the gradient given `way`) with a small dense and a sparse one. */
function run(className: string, config: Record<string, unknown>, n: number, way: Way, grads: Float32Array[], skipNonFinite = false): string[] {
  const opt = deserialize({ class_name: className, config }) as Optimizer;
  const big = new Variable(values(n, 1), { name: 'big' });
  const small = new Variable(values(7, 2), { name: 'small' });
  const table = new Variable(values(12, 3), { shape: [4, 3], name: 'table' });
  const out: string[] = [];
  for (const g of grads) {
    const grad = as(way, g);
    const result = opt.applyGradients(
      [
        [values(7, 4), small],
        [grad, big],
        [new IndexedSlices(values(6, 5), [3, 1], [4, 3]), table],
      ],
      { skipNonFinite },
    );
    if (grad instanceof Tensor) grad.dispose();
    out.push(`${String(result.applied)} ${result.nonFiniteVariables.map((v) => v.name).join()} ${state(opt, [big, small, table])}`);
  }
  return out;
}

/** Every TF 2.4 class with each clipping option and its kernel variants. */
const CONFIGS: [string, Record<string, unknown>][] = optimizerClasses.flatMap((c) => {
  const name = c.spec.className;
  const variants: Record<string, Record<string, unknown>[]> = {
    SGD: [{ momentum: 0.9, nesterov: true }, { momentum: 0.5 }],
    Adam: [{ amsgrad: true }],
    RMSprop: [{ centered: true, momentum: 0.5 }, { momentum: 0.9 }],
    Ftrl: [{ l1_regularization_strength: 0.01, l2_shrinkage_regularization_strength: 0.05 }, { learning_rate_power: -0.7 }],
  };
  const clips = [{}, { clipnorm: 0.5 }, { global_clipnorm: 1.5 }, { clipvalue: 0.2, clipnorm: 2 }];
  return [...clips.map((c) => ({ learning_rate: 0.1, ...c })), ...(variants[name] ?? []).map((v) => ({ learning_rate: 0.1, clipnorm: 1, ...v }))].map(
    (config) => [name, config] as [string, Record<string, unknown>],
  );
});

describe('streamed gradients give the bits of the whole path', () => {
  test.each(CONFIGS)('%s %j', (className, config) => {
    const n = FROM + 9;
    const grads = [values(n, 11), values(n, 12)];
    const whole = run(className, config, n, 'shared', grads);
    expect(run(className, config, n, 'tensor', grads)).toEqual(whole);
    expect(run(className, config, n, 'float32', grads)).toEqual(whole);
    expect(run(className, config, n, 'array', grads)).toEqual(whole);
    expect(run(className, config, n, 'float32', grads, true)).toEqual(run(className, config, n, 'shared', grads, true));
  });

  test.each([FROM - 1, FROM, FROM + 1, 3 * CHUNK - 1, 3 * CHUNK, 3 * CHUNK + 7])('lengths around the chunk boundaries: %i values', (n) => {
    const grads = [values(n, 21), values(n, 22)];
    for (const config of [{ clipnorm: 0.5 }, { global_clipnorm: 1 }]) {
      expect(run('Adam', config, n, 'float32', grads, true)).toEqual(run('Adam', config, n, 'shared', grads, true));
      expect(run('SGD', { momentum: 0.9, ...config }, n, 'float32', grads)).toEqual(run('SGD', { momentum: 0.9, ...config }, n, 'shared', grads));
    }
  });

  test.each(['bfloat16', 'int8'])('compressed slots (%s) stream a chunk at a time, with the bits of the whole path', (slotDtype) => {
    for (const n of [FROM + 9, 3 * CHUNK + 7]) {
      const grads = [values(n, 41), values(n, 42), values(n, 43)];
      for (const [className, config] of [
        ['Adam', {}],
        ['SGD', { momentum: 0.9 }],
        ['RMSprop', { clipnorm: 0.5 }],
      ] as const) {
        const c = { learning_rate: 0.1, slot_dtype: slotDtype, ...config };
        expect(run(className, c, n, 'float32', grads)).toEqual(run(className, c, n, 'shared', grads));
      }
    }
  });

  test('a non-finite value anywhere: skipped with the guard (nothing changed, the variable reported), propagated as the whole path without it', () => {
    const n = FROM + 5;
    for (const at of [0, CHUNK - 1, CHUNK, n - 1]) {
      for (const bad of [NaN, Infinity, -Infinity]) {
        const grads = [values(n, 31), values(n, 32)];
        grads[1][at] = bad;
        const guarded = run('Adam', { clipnorm: 1 }, n, 'float32', grads, true);
        expect(guarded).toEqual(run('Adam', { clipnorm: 1 }, n, 'shared', grads, true));
        expect(guarded[1].startsWith('false big ')).toBe(true);
        expect(guarded[1].slice('false big '.length)).toBe(guarded[0].slice('true  '.length));
        expect(run('RMSprop', { global_clipnorm: 1 }, n, 'float32', grads)).toEqual(run('RMSprop', { global_clipnorm: 1 }, n, 'shared', grads));
      }
    }
  });
});

describe('failures before the update change nothing', () => {
  /** An Adam with clipping and a big and a small variable, after one streamed step. */
  function trained(): { opt: Optimizer; big: Variable; small: Variable } {
    const opt = deserialize({ class_name: 'Adam', config: { clipnorm: 1 } }) as Optimizer;
    const big = new Variable(values(FROM + 3, 1), { name: 'big' });
    const small = new Variable(values(5, 2), { name: 'small' });
    opt.applyGradients([
      [values(FROM + 3, 3), big],
      [values(5, 4), small],
    ]);
    return { opt, big, small };
  }

  function refused(f: (opt: Optimizer, big: Variable, small: Variable) => unknown, cls: new (...a: never[]) => Error, pattern: RegExp): void {
    const { opt, big, small } = trained();
    const before = state(opt, [big, small]);
    expect(() => f(opt, big, small)).toThrow(cls);
    expect(() => f(opt, big, small)).toThrow(pattern);
    expect(state(opt, [big, small])).toBe(before);
    opt.learningRate = 0.01;
    opt.applyGradients([[values(FROM + 3, 5), big]]);
    expect(state(opt, [big, small])).not.toBe(before);
  }

  test('a learning-rate function that detaches, shrinks or grows the streamed gradient: ArgumentError naming it', () => {
    type Resizable = ArrayBuffer & { resize(bytes: number): void };
    for (const attack of ['detach', 'shrink', 'grow'] as const) {
      refused(
        (opt, big, small) => {
          const bytes = 4 * (FROM + 3);
          const buffer = new (ArrayBuffer as unknown as new (b: number, o: { maxByteLength: number }) => Resizable)(bytes, { maxByteLength: 2 * bytes });
          const g = new Float32Array(buffer);
          g.set(values(FROM + 3, 6));
          opt.learningRate = () => {
            if (attack === 'detach') structuredClone(buffer, { transfer: [buffer] });
            else buffer.resize(attack === 'shrink' ? bytes - 4 : bytes + 4);
            return 0.01;
          };
          return opt.applyGradients([
            [values(5, 7), small],
            [g, big],
          ]);
        },
        ArgumentError,
        /the gradient of 'big' changed after it was read/,
      );
    }
  });

  test('a streamed gradient of the wrong length, or a variable given twice: the whole path’s error', () => {
    refused((opt, big) => opt.applyGradients([[values(FROM + 2, 8), big]]), ShapeError, /big/);
    refused(
      (opt, big) =>
        opt.applyGradients([
          [values(FROM + 3, 8), big],
          [values(FROM + 3, 9), big],
        ]),
      ArgumentError,
      /big/,
    );
    refused(
      (opt, big, small) =>
        opt.applyGradients([
          [values(FROM + 3, 8), big],
          [new IndexedSlices(values(2, 1), [9, 0], [5]), small],
        ]),
      IndexError,
      /9/,
    );
  });
});

test('the default threshold: a Float32Array or number[] gradient of STREAM_FROM values streams; one value fewer, a Tensor, or small gradients adding up to more are not', () => {
  const loader = wasmLoader as { core(): Record<string, (...a: unknown[]) => unknown> };
  const c = loader.core();
  // The chunk these tests (and `STREAM_FROM`, four chunks) assume is the core's.
  expect(c.stream_chunk()).toBe(CHUNK);
  expect(stream.STREAM_FROM).toBe(4 * CHUNK);
  const original = c.optimizer_apply_streamed;
  const statuses: unknown[] = [];
  c.optimizer_apply_streamed = (...a: unknown[]) => {
    const status = original(...a);
    statuses.push(status);
    return status;
  };
  const before = stream.__streamFrom(stream.STREAM_FROM);
  try {
    const n = stream.STREAM_FROM;
    const opt = deserialize({ class_name: 'SGD', config: { momentum: 0.9 } }) as Optimizer;
    const big = new Variable(values(n, 1), { name: 'big' });
    const short = new Variable(values(n - 1, 2), { name: 'short' });
    const halves = [new Variable(values(n / 2, 3), { name: 'h0' }), new Variable(values(n / 2, 4), { name: 'h1' })];
    const streamed = (pairs: [Gradient, Variable][]): unknown[] => {
      statuses.length = 0;
      opt.applyGradients(pairs);
      return [...statuses];
    };
    expect(streamed([[values(n, 5), big]])).toEqual([0]);
    expect(streamed([[Array.from(values(n, 5)), big]])).toEqual([0]);
    expect(streamed([[values(n - 1, 6), short]])).toEqual([]);
    const t = new Tensor(values(n, 7));
    expect(streamed([[t, big]])).toEqual([]);
    expect(
      streamed([
        [values(n / 2, 8), halves[0]],
        [values(n / 2, 9), halves[1]],
      ]),
    ).toEqual([]);
    t.dispose();
    opt.dispose();
  } finally {
    stream.__streamFrom(before);
    c.optimizer_apply_streamed = original;
  }
});

test('a streamed gradient is not copied into WASM memory whole (the step frame does not grow to its size)', () => {
  const n = 1 << 20;
  const opt = deserialize({ class_name: 'SGD', config: { momentum: 0.9 } }) as Optimizer;
  const a = new Variable(values(n, 1), { name: 'a' });
  const b = new Variable(values(n, 2), { name: 'b' });
  const grad = values(n, 3);
  // The first steps make the slots and the staging buffer; streamed steps then grow nothing.
  opt.applyGradients([[grad, a]]);
  opt.applyGradients([[grad, b]]);
  const settled = memoryBytes();
  for (let i = 0; i < 3; i++) opt.applyGradients([[grad, a]]);
  expect(memoryBytes()).toBe(settled);
  // The same gradient in shared memory takes the whole path: the frame must grow to hold it.
  opt.applyGradients([[as('shared', grad), a]]);
  expect(memoryBytes() - settled).toBeGreaterThanOrEqual(4 * n);
});

test('the benchmark hook __streamCopies: on by default; off, a streamed step reads the staging buffer as it is (what benches/stream-floor.mjs times)', () => {
  expect(stream.__streamCopies()).toBe(true);
  const n = FROM;
  const opt = deserialize({ class_name: 'SGD', config: { learning_rate: 1 } }) as Optimizer;
  const v = new Variable(0, { shape: [n], name: 'v' });
  const [g1, g2] = [values(n, 1), values(n, 2)];
  const negated = (g: Float32Array) => bits(g.map((x) => -x));
  // With copies, plain SGD at learning rate 1 from zero gives -g.
  opt.applyGradients([[g1, v]]);
  expect(bits(v.read())).toBe(negated(g1));
  v.assign(0);
  try {
    expect(stream.__streamCopies(false)).toBe(true);
    opt.applyGradients([[g2, v]]);
    // The staging buffer still holds g1's last chunk: g2 was never read.
    expect(bits(v.read())).not.toBe(negated(g2));
  } finally {
    expect(stream.__streamCopies(true)).toBe(false);
  }
  v.assign(0);
  opt.applyGradients([[g2, v]]);
  expect(bits(v.read())).toBe(negated(g2));
  v.dispose();
  opt.dispose();
});
