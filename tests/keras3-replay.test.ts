// Replays the Keras 3.15.1 trajectories (tests/fixtures/keras3/optimizers/<Class>.json and the
// _base_features.json cases of these classes) through simdopt/keras3: every variable and
// optimizer variable (in Keras's order, with Keras's paths) within 1e-5·max(1, |x|) after every
// step, `iterations` exactly, the finalized (EMA) values, and what build() makes.
import { ready, IndexedSlices } from 'simdopt';
import { keras3Classes } from 'simdopt/keras3';
import { Keras3Case, loadKeras3, replayKeras3Case, toF32 } from './helpers/keras3-fixtures';
import { keras3Subject, keras3Variables, applyExclusion } from './helpers/keras3-subject';
import { compareClose } from './helpers/fixtures';
import { deserialize } from 'simdopt/keras3';
import type { Optimizer } from 'simdopt/keras3';

/** The classes replayed here (each must exist in simdopt/keras3 and have its fixture file). */
const CLASSES = ['SGD', 'RMSprop', 'Adam', 'AdamW', 'Adagrad', 'Adadelta', 'Adamax', 'Nadam', 'Ftrl', 'Lion'];

beforeAll(async () => {
  await ready();
});

const base = loadKeras3('optimizers/_base_features.json').cases;
const worst: Record<string, { dev: number; at: string }> = {};

afterAll(() => {
  // The largest error per class, for the notes.
  console.log(
    `keras3 replay, largest |ours - keras| / max(1, |keras|):\n${Object.entries(worst)
      .map(([k, w]) => `  ${k}: ${w.dev.toExponential(2)} (${w.at})`)
      .join('\n')}`,
  );
});

function replay(cls: string, c: Keras3Case): void {
  const r = replayKeras3Case(c, keras3Subject);
  const w = worst[cls] ?? (worst[cls] = { dev: 0, at: '' });
  if (r.worst >= w.dev) Object.assign(w, { dev: r.worst, at: r.worstAt });
  expect(r.worst).toBeLessThanOrEqual(r.tolerance);
}

describe.each(CLASSES)('%s', (cls) => {
  test('is a class of simdopt/keras3', () => {
    expect(keras3Classes.map((c) => c.spec.className)).toContain(cls);
  });
  const own = loadKeras3(`optimizers/${cls}.json`).cases;
  const features = base.filter((c) => c.class_name === cls);
  test.each(own.map((c) => [c.name, c] as const))('%s', (_, c) => replay(cls, c));
  if (features.length > 0) test.each(features.map((c) => [c.name, c] as const))('base feature %s', (_, c) => replay(cls, c));
  test.each([...own, ...features].filter((c) => c.built).map((c) => [c.name, c] as const))("build() makes Keras's variables: %s", (_, c) => {
    const opt = deserialize(c.optimizer as Parameters<typeof deserialize>[0]) as Optimizer;
    const vars = keras3Variables(c);
    try {
      applyExclusion(c, opt, vars);
      expect(opt.built).toBe(false);
      opt.build(vars);
      expect(opt.built).toBe(true);
      expect(opt.getWeightNames()).toEqual(c.optimizer_variables.map((v) => v.path));
      const got = opt.getWeights();
      c.built!.forEach((want, i) => compareClose(got[i] as Float32Array, toF32(want), 0, `${c.name} built ${c.optimizer_variables[i].path}`));
      expect(opt.variables.map((v) => [v.path, v.name, v.shape])).toEqual(c.optimizer_variables.map((v) => [v.path, v.name, v.shape]));
    } finally {
      opt.dispose();
      vars.forEach((v) => v.dispose());
    }
  });
});

describe('the first applyGradients builds every variable it is given, None gradients too (as Keras 3)', () => {
  const firstNone = base.filter((c) => CLASSES.includes(c.class_name) && c.steps[0].gradients.some((g) => g === null));
  test('there are such cases', () => expect(firstNone.length).toBeGreaterThanOrEqual(3));
  test.each(firstNone.map((c) => [c.name, c] as const))('%s, without build()', (_, c) => {
    let paths: string[] = [];
    replayKeras3Case(
      c,
      (k) => {
        const s = keras3Subject(k, { build: false });
        return { ...s, dispose: () => ((paths = s.optimizer.getWeightNames()), s.dispose()) };
      },
      { checkPaths: false },
    );
    expect(paths).toEqual(c.optimizer_variables.map((v) => v.path));
  });
});

describe('sparse gradients as Keras 3 on TensorFlow (sparse.json)', () => {
  const sparse = loadKeras3('sparse.json').cases.filter((c) => CLASSES.includes(c.class_name));
  test('has cases of these classes', () => expect(sparse.length).toBeGreaterThanOrEqual(20));
  // Ftrl's `linear` on TensorFlow: 1.165e-5 measured against Keras (tools/fixtures/keras3/README.md).
  const toleranceFor = ({ case: c, path }: { case: Keras3Case; path: string }) => (c.class_name === 'Ftrl' && path.endsWith('_linear') ? 2e-5 : undefined);
  test.each(sparse.filter((c) => !c.error).map((c) => [c.name, c] as const))('%s', (_, c) => {
    const r = replayKeras3Case(c, keras3Subject, { toleranceFor });
    const w = worst[`${c.class_name} (sparse)`] ?? (worst[`${c.class_name} (sparse)`] = { dev: 0, at: '' });
    if (r.worst >= w.dev) Object.assign(w, { dev: r.worst, at: r.worstAt });
  });
  test('sgd_loss_scale_factor: Keras on TensorFlow fails (IndexedSlices / float); simdopt divides the values', () => {
    const c = sparse.find((x) => x.name === 'sgd_loss_scale_factor')!;
    expect(c.error?.message).toMatch(/unsupported operand type/);
    const s = keras3Subject(c);
    try {
      const lsf = c.optimizer.config.loss_scale_factor as number;
      const lr = c.optimizer.config.learning_rate as number;
      const before = s.variables().map((v) => Float32Array.from(v));
      const cols = c.variables[0].shape[1];
      s.apply([new IndexedSlices(new Float32Array(2 * cols).fill(3), [1, 4], c.variables[0].shape), null]);
      const after = s.variables()[0];
      for (let i = 0; i < before[0].length; i++) {
        const row = Math.floor(i / cols);
        const want = row === 1 || row === 4 ? Math.fround(before[0][i] - Math.fround(lr * Math.fround(3 / lsf))) : before[0][i];
        expect(after[i]).toBeCloseTo(want, 6);
      }
    } finally {
      s.dispose?.();
    }
  });
});
