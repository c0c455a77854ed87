// The browser demo as a person would use it: `npm run demo:browser`'s server (the page bundled
// by esbuild, served on 127.0.0.1) opened in headless Chromium; training runs to the end, both
// models learn iris and the chart has its curves. A screenshot is left in a temp dir.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBuilt } from './helpers/process';
import { launchChromium, startNode, type Started } from './helpers/browser';

interface DemoRun {
  label: string;
  testAccuracy: number;
  trainAccuracy: number;
  msPerStep: number;
  loss: number[];
  valLoss: number[];
}
interface DemoState {
  done: boolean;
  error?: string;
  epochs?: number;
  simdoptBuild?: string;
  results?: DemoRun[];
}
declare global {
  interface Window {
    __demo?: DemoState;
  }
}

const EPOCHS = 100;
let server: Started | undefined;
let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;

beforeAll(async () => {
  requireBuilt();
  server = await startNode(['examples/browser/serve.mjs', '--port', '0'], /http:\/\/127\.0\.0\.1:\d+\//);
  browser = await launchChromium();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

test('the page trains both models on iris, draws the curves and reports high accuracy', async () => {
  const url = server!.match[0];
  expect(new URL(url).hostname).toBe('127.0.0.1');
  const page = await browser!.context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
  await page.setViewportSize({ width: 800, height: 860 });
  await page.goto(`${url}?epochs=${EPOCHS}`);

  // Live: the chart gets points while training runs, before it ends.
  await page.waitForFunction(() => document.querySelectorAll('#chart polyline.curve').length === 4, undefined, { timeout: 60_000 });
  await page.waitForFunction(() => window.__demo?.done === true, undefined, { timeout: 120_000 });
  const state = (await page.evaluate(() => window.__demo)) as DemoState;
  expect(state.error).toBeUndefined();
  expect(state.epochs).toBe(EPOCHS);
  expect(['simd', 'scalar']).toContain(state.simdoptBuild);
  expect(state.results!.map((r) => r.label)).toEqual(['simdopt Adam', 'tf.train.adam']);
  for (const r of state.results!) {
    expect(r.testAccuracy).toBeGreaterThanOrEqual(0.9);
    expect(r.trainAccuracy).toBeGreaterThanOrEqual(0.95);
    expect(r.loss).toHaveLength(EPOCHS);
    expect(r.loss[EPOCHS - 1]).toBeLessThan(r.loss[0] / 5);
    expect(r.msPerStep).toBeGreaterThan(0);
  }

  // The drawn chart: four curves (train and test loss of both), one point per epoch.
  const curves = await page.$$eval('#chart polyline.curve', (ps) =>
    ps.map((p) => ({ label: p.getAttribute('data-label'), points: (p.getAttribute('points') ?? '').trim().split(/\s+/).length })),
  );
  expect(curves).toHaveLength(4);
  for (const c of curves) expect(c.points).toBe(EPOCHS);
  expect(await page.$$eval('#results tbody tr', (rows) => rows.length)).toBe(2);

  const shot = join(mkdtempSync(join(tmpdir(), 'simdopt-demo-browser-')), 'page.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot of the browser demo: ${shot}`);
  expect(problems).toEqual([]);
  await page.close();
}, 180_000);
