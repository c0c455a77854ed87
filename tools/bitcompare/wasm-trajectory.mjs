// Runs optimizer trajectories through a built package (dist/), the wasm counterpart of
// crates/simdopt-core/examples/trajectory.rs: reads a spec (tools/bitcompare/compare.mjs `spec`,
// or tests/native-determinism.test.ts) on stdin and prints every step's variables and weights as
// f32 bits (hex). Used by both.
//
//   SIMDOPT_DIST=file:///.../dist/index.js SIMDOPT_BACKEND=simd|scalar node tools/bitcompare/wasm-trajectory.mjs < spec.json
const { ready, backend, deserialize, Variable, IndexedSlices } = await import(process.env.SIMDOPT_DIST);
await ready({ backend: process.env.SIMDOPT_BACKEND });
let input = '';
for await (const chunk of process.stdin) input += chunk;
const spec = JSON.parse(input);
const unhex = (s) => new Float32Array(Uint32Array.from({ length: s.length / 8 }, (_, i) => parseInt(s.slice(8 * i, 8 * i + 8), 16)).buffer);
const hex = (a) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length), (x) => x.toString(16).padStart(8, '0')).join('');
const out = [];
for (const c of spec.cases) {
  try {
    const opt = deserialize({ class_name: c.class_name, config: c.config });
    const vars = c.variables.map((v) => new Variable(unhex(v.initial), { shape: v.shape, name: v.name }));
    const steps = [];
    for (const step of c.steps) {
      opt.applyGradients(step.map((g, i) => [g === null ? null : 'dense' in g ? unhex(g.dense) : new IndexedSlices(unhex(g.values), g.indices, vars[i].shape), vars[i]]));
      steps.push({ variables: vars.map((v) => hex(v.read())), weights: opt.getWeights().slice(1).map(hex), iterations: opt.iterations });
    }
    out.push({ name: c.name, steps, weight_names: opt.getWeightNames(), flavor: backend() });
    opt.dispose();
    vars.forEach((v) => v.dispose());
  } catch (e) {
    out.push({ name: c.name, error: String(e && e.message) });
  }
}
console.log(JSON.stringify({ cases: out }));
