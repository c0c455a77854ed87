// The two wasm builds of the package: (a) the SIMD build really uses SIMD instructions and the
// scalar build none (disassembled with wabt); (b) both compute bit-identical results for every
// optimizer the package can deserialize, each build loaded in its own Node process.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import wabtInit from 'wabt';
import { ROOT, node, requireBuilt } from './helpers/process';
import { CLASS_NAMES } from './helpers/registry';

type Build = 'simd' | 'scalar';

/** The wasm bytes the package ships, decoded from dist/wasm/generated/<build>-bytes.js. */
function shippedWasm(build: Build): Uint8Array<ArrayBuffer> {
  const text = readFileSync(join(ROOT, 'dist', 'wasm', 'generated', `${build}-bytes.js`), 'utf8');
  const m = /export default ("[A-Za-z0-9+/=]*");/.exec(text);
  if (!m) throw new Error(`dist/wasm/generated/${build}-bytes.js does not export a base64 string`);
  return new Uint8Array(Buffer.from(JSON.parse(m[1]) as string, 'base64'));
}

// Any SIMD instruction in the text format: v128.* and the lane-typed ops (f32x4.mul, i8x16.shuffle, ...).
const SIMD_OP = /\b(?:v128|[if](?:8|16|32|64)x(?:2|4|8|16))\.[a-z0-9_.]+/g;
const F32X4_ARITH = /\bf32x4\.(?:add|sub|mul|div|sqrt|min|max|pmin|pmax|abs|neg)\b/g;

interface Disassembly {
  bytes: number;
  simdOps: number;
  byOp: Record<string, number>;
  /** SIMD ops in the functions of the numeric core (`simdopt_core::`), per function. */
  kernels: Array<[string, number]>;
  kernelSimdOps: number;
  kernelF32x4Arith: number;
  hasNames: boolean;
  validatesWithoutSimd: boolean;
}

let wabt: Awaited<ReturnType<typeof wabtInit>>;
const dis: Partial<Record<Build, Disassembly>> = {};

function disassemble(build: Build): Disassembly {
  const bytes = shippedWasm(build);
  const mod = wabt.readWasm(bytes, { readDebugNames: true, simd: true });
  let wat: string;
  try {
    mod.validate();
    mod.applyNames();
    wat = mod.toText({ foldExprs: false, inlineExport: false });
  } finally {
    mod.destroy();
  }
  let validatesWithoutSimd = true;
  try {
    const plain = wabt.readWasm(bytes, { simd: false });
    plain.validate();
    plain.destroy();
  } catch {
    validatesWithoutSimd = false;
  }
  const byOp: Record<string, number> = {};
  for (const m of wat.matchAll(SIMD_OP)) byOp[m[0]] = (byOp[m[0]] ?? 0) + 1;
  const funcs = wat.split(/\n {2}\(func /).slice(1);
  const named = funcs.map((f) => [f.slice(0, f.indexOf(' (type')), f] as const);
  const core = named.filter(([name]) => name.includes('simdopt_core::'));
  const kernels = core
    .map(([name, body]) => [name.replace(/::h[0-9a-f]{16}$/, ''), (body.match(SIMD_OP) ?? []).length] as [string, number])
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  // Without a name section the kernels cannot be told apart: count the whole module then.
  const kernelText = core.length > 0 ? core.map(([, body]) => body).join('\n') : wat;
  return {
    bytes: bytes.length,
    simdOps: Object.values(byOp).reduce((a, b) => a + b, 0),
    byOp,
    kernels,
    kernelSimdOps: (kernelText.match(SIMD_OP) ?? []).length,
    kernelF32x4Arith: (kernelText.match(F32X4_ARITH) ?? []).length,
    hasNames: core.length > 0,
    validatesWithoutSimd,
  };
}

beforeAll(async () => {
  requireBuilt();
  wabt = await wabtInit();
  dis.simd = disassemble('simd');
  dis.scalar = disassemble('scalar');
  const top = (d: Disassembly) =>
    Object.entries(d.byOp)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10)
      .map(([op, n]) => `${op} ${n}`)
      .join(', ');
  console.log(
    [
      `simd build: ${dis.simd.bytes} bytes, ${dis.simd.simdOps} SIMD instructions (${dis.simd.kernelSimdOps} in simdopt_core, ${dis.simd.kernelF32x4Arith} f32x4 arithmetic); top: ${top(dis.simd)}`,
      `  simdopt_core functions with SIMD: ${dis.simd.kernels.map(([f, n]) => `${f} ${n}`).join('; ')}`,
      `scalar build: ${dis.scalar.bytes} bytes, ${dis.scalar.simdOps} SIMD instructions`,
    ].join('\n'),
  );
});

