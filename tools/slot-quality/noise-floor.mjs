#!/usr/bin/env node
// How far apart two equivalent float32 runs of a slot-quality task end: the noise floor that the
// 1% criterion of docs/slot-quality.md is judged against. Per seed (the initial weights and batch
// order): float32 Adam, float32 Adam with its learning rate one ulp larger (a perturbation that
// changes nothing of substance), bfloat16 and int8 slots; the relative difference of each final
// training loss from float32's, per seed and for the means over the seeds.
//
//   nice -n 10 node tools/slot-quality/noise-floor.mjs [--task spirals] [--seeds 10]
import os from 'node:os';
import { parseArgs } from 'node:util';
import { ready, backend } from 'simdopt';
import { irisTask, spiralsTask } from './tasks.mjs';
import { train } from './train.mjs';

const { values: args } = parseArgs({ options: { task: { type: 'string', default: 'spirals' }, seeds: { type: 'string', default: '10' } } });
const makers = { iris: irisTask, spirals: spiralsTask };
if (!makers[args.task]) throw new Error(`unknown task '${args.task}' (${Object.keys(makers).join(', ')})`);
await ready();
const base = makers[args.task]();
const lr = base.adam().learningRate;
if (typeof lr !== 'number') throw new Error('the perturbed run needs a constant learning rate');
const ulp = new Float32Array([lr]);
new Int32Array(ulp.buffer)[0] += 1;
const variants = {
  float32: [base, 'float32'],
  'float32, lr + 1 ulp': [{ ...base, adam: () => ({ ...base.adam(), learningRate: ulp[0] }) }, 'float32'],
  bfloat16: [base, 'bfloat16'],
  int8: [base, 'int8'],
};
const seeds = Array.from({ length: Number(args.seeds) }, (_, i) => i);
console.log(`# ${args.task}: final training loss, ${seeds.length} seeds, ${new Date().toISOString()}, build ${backend()}, load ${os.loadavg()[0].toFixed(2)}`);
const losses = {};
for (const [name, [task, dtype]] of Object.entries(variants)) losses[name] = seeds.map((s) => train(task, dtype, s).loss);
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (x, y) => `${(100 * (x / y - 1)).toFixed(2)}%`;
console.log('| variant | mean loss | Δ mean vs float32 | Δ per seed vs float32 (min … max) |');
console.log('|---|---:|---:|---|');
for (const [name, xs] of Object.entries(losses)) {
  const d = xs.map((x, i) => x / losses.float32[i] - 1).sort((a, b) => a - b);
  const spread = name === 'float32' ? '' : `${(100 * d[0]).toFixed(2)}% … ${(100 * d[d.length - 1]).toFixed(2)}%`;
  console.log(`| ${name} | ${mean(xs).toFixed(5)} | ${name === 'float32' ? '' : pct(mean(xs), mean(losses.float32))} | ${spread} |`);
}
const f = losses.float32;
const sd = Math.sqrt(f.reduce((a, x) => a + (x - mean(f)) ** 2, 0) / (f.length - 1));
console.log(`\nfloat32 across seeds: sd ${((100 * sd) / mean(f)).toFixed(2)}% of the mean; per seed ${f.map((x) => x.toFixed(5)).join(', ')}`);
console.log(`int8 per seed: ${losses.int8.map((x) => x.toFixed(5)).join(', ')}`);
