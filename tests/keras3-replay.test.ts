// Replays the Keras 3.15.1 trajectories (tests/fixtures/keras3/optimizers/<Class>.json and the
// _base_features.json cases of these classes) through simdopt/keras3: every variable and
// optimizer variable (in Keras's order, with Keras's paths) within 1e-5·max(1, |x|) after every
// step, `iterations` exactly, the finalized (EMA) values, and what build() makes.
import { ready } from 'simdopt';
import { keras3Classes } from 'simdopt/keras3';
import { Keras3Case, loadKeras3, replayKeras3Case, toF32 } from './helpers/keras3-fixtures';
import { keras3Subject, keras3Variables, applyExclusion } from './helpers/keras3-subject';
import { compareClose } from './helpers/fixtures';
import { deserialize } from 'simdopt/keras3';

/** The classes replayed here (each must exist in simdopt/keras3 and have its fixture file). */
const CLASSES = ['Lion'];

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
    const opt = deserialize(c.optimizer as Parameters<typeof deserialize>[0]);
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
