// Bit-for-bit comparison of optimizer trajectories between builds (an old and a new checkout,
// native and both wasm builds): every TF 2.4 fixture case with a numeric config (its gradients,
// 20 steps) plus random trajectories with odd lengths, repeated sparse rows, zeros, subnormals
// and non-finite gradients, for every configuration of tests/native-determinism.test.ts.
//
//   node tools/bitcompare/compare.mjs spec > spec.json
//   node tools/bitcompare/compare.mjs run native <trajectory binary> < spec.json > a.json
//   node tools/bitcompare/compare.mjs run wasm <dist/index.js> simd|scalar < spec.json > b.json
//   node tools/bitcompare/compare.mjs diff a.json b.json     # exit 1 on any differing bit
//
// The trajectory binary is `cargo build --release --example trajectory -p simdopt-core`.
// Values are compared as f32 bits (compare like with like: native with native, wasm with wasm);
// NaNs whose sign or payload differ are counted separately and do not fail the diff.
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
// The TF 2.4 classes and their flags (boolean config defaults), from the registry's copy.
const TF24 = JSON.parse(readFileSync(join(ROOT, 'tools', 'fixtures', 'registry.json'), 'utf8')).filter((c) => c.family === 'tf24');
const FLAGS = new Set(TF24.flatMap((c) => c.config.filter(([, d]) => typeof d === 'boolean').map(([k]) => k)));
const hexOf = (xs) => Array.from(new Uint32Array(Float32Array.from(xs).buffer), (x) => x.toString(16).padStart(8, '0')).join('');

function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomValues(rand, n, nonfinite) {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rand();
    if (nonfinite && u < 0.02) out[i] = NaN;
    else if (nonfinite && u < 0.04) out[i] = rand() < 0.5 ? Infinity : -Infinity;
    else if (u < 0.07) out[i] = 0;
    else if (u < 0.09) out[i] = -0;
    else if (u < 0.1) out[i] = (rand() - 0.5) * 1e-38;
    else out[i] = (rand() * 2 - 1) * 10 ** (rand() * 5 - 3);
  }
  return out;
}

const RANDOM_CONFIGS = [
  ['SGD', { learning_rate: 0.1 }],
  ['SGD', { learning_rate: 0.1, momentum: 0.9, nesterov: true, clipnorm: 0.5 }],
  ['RMSprop', { learning_rate: 0.01, momentum: 0.9 }],
  ['RMSprop', { learning_rate: 0.01, centered: true }],
  ['RMSprop', { learning_rate: 0.01, centered: true, momentum: 0.5, clipvalue: 0.1 }],
  ['Adam', { learning_rate: 0.01, amsgrad: true, global_clipnorm: 1 }],
  ['Adam', { learning_rate: 0.01, decay: 0.05, clipnorm: 0.3 }],
  ['Adagrad', { learning_rate: 0.1, initial_accumulator_value: 0.5, clipvalue: 0.2 }],
  ['Adadelta', { learning_rate: 1.0, rho: 0.9 }],
  ['Adamax', { learning_rate: 0.01, beta_1: 0.5, global_clipnorm: 0.5 }],
  ['Nadam', { learning_rate: 0.01, decay: 0.2, clipnorm: 1 }],
  ['Ftrl', { learning_rate: 0.1, l1_regularization_strength: 0.01, l2_regularization_strength: 0.02, beta: 0.1 }],
  ['Ftrl', { learning_rate: 0.1, learning_rate_power: -0.7, l2_shrinkage_regularization_strength: 0.05 }],
];

function makeSpec() {
  const cases = [];
  const dir = join(ROOT, 'tests', 'fixtures', 'tf24', 'optimizers');
  for (const file of [...TF24.map((c) => c.class_name), '_base_features']) {
    for (const c of JSON.parse(readFileSync(join(dir, `${file}.json`), 'utf8')).cases) {
      const { name, ...config } = c.optimizer.config;
      void name;
      if (Object.values(config).some((v) => typeof v === 'object')) continue; // schedules: not numeric
      cases.push({
        name: `tf24 ${c.name}`,
        class_name: c.optimizer.class_name,
        config,
        options: Object.entries(config).map(([k, v]) => [k, typeof v === 'boolean' ? (v ? 1 : 0) : v]),
        variables: c.variables.map((v) => ({ name: v.name, shape: v.shape, initial: hexOf(v.initial) })),
        steps: c.steps.map((s) => s.gradients.map((g) => (g === null ? null : 'dense' in g ? { dense: hexOf(g.dense) } : { indices: g.indices, values: hexOf(g.values) }))),
      });
    }
  }
  let seed = 11;
  const lengths = [1, 3, 4, 5, 7, 8, 9, 17, 33, 100];
  for (const nonfinite of [false, true]) {
    for (const [cls, config] of RANDOM_CONFIGS) {
      const rand = rng(seed++);
      const variables = [
        ...lengths.map((n) => ({ name: `v${n}`, shape: [n], initial: hexOf(randomValues(rand, n, false)) })),
        { name: 'table', shape: [6, 5], initial: hexOf(randomValues(rand, 30, false)) },
        { name: 'column', shape: [7, 1], initial: hexOf(randomValues(rand, 7, false)) },
      ];
      const steps = [];
      for (let t = 0; t < 6; t++) {
        const dense = lengths.map((n) => (t === 0 && n === 33 ? null : { dense: hexOf(randomValues(rand, n, nonfinite)) }));
        const idx = t === 3 ? [] : [0, 2, 2, 5, 0, Math.floor(rand() * 6)];
        const idx2 = [6, 1, 6, 6, Math.floor(rand() * 7)];
        steps.push([
          ...dense,
          { indices: idx, values: hexOf(randomValues(rand, idx.length * 5, nonfinite)) },
          { indices: idx2, values: hexOf(randomValues(rand, idx2.length, nonfinite)) },
        ]);
      }
      for (const k of Object.keys(config)) if (FLAGS.has(k) !== (typeof config[k] === 'boolean')) throw new Error(`flag ${k}`);
      const options = Object.entries(config).map(([k, v]) => [k, typeof v === 'boolean' ? (v ? 1 : 0) : v]);
      cases.push({ name: `random ${cls} ${JSON.stringify(config)}${nonfinite ? ' non-finite' : ''}`, class_name: cls, config, options, variables, steps });
    }
  }
  return { cases };
}

