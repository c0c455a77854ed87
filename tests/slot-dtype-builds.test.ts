// Compressed slots on every wasm build: the jest process runs the build `ready()` picks (threads
// in Node); here a child process per build (simd, scalar) replays both native references,
// tests/fixtures/quant/slot_trajectories.json (TF 2.4 classes, Lion from simdopt/keras3) and
// keras3_slot_trajectories.json (the Keras 3 forms with their stages), and every hash must match.
import { pathToFileURL } from 'node:url';
import { ROOT, node } from './helpers/process';

// Runs in the child: `node --input-type=module -e SCRIPT`, the build in SIMDOPT_BUILD.
const SCRIPT = String.raw`
import { readFileSync } from 'node:fs';
const root = process.env.SIMDOPT_ROOT;
const { ready, backend, deserialize, Variable } = await import(root + '/dist/index.js');
const { keras3Classes } = await import(root + '/dist/keras3/index.js');
const { grad, start, fnv } = await import(root + '/tests/helpers/slot-trajectories.mjs');
await ready({ backend: process.env.SIMDOPT_BUILD });
const FLAGS = new Set(['amsgrad', 'nesterov', 'centered', 'use_ema']);
const camel = (k) => k.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
const load = (name) => JSON.parse(readFileSync(new URL(root + '/tests/fixtures/quant/' + name), 'utf8'));
const out = { backend: backend(), cases: 0, mismatches: [] };
for (const [file, keras3] of [['slot_trajectories.json', false], ['keras3_slot_trajectories.json', true]]) {
  const fx = load(file);
  for (const c of fx.cases) {
    const options = { slotDtype: c.dtype };
    for (const [k, v] of c.options) options[camel(k)] = FLAGS.has(k) ? v !== 0 : v;
    // (The TF 2.4 fixture's Lion is the Keras 3 class: the only Lion.)
    const cls = keras3 || c.class === 'Lion' ? keras3Classes.find((k) => k.spec.className === c.class) : undefined;
    let opt;
    if (cls) opt = new cls(options);
    else {
      const config = { slot_dtype: c.dtype };
      for (const [k, v] of c.options) config[k] = FLAGS.has(k) ? v !== 0 : v;
      opt = deserialize({ class_name: c.class, config });
    }
    const vars = [fx.big, fx.small].map((n, j) => new Variable(Float32Array.from({ length: n }, (_, i) => start(i)), { name: j ? 'small' : 'big' }));
    for (let t = 0; t < fx.steps; t++) opt.applyGradients(vars.map((v) => [Float32Array.from({ length: v.size }, (_, i) => grad(i, t, v.size)), v]));
    // Keras 3's weight list starts with iteration and learning_rate, TF 2.4's with iterations.
    const weights = opt.getWeights().slice(cls ? 2 : 1).map(fnv);
    const got = JSON.stringify({ vars: vars.map((v) => fnv(v.read())), weights });
    if (got !== JSON.stringify({ vars: c.vars, weights: c.weights })) out.mismatches.push(file + ' ' + c.class + ' ' + JSON.stringify(c.options) + ' ' + c.dtype);
    out.cases++;
    opt.dispose();
    vars.forEach((v) => v.dispose());
  }
}
console.log(JSON.stringify(out));
`;

test.each(['simd', 'scalar'])('the %s build replays both native references bit for bit', async (build) => {
  const r = await node(['--input-type=module', '-e', SCRIPT], {
    env: { SIMDOPT_ROOT: pathToFileURL(ROOT).href.replace(/\/$/, ''), SIMDOPT_BUILD: build },
    timeoutMs: 60_000,
  });
  const out = JSON.parse(r.stdout) as { backend: string; cases: number; mismatches: string[] };
  expect(out.backend).toBe(build);
  expect(out.cases).toBe(30 + 48);
  expect(out.mismatches).toEqual([]);
});
