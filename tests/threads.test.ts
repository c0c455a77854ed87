// The threads build (simd128 + atomics over one shared memory; feature `threads` of
// simdopt-wasm and simdopt-core) through its own glue: optimizer steps whose lane-driver passes
// are split over two worker threads give the single-threaded SIMD build's bits, the workers
// really take part, sleep when idle and leave on stop; the fallback chain threads → SIMD →
// scalar (`chooseBuild`), and the page case in headless Chromium: with cross-origin isolation
// `ready()` loads the threads build, without it the SIMD build, with the same bits.
// (tests/threads-ready.test.ts: `ready()` in Node and bit identity for every class.)
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ready, backend, simdSupported, Variable, Adam, SGD, RMSprop, Optimizer } from 'simdopt';
import type * as Threads from '../ts/wasm/threads';
import type { ThreadsPageResult } from './browser/threads-page';
import { adamWorkload, type AdamWorkloadResult } from './browser/threads-workload';
import { bundlePage, launchBrowser, pageRoute, serveLocal } from './helpers/browser';
import { ROOT, runOk } from './helpers/process';
import { denseSteps, threadsBase64, type ThreadsGlue } from './helpers/threads';

const GENERATED = join(ROOT, 'ts', 'wasm', 'generated', 'threads');
let T: typeof Threads;
let glue: ThreadsGlue;
let module: WebAssembly.Module;
let memory: WebAssembly.Memory;
let pool: Threads.Pool;

beforeAll(async () => {
  // Idempotent (stamped): builds the std with atomics and the threads build when missing.
  await runOk('bash', ['scripts/build-wasm-threads.sh'], { timeoutMs: 15 * 60_000 });
  T = (await import(pathToFileURL(join(ROOT, 'dist', 'wasm', 'threads.js')).href)) as typeof Threads;
  glue = (await import(pathToFileURL(join(GENERATED, 'simdopt_wasm.js')).href)) as ThreadsGlue;
  module = new WebAssembly.Module(Buffer.from(threadsBase64(GENERATED), 'base64'));
  memory = glue.initSync({ module }).memory;
  pool = await T.startPool(module, memory, glue, 2);
  await ready({ backend: 'simd' });
}, 16 * 60_000);

afterAll(async () => {
  await pool?.terminate();
});

/** `n` values in [-scale/2, scale/2): a multiplicative hash of the index (fast and fixed). */
function noise(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = ((Math.imul(i + seed * 7919, 0x9e3779b1) >>> 0) / 2 ** 32 - 0.5) * scale;
  return out;
}

/** Where two f32 arrays first differ in their bits (-1: nowhere, and the same length). */
function firstDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

