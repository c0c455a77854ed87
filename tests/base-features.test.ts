// Base-class features against real TF 2.4.4 (tests/fixtures/tf24/optimizers/_base_features.json):
// legacy `decay`, clipvalue / clipnorm / global_clipnorm (also sparse and with null gradients),
// every schedule as learning_rate, and schedule + decay. Each case is replayed through the public
// API: `deserialize(case.optimizer)`, `Variable`s, `applyGradients` per step, then every variable
// and every `getWeights()` entry is compared with TF.
//
// Cases of optimizer classes that `deserialize` does not know yet (ConfigError 'UnknownClass'
// for the optimizer itself) pass without checking anything, so they are picked up as soon as the
// class exists; the last test checks that the SGD and Adam cases did run.
import { ready, deserialize, Variable, ConfigError, Optimizer } from 'simdopt';
import { compareClose, loadFixture, toGradient, FixtureCase, OptimizerFixture } from './helpers/fixtures';

const TOL = 1e-6;
const fixture = loadFixture<OptimizerFixture>('tf24/optimizers/_base_features.json');
const replayed = new Set<string>();

beforeAll(async () => {
  await ready();
});

/** The optimizer of a case, or null when its class is not implemented (yet). */
function build(c: FixtureCase): Optimizer | null {
  try {
    return deserialize(c.optimizer);
  } catch (e) {
    if (e instanceof ConfigError && e.code === 'UnknownClass' && e.message === `Unknown optimizer: ${c.optimizer.class_name}`) return null;
    throw e;
  }
}

/** Replays a case; returns the largest scaled deviation from TF over all steps. */
function replay(c: FixtureCase, opt: Optimizer): number {
  const vars = c.variables.map((v) => new Variable(Float32Array.from(v.initial), { shape: v.shape, name: v.name }));
  let worst = 0;
  try {
    c.steps.forEach((step, k) => {
      opt.applyGradients(step.gradients.map((g, i) => [toGradient(g), vars[i]] as const));
      step.variables.forEach((expected, i) => {
        worst = Math.max(worst, compareClose(vars[i].read(), expected, TOL, `${c.name} step ${k} variable ${c.variables[i].name}`));
      });
      const weights = opt.getWeights();
      expect(weights).toHaveLength(step.weights.length);
      expect(weights[0]).toBeInstanceOf(BigInt64Array);
      expect(weights[0]).toEqual(BigInt64Array.of(BigInt(step.weights[0])));
      for (let w = 1; w < step.weights.length; w++) {
        worst = Math.max(worst, compareClose(weights[w], step.weights[w] as number[], TOL, `${c.name} step ${k} weight ${w}`));
      }
    });
  } finally {
    vars.forEach((v) => v.dispose());
    opt.dispose();
  }
  return worst;
}

describe('TF 2.4.4 base features', () => {
  test.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const opt = build(c);
    if (opt === null) return;
    replay(c, opt);
    replayed.add(c.name);
  });

  test('the SGD and Adam cases ran', () => {
    const expected = fixture.cases.filter((c) => c.optimizer.class_name === 'SGD' || c.optimizer.class_name === 'Adam').map((c) => c.name);
    expect(expected.length).toBeGreaterThan(20);
    expect(expected.filter((n) => !replayed.has(n))).toEqual([]);
  });
});
