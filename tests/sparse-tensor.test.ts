// IndexedSlices whose values are a Tensor (the rows already in WASM memory, read in place): the
// same bits as the same rows in a Float32Array, for every class, with the stages that read
// sparse values; bad ones refused with nothing changed; hooks and custom optimizers get copies.
import { ready, IndexedSlices, Tensor, Variable, SGD, Adagrad, Optimizer, StateError, ShapeError, IndexError, optimizerClasses } from 'simdopt';
import type { ApplyState, GradsAndVars, OptimizerSpec } from 'simdopt';
import { Adam as Adam3 } from 'simdopt/keras3';

beforeAll(async () => {
  await ready();
});

const INDICES = new Int32Array([4, 1, 4, 0, 1]);
const ROWS = Float32Array.from([0.5, -1, 2, -0, 0.25, -3, 1.5, 0.75, -0.5, 4, -2, 0.125, 1, 1, -1]);

const table = () =>
  new Variable(
    Float32Array.from({ length: 18 }, (_, i) => i * 0.25 - 2),
    { shape: [6, 3], name: 'table' },
  );

function bits(opt: Optimizer, v: Variable): string[] {
  const asBits = (a: Float32Array) => Array.from(new Uint32Array(a.slice().buffer)).join(',');
  return [asBits(v.read()), ...opt.getWeights().map((w) => (w instanceof BigInt64Array ? w[0].toString() : asBits(w)))];
}

/** Three steps with the rows as a Float32Array and as a Tensor: the same bits after each. */
function same(make: () => Optimizer): void {
  const [a, b] = [make(), make()];
  const [va, vb] = [table(), table()];
  const rows = new Tensor(ROWS, { shape: [5, 3], name: 'rows' });
  for (let step = 0; step < 3; step++) {
    a.applyGradients([[new IndexedSlices(ROWS, INDICES, [6, 3]), va]]);
    b.applyGradients([[new IndexedSlices(rows, INDICES, [6, 3]), vb]]);
    expect(bits(b, vb)).toEqual(bits(a, va));
  }
  expect(Array.from(rows.read())).toEqual(Array.from(ROWS));
  for (const x of [a, b, va, vb, rows]) x.dispose();
}

describe('rows in a Tensor', () => {
  test.each(optimizerClasses.map((c) => [c.spec.className, c] as const))('%s: the bits of rows in a Float32Array', (_name, cls) => {
    same(() => new cls({ learningRate: 0.1 }));
    same(() => new cls({ learningRate: 0.1, clipnorm: 0.5 }));
    same(() => new cls({ learningRate: 0.1, globalClipnorm: 0.5, clipvalue: 1 }));
  });

  test('Keras 3 stages (loss scale, weight decay, accumulation, EMA)', () => {
    same(() => new Adam3({ learningRate: 0.1, lossScaleFactor: 4, weightDecay: 0.01 }));
    same(() => new Adam3({ learningRate: 0.1, gradientAccumulationSteps: 2, useEma: true }));
  });

  test("the type of `values` is the constructor argument's", () => {
    const rows = new Tensor(ROWS, { shape: [5, 3] });
    const copied: Float32Array = new IndexedSlices([1, 2, 3], [0]).values;
    const held: Tensor = new IndexedSlices(rows, INDICES).values;
    expect(copied).toBeInstanceOf(Float32Array);
    expect(held).toBe(rows);
    rows.dispose();
  });

  test('bad rows are refused and change nothing', () => {
    const v = table();
    const opt = new Adagrad({ learningRate: 0.1 });
    const rows = new Tensor(ROWS, { shape: [5, 3] });
    opt.applyGradients([[new IndexedSlices(rows, INDICES), v]]);
    const before = bits(opt, v);
    const short = new Tensor(0, { shape: [4, 3] });
    const gone = new Tensor(0, { shape: [5, 3] });
    const slicesOfGone = new IndexedSlices(gone, INDICES);
    gone.dispose();
    expect(() => opt.applyGradients([[new IndexedSlices(v, [0, 1, 2, 3, 4, 5]), v]])).toThrow(/the variable itself/);
    expect(() => opt.applyGradients([[new IndexedSlices(short, INDICES), v]])).toThrow(ShapeError);
    expect(() => opt.applyGradients([[slicesOfGone, v]])).toThrow(StateError);
    // the hooks' copy of the rows says it the same way
    const hooked = new Adagrad({ learningRate: 0.1, gradientTransformers: [(gv) => gv] });
    for (const o of [opt, hooked]) expect(() => o.applyGradients([[slicesOfGone, v]])).toThrow(/IndexedSlices values of '.*' \('.*'\) have been disposed/);
    hooked.dispose();
    expect(() => opt.applyGradients([[new IndexedSlices(rows, [0, 1, 6, 2, 3]), v]])).toThrow(IndexError);
    expect(() => new IndexedSlices(gone, INDICES)).toThrow(StateError);
    expect(bits(opt, v)).toEqual(before);
    // The non-finite guard reads the tensor's rows.
    rows.value[7] = NaN;
    expect(opt.applyGradients([[new IndexedSlices(rows, INDICES), v]], { skipNonFinite: true }).applied).toBe(false);
    expect(bits(opt, v)).toEqual(before);
    for (const x of [opt, v, rows, short]) x.dispose();
  });

  test('gradient hooks see a Float32Array copy of the rows', () => {
    let seen: unknown;
    const hooked = new SGD({ learningRate: 0.1, momentum: 0.9, gradientTransformers: [(gv: GradsAndVars) => ((seen = gv[0][0]), gv)] });
    const plain = new SGD({ learningRate: 0.1, momentum: 0.9 });
    const [va, vb] = [table(), table()];
    const rows = new Tensor(ROWS, { shape: [5, 3] });
    hooked.applyGradients([[new IndexedSlices(rows, INDICES), va]]);
    plain.applyGradients([[new IndexedSlices(ROWS, INDICES), vb]]);
    expect(seen).toBeInstanceOf(IndexedSlices);
    expect((seen as IndexedSlices).values).toBeInstanceOf(Float32Array);
    expect(Array.from((seen as IndexedSlices).values)).toEqual(Array.from(ROWS));
    expect(bits(hooked, va)).toEqual(bits(plain, vb));
    for (const x of [hooked, plain, va, vb, rows]) x.dispose();
  });

  test("a custom optimizer's resourceApplySparse gets the rows as a Float32Array", () => {
    const spec: OptimizerSpec = { className: 'RowSum', config: [['learning_rate', 0.01]] };
    const got: Array<[number[], number[]]> = [];
    class RowSum extends Optimizer {
      constructor() {
        super(spec, {});
      }
      protected override resourceApplySparse(values: Float32Array, _v: Variable, indices: Int32Array, _s: ApplyState): void {
        expect(values).toBeInstanceOf(Float32Array);
        got.push([Array.from(values), Array.from(indices)]);
      }
    }
    const opt = new RowSum();
    const v = table();
    const rows = new Tensor(ROWS, { shape: [5, 3] });
    opt.applyGradients([[new IndexedSlices(rows, INDICES), v]]);
    opt.applyGradients([[new IndexedSlices(ROWS, INDICES), v]]);
    expect(got[0]).toEqual(got[1]);
    for (const x of [opt, v, rows]) x.dispose();
  });
});