describe('disassembly', () => {
  test('the SIMD build computes with SIMD instructions', () => {
    const d = dis.simd!;
    expect(d.validatesWithoutSimd).toBe(false);
    expect(d.simdOps).toBeGreaterThan(200);
    expect(d.kernelSimdOps).toBeGreaterThan(100);
    expect(d.kernelF32x4Arith).toBeGreaterThan(50);
    for (const op of ['v128.load', 'v128.store', 'f32x4.mul', 'f32x4.add', 'f32x4.sqrt', 'f32x4.div']) expect(d.byOp[op] ?? 0).toBeGreaterThan(0);
  });

  test('the scalar build has no SIMD instruction at all and validates with SIMD disabled', () => {
    const d = dis.scalar!;
    expect(d.byOp).toEqual({});
    expect(d.simdOps).toBe(0);
    expect(d.validatesWithoutSimd).toBe(true);
  });

  test('both builds carry the same exports', async () => {
    const exportsOf = async (b: Build) =>
      WebAssembly.Module.exports(await WebAssembly.compile(shippedWasm(b)))
        .map((e) => `${e.kind} ${e.name}`)
        .sort();
    expect(await exportsOf('scalar')).toEqual(await exportsOf('simd'));
  });
});

// ---------------------------------------------------------------------------------------------
// (b) Bit identity. A child process loads dist/ with one build and runs a fixed, seeded sequence
// of steps for every optimizer `deserialize` can build, once with finite gradients and once
// with some NaN/±Infinity/huge ones; it prints every variable and weight as f32 bits (hex), so
// NaN payloads and -0 compare exactly.

/** Keras class names to try: the registry's (TF 2.4's), plus any class with a fixture file. */
const CANDIDATES = [
  ...new Set([
    ...CLASS_NAMES,
    ...readdirSync(join(ROOT, 'tests', 'fixtures', 'tf24', 'optimizers'))
      .filter((f) => f.endsWith('.json') && !f.startsWith('_'))
      .map((f) => f.replace(/\.json$/, '')),
  ]),
];

/** Extra Keras configs per class (on top of the common ones), in Keras' snake_case; a class not
 * listed runs the common ones only. */
const VARIANTS: Record<string, Array<Record<string, unknown>>> = {
  SGD: [{ momentum: 0.9 }, { momentum: 0.9, nesterov: true }, { momentum: 0.5, nesterov: true, clipnorm: 0.5 }],
  Adam: [{ amsgrad: true }, { amsgrad: true, clipnorm: 0.5 }, { beta_1: 0.5, beta_2: 0.9, epsilon: 1e-3 }],
  RMSprop: [{ momentum: 0.9 }, { centered: true }, { momentum: 0.9, centered: true, clipnorm: 0.5 }],
  Adagrad: [{ initial_accumulator_value: 0.5 }],
  Adadelta: [{ learning_rate: 1.0, rho: 0.9 }],
  Adamax: [{ beta_1: 0.5, epsilon: 1e-3 }],
  Nadam: [{ beta_1: 0.5, beta_2: 0.9 }],
  Ftrl: [
    { l1_regularization_strength: 0.01, l2_regularization_strength: 0.02, beta: 0.1 },
    { learning_rate_power: -0.7, l2_shrinkage_regularization_strength: 0.05 },
  ],
};
const COMMON: Array<Record<string, unknown>> = [
  {},
  { learning_rate: 0.05 },
  { learning_rate: 0.05, clipnorm: 0.5 },
  { learning_rate: 0.05, global_clipnorm: 1 },
  { clipvalue: 0.1 },
];

const LENGTHS = [0, 1, 3, 4, 5, 7, 8, 9, 33, 1000];

