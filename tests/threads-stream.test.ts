// Streamed gradients in the threads build (issue 14, items 1 and 2), as users get them (dist/,
// each build in its own Node process): a Float32Array or number[] gradient large enough for its
// pass to be split over the workers streams (the core asks for it in chunks of
// `stream_split_chunk()` values, each chunk then updated by the pool), and gives the bits of the
// Tensor path (the kernel alone, split over the pool) and of the single-threaded SIMD build. A
// gradient that a learning-rate function detaches or resizes is refused before anything changes.
// (tests/stream.test.ts: the SIMD build's streaming; tests/threads-ready.test.ts: every class.)
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, node, requireBuilt } from './helpers/process';

const ENV = {
  SIMDOPT_DIST: pathToFileURL(join(ROOT, 'dist', 'index.js')).href,
  SIMDOPT_LOADER: pathToFileURL(join(ROOT, 'dist', 'wasm', 'loader.js')).href,
};

beforeAll(() => requireBuilt());

interface Output {
  backend: string;
  splitChunk: number;
  /** Per case: a hash of every variable and optimizer weight after each way of passing the gradient. */
  hashes: Record<string, Record<string, string>>;
  /** Per case and way: the statuses of the streamed core calls (0: streamed and applied). */
  statuses: Record<string, Record<string, number[]>>;
  /** Per case: the largest chunk the core asked for in a streamed step. */
  largestFill: Record<string, number>;
  workerChunks: number;
  hostile: { attack: string; error: string; unchanged: boolean }[];
}

const SCRIPT = String.raw`
import { createHash } from 'node:crypto';
const s = await import(process.env.SIMDOPT_DIST);
const loader = await import(process.env.SIMDOPT_LOADER);
const backend = await s.ready(JSON.parse(process.env.READY));
const core = loader.core();
const out = { backend, splitChunk: core.stream_split_chunk(), hashes: {}, statuses: {}, largestFill: {}, workerChunks: 0, hostile: [] };
const chunksBefore = backend === 'threads' ? core.threads_worker_chunks() : 0;

// Record the statuses of streamed steps and the length of every chunk the core asks for.
const original = core.optimizer_apply_streamed;
let statuses = [];
let largest = 0;
core.optimizer_apply_streamed = (id, n, guarded, source) => {
  const counting = { fill: (pair, offset, len, dst) => ((largest = Math.max(largest, len)), source.fill(pair, offset, len, dst)) };
  const status = original(id, n, guarded, counting);
  statuses.push(status);
  return status;
};

function values(n, seed) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const x = (Math.imul(i ^ seed, 0x9e3779b1) >>> 8) / (1 << 24) - 0.5;
    a[i] = x > 0.3 ? x * 40 : x * 0.01;
  }
  return a;
}
const hash = (a) => (a instanceof BigInt64Array ? a.join(',') : createHash('sha256').update(a).digest('hex'));
const state = (opt, vars) => [...vars.map((v) => hash(v.read())), ...opt.getWeights().map(hash), String(opt.iterations)].join(' ');

// Above the split size of every pass here (the pool's default threshold: 1M values read), not a
// multiple of either chunk.
const N = (1 << 20) + 37;
const CASES = [
  ['Adam', { learning_rate: 0.01 }],
  ['Adam', { learning_rate: 0.01, clipnorm: 0.5, amsgrad: true }],
  ['SGD', { learning_rate: 0.1, momentum: 0.9, global_clipnorm: 1 }],
  ['RMSprop', { learning_rate: 0.01, centered: true, momentum: 0.5 }],
];
for (const [className, config] of CASES) {
  const key = className + ' ' + JSON.stringify(config);
  out.hashes[key] = {};
  out.statuses[key] = {};
  largest = 0;
  for (const way of ['tensor', 'float32', 'array', 'guarded']) {
    statuses = [];
    const opt = s.deserialize({ class_name: className, config });
    const big = new s.Variable(values(N, 1), { name: 'big' });
    const small = new s.Variable(values(9, 2), { name: 'small' });
    for (let step = 0; step < 2; step++) {
      const g = values(N, 10 + step);
      const grad = way === 'tensor' ? new s.Tensor(g) : way === 'array' ? Array.from(g) : g;
      opt.applyGradients([[values(9, 20 + step), small], [grad, big]], { skipNonFinite: way === 'guarded' });
      if (way === 'tensor') grad.dispose();
    }
    out.hashes[key][way] = state(opt, [big, small]);
    out.statuses[key][way] = [...statuses];
    big.dispose();
    small.dispose();
    opt.dispose();
  }
  out.largestFill[key] = largest;
}

// A learning-rate function (called after the gradients were read) that detaches, shrinks or
// grows the buffer of a streamed gradient: refused, nothing changed, and the next step works.
for (const attack of ['detach', 'shrink', 'grow']) {
  const opt = s.deserialize({ class_name: 'Adam', config: { clipnorm: 1 } });
  const big = new s.Variable(values(N, 1), { name: 'big' });
  const small = new s.Variable(values(5, 2), { name: 'small' });
  opt.applyGradients([[values(N, 3), big], [values(5, 4), small]]);
  const before = state(opt, [big, small]);
  const bytes = 4 * N;
  const buffer = new ArrayBuffer(bytes, { maxByteLength: 2 * bytes });
  const g = new Float32Array(buffer);
  g.set(values(N, 6));
  opt.learningRate = () => {
    if (attack === 'detach') structuredClone(buffer, { transfer: [buffer] });
    else buffer.resize(attack === 'shrink' ? bytes - 4 : bytes + 4);
    return 0.01;
  };
  let error = '';
  try {
    opt.applyGradients([[values(5, 7), small], [g, big]]);
  } catch (e) {
    error = e.name + ': ' + e.message;
  }
  const unchanged = state(opt, [big, small]) === before;
  opt.learningRate = 0.01;
  opt.applyGradients([[values(N, 5), big]]);
  out.hostile.push({ attack, error, unchanged: unchanged && state(opt, [big, small]) !== before });
  big.dispose();
  small.dispose();
  opt.dispose();
}
if (backend === 'threads') out.workerChunks = core.threads_worker_chunks() - chunksBefore;
console.log(JSON.stringify(out));
process.exit(0);
`;

