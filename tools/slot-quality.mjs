#!/usr/bin/env node
// Training quality with compressed optimizer state (issue 16): the same networks trained with
// simdopt's Adam whose moment slots are float32, bfloat16 and int8 (`slotDtype`), 3 seeds each.
// Writes a markdown report (final training loss and accuracy, test loss and accuracy per dtype as
// the mean over seeds, their relative difference from float32, whether within 1%; the state
// check) and one SVG of the three dtypes' mean loss curves, a panel per task.
//
//   nice -n 10 node tools/slot-quality.mjs [--seeds 3] [--tasks iris,spirals,spam] [--spam-epochs 3]
//        [--md docs/slot-quality.md] [--svg docs/slot-quality.svg] [--steps N] [--spam-limit N]
//
// Tasks (tools/slot-quality/tasks.mjs): the demo's iris network, the spirals example, and a larger
// one on real data: a 262,194-parameter network over the SpamAssassin corpus' hashed features.
// Variables under 4,096 elements keep f32 slots (the 8-bit optimizers paper's rule): none of iris'
// is larger, so its three runs are the same; spirals has one (its 64x64 kernel), spam one (its
// 16384x16 kernel, all but 50 of its parameters).
import os from 'node:os';
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, relative as relativePath, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ready, backend } from 'simdopt';
import { lossCurvesFigure } from '../examples/lib/svg.mjs';
import { irisTask, spiralsTask, spamTask, parameterCounts } from './slot-quality/tasks.mjs';
import { DTYPES, decayProbe, stepsOf, train, stateCheck } from './slot-quality/train.mjs';
import { summarize, markdownReport, relative } from './slot-quality/report.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    seeds: { type: 'string', default: '3' },
    tasks: { type: 'string', default: 'iris,spirals,spam' },
    'spam-epochs': { type: 'string', default: '3' },
    // Smoke runs (the tests): the first N mails only; at most N steps per run.
    'spam-limit': { type: 'string' },
    steps: { type: 'string' },
    md: { type: 'string', default: resolve(ROOT, 'docs', 'slot-quality.md') },
    svg: { type: 'string', default: resolve(ROOT, 'docs', 'slot-quality.svg') },
  },
});
const SEEDS = Number(args.seeds);
const CHECK_STEPS = 100;
const spamLimit = args['spam-limit'] === undefined ? undefined : Number(args['spam-limit']);
const makers = { iris: irisTask, spirals: spiralsTask, spam: () => spamTask({ epochs: Number(args['spam-epochs']), limit: spamLimit }) };
const names = args.tasks.split(',');
for (const name of names) if (!makers[name]) throw new Error(`unknown task '${name}' (tasks: ${Object.keys(makers).join(', ')})`);

await ready();
const started = new Date();
const loadBefore = os.loadavg();
const t0 = performance.now();
console.log(`slot-quality: ${started.toISOString()}, simdopt wasm build ${backend()}, ${SEEDS} seeds, load ${loadBefore.map((x) => x.toFixed(2)).join(' ')}`);

const results = [];
for (const name of names) {
  const task = makers[name]();
  const runs = {};
  for (const dtype of DTYPES) {
    runs[dtype] = [];
    for (let seed = 0; seed < SEEDS; seed++) {
      const r = train(task, dtype, seed, { steps: Math.min(stepsOf(task), Number(args.steps ?? Infinity)) });
      runs[dtype].push(r);
      console.log(
        `${name} ${dtype.padEnd(8)} seed ${seed}: loss ${r.loss.toFixed(5)} acc ${(100 * r.accuracy).toFixed(2)}%  test loss ${r.testLoss.toFixed(5)} acc ${(100 * r.testAccuracy).toFixed(2)}%  (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
      );
    }
  }
  const check = parameterCounts(task.sizes).compressed > 0 ? stateCheck(task, { steps: CHECK_STEPS }) : null;
  results.push({ task, counts: parameterCounts(task.sizes), summary: summarize(runs), check });
}

const probe = decayProbe();
const seconds = (performance.now() - t0) / 1000;
const argv = process.argv.slice(2).join(' ');
const machine = {
  date: started.toISOString().replace(/\.\d+Z$/, 'Z'),
  command: `nice -n 10 node tools/slot-quality.mjs${argv ? ` ${argv}` : ''}`,
  cpu: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}`,
  node: process.version,
  build: backend(),
  load: `${loadBefore[0].toFixed(2)} at the start, ${os.loadavg()[0].toFixed(2)} at the end (1-minute load average; a shared machine)`,
  seconds,
};
const svgPath = resolve(args.svg);
const mdPath = resolve(args.md);
const colors = { float32: '#1f77b4', bfloat16: '#2ca02c', int8: '#d62728' };
const panels = results.map(({ task, counts, summary }) => ({
  title: `${task.name} (${counts.total.toLocaleString('en')} parameters), mean of ${SEEDS} seeds`,
  xLabel: task.xLabel,
  xPerPoint: task.xPerPoint,
  epochs: summary.float32.curve.length,
  series: DTYPES.map((d) => ({ label: `slotDtype ${d}`, color: colors[d], values: summary[d].curve, dashed: d === 'bfloat16' })),
}));
// A second row: each dtype's mean curve relative to float32's, where the first row's overlap.
const differences = results.map(({ task, summary }) => ({
  title: `${task.name}: loss relative to float32 state`,
  xLabel: task.xLabel,
  xPerPoint: task.xPerPoint,
  yLabel: 'loss vs float32 state, % difference',
  epochs: summary.float32.curve.length,
  series: DTYPES.map((d) => ({
    label: `slotDtype ${d}`,
    color: colors[d],
    values: summary[d].curve.map((v, i) => 100 * relative(v, summary.float32.curve[i])),
    dashed: d === 'bfloat16',
  })),
}));
mkdirSync(dirname(svgPath), { recursive: true });
writeFileSync(svgPath, lossCurvesFigure([...panels, ...differences], { columns: panels.length, width: 520, height: 340 }) + '\n');
mkdirSync(dirname(mdPath), { recursive: true });
writeFileSync(mdPath, markdownReport(results, { seeds: SEEDS, machine, svg: relativePath(dirname(mdPath), svgPath), probe, checkSteps: CHECK_STEPS }));
console.log(`\n${seconds.toFixed(0)} s; report: ${mdPath}; loss curves: ${svgPath}`);