// Runs in the child: `node --input-type=module -e SCRIPT` with the settings in the environment.
const SCRIPT = String.raw`
const { ready, backend, deserialize, Variable, IndexedSlices } = await import(process.env.SIMDOPT_DIST);
const { build, candidates, variants, common, lengths } = JSON.parse(process.env.SIMDOPT_PLAN);
await ready({ backend: build });

// mulberry32: the same numbers in every process.
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
// Mixed magnitudes, exact zeros, -0 and subnormals; with \`nonfinite\` also NaN, ±Infinity and
// values whose squares overflow.
function values(rand, n, nonfinite = false) {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rand();
    if (nonfinite && u < 0.01) out[i] = NaN;
    else if (nonfinite && u < 0.02) out[i] = rand() < 0.5 ? Infinity : -Infinity;
    else if (nonfinite && u < 0.03) out[i] = rand() < 0.5 ? 3e38 : -3e38;
    else if (u < 0.05) out[i] = 0;
    else if (u < 0.07) out[i] = -0;
    else if (u < 0.09) out[i] = (rand() - 0.5) * 1e-38;
    else out[i] = (rand() * 2 - 1) * 10 ** (rand() * 5 - 3);
  }
  return out;
}
const hex = (a) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length), (x) => x.toString(16).padStart(8, '0')).join('');

const out = { backend: backend(), classes: {}, results: {} };
let seed = 1;
for (const cls of candidates) {
  try {
    deserialize({ class_name: cls, config: {} }).dispose();
  } catch (e) {
    out.classes[cls] = 'unavailable: ' + (e && e.message);
    continue;
  }
  out.classes[cls] = 'ok';
  const configs = [...common, ...(variants[cls] ?? [])];
  for (const [config, nonfinite] of [...configs.map((c) => [c, false]), ...configs.map((c) => [c, true])]) {
    const key = cls + ' ' + JSON.stringify(config) + (nonfinite ? ' non-finite gradients' : '');
    const rand = rng(seed++);
    let opt;
    try {
      opt = deserialize({ class_name: cls, config });
    } catch (e) {
      out.results[key] = { error: 'construction: ' + e.message };
      continue;
    }
    const vars = lengths.map((n) => new Variable(values(rand, n), { shape: [n], name: 'v' + n }));
    const table = new Variable(values(rand, 6 * 5), { shape: [6, 5], name: 'table' });
    const initial = [...vars, table].map((v) => hex(v.read()));
    try {
      for (let step = 0; step < 6; step++) {
        const pairs = vars.map((v, i) => [step === 0 && lengths[i] === 33 ? null : values(rand, v.size, nonfinite), v]);
        // Sparse rows, unsorted and repeated; one step with no rows at all.
        const idx = step === 3 ? [] : [0, 2, 2, 5, 0, Math.floor(rand() * 6)];
        pairs.push([new IndexedSlices(values(rand, idx.length * 5, nonfinite), idx, [6, 5]), table]);
        opt.applyGradients(pairs);
      }
      const finals = [...vars, table].map((v) => hex(v.read()));
      out.results[key] = {
        variables: finals,
        moved: finals.filter((h, i) => h !== initial[i]).length,
        weightNames: opt.getWeightNames(),
        weights: opt.getWeights().map((w) => (w instanceof BigInt64Array ? w[0].toString() : hex(w))),
      };
    } catch (e) {
      out.results[key] = { error: 'step: ' + e.message };
    }
    for (const v of [...vars, table]) v.dispose();
    opt.dispose();
  }
}
console.log(JSON.stringify(out));
`;

interface RunOutput {
  backend: Build;
  classes: Record<string, string>;
  results: Record<string, { error?: string; variables?: string[]; moved?: number; weightNames?: string[]; weights?: string[] }>;
}

async function runBuild(build: Build): Promise<RunOutput> {
  const plan = { build, candidates: CANDIDATES, variants: VARIANTS, common: COMMON, lengths: LENGTHS };
  const out = await node(['--input-type=module', '-e', SCRIPT], {
    env: { SIMDOPT_DIST: pathToFileURL(join(ROOT, 'dist', 'index.js')).href, SIMDOPT_PLAN: JSON.stringify(plan) },
    timeoutMs: 25_000,
  });
  return JSON.parse(out.stdout) as RunOutput;
}

const isNaNBits = (h: string) => {
  const x = parseInt(h, 16);
  return (x & 0x7f800000) === 0x7f800000 && (x & 0x007fffff) !== 0;
};

