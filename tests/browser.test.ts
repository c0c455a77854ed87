// simdopt in a real browser: the package bundled by esbuild for the web, served from 127.0.0.1
// and run in headless Debian Chromium (not cross-origin isolated: the single-threaded builds;
// tests/threads.test.ts has the isolated page). Both must give Node's numbers, bit for bit.
import { availableParallelism } from 'node:os';
import type { BrowserContext } from 'playwright-core';
import { f32Bits, node, requireBuilt } from './helpers/process';
import { bundlePage, launchBrowser, launchChromium, pageRoute, serveLocal } from './helpers/browser';
import type { WorkloadResult } from './browser/workload.mjs';

let server: Awaited<ReturnType<typeof serveLocal>> | undefined;
let chromium: Awaited<ReturnType<typeof launchChromium>> | undefined;
let context: BrowserContext | undefined;
let nodeResult: WorkloadResult;

beforeAll(async () => {
  requireBuilt();
  server = await serveLocal(pageRoute('simdopt', await bundlePage('tests/browser/page.ts')));
  chromium = await launchChromium();
  context = chromium.context;

  // Node's result for the same workload, on dist/ (the repository's package, by self-reference).
  const out = await node(['--input-type=module', '-e', "const { run } = await import('./tests/browser/workload.mjs'); console.log(JSON.stringify(await run()));"]);
  nodeResult = JSON.parse(out.stdout) as WorkloadResult;
}, 60_000);

afterAll(async () => {
  await chromium?.close();
  await server?.close();
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
    await page.goto(`${server!.origin}/?backend=${backend}`);
    await page.waitForFunction(() => window.__result !== undefined || window.__error !== undefined, undefined, { timeout: 20_000 });
    const { result, error } = await page.evaluate(() => ({ result: window.__result, error: window.__error }));
    if (error) throw new Error(`the page failed (${backend}): ${error}`);
    return { r: result as WorkloadResult, pageErrors };
  } finally {
    await page.close();
  }
}

test('Node runs the workload with the threads build (two processors or more; else SIMD) and TF 2.4 numbers', () => {
  expect(nodeResult.backend).toBe(availableParallelism() >= 2 ? 'threads' : 'simd');
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

test("a page whose Content-Security-Policy forbids WebAssembly gets a StateError that says what to allow; 'wasm-unsafe-eval' is enough", async () => {
  const js = await bundlePage('tests/browser/csp-page.ts');
  const page = pageRoute('simdopt csp', js);
  const results: Record<string, NonNullable<Window['__csp']>> = {};
  const browser = await launchBrowser();
  try {
    for (const policy of ["script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'"]) {
      const server = await serveLocal(async (path) => {
        const a = await page(path);
        return a && { ...a, headers: { 'content-security-policy': policy } };
      });
      const tab = await browser.newPage();
      try {
        await tab.goto(server.origin);
        await tab.waitForFunction(() => window.__csp !== undefined, undefined, { timeout: 20_000 });
        results[policy] = (await tab.evaluate(() => window.__csp))!;
      } finally {
        await tab.close();
        await server.close();
      }
    }
  } finally {
    await browser.close();
  }
  const blocked = results["script-src 'self'"];
  expect(blocked.isSimdoptError).toBe(true);
  expect(blocked.code).toBe('InvalidState');
  expect(blocked.error).toMatch(/simdopt could not compile its WebAssembly \(simd build\): CompileError: .*add 'wasm-unsafe-eval' to script-src/);
  expect(results["script-src 'self' 'wasm-unsafe-eval'"]).toEqual({ backend: 'simd' });
});
