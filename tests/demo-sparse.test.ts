// `npm run demo:sparse` on a slice of the corpus (the first 1,000 mails of its fixed shuffle):
// Ftrl over IndexedSlices learns the spam filter (held-out accuracy well above what a model that
// learned nothing gets: 0.5 for every mail says "spam", about 33% right), as deterministically as
// the rest of simdopt, and the same model updated with dense gradients ends within rounding of it.
import { ready } from 'simdopt';
import { dataset, evaluate, makeModel, train } from '../examples/lib/spam.mjs';

beforeAll(async () => {
  await ready();
});

test('the sparse demo learns to tell spam on held-out mail, deterministically, as the dense model does', () => {
  const data = dataset({ limit: 1000 });
  expect(data.train).toHaveLength(800);
  expect(data.test.some((m) => m.spam) && data.test.some((m) => !m.spam)).toBe(true);
  const run = (sparse: boolean) => {
    const model = makeModel();
    train(model, data.train, sparse);
    const score = evaluate(model, data.test);
    const weights = model.weights.read();
    model.dispose();
    return { score, weights };
  };
  const sparse = run(true);
  console.log(`sparse demo slice: held-out accuracy ${sparse.score.accuracy}, precision ${sparse.score.precision}, recall ${sparse.score.recall}`);
  expect(sparse.score.accuracy).toBeGreaterThan(0.93);
  expect(sparse.score.recall).toBeGreaterThan(0.85);
  const again = run(true);
  expect(Buffer.from(again.weights.buffer).equals(Buffer.from(sparse.weights.buffer))).toBe(true);
  const dense = run(false);
  expect(dense.score.accuracy).toBeCloseTo(sparse.score.accuracy, 2);
  let maxDiff = 0;
  sparse.weights.forEach((x, i) => (maxDiff = Math.max(maxDiff, Math.abs(x - dense.weights[i]))));
  expect(maxDiff).toBeLessThan(1e-4);
  expect(maxDiff).toBeGreaterThanOrEqual(0);
});
