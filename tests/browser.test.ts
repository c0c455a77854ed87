// simdopt in a real browser: the package bundled by esbuild for the web, served from 127.0.0.1
// and run in headless Debian Chromium. Both wasm builds must give Node's numbers, bit for bit.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { build } from 'esbuild';
import { chromium, type BrowserContext } from 'playwright-core';
import { ROOT, f32Bits, node, requireBuilt, tempDir, which } from './helpers/process';
import type { WorkloadResult } from './browser/workload.mjs';

const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let server: Server | undefined;
let origin = '';
let context: BrowserContext | undefined;
let profile: { path: string; remove(): void } | undefined;
let nodeResult: WorkloadResult;

beforeAll(async () => {
  requireBuilt();
  const executablePath = which('chromium');
  if (!executablePath) {
    throw new Error('Chromium is not installed (no `chromium` on PATH). Install it with `bash scripts/setup.sh --browser` (apt-get install chromium); the browser tests do not skip.');
  }

  // The page bundle: 'simdopt' is the built package (dist/), as a bundler would take it from node_modules.
  const bundle = await build({
    entryPoints: [join(ROOT, 'tests', 'browser', 'page.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    alias: { simdopt: join(ROOT, 'dist', 'index.js') },
    write: false,
    logLevel: 'silent',
  });
  const js = bundle.outputFiles[0].contents;
  const html = '<!doctype html><meta charset="utf-8"><title>simdopt</title><script type="module" src="/page.js"></script>';

  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (path === '/') res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    else if (path === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    else if (path === '/favicon.ico') res.writeHead(204).end();
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  profile = tempDir('chromium');
  context = await chromium.launchPersistentContext(profile.path, { executablePath, headless: true, args: LAUNCH_ARGS, timeout: 30_000 });

  // Node's result for the same workload, on dist/ (the repository's package, by self-reference).
  const out = await node(['--input-type=module', '-e', "const { run } = await import('./tests/browser/workload.mjs'); console.log(JSON.stringify(await run()));"]);
  nodeResult = JSON.parse(out.stdout) as WorkloadResult;
}, 60_000);

afterAll(async () => {
  await context?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  profile?.remove();
});

/** Loads the page in a new tab with the given build; returns the workload's result and the
 * page's errors (uncaught exceptions and console errors). */
async function runInChromium(backend: 'auto' | 'scalar'): Promise<{ r: WorkloadResult; pageErrors: string[] }> {
  const pageErrors: string[] = [];
  const page = await context!.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${backend}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`${backend}: console: ${m.text()}`);
  });
  try {
    await page.goto(`${origin}/?backend=${backend}`);
    await page.waitForFunction(() => window.__result !== undefined || window.__error !== undefined, undefined, { timeout: 20_000 });
    const { result, error } = await page.evaluate(() => ({ result: window.__result, error: window.__error }));
    if (error) throw new Error(`the page failed (${backend}): ${error}`);
    return { r: result as WorkloadResult, pageErrors };
  } finally {
    await page.close();
  }
}

test('Node runs the workload with the SIMD build and TF 2.4 numbers', () => {
  expect(nodeResult.backend).toBe('simd');
  expect(nodeResult.scalar.bits).toEqual(f32Bits([9.900001]));
});

test('Chromium picks the SIMD build and computes exactly what Node computes', async () => {
  const { r, pageErrors } = await runInChromium('auto');
  expect(r.simdSupported).toBe(true);
  expect(r.loaded).toBe('simd');
  expect(r.backend).toBe('simd');
  expect(r.scalar.bits).toEqual(nodeResult.scalar.bits);
  expect(r.amsgrad).toEqual(nodeResult.amsgrad);
  expect(pageErrors).toEqual([]);
});

test('the scalar build in Chromium (a second page load) computes the same bits', async () => {
  const { r, pageErrors } = await runInChromium('scalar');
  expect(r.loaded).toBe('scalar');
  expect(r.backend).toBe('scalar');
  expect(r.scalar.bits).toEqual(nodeResult.scalar.bits);
  expect(r.amsgrad).toEqual(nodeResult.amsgrad);
  expect(pageErrors).toEqual([]);
});
