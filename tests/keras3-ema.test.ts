// simdopt/keras3's `useEma` in every wasm build (simd, scalar, threads with every pass of 2
// chunks or more split over the workers), each in its own Node process: each class runs each
// case twice, with `useEma` and without; the second run's variables get Keras 3's averages
// computed here with Math.fround (`μ·avg + (1-μ)·var`, μ = 0 at step 0, then the overwrite),
// and the two runs must agree bit for bit on every variable, average and other optimizer
// variable after every call. The core fuses most averages into the rule's pass and leaves the
// rest (None gradients, sparse steps, accumulation micro-steps, multi-pass rules, overwrite
// steps) to a pass of its own: the cases cover both. (crates/simdopt-core/src/step/ema/fused.rs
// checks the same natively, on wide and scalar lanes and the native pool.)
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, node, requireBuilt } from './helpers/process';

const ENV = {
  SIMDOPT_DIST: pathToFileURL(join(ROOT, 'dist', 'index.js')).href,
  SIMDOPT_LOADER: pathToFileURL(join(ROOT, 'dist', 'wasm', 'loader.js')).href,
  SIMDOPT_KERAS3: pathToFileURL(join(ROOT, 'dist', 'keras3', 'index.js')).href,
};

beforeAll(() => requireBuilt());

interface EmaOutput {
  backend: string;
  /** Per "class case": the first difference, or 'ok' with the number of calls compared. */
  results: Record<string, string>;
}

