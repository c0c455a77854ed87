// Determinism across builds: the same trajectories (every optimizer and slot variant, dense
// variables of odd lengths, sparse rows with repeated indices, clipping, decay) through the
// wasm SIMD build, the wasm scalar build and the native Rust build
// (crates/simdopt-core/examples/trajectory.rs, `cargo run --release`), compared as f32 bits.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, node, requireBuilt, runOk, which } from './helpers/process';
import { rng } from './helpers/random';
import { classNamed, everyClass } from './helpers/registry';

// Every registered class: these configs per class (slot variants, clipping, decay), or a
// learning rate alone.
const CONFIGS = everyClass<Record<string, number | boolean>>(
  {
    SGD: [{ learning_rate: 0.1 }, { learning_rate: 0.1, momentum: 0.9 }, { learning_rate: 0.1, momentum: 0.9, nesterov: true, clipnorm: 0.5 }],
    RMSprop: [
      { learning_rate: 0.01 },
      { learning_rate: 0.01, momentum: 0.9 },
      { learning_rate: 0.01, centered: true },
      { learning_rate: 0.01, centered: true, momentum: 0.5, clipvalue: 0.1 },
    ],
    Adam: [
      { learning_rate: 0.01 },
      { learning_rate: 0.01, amsgrad: true },
      { learning_rate: 0.01, amsgrad: true, global_clipnorm: 1 },
      { learning_rate: 0.01, decay: 0.05, clipnorm: 0.3 },
    ],
    Adagrad: [{ learning_rate: 0.1 }, { learning_rate: 0.1, initial_accumulator_value: 0.5, clipvalue: 0.2 }],
    Adadelta: [{ learning_rate: 1.0, rho: 0.9 }],
    Adamax: [{ learning_rate: 0.01 }, { learning_rate: 0.01, beta_1: 0.5, global_clipnorm: 0.5 }],
    Nadam: [{ learning_rate: 0.01 }, { learning_rate: 0.01, decay: 0.2, clipnorm: 1 }],
    Ftrl: [
      { learning_rate: 0.1 },
      { learning_rate: 0.1, l1_regularization_strength: 0.01, l2_regularization_strength: 0.02, beta: 0.1 },
      { learning_rate: 0.1, learning_rate_power: -0.7, l2_shrinkage_regularization_strength: 0.05 },
      { learning_rate: 0.05, learning_rate_power: 0, decay: 0.3 },
    ],
  },
  [{ learning_rate: 0.01 }],
);
const LENGTHS = [1, 3, 4, 5, 7, 8, 9, 17, 33, 100];
const STEPS = 6;

function values(rand: () => number, n: number, nonfinite: boolean): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rand();
    if (nonfinite && u < 0.02) out[i] = NaN;
    else if (nonfinite && u < 0.04) out[i] = rand() < 0.5 ? Infinity : -Infinity;
    else if (nonfinite && u < 0.05) out[i] = rand() < 0.5 ? 3e38 : -3e38;
    else if (u < 0.07) out[i] = 0;
    else if (u < 0.09) out[i] = -0;
    else if (u < 0.1) out[i] = (rand() - 0.5) * 1e-38;
    else out[i] = (rand() * 2 - 1) * 10 ** (rand() * 5 - 3);
  }
  return out;
}

const hex = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length), (x) => x.toString(16).padStart(8, '0')).join('');

type SpecGrad = null | { dense: string } | { indices: number[]; values: string };
interface SpecCase {
  name: string;
  class_name: string;
  config: Record<string, number | boolean>;
  options: Array<[string, number]>;
  variables: Array<{ name: string; shape: number[]; initial: string }>;
  steps: SpecGrad[][];
}

function makeSpec(): { cases: SpecCase[] } {
  const cases: SpecCase[] = [];
  let seed = 7;
  for (const nonfinite of [false, true]) {
    for (const [cls, config] of CONFIGS) {
      const rand = rng(seed++);
      const variables = [
        ...LENGTHS.map((n) => ({ name: `v${n}`, shape: [n], initial: hex(values(rand, n, false)) })),
        { name: 'table', shape: [6, 5], initial: hex(values(rand, 30, false)) },
        { name: 'odd_rows', shape: [7, 3], initial: hex(values(rand, 21, false)) },
      ];
      const steps: SpecGrad[][] = [];
      for (let t = 0; t < STEPS; t++) {
        const dense: SpecGrad[] = LENGTHS.map((n) => (t === 0 && n === 33 ? null : { dense: hex(values(rand, n, nonfinite)) }));
        // Unsorted, repeated rows; a step with no rows at all.
        const idx = t === 3 ? [] : [0, 2, 2, 5, 0, Math.floor(rand() * 6)];
        const idx2 = [6, 1, 6, 6, Math.floor(rand() * 7)];
        steps.push([...dense, { indices: idx, values: hex(values(rand, idx.length * 5, nonfinite)) }, { indices: idx2, values: hex(values(rand, idx2.length * 3, nonfinite)) }]);
      }
      const options = Object.entries(config).map(([k, v]) => [k, typeof v === 'boolean' ? (v ? 1 : 0) : v] as [string, number]);
      // Flags (boolean defaults in the class's spec) cross as 0/1: the test data must say which.
      const flags = new Set(classNamed(cls).spec.config.flatMap(([k, d]) => (typeof d === 'boolean' ? [k] : [])));
      for (const k of Object.keys(config)) if (flags.has(k) !== (typeof config[k] === 'boolean')) throw new Error(`flag ${k}`);
      cases.push({ name: `${cls} ${JSON.stringify(config)}${nonfinite ? ' non-finite' : ''}`, class_name: cls, config, options, variables, steps });
    }
  }
  return { cases };
}

