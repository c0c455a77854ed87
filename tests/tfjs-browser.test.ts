// The TensorFlow.js adapter (simdopt/tfjs) in headless Chromium on tfjs' webgl backend (WebGL 2
// through SwiftShader: no GPU on these machines) and, in the same page, on its cpu backend: a
// custom minimize loop and model.fit train, create no tensors per step, read the gradients back
// once per step on webgl, and give the same numbers on both backends (gradients come from each
// backend; the update is simdopt's in both).
import type { Browser } from 'playwright-core';
import { requireBuilt } from './helpers/process';
import { WEBGL_ARGS, bundlePage, launchBrowser, pageRoute, serveLocal } from './helpers/browser';
import type { BackendRun } from './browser/tfjs-page';

let server: Awaited<ReturnType<typeof serveLocal>> | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  requireBuilt();
  server = await serveLocal(pageRoute('simdopt + tfjs webgl', await bundlePage('tests/browser/tfjs-page.ts')));
  browser = await launchBrowser(WEBGL_ARGS);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

test('webgl and cpu backends: minimize and model.fit train with simdopt, no tensor leak, the same numbers', async () => {
  const page = await browser!.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(server!.origin);
  await page.waitForFunction(() => window.__tfjs !== undefined || window.__tfjsError !== undefined, undefined, { timeout: 90_000 });
  const { result, error } = await page.evaluate(() => ({ result: window.__tfjs, error: window.__tfjsError }));
  await page.close();
  if (error) throw new Error(`the page failed: ${error}`);
  expect(problems).toEqual([]);
  expect(result!.webglAvailable).toBe(true);
  const [webgl, cpu] = result!.runs as BackendRun[];
  expect([webgl.backend, cpu.backend]).toEqual(['webgl', 'cpu']);
  for (const r of [webgl, cpu]) {
    // It trained.
    expect(r.losses[r.losses.length - 1]).toBeLessThan(r.losses[0] / 2);
    expect(r.fitLosses[r.fitLosses.length - 1]).toBeLessThan(r.fitLosses[0]);
    // No tensor made per step: the count is flat from the second step on.
    expect(new Set(r.tensors.slice(1)).size).toBe(1);
  }
  // webgl: the gradients come back in one readback per step, and simdopt warns once that a GPU
  // backend gains nothing; cpu: gradients are read in place, no readback, no warning. The first
  // step also reads the 4 variables' initial values once (simdopt keeps its own copy).
  const perStep = (r: number[]) => [r[0], [...new Set(r.slice(1))]];
  expect(perStep(webgl.readbacks)).toEqual([4 + 1, [1]]);
  expect(webgl.warnings).toHaveLength(1);
  expect(perStep(cpu.readbacks)).toEqual([4, [0]]);
  expect(cpu.warnings).toEqual([]);
  // The same training on both backends (the backends' own float32 arithmetic differs slightly).
  const diff = (a: number[], b: number[]) => Math.max(0, ...a.map((x, i) => Math.abs(x - b[i]) / Math.max(1, Math.abs(b[i]))));
  const close = (a: number[], b: number[]) => diff(a, b) <= 1e-3;
  console.log(
    `tfjs webgl vs cpu, ${webgl.losses.length} minimize steps + ${webgl.fitLosses.length} fit epochs: largest difference loss ${diff(webgl.losses, cpu.losses).toExponential(1)}, ` +
      `weights ${Math.max(...webgl.values.map((v, i) => diff(v, cpu.values[i]))).toExponential(1)}, fit loss ${diff(webgl.fitLosses, cpu.fitLosses).toExponential(1)}; tensors per step after the first: ${webgl.tensors[2] - webgl.tensors[1]}`,
  );
  expect(close(webgl.losses, cpu.losses)).toBe(true);
  webgl.values.forEach((v, i) => expect([i, close(v, cpu.values[i])]).toEqual([i, true]));
  expect(close(webgl.fitLosses, cpu.fitLosses)).toBe(true);
}, 120_000);
