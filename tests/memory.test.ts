// Long runs: WASM memory that grows many times under live objects, and create/step/dispose
// cycles that must not grow it at all.
import { ready, backend, deserialize, memoryBytes, optimizerClasses, stats, Variable, Tensor, IndexedSlices, Adam, SGD, Optimizer } from 'simdopt';

beforeAll(async () => {
  await ready();
});

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe('dispose frees memory', () => {
  test('100 000 optimizers created, stepped and disposed: memory flat after warm-up, counts back to the start', () => {
    // Every class of the registry, with its slots all on.
    const ALL_SLOTS: Record<string, Record<string, unknown>> = { SGD: { momentum: 0.9 }, Adam: { amsgrad: true }, RMSprop: { centered: true, momentum: 0.5 } };
    const CLASSES = optimizerClasses.map((c) => [c.spec.className, ALL_SLOTS[c.spec.className] ?? {}] as const);
    const N = 100_000;
    const WARMUP = 2_000;
    const start = stats();
    let warm = 0;
    const g = new Float32Array([0.1, -0.2, 0.3]);
    const t0 = Date.now();
    for (let i = 0; i < N; i++) {
      if (i === WARMUP) warm = memoryBytes();
      const [cls, config] = CLASSES[i % CLASSES.length];
      const opt: Optimizer = deserialize({ class_name: cls, config });
      const v = new Variable([1, 2, 3], { name: 'v' });
      const tbl = new Variable([1, 2, 3, 4], { shape: [2, 2], name: 'tbl' });
      const gt = new Tensor(g);
      opt.applyGradients([
        [i % 2 ? gt : g, v],
        [new IndexedSlices([1, 1], [i % 2], [2, 2]), tbl],
      ]);
      gt.dispose();
      v.dispose();
      tbl.dispose();
      opt.dispose();
      if (i > WARMUP && i % 10_000 === 0) expect([i, memoryBytes()]).toEqual([i, warm]);
    }
    const end = stats();
    console.log(
      `${N} optimizer lifecycles in ${Date.now() - t0} ms; memory ${warm} bytes after warm-up, ${end.memoryBytes} at the end; tensors ${start.tensors} -> ${end.tensors}, optimizers ${start.optimizers} -> ${end.optimizers}`,
    );
    expect(end.memoryBytes).toBe(warm);
    expect(end.tensors).toBe(start.tensors);
    expect(end.optimizers).toBe(start.optimizers);
  });

  test('a disposed optimizer frees its slots (memory reused by the next one)', () => {
    const v = new Variable(new Float32Array(1 << 22), { name: 'v' });
    const g = new Float32Array(1 << 22);
    const first = new Adam();
    first.applyGradients([[g, v]]);
    const held = memoryBytes();
    first.dispose();
    for (let i = 0; i < 5; i++) {
      const o = new SGD({ momentum: 0.5 });
      o.applyGradients([[g, v]]);
      o.dispose();
    }
    expect(memoryBytes()).toBe(held);
    v.dispose();
  });
});

