// Checkpoints of Keras 3 optimizers (the existing format, version 2 with CRC32C): a restored
// optimizer continues bit for bit, its EMA averages, gradient accumulators, learning-rate
// variable and schedules included, from the JSON and the binary form, through the root entry.
import { ready, saveCheckpoint, restoreCheckpoint, encodeCheckpoint, Variable, deserialize as rootDeserialize, serialize as rootSerialize, ConfigError } from 'simdopt';
import { CosineDecay, ExponentialDecay, Lion, serialize } from 'simdopt/keras3';
import type { Optimizer } from 'simdopt/keras3';

beforeAll(async () => {
  await ready();
});

function model(): Variable[] {
  return [new Variable(new Float32Array([1, -2, 3, 0.5, 0, 7]), { shape: [2, 3], name: 'dense/kernel' }), new Variable(new Float32Array([0.1, -0.2, 0.3]), { name: 'dense/bias' })];
}

function grads(step: number): Float32Array[] {
  const g = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(0.7 * i + 1.3 * s) * (i % 3 === 0 ? 10 : 0.1));
  return [g(6, step), g(3, step + 0.5)];
}

function run(opt: Optimizer, vars: Variable[], from: number, to: number): void {
  for (let s = from; s < to; s++) {
    const gs = grads(s);
    // A None gradient every third step (the variable is still averaged).
    opt.applyGradients(vars.map((v, i) => [s % 3 === 2 && i === 1 ? null : gs[i], v] as const));
  }
}

const SETUPS: Array<[string, () => Optimizer]> = [
  [
    'EMA + accumulation + weight decay',
    () => new Lion({ learningRate: 0.01, useEma: true, emaMomentum: 0.9, emaOverwriteFrequency: 4, gradientAccumulationSteps: 2, weightDecay: 0.05, clipnorm: 1 }),
  ],
  [
    'schedules for the learning rate and the weight decay',
    () =>
      new Lion({ learningRate: new CosineDecay({ initialLearningRate: 0, decaySteps: 10, warmupTarget: 0.01, warmupSteps: 3 }), weightDecay: new ExponentialDecay(0.1, 3, 0.5) }),
  ],
];

describe('checkpoints of Keras 3 optimizers', () => {
  test.each(SETUPS)('%s: a restored optimizer continues bit for bit (JSON and binary)', (_, make) => {
    const vars = model();
    const opt = make();
    run(opt, vars, 0, 5);
    const ckpt = saveCheckpoint(opt, vars);
    expect(ckpt.optimizer.module).toBe('keras.optimizers');
    expect(ckpt.optimizer.config).toEqual(JSON.parse(JSON.stringify(serialize(opt).config)));
    const bytes = encodeCheckpoint(ckpt);
    run(opt, vars, 5, 11);
    for (const form of [ckpt, bytes]) {
      const vars2 = model();
      const back = restoreCheckpoint(form, vars2);
      expect(back).toBeInstanceOf(Lion);
      expect(back.getWeightNames()).toEqual(opt.getWeightNames());
      run(back as Optimizer, vars2, 5, 11);
      expect(vars2.map((v) => v.read())).toEqual(vars.map((v) => v.read()));
      expect(back.getWeights()).toEqual(opt.getWeights());
      expect(back.iterations).toBe(opt.iterations);
      back.dispose();
      vars2.forEach((v) => v.dispose());
    }
    opt.dispose();
    vars.forEach((v) => v.dispose());
  });

  test("the root entry's serialize/deserialize carry a Keras 3 optimizer in Keras 3's format", () => {
    const opt = new Lion({ learningRate: 0.02, name: 'l' });
    const s = rootSerialize(opt);
    expect(s).toEqual(serialize(opt));
    const back = rootDeserialize(s);
    expect(back).toBeInstanceOf(Lion);
    expect(rootSerialize(back)).toEqual(s);
    expect(() => rootDeserialize({ ...s, module: 'keras.optimizers', class_name: 'Nope' } as never)).toThrow(ConfigError);
    opt.dispose();
    back.dispose();
  });
});