describe('the threads build', () => {
  test('imports a shared memory: a plain memory is refused at instantiation', () => {
    expect(existsSync(join(GENERATED, 'simdopt_wasm.js'))).toBe(true);
    const imports: Record<string, Record<string, unknown>> = {};
    for (const i of WebAssembly.Module.imports(module)) {
      (imports[i.module] ??= {})[i.name] = i.kind === 'memory' ? new WebAssembly.Memory({ initial: 32, maximum: 65536 }) : () => {};
    }
    expect(() => new WebAssembly.Instance(module, imports as WebAssembly.Imports)).toThrow(WebAssembly.LinkError);
    expect(Object.prototype.toString.call(memory.buffer)).toBe('[object SharedArrayBuffer]'); // (jest's realm has its own class)
  });

  test('two workers wait in the pool; terminate() ends them and a new pool can start', async () => {
    expect(glue.threads_workers()).toBe(2);
    await pool.terminate();
    expect(glue.threads_workers()).toBe(0);
    pool = await T.startPool(module, memory, glue, 2);
    expect(glue.threads_workers()).toBe(2);
  });

  // Keras option names for the core, the package's for the reference.
  const CASES: Array<[string, Record<string, number>, () => Optimizer]> = [
    ['Adam', {}, () => new Adam({ learningRate: 0.01 })],
    ['Adam', { amsgrad: 1 }, () => new Adam({ learningRate: 0.01, amsgrad: true })],
    ['SGD', {}, () => new SGD({ learningRate: 0.01 })],
    ['SGD', { momentum: 0.9 }, () => new SGD({ learningRate: 0.01, momentum: 0.9 })],
    ['SGD', { momentum: 0.9, nesterov: 1 }, () => new SGD({ learningRate: 0.01, momentum: 0.9, nesterov: true })],
    ['RMSprop', {}, () => new RMSprop({ learningRate: 0.01 })],
    ['RMSprop', { centered: 1, momentum: 0.5 }, () => new RMSprop({ learningRate: 0.01, centered: true, momentum: 0.5 })],
  ];

  // 1M + 37: chunks of unequal length and a tail that is not a whole SIMD vector; 1000 and
  // 64K run below the size threshold, on the calling thread.
  describe.each([1000, 64 * 1024, (1 << 20) + 37])('%i elements', (n) => {
    test.each(CASES)('%s %j: three steps split over the pool = the SIMD build, variable and slots bit for bit', (className, keras, make) => {
      expect(backend()).toBe('simd');
      const start = noise(n, 1, 4);
      const grads = [2, 3, 4].map((seed) => noise(n, seed, 0.2 * seed));

      const v = new Variable(start);
      const opt = make();
      try {
        for (const g of grads) opt.applyGradients([[g, v]]);
        const r = denseSteps(glue, memory, className, { learning_rate: 0.01, ...keras }, start, grads);
        // Below the threshold the workers are never woken (above it, whether a worker wakes in
        // time to claim a chunk depends on the machine's load: see the next test).
        // (The threshold counts values read: elements × buffers, at most 5 here.)
        if (n * 5 < glue.threads_threshold()) expect(r.workerChunks).toBe(0);
        expect(firstDifference(r.variable, v.read())).toBe(-1);
        expect(Object.keys(r.slots)).toEqual(opt.getSlotNames());
        for (const name of opt.getSlotNames()) expect(firstDifference(r.slots[name], opt.getSlot(v, name).value)).toBe(-1);
      } finally {
        opt.dispose();
        v.dispose();
      }
    });
  });

  test('the workers run chunks, and the calling thread alone gives the same bits', () => {
    const n = (1 << 20) + 37;
    const start = new Float32Array(n).fill(0.5);
    const g = new Float32Array(n);
    for (let i = 0; i < n; i++) g[i] = ((i % 17) - 8) * 1e-3;
    // Steps until a worker has woken in time to take chunks (the first step, on an idle
    // machine; on a loaded one it may take a few).
    const before = glue.threads_worker_chunks();
    const split = denseSteps(glue, memory, 'Adam', {}, start, [g], () => glue.threads_worker_chunks() > before);
    expect(split.workerChunks).toBeGreaterThan(0);
    const threshold = glue.threads_threshold();
    glue.threads_set_threshold(2 ** 31);
    let alone;
    try {
      alone = denseSteps(glue, memory, 'Adam', {}, start, Array(split.steps).fill(g));
    } finally {
      glue.threads_set_threshold(threshold);
    }
    expect(alone.workerChunks).toBe(0);
    expect(firstDifference(alone.variable, split.variable)).toBe(-1);
    expect(firstDifference(alone.slots.v, split.slots.v)).toBe(-1);
  });

  test("every class of the core's registry (TF 2.4 and Keras 3 families), plain and with global_clipnorm: split over the pool = the calling thread alone", () => {
    const n = (1 << 20) + 37;
    const start = noise(n, 1, 4);
    const grads = [2, 3].map((seed) => noise(n, seed, 0.2 * seed));
    const classes = JSON.parse(glue.registry_json()) as Array<{ class_name: string; family: string }>;
    expect(new Set(classes.map((c) => c.family)).size).toBeGreaterThanOrEqual(1);
    const threshold = glue.threads_threshold();
    const diffs: string[] = [];
    let workerChunks = 0;
    for (const { class_name: className, family } of classes) {
      for (const globalClipnorm of [undefined, 0.5]) {
        const cls = { family, className, globalClipnorm };
        const split = denseSteps(glue, memory, cls, { learning_rate: 0.01 }, start, grads);
        glue.threads_set_threshold(2 ** 31);
        let alone;
        try {
          alone = denseSteps(glue, memory, cls, { learning_rate: 0.01 }, start, grads);
        } finally {
          glue.threads_set_threshold(threshold);
        }
        workerChunks += split.workerChunks;
        expect(alone.workerChunks).toBe(0);
        const key = `${family} ${className}${globalClipnorm ? ' global_clipnorm' : ''}`;
        if (firstDifference(alone.variable, split.variable) !== -1) diffs.push(`${key}: variable`);
        for (const slot of Object.keys(alone.slots)) if (firstDifference(alone.slots[slot], split.slots[slot]) !== -1) diffs.push(`${key}: slot ${slot}`);
      }
    }
    console.log(`registry classes split = alone: ${classes.map((c) => `${c.family}/${c.class_name}`).join(', ')}; worker chunks ${workerChunks}`);
    expect(diffs).toEqual([]);
  }, 300_000);

  test('compressed slots (bfloat16 by elements, 8-bit by whole blocks): the workers run chunks, and the calling thread alone gives the same bits', () => {
    const n = (1 << 20) + 37;
    const start = noise(n, 1, 4);
    const g = noise(n, 2, 0.4);
    const threshold = glue.threads_threshold();
    for (const slotDtype of ['bfloat16', 'int8']) {
      for (const [family, className] of [
        ['tf24', 'Adam'],
        ['keras3', 'Lion'],
      ]) {
        const cls = { family, className, slotDtype };
        // Steps until a worker has woken in time to take chunks (see the test above).
        const before = glue.threads_worker_chunks();
        const split = denseSteps(glue, memory, cls, { learning_rate: 0.01 }, start, [g], () => glue.threads_worker_chunks() > before);
        expect(split.workerChunks).toBeGreaterThan(0);
        glue.threads_set_threshold(2 ** 31);
        let alone;
        try {
          alone = denseSteps(glue, memory, cls, { learning_rate: 0.01 }, start, Array(split.steps).fill(g));
        } finally {
          glue.threads_set_threshold(threshold);
        }
        expect(alone.workerChunks).toBe(0);
        expect(Object.keys(alone.raw).length).toBeGreaterThan(0);
        expect(firstDifference(alone.variable, split.variable)).toBe(-1);
        for (const [name, bytes] of Object.entries(alone.raw)) {
          expect(bytes.some((b) => b !== 0)).toBe(true);
          expect(Buffer.compare(Buffer.from(bytes), Buffer.from(split.raw[name]))).toBe(0);
        }
      }
    }
  }, 300_000);

  test('idle workers sleep: they poll a bounded while after a pass, then wait without waking', async () => {
    const n = 1 << 20;
    expect(glue.threads_spin()).toBeGreaterThan(0); // as shipped: polls before it sleeps
    const [asleep, woken] = [glue.threads_sleepers(), glue.threads_wakeups()];
    denseSteps(glue, memory, 'SGD', {}, new Float32Array(n), [new Float32Array(n).fill(1)]); // a job: the workers woke
    // Every worker is asleep again soon after (a worker that kept polling would never be), and
    // each one that slept through the job's start has counted its wake-up (on a loaded machine a
    // woken worker may get a core only after the job ended: its count must not land below).
    const deadline = Date.now() + 10_000;
    const settled = () => glue.threads_sleepers() === glue.threads_workers() && glue.threads_wakeups() - woken >= asleep;
    while (!settled() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(glue.threads_sleepers()).toBe(glue.threads_workers());
    const before = glue.threads_wakeups();
    await new Promise((r) => setTimeout(r, 300));
    // And stays asleep: no wake-ups without work.
    expect(glue.threads_wakeups() - before).toBe(0);
    expect(glue.threads_sleepers()).toBe(glue.threads_workers());
  });

  test('a Node process whose pool is never terminated still exits by itself', async () => {
    const url = (p: string) => JSON.stringify(pathToFileURL(join(ROOT, p)).href);
    const script = `
      const glue = await import(${url('ts/wasm/generated/threads/simdopt_wasm.js')});
      const T = await import(${url('dist/wasm/threads.js')});
      const b64 = (await import(${url('ts/wasm/generated/threads/threads-bytes-1.js')})).default + (await import(${url('ts/wasm/generated/threads/threads-bytes-2.js')})).default;
      const module = new WebAssembly.Module(Buffer.from(b64, 'base64'));
      const { memory } = glue.initSync({ module });
      await T.startPool(module, memory, glue, 2);
      const n = 1 << 20, shape = Uint32Array.of(n);
      const v = glue.tensor_create('w', shape), g = glue.tensor_create('g', shape);
      const opt = glue.optimizer_create('Adam', 'Adam', [], new Float32Array());
      glue.frame_reserve(7, 0, 0);
      new Uint32Array(memory.buffer, glue.frame_layout()[0], 7).set([v, glue.tensor_generation(v), 2, g, glue.tensor_generation(g), 0, 0]);
      if (glue.optimizer_apply(opt, 1) !== 0) throw new Error('the step failed');
      console.log('workers', glue.threads_workers());`;
    const r = await runOk(process.execPath, ['--input-type=module', '-e', script], { timeoutMs: 30_000 });
    expect(r.stdout.trim()).toBe('workers 2');
  });

  test('a worker that cannot start rejects startPool with a StateError naming why', async () => {
    // The SIMD build's module is no threads build: the worker finds no worker loop in it.
    const simdBytes = /export default ("[A-Za-z0-9+/=]*");/.exec(readFileSync(join(ROOT, 'dist', 'wasm', 'generated', 'simd-bytes.js'), 'utf8'))![1];
    const wrong = new WebAssembly.Module(Buffer.from(JSON.parse(simdBytes) as string, 'base64'));
    const scratch = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true } as WebAssembly.MemoryDescriptor);
    const fake = { threads_workers: () => 0, threads_stop: () => {}, threads_poison_ptr: () => 0 };
    await expect(T.startPool(wrong, scratch, fake, 1, 5_000)).rejects.toMatchObject({
      name: 'StateError',
      code: 'InvalidState',
      message: expect.stringMatching(/^simdopt could not start its 1 worker threads: .*threads_worker_loop is not a function/s),
    });
    expect(new Int32Array(scratch.buffer)[0]).toBe(1); // the worker raised the poison word
  });
});

