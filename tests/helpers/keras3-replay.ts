// The replay tests of the Keras 3 classes (keras3-replay*.test.ts): each class's fixture file and
// its _base_features.json cases replayed through simdopt/keras3, what build() makes, and the
// largest deviation per class logged after the file's tests (for the notes).
import { deserialize, keras3Classes } from 'simdopt/keras3';
import type { Optimizer } from 'simdopt/keras3';
import { Keras3Case, ReplayOptions, ReplayReport, loadKeras3, replayKeras3Case, toF32 } from './keras3-fixtures';
import { keras3Subject, keras3Variables, applyExclusion } from './keras3-subject';
import { compareClose } from './fixtures';

/** The cases of _base_features.json (every class's). */
export const baseFeatures: readonly Keras3Case[] = loadKeras3('optimizers/_base_features.json').cases;

/** Records a replay's largest deviation under `key`; the largest per key is logged after the file's tests. */
export type WorstRecorder = (key: string, r: ReplayReport, label?: string) => void;

export function worstDeviations(): WorstRecorder {
  const worst: Record<string, { dev: number; at: string }> = {};
  afterAll(() => {
    console.log(
      `keras3 replay, largest |ours - keras| / max(1, |keras|):\n${Object.entries(worst)
        .map(([k, w]) => `  ${k}: ${w.dev.toExponential(2)} (${w.at})`)
        .join('\n')}`,
    );
  });
  return (key, r, label = '') => {
    const w = worst[key] ?? (worst[key] = { dev: 0, at: '' });
    if (r.worst >= w.dev) Object.assign(w, { dev: r.worst, at: `${label}${r.worstAt}` });
  };
}

/** Replays one case through the package, within the case's tolerance. */
export function replay(record: WorstRecorder, cls: string, c: Keras3Case, options: ReplayOptions = {}): void {
  const r = replayKeras3Case(c, keras3Subject, options);
  record(cls, r, options.anchored ? 'anchored ' : '');
  expect(r.worst).toBeLessThanOrEqual(r.tolerance);
}

/** `build()` of `deserialize(case.optimizer)` makes Keras's optimizer variables: paths, names, shapes and initial values. */
export function expectBuildAsKeras(c: Keras3Case): void {
  const opt = deserialize(c.optimizer as Parameters<typeof deserialize>[0]) as Optimizer;
  const vars = keras3Variables(c);
  try {
    applyExclusion(c, opt, vars);
    expect(opt.built).toBe(false);
    opt.build(vars);
    expect(opt.built).toBe(true);
    expect(opt.getWeightNames()).toEqual(c.optimizer_variables.map((v) => v.path));
    // Shapes as Keras reports them (Adafactor's factors and placeholders have their own).
    expect(opt.variables.map((v) => [v.path, v.name, v.shape])).toEqual(c.optimizer_variables.map((v) => [v.path, v.name, v.shape]));
    const got = opt.getWeights();
    c.built!.forEach((want, i) => compareClose(got[i] as Float32Array, toF32(want), 0, `${c.name} built ${c.optimizer_variables[i].path}`));
  } finally {
    opt.dispose();
    vars.forEach((v) => v.dispose());
  }
}

/**
 * Per class: it is a class of simdopt/keras3; its own cases and its base-feature cases replay
 * (also `anchored`: each step from Keras's state, when asked); build() makes Keras's variables.
 */
export function describeReplays(classes: readonly string[], record: WorstRecorder, { anchored = false } = {}): void {
  describe.each(classes)('%s', (cls) => {
    test('is a class of simdopt/keras3', () => {
      expect(keras3Classes.map((c) => c.spec.className)).toContain(cls);
    });
    const own = loadKeras3(`optimizers/${cls}.json`).cases;
    const features = baseFeatures.filter((c) => c.class_name === cls);
    const named = (cases: readonly Keras3Case[]) => cases.map((c) => [c.name, c] as const);
    test.each(named(own))('%s', (_, c) => replay(record, cls, c));
    if (features.length > 0) test.each(named(features))('base feature %s', (_, c) => replay(record, cls, c));
    if (anchored) test.each(named([...own, ...features]))('anchored %s', (_, c) => replay(record, cls, c, { anchored: true }));
    test.each(named([...own, ...features].filter((c) => c.built)))("build() makes Keras's variables: %s", (_, c) => expectBuildAsKeras(c));
  });
}
