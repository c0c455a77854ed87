// `ready()` and the threads build as users get them (dist/, each case in its own Node process,
// since a process loads one build): which build `ready()` picks and with how many threads, the
// options that turn threads off or contradict each other, and bit identity with the
// single-threaded SIMD build for every optimizer class the package knows (`optimizerClasses`,
// simdopt/keras3's `keras3Classes` and the core's registry, so classes added later are covered
// without an edit here) and their options, with every pass of 2 chunks or more split over
// worker threads.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, node, requireBuilt } from './helpers/process';

const ENV = {
  SIMDOPT_DIST: pathToFileURL(join(ROOT, 'dist', 'index.js')).href,
  SIMDOPT_LOADER: pathToFileURL(join(ROOT, 'dist', 'wasm', 'loader.js')).href,
  SIMDOPT_KERAS3: pathToFileURL(join(ROOT, 'dist', 'keras3', 'index.js')).href,
};

beforeAll(() => requireBuilt());

/** Runs `script` (an ES module) in a new Node process; its last line of output, as JSON. */
async function child<T>(script: string, env: Record<string, string> = {}): Promise<T> {
  const r = await node(['--input-type=module', '-e', script], { env: { ...ENV, ...env }, timeoutMs: 90_000 });
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as T;
}

interface Loaded {
  loaded?: string;
  backend?: string;
  threads?: number;
  error?: { name: string; code: string; message: string };
  again?: { loaded?: string; error?: { name: string; code: string; message: string } };
}

// ready(first), then (if given) ready(again): what each resolved to or rejected with.
const READY = String.raw`
const s = await import(process.env.SIMDOPT_DIST);
const { first, again } = JSON.parse(process.env.PLAN);
const fail = (e) => ({ name: e.name, code: e.code, message: e.message });
const out = {};
try {
  out.loaded = await s.ready(first);
  out.backend = s.backend();
  out.threads = s.stats().threads;
} catch (e) {
  out.error = fail(e);
}
if (again !== undefined) {
  try {
    out.again = { loaded: await s.ready(again) };
  } catch (e) {
    out.again = { error: fail(e) };
  }
}
console.log(JSON.stringify(out));
`;

const load = (first: unknown, again?: unknown) => child<Loaded>(READY, { PLAN: JSON.stringify({ first, again }) });

const CORES = availableParallelism();

describe('ready() in Node', () => {
  test('picks the threads build with one thread per processor (at most 4), where there are two or more', async () => {
    const r = await load({});
    if (CORES < 2) {
      expect(r).toMatchObject({ loaded: 'simd', threads: 1 });
      return;
    }
    expect(r).toMatchObject({ loaded: 'threads', backend: 'threads', threads: Math.min(CORES, 4) });
  });

  test.each<[Record<string, unknown>, string, number]>([
    [{ threads: false }, 'simd', 1],
    [{ threads: 1 }, 'simd', 1],
    [{ backend: 'simd' }, 'simd', 1],
    [{ backend: 'scalar' }, 'scalar', 1],
    [{ threads: 3 }, 'threads', 3],
    [{ backend: 'threads', threads: 2 }, 'threads', 2],
  ])('ready(%j) → the %s build, %i thread(s)', async (options, build, threads) => {
    expect(await load(options)).toMatchObject({ loaded: build, backend: build, threads });
  });

  test.each<[string, Record<string, unknown>, RegExp]>([
    ['a thread count that is not a whole number >= 1', { threads: 0 }, /threads must be a boolean, 'auto' or a whole number >= 1; got number 0/],
    ['a string for threads', { threads: 'many' }, /got string 'many'/],
    ['an unknown backend', { backend: 'gpu' }, /backend must be 'auto', 'threads', 'simd' or 'scalar', got string 'gpu'/],
    ['threads with a single-threaded build', { backend: 'simd', threads: 2 }, /threads: 2 needs the threads build, but backend 'simd' was asked for/],
    ["backend: 'threads' with threads: false", { backend: 'threads', threads: false }, /backend 'threads' contradicts threads: false/],
  ])('%s is an ArgumentError, and a later ready() still loads', async (_, options, message) => {
    const r = await load(options, {});
    expect(r.error).toMatchObject({ name: 'ArgumentError', code: 'InvalidArgument', message: expect.stringMatching(message) });
    expect(r.again?.loaded).toBe(CORES >= 2 ? 'threads' : 'simd');
  });

  test('a later ready() that contradicts the loaded build or thread count is a StateError; one that agrees resolves', async () => {
    const threaded = await load({ threads: 2 }, { threads: false });
    expect(threaded.again?.error).toMatchObject({ name: 'StateError', message: expect.stringMatching(/already loaded with 2 threads; it cannot switch to threads: false/) });
    const single = await load({ threads: false }, { backend: 'threads' });
    expect(single.again?.error).toMatchObject({ name: 'StateError', message: expect.stringMatching(/already loaded with the simd build; it cannot switch to threads/) });
    expect((await load({ threads: 2 }, { threads: 2 })).again).toEqual({ loaded: 'threads' });
  });
});