describe('chooseBuild: threads → SIMD → scalar, decided once', () => {
  const full: Threads.Runtime = { simd: true, sharedMemory: true, crossOriginIsolated: undefined, workers: true, cores: 8 };

  test('threads where everything is there; the default thread count is capped', () => {
    expect(T.chooseBuild({}, full)).toMatchObject({ build: 'threads', threads: T.MAX_DEFAULT_THREADS });
    expect(T.chooseBuild({}, { ...full, cores: 2 })).toMatchObject({ build: 'threads', threads: 2 });
    expect(T.chooseBuild({ threads: 6 }, full)).toMatchObject({ build: 'threads', threads: 6 });
    expect(T.chooseBuild({ threads: true }, { ...full, crossOriginIsolated: true })).toMatchObject({ build: 'threads' });
    expect(T.chooseBuild({ backend: 'threads', threads: 3 }, full)).toMatchObject({ build: 'threads', threads: 3 });
  });

  test.each<[string, Partial<Threads.Runtime>, Record<string, unknown>, string, RegExp]>([
    ['threads: false', {}, { threads: false }, 'simd', /turned off/],
    ['threads: 1', {}, { threads: 1 }, 'simd', /turned off/],
    ['one core', { cores: 1 }, {}, 'simd', /one processor/],
    ['a page that is not cross-origin isolated', { crossOriginIsolated: false, sharedMemory: false }, {}, 'simd', /Cross-Origin-Opener-Policy/],
    ['no shared memory', { sharedMemory: false }, {}, 'simd', /SharedArrayBuffer/],
    ['no workers', { workers: false }, {}, 'simd', /no worker threads/],
    ['no SIMD', { simd: false }, {}, 'scalar', /no WebAssembly SIMD/],
    ['the scalar build asked for', {}, { backend: 'scalar' }, 'scalar', /scalar build was asked for/],
    ['the SIMD build asked for', {}, { backend: 'simd' }, 'simd', /simd build was asked for \(it runs on one thread\)/],
  ])('%s → %s', (_, rt, options, build, why) => {
    const c = T.chooseBuild(options, { ...full, ...rt });
    expect(c).toMatchObject({ build: build === 'simd' ? 'simd' : build, threads: 1 });
    expect(c.why).toMatch(why);
  });

  test('an explicit request the runtime cannot meet throws, naming why', () => {
    expect(() => T.chooseBuild({ threads: true }, { ...full, crossOriginIsolated: false })).toThrow(/cannot use threads here: the page is not cross-origin isolated/);
    expect(() => T.chooseBuild({ threads: 2 }, { ...full, sharedMemory: false })).toThrow(expect.objectContaining({ name: 'StateError', code: 'InvalidState' }));
    expect(() => T.chooseBuild({ backend: 'simd' }, { ...full, simd: false })).toThrow(/does not support WebAssembly SIMD/);
    expect(() => T.chooseBuild({ backend: 'threads' }, { ...full, cores: 1 })).toThrow(/cannot use threads here: one processor/);
    expect(() => T.chooseBuild({ threads: 2.5 }, full)).toThrow(expect.objectContaining({ name: 'ArgumentError', message: expect.stringContaining('got number 2.5') }));
    expect(() => T.chooseBuild({ backend: 'scalar', threads: 2 }, full)).toThrow(
      expect.objectContaining({ name: 'ArgumentError', message: expect.stringContaining("backend 'scalar'") }),
    );
  });

  test('this Node process: shared memory and workers, no page isolation to ask for', async () => {
    const rt = await T.probeRuntime(simdSupported());
    expect(rt).toMatchObject({ simd: true, sharedMemory: true, crossOriginIsolated: undefined, workers: true });
    expect(rt.cores).toBeGreaterThanOrEqual(1);
  });
});