// The wasm side: the public API of dist/, one build per process (shared with tools/bitcompare).
const WASM_RUNNER = join(ROOT, 'tools', 'bitcompare', 'wasm-trajectory.mjs');

interface Result {
  name: string;
  error?: string;
  flavor: string;
  weight_names: string[];
  steps: Array<{ variables: string[]; weights: string[]; iterations: number }>;
}

async function wasm(build: string, spec: string): Promise<Result[]> {
  const r = await node([WASM_RUNNER], {
    env: { SIMDOPT_DIST: pathToFileURL(join(ROOT, 'dist', 'index.js')).href, SIMDOPT_BACKEND: build },
    input: spec,
    timeoutMs: 60_000,
  });
  return (JSON.parse(r.stdout) as { cases: Result[] }).cases;
}

async function native(spec: string): Promise<Result[]> {
  const cargo = which('cargo') ?? join(process.env.HOME ?? '', '.cargo', 'bin', 'cargo');
  // A target dir of its own: the example enables the crate's dev-only feature, which must not
  // invalidate the other release builds.
  const env = { CARGO_TARGET_DIR: join(ROOT, 'target', 'trajectory') };
  await runOk(cargo, ['build', '--quiet', '--release', '--example', 'trajectory', '-p', 'simdopt-core'], { env, timeoutMs: 600_000 });
  const r = await runOk(cargo, ['run', '--quiet', '--release', '--example', 'trajectory', '-p', 'simdopt-core'], { env, input: spec, timeoutMs: 120_000 });
  return (JSON.parse(r.stdout) as { cases: Result[] }).cases;
}

const isNaNBits = (h: string) => {
  const x = parseInt(h, 16);
  return (x & 0x7f800000) === 0x7f800000 && (x & 0x007fffff) !== 0;
};

/** First difference of two hex strings of f32 bits; with `nanEqual`, any NaN equals any NaN
 * (x86 and WebAssembly make different NaN payloads and signs; IEEE leaves them open). */
function firstDiff(a: string, b: string, nanEqual: boolean): string | undefined {
  if (a.length !== b.length) return `lengths ${a.length / 8} vs ${b.length / 8}`;
  for (let i = 0; i < a.length; i += 8) {
    const [x, y] = [a.slice(i, i + 8), b.slice(i, i + 8)];
    if (x !== y && !(nanEqual && isNaNBits(x) && isNaNBits(y))) return `element ${i / 8}: 0x${x} vs 0x${y}`;
  }
  return undefined;
}

describe('SIMD, scalar and native builds give bit-identical trajectories', () => {
  let spec: { cases: SpecCase[] };
  let results: Record<'simd' | 'scalar' | 'native', Result[]>;

  beforeAll(async () => {
    requireBuilt();
    spec = makeSpec();
    const text = JSON.stringify(spec);
    const [simd, scalar, nat] = await Promise.all([wasm('simd', text), wasm('scalar', text), native(text)]);
    results = { simd, scalar, native: nat };
    const values = spec.cases.reduce((n, c) => n + c.variables.reduce((m, v) => m + v.shape.reduce((a, b) => a * b, 1), 0) * STEPS, 0);
    console.log(
      `determinism: ${spec.cases.length} trajectories (${CONFIGS.length} configs, finite and non-finite gradients), ${STEPS} steps each, ${values} variable values per build compared (plus every slot)`,
    );
  }, 900_000);

  test('every build ran every case', () => {
    expect(results.simd[0].flavor).toBe('simd');
    expect(results.scalar[0].flavor).toBe('scalar');
    expect(results.native[0].flavor).toBe('native');
    for (const build of ['simd', 'scalar', 'native'] as const) {
      expect(results[build].map((r) => r.name)).toEqual(spec.cases.map((c) => c.name));
      expect(results[build].filter((r) => r.error).map((r) => `${r.name}: ${r.error}`)).toEqual([]);
    }
  });

  test.each(['simd', 'scalar'] as const)('native vs %s', (build) => {
    const diffs: string[] = [];
    results.native.forEach((n, k) => {
      const w = results[build][k];
      const nanEqual = n.name.endsWith('non-finite');
      expect(w.weight_names).toEqual(n.weight_names);
      n.steps.forEach((s, t) => {
        expect(w.steps[t].iterations).toBe(s.iterations);
        s.variables.forEach((h, i) => {
          const d = firstDiff(w.steps[t].variables[i], h, nanEqual);
          if (d) diffs.push(`${n.name} step ${t} ${spec.cases[k].variables[i].name}: ${d}`);
        });
        s.weights.forEach((h, i) => {
          const d = firstDiff(w.steps[t].weights[i], h, nanEqual);
          if (d) diffs.push(`${n.name} step ${t} ${n.weight_names[i + 1]}: ${d}`);
        });
      });
    });
    expect(diffs.slice(0, 20)).toEqual([]);
  });
});