// ---------------------------------------------------------------------------------------------
// Bit identity. Each child process loads one build and runs, for every class and option set, a
// few steps on variables large enough to split (3 chunks + a tail; a [48, 1024] matrix), a
// small one (never split), a variable without a gradient in the first step and sparse rows,
// printing a hash of the bits of every variable and optimizer weight. The threads children set
// the split threshold to 0, one of them with the calling thread running chunks (as in use), one
// with the workers running every chunk of a split pass.

interface BitsOutput {
  backend: string;
  classes: Record<string, string>;
  results: Record<string, { error?: string; hashes?: string[]; weightNames?: string[] }>;
  workerChunks: number;
}

const BITS = String.raw`
const s = await import(process.env.SIMDOPT_DIST);
const loader = await import(process.env.SIMDOPT_LOADER);
const backend = await s.ready(JSON.parse(process.env.READY));
const core = loader.core();
let chunksBefore = 0;
if (backend === 'threads') {
  loader.__threadsThreshold(0);
  core.threads_set_caller_runs_chunks(process.env.CALLER_RUNS === '1');
  chunksBefore = core.threads_worker_chunks();
}

// The classes by family: the package's lists (the root's TF 2.4 classes, simdopt/keras3's) and
// the core's registry (class name -> config defaults), each built by its family's deserialize.
const families = { tf24: { deserialize: s.deserialize, classes: new Map() } };
for (const c of s.optimizerClasses) families.tf24.classes.set(c.spec.className, new Map(c.spec.config));
const k3 = await import(process.env.SIMDOPT_KERAS3).catch(() => undefined);
if (k3?.keras3Classes) {
  families.keras3 = { deserialize: k3.deserialize, classes: new Map() };
  for (const c of k3.keras3Classes) families.keras3.classes.set(c.spec.className, new Map(c.spec.config));
}
for (const e of JSON.parse(core.registry_json())) {
  const f = families[e.family];
  if (f && !f.classes.has(e.class_name)) f.classes.set(e.class_name, new Map(e.config));
}

/** Option sets of a class, from its config keys: none; each clipping option; every flag on; every
 * number that defaults to 0 set (momentum, l1/l2 strengths, weight decay...); every option that
 * defaults to null given (Keras 3's loss scale and gradient accumulation). */
function optionSets(config) {
  const sets = [{}, { clipnorm: 0.5 }, { global_clipnorm: 1 }, { clipvalue: 0.01 }];
  const flags = {};
  const numbers = {};
  for (const [k, v] of config) {
    if (typeof v === 'boolean' && !v) flags[k] = true;
    if (v === 0 && !['clipnorm', 'global_clipnorm', 'clipvalue'].includes(k)) numbers[k] = 0.05;
  }
  if (Object.keys(flags).length) sets.push(flags, { ...flags, ...numbers, clipnorm: 0.5 });
  if (Object.keys(numbers).length) sets.push(numbers);
  if (config.has('loss_scale_factor')) sets.push({ loss_scale_factor: 128 });
  if (config.has('gradient_accumulation_steps')) sets.push({ gradient_accumulation_steps: 2, global_clipnorm: 1 });
  return sets;
}

function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function values(rand, n, scale) {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rand() * 2 - 1) * scale * 10 ** (rand() * 2 - 1);
  return out;
}
/** FNV-1a over the bits (an int64 weight: its decimal string). */
function hash(a) {
  if (a instanceof BigInt64Array) return a.join(',');
  const u = new Uint32Array(a.buffer, a.byteOffset, a.length);
  let h = 0x811c9dc5;
  for (let i = 0; i < u.length; i++) h = Math.imul(h ^ u[i], 0x01000193) >>> 0;
  return a.length + ':' + h.toString(16);
}

/** FNV-1a over the bytes of any typed array. */
function hashBytes(a) {
  const u = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let h = 0x811c9dc5;
  for (let i = 0; i < u.length; i++) h = Math.imul(h ^ u[i], 0x01000193) >>> 0;
  return u.length + ':' + h.toString(16);
}

const CHUNK = 16384;
const out = { backend, classes: {}, results: {}, workerChunks: 0 };
let seed = 1;
for (const [family, { deserialize, classes }] of Object.entries(families))
for (const [name, config] of classes) {
  const cls = family + ' ' + name;
  try {
    deserialize({ class_name: name, config: {} }).dispose();
    out.classes[cls] = 'ok';
  } catch (e) {
    out.classes[cls] = 'unavailable: ' + e.message;
    continue;
  }
  for (const options of optionSets(config)) {
    const key = cls + ' ' + JSON.stringify(options);
    const rand = rng(seed++);
    let opt;
    try {
      opt = deserialize({ class_name: name, config: options });
    } catch (e) {
      out.results[key] = { error: 'construction: ' + e.message };
      continue;
    }
    const vars = [
      new s.Variable(values(rand, 3 * CHUNK + 37, 1), { shape: [3 * CHUNK + 37], name: 'long' }),
      new s.Variable(values(rand, 48 * 1024, 1), { shape: [48, 1024], name: 'matrix' }),
      new s.Variable(values(rand, 7, 1), { shape: [7], name: 'small' }),
      new s.Variable(values(rand, 64 * 16, 1), { shape: [64, 16], name: 'table' }),
    ];
    try {
      for (let step = 0; step < 4; step++) {
        const pairs = vars.slice(0, 3).map((v, i) => [step === 0 && i === 2 ? null : values(rand, v.size, 0.1), v]);
        const rows = [3, 9, 9, 60, Math.floor(rand() * 64)];
        pairs.push([new s.IndexedSlices(values(rand, rows.length * 16, 0.1), rows, [64, 16]), vars[3]]);
        opt.applyGradients(pairs);
      }
      out.results[key] = { hashes: [...vars.map((v) => hash(v.read())), ...opt.getWeights().map(hash)], weightNames: opt.getWeightNames() };
    } catch (e) {
      out.results[key] = { error: 'step: ' + e.message };
    }
    for (const v of vars) v.dispose();
    opt.dispose();
  }
}

// Sparse rows on compressed slots: the windows (up to 16K values of whole rows and 8-bit blocks)
// are stepped on the workers; rules that move every row walk the [1024, 64] table's four, the
// others the windows of the rows (about sixteen here).
for (const slotDtype of ['int8', 'bfloat16'])
for (const [family, name, options] of [['tf24', 'Adam', {}], ['tf24', 'SGD', { momentum: 0.9 }], ['tf24', 'Adagrad', {}], ['keras3', 'Adam', {}], ['keras3', 'SGD', { momentum: 0.9 }]]) {
  const key = family + ' ' + name + ' ' + JSON.stringify(options) + ' sparse ' + slotDtype;
  if (!families[family]) continue;
  const rand = rng(seed++);
  const Cls = family === 'tf24' ? s[name] : k3[name];
  const opt = new Cls({ ...options, learningRate: 0.01, slotDtype });
  const table = new s.Variable(values(rand, 1024 * 64, 1), { shape: [1024, 64], name: 'table' });
  try {
    for (let step = 0; step < 3; step++) {
      const rows = [0, 2, 2, ...Array.from({ length: 14 }, (_, i) => 61 * (i + 1) + step), 1023, Math.floor(rand() * 1024)];
      opt.applyGradients([[new s.IndexedSlices(values(rand, rows.length * 64, 0.1), rows, [1024, 64]), table]]);
    }
    // Every weight's bytes: f32 views, bfloat16 bits, 8-bit codes and block scales.
    const parts = opt.getWeights({ raw: true }).flatMap((w) => (w.dtype === 'int8' ? [w.codes, w.absmax] : w.dtype === 'bfloat16' ? [w.bits] : [w]));
    out.results[key] = { hashes: [hash(table.read()), ...parts.map(hashBytes)] };
  } catch (e) {
    out.results[key] = { error: 'step: ' + e.message };
  }
  table.dispose();
  opt.dispose();
}
if (backend === 'threads') out.workerChunks = core.threads_worker_chunks() - chunksBefore;
console.log(JSON.stringify(out));
`;

