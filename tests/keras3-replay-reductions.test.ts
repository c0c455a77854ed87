// Replays the Keras 3.15.1 trajectories of the Keras 3 classes with reductions or matrix products
// (Lamb, Adafactor, Muon) and ScheduleFreeAdamW through simdopt/keras3: their own fixture file
// and their _base_features.json cases, as whole trajectories and anchored (each step from Keras'
// state), every variable and optimizer variable (Keras' order and paths) within issue 13's
// tolerance (1e-4·max(1,|x|) for Lamb, Adafactor, Muon; 1e-5 for ScheduleFreeAdamW), and what
// build() makes.
import { ready } from 'simdopt';
import { deserialize, keras3Classes } from 'simdopt/keras3';
import type { Optimizer } from 'simdopt/keras3';
import { Keras3Case, loadKeras3, replayKeras3Case, toF32 } from './helpers/keras3-fixtures';
import { keras3Subject, keras3Variables, applyExclusion } from './helpers/keras3-subject';
import { compareClose } from './helpers/fixtures';

const CLASSES = ['Lamb', 'Adafactor', 'Muon', 'ScheduleFreeAdamW'];

beforeAll(async () => {
  await ready();
});

const base = loadKeras3('optimizers/_base_features.json').cases;
const worst: Record<string, { dev: number; at: string }> = {};

afterAll(() => {
  console.log(
    `keras3 replay, largest |ours - keras| / max(1, |keras|):\n${Object.entries(worst)
      .map(([k, w]) => `  ${k}: ${w.dev.toExponential(2)} (${w.at})`)
      .join('\n')}`,
  );
});

function replay(cls: string, c: Keras3Case, anchored: boolean): void {
  const r = replayKeras3Case(c, keras3Subject, { anchored });
  const w = worst[cls] ?? (worst[cls] = { dev: 0, at: '' });
  if (r.worst >= w.dev) Object.assign(w, { dev: r.worst, at: `${anchored ? 'anchored ' : ''}${r.worstAt}` });
  expect(r.worst).toBeLessThanOrEqual(r.tolerance);
}

describe.each(CLASSES)('%s', (cls) => {
  test('is a class of simdopt/keras3', () => {
    expect(keras3Classes.map((c) => c.spec.className)).toContain(cls);
  });
  const cases = [...loadKeras3(`optimizers/${cls}.json`).cases, ...base.filter((c) => c.class_name === cls)];
  test.each(cases.map((c) => [c.name, c] as const))('%s', (_, c) => replay(cls, c, false));
  test.each(cases.map((c) => [c.name, c] as const))('anchored %s', (_, c) => replay(cls, c, true));
  test.each(cases.filter((c) => c.built).map((c) => [c.name, c] as const))("build() makes Keras's variables: %s", (_, c) => {
    const opt = deserialize(c.optimizer as Parameters<typeof deserialize>[0]) as Optimizer;
    const vars = keras3Variables(c);
    try {
      applyExclusion(c, opt, vars);
      opt.build(vars);
      expect(opt.getWeightNames()).toEqual(c.optimizer_variables.map((v) => v.path));
      // Shapes as Keras reports them (Adafactor's factors and placeholders have their own).
      expect(opt.variables.map((v) => v.shape)).toEqual(c.optimizer_variables.map((v) => v.shape));
      const got = opt.getWeights();
      c.built!.forEach((want, i) => compareClose(got[i] as Float32Array, toF32(want), 0, `${c.name} built ${c.optimizer_variables[i].path}`));
    } finally {
      opt.dispose();
      vars.forEach((v) => v.dispose());
    }
  });
});