describe('in headless Chromium', () => {
  /** The workload's result in this process (the SIMD build) after `steps` steps. */
  const reference = (steps: number): AdamWorkloadResult => {
    let taken = 3;
    return adamWorkload({ Variable, Adam }, () => taken++ >= steps);
  };

  async function visit(headers: Record<string, string>): Promise<ThreadsPageResult> {
    const page = pageRoute('simdopt threads', await bundlePage('tests/browser/threads-page.ts'));
    const server = await serveLocal(async (path) => {
      const a = await page(path);
      return a && { ...a, headers };
    });
    const browser = await launchBrowser();
    try {
      const tab = await browser.newPage();
      const errors: string[] = [];
      tab.on('pageerror', (e) => errors.push(e.message));
      await tab.goto(server.origin);
      await tab.waitForFunction(() => window.__threads !== undefined || window.__threadsError !== undefined, undefined, { timeout: 90_000 });
      const { r, error } = await tab.evaluate(() => ({ r: window.__threads, error: window.__threadsError }));
      if (error !== undefined) throw new Error(`the page failed: ${error}`);
      expect(errors).toEqual([]);
      return r!;
    } finally {
      await browser.close();
      await server.close();
    }
  }

  test('cross-origin isolated (COOP + COEP): ready() loads the threads build; Adam 1M on the main thread, split with Web Workers = the SIMD build', async () => {
    const r = await visit({ 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' });
    expect(r.runtime).toMatchObject({ crossOriginIsolated: true, sharedMemory: true, simd: true, workers: true });
    expect(r.insisted).toEqual({ build: 'threads' });
    expect(r.loaded).toBe('threads');
    expect(r.threads).toBe(Math.min(r.runtime.cores, T.MAX_DEFAULT_THREADS));
    expect(r.workerChunks).toBeGreaterThan(0);
    expect(r.adam).toEqual(reference(r.adam.steps));
  }, 150_000);

  test('without those headers: no shared memory, ready() loads the SIMD build (same bits), and threads: true says what headers to send', async () => {
    const r = await visit({});
    expect(r.runtime).toMatchObject({ crossOriginIsolated: false, sharedMemory: false, simd: true });
    expect(r.loaded).toBe('simd');
    expect(r.threads).toBe(1);
    expect(r.insisted.name).toBe('StateError');
    expect(r.insisted.error).toMatch(/Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp/);
    expect(r.adam).toEqual(reference(3));
  }, 150_000);
});
