// tools/slot-quality.mjs (issue 16's training-quality report) on tiny configurations, so the tool
// cannot rot unnoticed: its larger network (16384-16-2 over hashed SpamAssassin features) trains
// 20 steps with each slotDtype and learns; bfloat16 and int8 really compress its large kernel's
// slots (their runs leave float32's, their dequantized slots are near float32's but not equal);
// the decay probe measures what it says; a network of small variables only (iris) trains the same with every dtype; and the command
// writes its report and plot. Quality itself (within 1% over full runs) is the tool's to measure.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ready } from 'simdopt';
import { irisTask, parameterCounts, spamTask } from '../tools/slot-quality/tasks.mjs';
import { DTYPES, decayProbe, stateCheck, train } from '../tools/slot-quality/train.mjs';
import { relative, summarize, withinTolerance } from '../tools/slot-quality/report.mjs';

beforeAll(async () => {
  await ready();
});

test('20 steps of the spam network learn with every slotDtype, and bfloat16 and int8 leave float32', () => {
  const task = spamTask({ limit: 300 });
  expect(parameterCounts(task.sizes)).toEqual({ total: 262194, compressed: 262144 });
  const start = train(task, 'float32', 0, { steps: 0 });
  const runs = Object.fromEntries(DTYPES.map((d) => [d, train(task, d, 0, { steps: 20 })]));
  for (const d of DTYPES) {
    expect(runs[d].loss).toBeLessThan(start.loss * 0.95);
    expect(runs[d].curve).toHaveLength(2);
  }
  // The same seed is the same run.
  expect(train(task, 'float32', 0, { steps: 20 }).loss).toBe(runs.float32.loss);
  expect(runs.bfloat16.loss).not.toBe(runs.float32.loss);
  expect(runs.int8.loss).not.toBe(runs.float32.loss);
  expect(runs.int8.loss).not.toBe(runs.bfloat16.loss);
  expect(Math.abs(relative(runs.int8.loss, runs.float32.loss))).toBeLessThan(0.2);
});

test("the state check: compressed slots are float32's within their storage's precision, and not equal to them", () => {
  const errors = stateCheck(spamTask({ limit: 300 }), { steps: 10 });
  for (const dtype of ['bfloat16', 'int8']) {
    const slots = Object.entries(errors[dtype]);
    expect(slots.map(([name]) => name)).toEqual(['Adam/dense_0/kernel/m:0', 'Adam/dense_0/kernel/v:0']);
    for (const [, { error, medianRatio }] of slots) {
      expect(error).toBeGreaterThan(0);
      expect(error).toBeLessThan(dtype === 'int8' ? 0.1 : 0.01);
      expect(Math.abs(medianRatio - 1)).toBeLessThan(0.1);
    }
  }
});

test("the decay probe: float32's second moment decays by beta2 a step, int8's and (stochastically rounded) bfloat16's follow it", () => {
  const { kept } = decayProbe({ steps: 50 });
  expect(kept.float32).toBeCloseTo(0.999 ** 50, 5);
  expect(Math.abs(kept.int8 - kept.float32)).toBeLessThan(1e-3);
  // Rounded to nearest, bfloat16's v would stay at 1 (0.05 above float32's 0.951).
  expect(Math.abs(kept.bfloat16 - kept.float32)).toBeLessThan(5e-3);
});

test('a network of variables under 4,096 elements (the demo iris) trains bit for bit the same with every slotDtype', () => {
  const task = irisTask();
  expect(parameterCounts(task.sizes)).toEqual({ total: 403, compressed: 0 });
  const runs = Object.fromEntries(DTYPES.map((d) => [d, [train(task, d, 1, { steps: 40 })]]));
  const summary = summarize(runs as Parameters<typeof summarize>[0]);
  expect(summary.float32.loss).toBeLessThan(summary.float32.curve[0]);
  expect(summary.int8.curve).toEqual(summary.float32.curve);
  expect(summary.bfloat16.loss).toBe(summary.float32.loss);
  expect(withinTolerance(summary, 'int8')).toBe(true);
});

test('the command writes the report and one loss-curve panel per task, the same SVG from the same run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'slot-quality-'));
  try {
    const run = (name: string) => {
      const args = [
        'tools/slot-quality.mjs',
        '--tasks',
        'iris,spam',
        '--seeds',
        '1',
        '--steps',
        '20',
        '--spam-limit',
        '200',
        '--md',
        join(dir, `${name}.md`),
        '--svg',
        join(dir, `${name}.svg`),
      ];
      execFileSync(process.execPath, args, { stdio: 'pipe' });
      return { md: readFileSync(join(dir, `${name}.md`), 'utf8'), svg: readFileSync(join(dir, `${name}.svg`), 'utf8') };
    };
    const a = run('a');
    for (const row of ['| iris | float32 |', '| iris | int8 |', '| spam | bfloat16 |', '| spam | int8 |']) expect(a.md).toContain(row);
    expect(a.md).toContain('Adam/dense_0/kernel/v:0');
    expect(a.md).toContain('](a.svg)');
    // Two tasks, each a loss panel and a relative-difference panel of three dtypes.
    expect(a.svg.match(/<polyline class="curve"/g)).toHaveLength(12);
    expect(run('b').svg).toBe(a.svg);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
