// Checkpoints of Keras 3 optimizers (the existing format, version 2 with CRC32C): a restored
// optimizer continues bit for bit, its EMA averages, gradient accumulators, learning-rate
// variable and schedules included, from the JSON and the binary form, through the root entry.
import { ready, saveCheckpoint, restoreCheckpoint, encodeCheckpoint, deserialize as rootDeserialize, serialize as rootSerialize, ConfigError } from 'simdopt';
import { CosineDecay, ExponentialDecay, Lion, serialize } from 'simdopt/keras3';
import type { Optimizer } from 'simdopt/keras3';
import { model, run } from './helpers/keras3-model';

beforeAll(async () => {
  await ready();
});

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
