// Replays the custom Keras 3 optimizers' trajectories (tests/fixtures/keras3/optimizers/Custom.json,
// made by real Keras 3.15.1 from the Python classes of tools/fixtures/keras3/custom_cases.py)
// through simdopt/keras3 with their TypeScript twins (tests/helpers/keras3-custom.ts): every
// variable and optimizer variable (Keras's order and paths) within 1e-5·max(1, |x|) after every
// step, with weight decay, EMA, clipping, loss scaling, accumulation and None gradients.
import { ready } from 'simdopt';
import { deserialize, serialize } from 'simdopt/keras3';
import type { Optimizer } from 'simdopt/keras3';
import { ELEMENTWISE_TOLERANCE, loadKeras3, replayKeras3Case } from './helpers/keras3-fixtures';
import { keras3Subject, keras3Variables } from './helpers/keras3-subject';
import { HandSGD, RowScaledMomentum } from './helpers/keras3-custom';

beforeAll(async () => {
  await ready();
});

const fixture = loadKeras3('optimizers/Custom.json');
let worst = { dev: 0, at: '' };

afterAll(() => {
  console.log(`custom Keras 3 optimizers, largest |ours - keras| / max(1, |keras|): ${worst.dev.toExponential(2)} (${worst.at})`);
});

test('the fixture covers both classes, 1-D and 2-D variables, weight decay and EMA', () => {
  const names = fixture.cases.map((c) => c.class_name);
  expect(new Set(names)).toEqual(new Set(['HandSGD', 'RowScaledMomentum']));
  expect(fixture.cases.every((c) => c.variables.some((v) => v.shape.length === 1) && c.variables.some((v) => v.shape.length === 2))).toBe(true);
  expect(fixture.cases.filter((c) => c.optimizer.config.weight_decay !== null && c.optimizer.config.use_ema === true).length).toBeGreaterThanOrEqual(2);
});

describe.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_, c) => {
  test('replays within 1e-5 of Keras', () => {
    const r = replayKeras3Case(c, keras3Subject);
    if (r.worst >= worst.dev) worst = { dev: r.worst, at: r.worstAt };
    expect(r.tolerance).toBe(ELEMENTWISE_TOLERANCE);
    expect(r.worst).toBeLessThanOrEqual(r.tolerance);
  });

  test("deserialize finds the registered class; serialize writes Keras's registered name and config", () => {
    const opt = deserialize(c.optimizer as Parameters<typeof deserialize>[0]) as Optimizer;
    try {
      expect(opt).toBeInstanceOf(c.class_name === 'HandSGD' ? HandSGD : RowScaledMomentum);
      const s = serialize(opt);
      expect(s.registered_name).toBe(c.optimizer.registered_name);
      expect(s.class_name).toBe(c.optimizer.class_name);
      expect(s.config).toEqual(c.optimizer.config);
      // build() makes Keras's variables, in its order, with its paths and shapes.
      opt.build(keras3Variables(c));
      expect(opt.variables.map((v) => [v.path, v.shape])).toEqual(c.optimizer_variables.map((v) => [v.path, v.shape]));
    } finally {
      opt.dispose();
    }
  });
});
