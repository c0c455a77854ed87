// The step frame (ts/frame.ts; `writeFrame` in ts/optimizer/step.ts): where a step's gradients
// are copied. Each copy starts as aligned to 8 bytes as its source (a copy into the threads
// build's shared memory is done in 8-byte words only then, byte by byte otherwise), and the
// step reads every value from where its command says.
import { ready, SGD, Tensor, Variable, IndexedSlices } from 'simdopt';
import type { Gradient } from 'simdopt';

const frame = (await import('../dist/frame.js' as string)) as {
  COMMAND_WORDS: number;
  KIND_DENSE_STAGED: number;
  KIND_SPARSE: number;
  reserveFrame(commands: number, values: number, indices: number): { commands: number; values: number; indices: number };
};
const loader = (await import('../dist/wasm/loader.js' as string)) as { heapUint32(): Uint32Array };

beforeAll(async () => {
  await ready();
});

test('staged values and indices start at their source’s alignment to 8 bytes; the step reads them all', () => {
  const shared = new ArrayBuffer(4 * 64);
  const at = (byteOffset: number, values: number[]) => {
    const a = new Float32Array(shared, byteOffset, values.length);
    a.set(values);
    return a;
  };
  const sparseIndices = new Int32Array(new ArrayBuffer(4 * 8), 4, 3);
  sparseIndices.set([2, 0, 2]);
  // Odd lengths in a row, sources at byte offsets 0 and 4 modulo 8, a number[] and a Tensor.
  const gradients: Gradient[] = [
    at(0, [1, 2, 3]),
    at(16, [4, 5, 6, 7, 8]),
    at(60, [9, 10, 11]),
    new Tensor([1, 1]),
    [12, 13, 14],
    new IndexedSlices(at(108, [1, 2, 3, 4, 5, 6]), sparseIndices, [3, 2]),
    at(200, [15]),
  ];
  const shapes = [[3], [5], [3], [2], [3], [3, 2], [1]];
  const vars = shapes.map((shape, i) => new Variable(new Float32Array(shape.reduce((a, b) => a * b)).fill(100), { shape, name: `v${i}` }));
  const opt = new SGD({ learningRate: 1 });
  opt.applyGradients(gradients.map((g, i) => [g, vars[i]] as [Gradient, Variable]));

  // Every value reached its variable (SGD with learning rate 1: 100 - g, exact).
  const expected = [[99, 98, 97], [96, 95, 94, 93, 92], [91, 90, 89], [99, 99], [88, 87, 86], [97, 96, 100, 100, 94, 92], [85]];
  expect(vars.map((v) => Array.from(v.read()))).toEqual(expected);

  const layout = frame.reserveFrame(0, 0, 0);
  const u32 = loader.heapUint32();
  const command = (i: number) => u32.subarray(layout.commands + i * frame.COMMAND_WORDS, layout.commands + (i + 1) * frame.COMMAND_WORDS);
  const sourceOffsets: Array<[number, number | undefined]> = [
    [0, undefined],
    [16, undefined],
    [60, undefined],
    [-1, undefined],
    [0, undefined],
    [108, 4],
    [200, undefined],
  ];
  sourceOffsets.forEach(([valuesOffset, indicesOffset], i) => {
    const c = command(i);
    if (valuesOffset < 0) return; // the Tensor: not copied
    expect([i, c[2], (4 * (layout.values + c[3])) % 8]).toEqual([i, indicesOffset === undefined ? frame.KIND_DENSE_STAGED : frame.KIND_SPARSE, valuesOffset % 8]);
    if (indicesOffset !== undefined) expect([i, (4 * (layout.indices + c[5])) % 8]).toEqual([i, indicesOffset % 8]);
  });
  for (const v of vars) v.dispose();
  opt.dispose();
});
