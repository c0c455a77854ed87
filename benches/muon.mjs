// Muon's Newton-Schulz on a 1024x1024 variable (issue 13): simdopt's Muon (one applyGradients of
// the keras3 class: momentum, 5 Newton-Schulz iterations on the core's blocked matmul, update),
// against a plain JavaScript and a native C Newton-Schulz of the same operation order
// (benches/native/newton_schulz.c; float32, every product element summed in increasing k), in
// one run. Usage: node benches/muon.mjs [--size 1024] [--rounds 3] [--steps 5]. Needs dist/
// (scripts/build.sh) and gcc. Prints the median seconds per call of each and the load average.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const N = arg('size', 1024);
const ROUNDS = arg('rounds', 3);
const STEPS = arg('steps', 5);
const [A, B, C] = [3.4445, -4.775, 2.0315];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const f = Math.fround;

function input() {
  const x = new Float32Array(N * N);
  for (let i = 0; i < x.length; i++) x[i] = (((i * 7919) % 2003) - 1001) * 1e-3;
  return x;
}

/** c = a·b, row-major, each element summed in increasing k, float32 at every operation. */
function matmul(a, b, m, k, n, c) {
  c.fill(0);
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    for (let kk = 0; kk < k; kk++) {
      const aik = a[i * k + kk];
      const bk = kk * n;
      for (let j = 0; j < n; j++) c[ci + j] = f(c[ci + j] + f(aik * b[bk + j]));
    }
  }
}

function newtonSchulzJs(x, p, q, steps) {
  let s = 0;
  for (let i = 0; i < x.length; i++) s = f(s + f(x[i] * x[i]));
  const norm = f(f(Math.sqrt(s)) + f(1e-7));
  for (let i = 0; i < x.length; i++) x[i] = x[i] / norm;
  const xt = new Float32Array(p * q),
    am = new Float32Array(p * p),
    ca = new Float32Array(p * p),
    bm = new Float32Array(p * p),
    bx = new Float32Array(p * q);
  const [a, b, c] = [f(A), f(B), f(C)];
  for (let it = 0; it < steps; it++) {
    for (let i = 0; i < p; i++) for (let j = 0; j < q; j++) xt[j * p + i] = x[i * q + j];
    matmul(x, xt, p, q, p, am);
    for (let i = 0; i < am.length; i++) ca[i] = c * am[i];
    matmul(ca, am, p, p, p, bm);
    for (let i = 0; i < am.length; i++) bm[i] = f(f(b * am[i]) + bm[i]);
    matmul(bm, x, p, p, q, bx);
    for (let i = 0; i < x.length; i++) x[i] = f(f(a * x[i]) + bx[i]);
  }
}

async function simdopt() {
  const root = await import(pathToFileURL(path.join(ROOT, 'dist', 'index.js')).href);
  const k3 = await import(pathToFileURL(path.join(ROOT, 'dist', 'keras3', 'index.js')).href);
  await root.ready();
  const w = new root.Variable(new Float32Array(N * N), { shape: [N, N], name: 'dense/kernel' });
  // Zero weight decay and momentum so that every call orthogonalizes the same gradient.
  const opt = new k3.Muon({ learningRate: 0.01, weightDecay: null, momentum: 0, nesterov: false, nsSteps: STEPS });
  const g = input();
  const times = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    opt.applyGradients([[g, w]]);
    times.push((performance.now() - t0) / 1000);
  }
  opt.dispose();
  w.dispose();
  return times;
}

function nativeC() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'simdopt-muon-'));
  const bin = path.join(dir, 'newton_schulz');
  execFileSync('gcc', ['-O3', '-march=native', '-ffp-contract=off', '-fno-math-errno', '-o', bin, path.join(ROOT, 'benches', 'native', 'newton_schulz.c'), '-lm']);
  const out = execFileSync(bin, [String(N), String(N), String(STEPS), String(ROUNDS)], { encoding: 'utf8' })
    .trim()
    .split('\n');
  return out.filter((l) => !l.startsWith('checksum')).map(Number);
}

function plainJs() {
  const times = [];
  for (let r = 0; r < ROUNDS; r++) {
    const x = input();
    const t0 = performance.now();
    newtonSchulzJs(x, N, N, STEPS);
    times.push((performance.now() - t0) / 1000);
  }
  return times;
}

const load0 = os.loadavg();
const results = { 'simdopt Muon (wasm simd128)': await simdopt(), 'native C (gcc -O3 -march=native)': nativeC(), 'plain JavaScript': plainJs() };
const load1 = os.loadavg();
console.log(`Muon Newton-Schulz, ${N}x${N}, ${STEPS} iterations, ${ROUNDS} rounds, ${new Date().toISOString()}`);
console.log(`load average before ${load0.map((l) => l.toFixed(1)).join(' ')}, after ${load1.map((l) => l.toFixed(1)).join(' ')} (${os.cpus().length} CPUs)`);
const base = median(results['simdopt Muon (wasm simd128)']);
for (const [name, t] of Object.entries(results)) {
  console.log(`${name.padEnd(36)} median ${median(t).toFixed(3)} s (${t.map((x) => x.toFixed(3)).join(', ')}), ${(median(t) / base).toFixed(2)}x simdopt`);
}
