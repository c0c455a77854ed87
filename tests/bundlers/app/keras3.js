// The second entry point in a bundle: a few Keras 3 steps through simdopt/keras3 (AdamW with a
// warmup-cosine schedule, EMA and clipping), the same in Node and in the page, bit for bit.
import { Variable } from 'simdopt';
import { AdamW, CosineDecay, serialize } from 'simdopt/keras3';

function bits(values) {
  return Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length));
}

export function runKeras3() {
  const w = new Variable(new Float32Array([1, -2, 3, 0.5]), { shape: [2, 2], name: 'dense/kernel' });
  const b = new Variable(new Float32Array([0.1, -0.2]), { name: 'dense/bias' });
  const opt = new AdamW({
    learningRate: new CosineDecay({ initialLearningRate: 0, decaySteps: 10, warmupTarget: 0.1, warmupSteps: 2 }),
    weightDecay: 0.05,
    clipnorm: 1,
    useEma: true,
  });
  opt.excludeFromWeightDecay({ varNames: ['bias'] });
  for (let s = 0; s < 4; s++) {
    opt.applyGradients([
      [new Float32Array([0.1 * s, -0.2, 0.3, 0.4 - s]), w],
      [s === 1 ? null : new Float32Array([0.5, -0.5 * s]), b],
    ]);
  }
  const result = { kernel: bits(w.read()), bias: bits(b.read()), names: opt.getWeightNames(), iterations: opt.iterations, config: serialize(opt) };
  for (const x of [w, b, opt]) x.dispose();
  return result;
}