// The wasm side: the public API of a dist/ build (wasm-trajectory.mjs, shared with the jest test).
const WASM_RUNNER = join(dirname(fileURLToPath(import.meta.url)), 'wasm-trajectory.mjs');

function run(kind, target, backend) {
  const input = readFileSync(0, 'utf8');
  const r =
    kind === 'native'
      ? spawnSync(target, [], { input, maxBuffer: 1 << 30 })
      : spawnSync(process.execPath, [WASM_RUNNER], {
          input,
          maxBuffer: 1 << 30,
          env: { ...process.env, SIMDOPT_DIST: pathToFileURL(target).href, SIMDOPT_BACKEND: backend },
        });
  if (r.status !== 0) throw new Error(`${kind} run failed: ${r.stderr}`);
  process.stdout.write(r.stdout);
}

const isNaNBits = (h) => {
  const x = parseInt(h, 16);
  return (x & 0x7f800000) === 0x7f800000 && (x & 0x007fffff) !== 0;
};

/** Elements whose bits differ: `[differing, of which both NaN]`. */
function differing(a, b) {
  let n = 0;
  let nan = 0;
  for (let i = 0; i < a.length; i += 8) {
    const [x, y] = [a.slice(i, i + 8), b.slice(i, i + 8)];
    if (x === y) continue;
    n++;
    if (isNaNBits(x) && isNaNBits(y)) nan++;
  }
  return [n, nan];
}

function diff(a, b) {
  const [x, y] = [a, b].map((f) => JSON.parse(readFileSync(f, 'utf8')).cases);
  let values = 0;
  let nanOnly = 0;
  const bad = [];
  if (x.length !== y.length) bad.push(`case counts ${x.length} vs ${y.length}`);
  x.forEach((cx, k) => {
    const cy = y[k];
    if (!cy || cx.name !== cy.name) return bad.push(`case ${k}: ${cx.name} vs ${cy && cy.name}`);
    if (cx.error || cy.error) return bad.push(`${cx.name}: errors ${cx.error} / ${cy.error}`);
    if (JSON.stringify(cx.weight_names) !== JSON.stringify(cy.weight_names)) bad.push(`${cx.name}: weight names`);
    cx.steps.forEach((sx, t) => {
      const sy = cy.steps[t];
      if (sx.iterations !== sy.iterations) bad.push(`${cx.name} step ${t}: iterations`);
      for (const part of ['variables', 'weights']) {
        sx[part].forEach((h, i) => {
          values += h.length / 8;
          if (h.length !== sy[part][i].length) return bad.push(`${cx.name} step ${t} ${part}[${i}]: lengths`);
          const [n, nan] = differing(h, sy[part][i]);
          nanOnly += nan;
          if (n > nan) bad.push(`${cx.name} step ${t} ${part}[${i}]: ${n - nan} values differ`);
        });
      }
    });
  });
  // WebAssembly leaves the sign and payload of a NaN open (engines differ with instruction
  // order), so NaN-for-NaN differences are counted apart; every other bit must be equal.
  console.log(`${x.length} cases, ${values} f32 values compared bit for bit: ${bad.length} differences (${nanOnly} NaNs differ only in sign/payload)`);
  for (const line of bad.slice(0, 20)) console.log(`  ${line}`);
  process.exit(bad.length ? 1 : 0);
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'spec') console.log(JSON.stringify(makeSpec()));
else if (cmd === 'run') run(args[0], args[1], args[2]);
else if (cmd === 'diff') diff(args[0], args[1]);
else {
  console.error('usage: compare.mjs spec | run native <binary> | run wasm <dist/index.js> simd|scalar | diff <a> <b>');
  process.exit(2);
}