describe('bit identity: the threads build (passes split over workers) = the SIMD build', () => {
  let simd: BitsOutput;
  let mixed: BitsOutput;
  let workersOnly: BitsOutput;

  beforeAll(async () => {
    const run = (ready: unknown, callerRuns: boolean) => child<BitsOutput>(BITS, { READY: JSON.stringify(ready), CALLER_RUNS: callerRuns ? '1' : '0' });
    [simd, mixed, workersOnly] = await Promise.all([run({ backend: 'simd' }, true), run({ threads: 2 }, true), run({ threads: 2 }, false)]);
    const ok = Object.keys(simd.classes).filter((c) => simd.classes[c] === 'ok');
    console.log(
      `threads bit identity: ${Object.keys(simd.results).length} option sets over ${ok.length} classes (${ok.join(', ')}); worker chunks ${mixed.workerChunks} / ${workersOnly.workerChunks}`,
    );
  }, 120_000);

  test('each process ran the build it asked for; the workers computed chunks', () => {
    expect([simd.backend, mixed.backend, workersOnly.backend]).toEqual(['simd', 'threads', 'threads']);
    expect(workersOnly.workerChunks).toBeGreaterThan(0);
  });

  test("every class of the package's lists and of the core's registry (both families) steps, with every option set the core accepts", async () => {
    const { optimizerClasses } = (await import(ENV.SIMDOPT_DIST)) as { optimizerClasses: Array<{ spec: { className: string } }> };
    expect(Object.keys(simd.classes).some((c) => c.startsWith('keras3 '))).toBe(true);
    for (const c of optimizerClasses) expect([c.spec.className, simd.classes[`tf24 ${c.spec.className}`]]).toEqual([c.spec.className, 'ok']);
    // And simdopt/keras3's list. (Registry classes the facade cannot build yet are only reported:
    // threads.test.ts steps every registry class through the core's binding.)
    const { keras3Classes } = (await import(ENV.SIMDOPT_KERAS3)) as { keras3Classes: Array<{ spec: { className: string } }> };
    for (const c of keras3Classes) expect([c.spec.className, simd.classes[`keras3 ${c.spec.className}`]]).toEqual([c.spec.className, 'ok']);
    const unavailable = Object.keys(simd.classes).filter((c) => simd.classes[c] !== 'ok');
    if (unavailable.length) console.log(`registry classes the facade cannot build yet: ${unavailable.join(', ')}`);
    const stepErrors = Object.entries(simd.results).filter(([, r]) => r.error?.startsWith('step'));
    expect(stepErrors).toEqual([]);
  });

  test.each([
    ['the calling thread and a worker', () => mixed],
    ['the workers alone', () => workersOnly],
  ])('variables and every optimizer weight: the same bits, chunks run by %s', (_, threaded) => {
    const t = threaded();
    expect(t.classes).toEqual(simd.classes);
    expect(Object.keys(t.results)).toEqual(Object.keys(simd.results));
    const diffs = Object.keys(simd.results).filter((k) => JSON.stringify(t.results[k]) !== JSON.stringify(simd.results[k]));
    expect(diffs.map((k) => `${k}: ${JSON.stringify(t.results[k])} vs ${JSON.stringify(simd.results[k])}`)).toEqual([]);
  });
});
