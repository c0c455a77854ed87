// Replays the Keras 3.15.1 trajectories (tests/fixtures/keras3/optimizers/<Class>.json and the
// _base_features.json cases of these classes) through simdopt/keras3: every variable and
// optimizer variable (in Keras's order, with Keras's paths) within 1e-5·max(1, |x|) after every
// step, `iterations` exactly, the finalized (EMA) values, and what build() makes.
import { ready, IndexedSlices, Variable } from 'simdopt';
import { Adam } from 'simdopt/keras3';
import { Keras3Case, loadKeras3, replayKeras3Case } from './helpers/keras3-fixtures';
import { keras3Subject } from './helpers/keras3-subject';
import { baseFeatures, describeReplays, worstDeviations } from './helpers/keras3-replay';

/** The classes replayed here (each must exist in simdopt/keras3 and have its fixture file). */
const CLASSES = ['SGD', 'RMSprop', 'Adam', 'AdamW', 'Adagrad', 'Adadelta', 'Adamax', 'Nadam', 'Ftrl', 'Lion'];

beforeAll(async () => {
  await ready();
});

const recordWorst = worstDeviations();
describeReplays(CLASSES, recordWorst);

describe('the first applyGradients builds every variable it is given, None gradients too (as Keras 3)', () => {
  const firstNone = baseFeatures.filter((c) => CLASSES.includes(c.class_name) && c.steps[0].gradients.some((g) => g === null));
  test('there are such cases', () => expect(firstNone.length).toBeGreaterThanOrEqual(3));
  test.each(firstNone.map((c) => [c.name, c] as const))('%s, without build()', (_, c) => {
    let paths: string[] = [];
    replayKeras3Case(
      c,
      (k) => {
        const s = keras3Subject(k, { build: false });
        return { ...s, dispose: () => ((paths = s.optimizer.getWeightNames()), s.dispose?.()) };
      },
      { checkPaths: false },
    );
    expect(paths).toEqual(c.optimizer_variables.map((v) => v.path));
  });
});

test('large gradients (which the TF 2.4 classes stream into the core) keep the Keras 3 order', () => {
  const big = new Variable(new Float32Array(300_000).fill(1), { name: 'dense/kernel' });
  const small = new Variable(new Float32Array([1, 2]), { name: 'dense/bias' });
  const g = Float32Array.from({ length: big.size }, (_, i) => Math.sin(i));
  const opt = new Adam({ learningRate: 0.1, clipnorm: 1 });
  opt.applyGradients([
    [g, big],
    [null, small],
  ]);
  // Keras 3 builds both variables at the first apply, and clips with its own norm.
  expect(opt.getWeightNames()).toEqual([
    'adam/iteration',
    'adam/learning_rate',
    'adam/dense_kernel_momentum',
    'adam/dense_kernel_velocity',
    'adam/dense_bias_momentum',
    'adam/dense_bias_velocity',
  ]);
  const ref = new Adam({ learningRate: 0.1, clipnorm: 1 });
  const big2 = new Variable(new Float32Array(300_000).fill(1), { name: 'dense/kernel' });
  ref.build([big2]);
  ref.applyGradients([[g, big2]]);
  expect(big.read()).toEqual(big2.read());
  for (const x of [opt, ref, big, small, big2]) x.dispose();
});

describe('sparse gradients as Keras 3 on TensorFlow (sparse.json)', () => {
  const sparse = loadKeras3('sparse.json').cases.filter((c) => CLASSES.includes(c.class_name));
  test('has cases of these classes', () => expect(sparse.length).toBeGreaterThanOrEqual(20));
  // Ftrl's `linear` on TensorFlow: 1.165e-5 measured against Keras (tools/fixtures/keras3/README.md).
  const toleranceFor = ({ case: c, path }: { case: Keras3Case; path: string }) => (c.class_name === 'Ftrl' && path.endsWith('_linear') ? 2e-5 : undefined);
  test.each(sparse.filter((c) => !c.error).map((c) => [c.name, c] as const))('%s', (_, c) => {
    recordWorst(`${c.class_name} (sparse)`, replayKeras3Case(c, keras3Subject, { toleranceFor }));
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
