// Every optimizer against real TensorFlow 2.4.4, through the public API of the built package:
// every case of tests/fixtures/tf24/optimizers/*.json (each optimizer with several
// hyperparameter sets, scalar/vector/matrix, dense and sparse with repeated indices, two
// variables with late slot creation) and _base_features.json (legacy decay, clipping, every
// schedule as learning_rate). Each case is built with `deserialize(case.optimizer)` (TF's own
// get_config), replayed step by step, and every variable and every weight is compared after
// every step with |Δ| ≤ 1e-6·max(1,|x|); weight names and iterations must match exactly.
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { ready, backend, deserialize, optimizerClasses, Variable } from 'simdopt';
import { FIXTURES_DIR, compareClose, loadFixture, toGradient, FixtureCase, OptimizerFixture } from './helpers/fixtures';

const TOL = 1e-6;
/**
 * Ftrl's `linear` slot is the one exception, with a reason measured in the Rust replay
 * (crates/simdopt-core/tests/tf_fixtures.rs): its dense update adds `(sqrt(n + g²) - sqrt(n))·θ/lr`,
 * where the two square roots cancel for small gradients, so TF's 1-ulp approximate sqrt is
 * amplified by |θ|/lr (up to ~2e3) and carried into later steps. The variables and the
 * accumulators, which TF derives from it, stay within TOL.
 */
const FTRL_LINEAR_TOL = 5e-3;

const files = readdirSync(resolve(FIXTURES_DIR, 'tf24/optimizers'))
  .filter((f) => f.endsWith('.json'))
  .sort();
const worst = new Map<string, number>();

beforeAll(async () => {
  await ready();
});

afterAll(() => {
  // The largest deviation per optimizer class, for the record (run with --verbose to see it).
  if (process.env.SIMDOPT_REPORT) console.log(backend(), Object.fromEntries(worst));
});

function replay(c: FixtureCase): void {
  const opt = deserialize(c.optimizer);
  const vars = c.variables.map((v) => new Variable(Float32Array.from(v.initial), { shape: v.shape, name: v.name }));
  const cls = c.optimizer.class_name;
  let names = c.weight_names;
  try {
    c.steps.forEach((step, k) => {
      opt.applyGradients(step.gradients.map((g, i) => [toGradient(g), vars[i]] as const));
      if (step.weight_names) names = step.weight_names;
      const label = `${c.name} step ${k}`;
      let dev = 0;
      step.variables.forEach((expected, i) => {
        dev = Math.max(dev, compareClose(vars[i].read(), expected, TOL, `${label} variable ${c.variables[i].name}`));
      });
      const weights = opt.getWeights();
      expect(weights[0]).toEqual(BigInt64Array.of(BigInt(step.weights[0])));
      if (k === 0 || step.weight_names) expect(opt.getWeightNames()).toEqual(names);
      expect(weights).toHaveLength(step.weights.length);
      for (let w = 1; w < step.weights.length; w++) {
        const tol = cls === 'Ftrl' && names[w].endsWith('/linear:0') ? FTRL_LINEAR_TOL : TOL;
        const d = compareClose(weights[w], step.weights[w] as number[], tol, `${label} weight ${names[w]}`);
        if (tol === TOL) dev = Math.max(dev, d);
      }
      worst.set(cls, Math.max(worst.get(cls) ?? 0, dev));
    });
  } finally {
    vars.forEach((v) => v.dispose());
    opt.dispose();
  }
}

describe.each(files)('TF 2.4.4 %s', (file) => {
  const fixture = loadFixture<OptimizerFixture>(`tf24/optimizers/${file}`);
  test.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => replay(c));
});

test('every optimizer class of the registry has fixtures and all of them replayed', () => {
  expect(files).toEqual([...optimizerClasses.map((c) => `${c.spec.className}.json`), '_base_features.json'].sort());
});