async function child(ready: unknown): Promise<Output> {
  const r = await node(['--input-type=module', '-e', SCRIPT], { env: { ...ENV, READY: JSON.stringify(ready) }, timeoutMs: 180_000 });
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Output;
}

describe('the threads build streams gradients whose passes it splits', () => {
  let threads: Output;
  let simd: Output;

  beforeAll(async () => {
    [threads, simd] = await Promise.all([child({ threads: 2 }), child({ backend: 'simd' })]);
  }, 200_000);

  test('each process ran the build it asked for; the workers computed chunks', () => {
    expect([threads.backend, simd.backend]).toEqual(['threads', 'simd']);
    expect(threads.workerChunks).toBeGreaterThan(0);
  });

  test('a Float32Array or number[] gradient streams (in chunks of the split size), a Tensor does not', () => {
    expect(threads.splitChunk).toBeGreaterThan(simd.splitChunk);
    for (const [key, ways] of Object.entries(threads.statuses)) {
      expect({ key, ways }).toEqual({ key, ways: { tensor: [], float32: [0, 0], array: [0, 0], guarded: [0, 0] } });
      expect({ key, largest: threads.largestFill[key] }).toEqual({ key, largest: threads.splitChunk });
      expect({ key, largest: simd.largestFill[key] }).toEqual({ key, largest: simd.splitChunk });
    }
  });

  test("the Tensor path's bits, and the SIMD build's, for every way of passing the gradient", () => {
    for (const [key, ways] of Object.entries(threads.hashes)) {
      const tensor = ways.tensor;
      expect({ key, ways }).toEqual({ key, ways: { tensor, float32: tensor, array: tensor, guarded: tensor } });
      expect({ key, simd: simd.hashes[key] }).toEqual({ key, simd: ways });
    }
  });

  test('a streamed gradient detached, shrunk or grown by a learning-rate function: ArgumentError naming it, nothing changed', () => {
    for (const out of [threads, simd]) {
      expect(out.hostile.map((h) => h.attack)).toEqual(['detach', 'shrink', 'grow']);
      for (const h of out.hostile) {
        expect(h.error).toMatch(/^ArgumentError: .*the gradient of 'big' changed after it was read/);
        expect(h.unchanged).toBe(true);
      }
    }
  });
});