const SCRIPT = String.raw`
const s = await import(process.env.SIMDOPT_DIST);
const loader = await import(process.env.SIMDOPT_LOADER);
const k3 = await import(process.env.SIMDOPT_KERAS3);
const backend = await s.ready(JSON.parse(process.env.READY));
if (backend === 'threads') loader.__threadsThreshold(0);

function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function values(rand, n) {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rand() < 0.1 ? 0 : (rand() * 2 - 1) * 10 ** (rand() * 4 - 3);
  return out;
}
const bits = (a) => new Uint32Array(a.buffer, a.byteOffset, a.length);
function firstDiff(a, b) {
  if (a.length !== b.length) return 'lengths ' + a.length + ' vs ' + b.length;
  const [x, y] = [bits(a), bits(b)];
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return 'element ' + i + ': ' + a[i] + ' vs ' + b[i];
  return null;
}

const CHUNK = 16384;
// [48, 64] for sparse rows (and Muon's Newton-Schulz); 3 chunks + 37 (split in the threads build).
const SHAPES = [[7], [48, 64], [3 * CHUNK + 37]];
const MOMENTUM = 0.9;
// Per case: options, calls, and which gradients are None or sparse (call, variable).
const CASES = {
  dense: { options: {}, calls: 4 },
  'None gradients': { options: {}, calls: 4, none: [[1, 0], [2, 1], [2, 2]] },
  'overwrite every 2': { options: { emaOverwriteFrequency: 2 }, calls: 5 },
  'accumulation 2': { options: { gradientAccumulationSteps: 2 }, calls: 6, none: [[3, 0]] },
  'accumulation 3, overwrite every update': { options: { gradientAccumulationSteps: 3, emaOverwriteFrequency: 1 }, calls: 7 },
  sparse: { options: {}, calls: 4, sparse: true },
  'sparse, accumulation 2': { options: { gradientAccumulationSteps: 2 }, calls: 5, sparse: true },
  'decay, clip, loss scale': { options: { weightDecay: 0.05, clipnorm: 0.5, lossScaleFactor: 4 }, calls: 4 },
};

const out = { backend, results: {} };
let seed = 1;
for (const cls of k3.keras3Classes) {
  const name = cls.spec.className;
  for (const [label, c] of Object.entries(CASES)) {
    const key = name + ' ' + label;
    const rand = rng(seed++);
    const init = SHAPES.map((sh) => values(rand, sh.reduce((a, b) => a * b, 1)));
    const grads = Array.from({ length: c.calls }, () => SHAPES.map((sh) => values(rand, sh.reduce((a, b) => a * b, 1))));
    const rows = [5, 0, 5, 47];
    const sparseValues = Array.from({ length: c.calls }, () => values(rand, rows.length * 64));
    const { emaOverwriteFrequency, ...base } = c.options;
    let fused, plain;
    try {
      // SGD with a momentum (its slot-carrying kernel).
      const own = name === 'SGD' ? { momentum: 0.5 } : {};
      const make = (ema) => new cls({ ...own, ...base, ...(ema ? { useEma: true, emaMomentum: MOMENTUM, emaOverwriteFrequency } : {}) });
      [fused, plain] = [make(true), make(false)];
    } catch (e) {
      out.results[key] = 'construction: ' + e.message;
      continue;
    }
    const vars = (tag) => SHAPES.map((sh, i) => new s.Variable(init[i], { shape: sh, name: tag + i }));
    const [fv, pv] = [vars('w'), vars('w')];
    const steps = c.options.gradientAccumulationSteps ?? 1;
    const averages = init.map((x) => new Float32Array(x.length));
    let result = 'ok: ' + c.calls + ' calls';
    try {
      for (let call = 0; call < c.calls && result.startsWith('ok'); call++) {
        const pairs = (vs) =>
          vs.map((v, i) => {
            if ((c.none ?? []).some(([k, j]) => k === call && j === i)) return [null, v];
            if (c.sparse && i === 1) return [new s.IndexedSlices(sparseValues[call], rows, SHAPES[1]), v];
            return [grads[call][i], v];
          });
        fused.applyGradients(pairs(fv));
        plain.applyGradients(pairs(pv));
        const t = Math.floor(call / steps);
        const mu = t === 0 ? 0 : Math.fround(MOMENTUM);
        const om = Math.fround(1 - mu);
        for (let i = 0; i < SHAPES.length; i++) {
          const x = pv[i].read();
          const a = averages[i];
          for (let j = 0; j < a.length; j++) a[j] = Math.fround(Math.fround(mu * a[j]) + Math.fround(om * x[j]));
          if (emaOverwriteFrequency && (t + 1) % emaOverwriteFrequency === 0) pv[i].assign(a);
        }
        const fvars = fused.variables;
        const got = fvars.filter((w) => w.path.endsWith('_average'));
        const rest = fvars.filter((w) => !w.path.endsWith('_average'));
        const want = plain.variables;
        const diffs = [
          ...fv.map((v, i) => ['variable ' + i, firstDiff(v.read(), pv[i].read())]),
          ['averages', got.length === SHAPES.length ? null : got.length + ' averages'],
          ...got.map((w, i) => ['average ' + i, firstDiff(w.value, averages[i])]),
          ['optimizer variables', rest.length === want.length ? null : rest.length + ' vs ' + want.length],
          ...rest.map((w, i) => [w.path, w.dtype === 'int64' ? (w.value[0] === want[i].value[0] ? null : 'iteration') : firstDiff(w.value, want[i].value)]),
        ].filter(([, d]) => d);
        if (diffs.length) result = 'call ' + call + ': ' + diffs[0].join(': ');
      }
    } catch (e) {
      result = 'step: ' + e.message;
    }
    out.results[key] = result;
    for (const v of [...fv, ...pv]) v.dispose();
    fused.dispose();
    plain.dispose();
  }
}
console.log(JSON.stringify(out));
`;

async function runBuild(ready: Record<string, unknown>): Promise<EmaOutput> {
  const r = await node(['--input-type=module', '-e', SCRIPT], { env: { ...ENV, READY: JSON.stringify(ready) }, timeoutMs: 120_000 });
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as EmaOutput;
}

describe.each<[string, Record<string, unknown>]>([
  ['simd', { backend: 'simd' }],
  ['scalar', { backend: 'scalar' }],
  ['threads', { backend: 'threads', threads: 2 }],
])('useEma in the %s build', (build, ready) => {
  test('fused and separate averages equal Keras 3 formula bit for bit, for every class and case', async () => {
    const out = await runBuild(ready);
    expect(out.backend).toBe(build);
    const entries = Object.entries(out.results);
    // 14 classes x 8 cases: a class that cannot take a case would show as an error here.
    expect(entries.length).toBeGreaterThanOrEqual(14 * 8);
    expect(entries.filter(([, r]) => !r.startsWith('ok'))).toEqual([]);
  }, 180_000);
});