/**
 * Compares two hex strings of f32 bits exactly, except that any NaN equals any NaN: when two
 * NaNs with different payloads meet (m = NaN, gradient = NaN), WebAssembly may return either
 * (spec: nondeterministic NaN propagation), and V8 orders the operands of scalar and f32x4 ops
 * differently. Returns the first real difference (or undefined) and the number of NaN-only ones.
 */
function compareBits(a: string, b: string): { diff?: string; nanOnly: number } {
  if (a.length !== b.length) return { diff: `lengths ${a.length / 8} vs ${b.length / 8}`, nanOnly: 0 };
  let nanOnly = 0;
  for (let i = 0; i < a.length; i += 8) {
    const [x, y] = [a.slice(i, i + 8), b.slice(i, i + 8)];
    if (x === y) continue;
    if (isNaNBits(x) && isNaNBits(y)) nanOnly++;
    else return { diff: `element ${i / 8}: simd 0x${x} vs scalar 0x${y}`, nanOnly };
  }
  return { nanOnly };
}

describe('bit identity of the two builds', () => {
  let simd: RunOutput;
  let scalar: RunOutput;

  beforeAll(async () => {
    [simd, scalar] = await Promise.all([runBuild('simd'), runBuild('scalar')]);
    const covered = Object.entries(simd.classes)
      .filter(([, s]) => s === 'ok')
      .map(([c]) => c);
    console.log(
      `bit identity: ${Object.keys(simd.results).length} optimizer configs over ${covered.length} classes (${covered.join(', ')}); unavailable: ${
        Object.keys(simd.classes)
          .filter((c) => simd.classes[c] !== 'ok')
          .join(', ') || 'none'
      }`,
    );
  }, 30_000);

  test('each process runs the build it asked for', () => {
    expect(simd.backend).toBe('simd');
    expect(scalar.backend).toBe('scalar');
    expect(scalar.classes).toEqual(simd.classes);
    expect(simd.classes.SGD).toBe('ok');
    expect(simd.classes.Adam).toBe('ok');
  });

  test('every config of every available optimizer constructs and steps', () => {
    const errors = Object.entries(simd.results)
      .filter(([, r]) => r.error)
      .map(([k, r]) => `${k}: ${r.error}`);
    expect(errors).toEqual([]);
    // The steps did something: every non-empty variable moved (lr > 0, random gradients).
    for (const [key, r] of Object.entries(simd.results)) {
      if (key.endsWith('non-finite gradients')) continue;
      // Adadelta at Keras' default lr (0.001) moves by ~1e-7 in its first steps: below one ulp
      // of some values, so there only most variables must have moved.
      const all = LENGTHS.filter((n) => n > 0).length + 1;
      if (key === 'Adadelta {}') expect(r.moved).toBeGreaterThanOrEqual(all - 2);
      else expect([key, r.moved]).toEqual([key, all]);
    }
  });

  test('variables and all optimizer weights are bit-identical (simd vs scalar; NaN == NaN)', () => {
    expect(Object.keys(scalar.results)).toEqual(Object.keys(simd.results));
    const diffs: string[] = [];
    const nanPayloads: string[] = [];
    for (const [key, a] of Object.entries(simd.results)) {
      const b = scalar.results[key];
      if (a.error || b.error) {
        if (a.error !== b.error) diffs.push(`${key}: errors differ: ${a.error} / ${b.error}`);
        continue;
      }
      expect(b.weightNames).toEqual(a.weightNames);
      const check = (what: string, x: string, y: string) => {
        if (x === y) return;
        const { diff, nanOnly } = compareBits(x, y);
        if (diff) diffs.push(`${key} ${what}: ${diff}`);
        if (nanOnly) nanPayloads.push(`${key} ${what}: ${nanOnly}`);
        // Finite inputs never make NaNs meet: there even NaN payloads must match.
        if (nanOnly && !key.endsWith('non-finite gradients')) diffs.push(`${key} ${what}: ${nanOnly} NaN payload differences`);
      };
      a.variables!.forEach((h, i) => check(`variable ${i}`, h, b.variables![i]));
      a.weights!.forEach((h, i) => check(`weight ${a.weightNames![i]}`, h, b.weights![i]));
    }
    if (nanPayloads.length) console.log(`NaN-payload-only differences (allowed): ${nanPayloads.join('; ')}`);
    expect(diffs).toEqual([]);
  });
});