describe('WASM memory growth mid-training', () => {
  test('Variables, slots and gradient tensors held by the user stay right after memory grows many times', () => {
    const grad = new Tensor([0.5, -0.25, 1, 2, -3], { name: 'g' });
    const rows = () => new IndexedSlices([1, 2, 3, 4], [2, 0], [3, 2]);

    // Reference: the same two steps with nothing growing in between.
    const refA = new Variable([1, 2, 3, 4, 5], { name: 'a' });
    const refT = new Variable([1, 2, 3, 4, 5, 6], { shape: [3, 2], name: 't' });
    const refOpt = new Adam({ learningRate: 0.1, amsgrad: true });
    for (let i = 0; i < 2; i++)
      refOpt.applyGradients([
        [grad, refA],
        [rows(), refT],
      ]);

    const a = new Variable([1, 2, 3, 4, 5], { name: 'a' });
    const t = new Variable([1, 2, 3, 4, 5, 6], { shape: [3, 2], name: 't' });
    const opt = new Adam({ learningRate: 0.1, amsgrad: true });
    opt.applyGradients([
      [grad, a],
      [rows(), t],
    ]);
    const slots = ['m', 'v', 'vhat'].map((s) => opt.getSlot(a, s));
    const staleView = a.value;
    const before = { a: bits(a.read()), slots: slots.map((s) => bits(s.read())), grad: bits(grad.read()) };

    // Grow: 40 variables of 1M values each, added in steps of another optimizer (Adam: two more
    // buffers per variable), so memory grows by ~480 MB in many steps.
    const start = memoryBytes();
    const sizes = new Set([start]);
    const big: Variable[] = [];
    const other = new Adam({ learningRate: 0.01 });
    const g = new Float32Array(1 << 20).fill(0.001);
    for (let i = 0; i < 40; i++) {
      big.push(new Variable(new Float32Array(1 << 20).fill(i), { name: `big${i}` }));
      other.applyGradients([[g, big[i]]]);
      sizes.add(memoryBytes());
    }
    console.log(`memory grew from ${start} to ${memoryBytes()} bytes in ${sizes.size - 1} growths`);
    expect(sizes.size).toBeGreaterThan(5);
    expect(memoryBytes()).toBeGreaterThan(start + 400e6);

    // A view taken before growth is detached (empty), never stale data; on the threads build the
    // memory is shared, whose views never detach: the old view still shows the live values.
    if (backend() === 'threads') expect(bits(staleView)).toEqual(before.a);
    else expect(staleView.length).toBe(0);
    // Objects held through the API re-derive their views: same values as before the growth.
    expect(bits(a.read())).toEqual(before.a);
    expect(slots.map((s) => bits(s.read()))).toEqual(before.slots);
    expect(bits(grad.read())).toEqual(before.grad);
    expect(slots[0].value.length).toBe(5);

    // And the run goes on exactly as without the growth.
    opt.applyGradients([
      [grad, a],
      [rows(), t],
    ]);
    expect(bits(a.read())).toEqual(bits(refA.read()));
    if (backend() === 'threads') expect(bits(staleView)).toEqual(bits(a.read()));
    expect(bits(t.read())).toEqual(bits(refT.read()));
    expect(opt.getWeights().map((w) => (w instanceof BigInt64Array ? [Number(w[0])] : bits(w)))).toEqual(
      refOpt.getWeights().map((w) => (w instanceof BigInt64Array ? [Number(w[0])] : bits(w))),
    );
    expect(big[39].value[0]).toBeLessThan(39);
    expect(big[39].value[0]).toBeGreaterThan(38.9);

    for (const x of [...big, a, t, refA, refT, grad]) x.dispose();
    for (const o of [opt, other, refOpt]) o.dispose();
  });

  test('a step whose frame moved past the end of the memory views of earlier steps writes all of its gradient', () => {
    // The facade keeps its views of the memory between steps; on the threads build (a shared
    // memory, whose old views stay valid but keep their length) it renews them only when a step
    // writes past their end: a write there would be dropped without an error.
    const opt = new SGD({ learningRate: 0.5 });
    const small = new Variable([1, 2, 3], { name: 'small' });
    opt.applyGradients([[new Float32Array([2, 2, 2]), small]]);
    const start = memoryBytes();
    // As many bytes as the whole memory: it cannot fit in what is free, so the memory grows.
    const filler = new Variable(new Float32Array(start / 4), { name: 'filler' });
    expect(memoryBytes()).toBeGreaterThan(start);
    // 64K values: copied into the frame whole (not streamed), which grows to hold them.
    const n = 1 << 16;
    const g = Float32Array.from({ length: n }, (_, i) => (i % 7) + 1);
    const v = new Variable(new Float32Array(n).fill(8), { name: 'v' });
    opt.applyGradients([[g, v]]);
    expect(Array.from(v.read())).toEqual(Array.from(g, (x) => 8 - 0.5 * x));
    for (const x of [small, filler, v]) x.dispose();
    opt.dispose();
  });
});
