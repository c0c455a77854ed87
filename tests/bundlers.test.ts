// The packed package in production builds of a small app (tests/bundlers/app) by webpack 5,
// Vite, esbuild and Rollup, each opened in headless Chromium, served as is (the SIMD build) and
// cross-origin isolated (COOP + COEP: the threads build, its workers started from the bundle):
// the page and a module Worker must compute what Node computes, bit for bit, load only the wasm
// build they use, keep the error classes' names through minification, and build without a
// warning. Prints the sizes of each build (README: "Bundle sizes").
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Browser } from 'playwright-core';
import { ROOT, f32Bits, node } from './helpers/process';
import { packAndInstall, type Installed } from './helpers/pack';
import { launchBrowser, serveLocal, type Answer } from './helpers/browser';
import { threadsBase64 } from './helpers/threads';
import type { WorkloadResult } from './browser/workload.mjs';

type Bundler = 'webpack' | 'vite' | 'esbuild' | 'rollup';
interface Variant {
  name: string;
  bundler: Bundler;
  /** The app's init.js: `ready()` with the embedded wasm, or with the `.wasm` files. */
  init: 'init.js' | 'init-vite-wasm.js' | 'init-esbuild-wasm.js';
}
const VARIANTS: Variant[] = [
  { name: 'webpack', bundler: 'webpack', init: 'init.js' },
  { name: 'vite', bundler: 'vite', init: 'init.js' },
  { name: 'esbuild', bundler: 'esbuild', init: 'init.js' },
  { name: 'rollup', bundler: 'rollup', init: 'init.js' },
  { name: 'vite, simdopt/slim + .wasm files', bundler: 'vite', init: 'init-vite-wasm.js' },
  { name: 'esbuild, simdopt/slim + .wasm files', bundler: 'esbuild', init: 'init-esbuild-wasm.js' },
];

interface ErrorSeen {
  name: string;
  isClass: boolean;
  code: string;
  message: string;
  text: string;
}
interface AppResult {
  notReady: ErrorSeen;
  noSlot: ErrorSeen;
  backend: string;
  page: WorkloadResult;
  worker: WorkloadResult & { error?: string };
  keras3: unknown;
}

let installed: Installed;
let browser: Browser;
let nodeResult: WorkloadResult;
/** tests/bundlers/app/keras3.js (simdopt/keras3) in Node, from the installed package. */
let nodeKeras3: unknown;
/** A long run of each build's base64, to tell which build a file embeds. */
type Build = 'simd' | 'scalar' | 'threads';
const BUILDS: readonly Build[] = ['simd', 'scalar', 'threads'];
const marker: Record<Build, string> = { simd: '', scalar: '', threads: '' };
const sizes: string[] = [];

beforeAll(async () => {
  installed = await packAndInstall('bundlers');
  const generated = join(ROOT, 'dist', 'wasm', 'generated');
  const base64 = (b: Build) =>
    b === 'threads'
      ? threadsBase64(join(generated, 'threads'))
      : (JSON.parse(/export default ("[^"]*")/.exec(readFileSync(join(generated, `${b}-bytes.js`), 'utf8'))![1]) as string);
  const b64 = Object.fromEntries(BUILDS.map((b) => [b, base64(b)])) as Record<Build, string>;
  for (const b of BUILDS) {
    // The builds share code and data: take a run of this build's base64 that the others lack, and
    // that occurs once in it (a repeated run would be found in both halves of the threads build).
    const others = BUILDS.filter((o) => o !== b);
    // (From 60% on: the threads build's base64 is cut in two at the middle, in separate files.)
    for (let at = Math.floor(b64[b].length * 0.6); !marker[b] && at < b64[b].length - 64; at += 997) {
      const run = b64[b].slice(at, at + 64);
      if (others.every((o) => !b64[o].includes(run)) && b64[b].indexOf(run) === at) marker[b] = run;
    }
    expect(marker[b]).not.toBe('');
  }
  // Node's numbers for the same workload, from the installed package.
  copyFileSync(join(ROOT, 'tests', 'browser', 'workload.mjs'), join(installed.project, 'workload.mjs'));
  // (The SIMD build: Node would pick the threads build, whose numbers are the same bits.)
  const out = await node(['--input-type=module', '-e', "const { run } = await import('./workload.mjs'); console.log(JSON.stringify(await run('simd')));"], {
    cwd: installed.project,
  });
  nodeResult = JSON.parse(out.stdout) as WorkloadResult;
  copyFileSync(join(ROOT, 'tests', 'bundlers', 'app', 'keras3.js'), join(installed.project, 'keras3.mjs'));
  const k3 = await node(
    [
      '--input-type=module',
      '-e',
      "const { ready } = await import('simdopt'); await ready(); const { runKeras3 } = await import('./keras3.mjs'); console.log(JSON.stringify(runKeras3()));",
    ],
    {
      cwd: installed.project,
    },
  );
  nodeKeras3 = JSON.parse(k3.stdout);
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  installed?.work.remove();
  if (sizes.length) {
    console.log(
      [
        'bundle sizes (production builds of tests/bundlers/app; KiB, gzip -9; "loaded" = what the page and its Worker fetched):',
        '| build | emitted | loaded | loaded, gzip |',
        '|---|---:|---:|---:|',
        ...sizes,
      ].join('\n'),
    );
  }
});

/** The app's sources for a variant, in a directory of the scratch project (so `simdopt`
 * resolves to the installed tarball). The slim variants import `simdopt/slim` everywhere. */
function writeApp(v: Variant, dir: string): void {
  mkdirSync(dir, { recursive: true });
  const app = join(ROOT, 'tests', 'bundlers', 'app');
  const slim = v.init !== 'init.js';
  const copy = (from: string, to: string) => {
    const text = readFileSync(from, 'utf8');
    writeFileSync(join(dir, to), slim ? text.replace(/from 'simdopt'/g, "from 'simdopt/slim'") : text);
  };
  for (const f of ['main.js', 'worker.js', 'index.html', 'keras3.js']) copy(join(app, f), f);
  copy(join(app, v.init), 'init.js');
  copy(join(ROOT, 'tests', 'browser', 'workload.mjs'), 'workload.mjs');
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => statSync(join(dir, f)).isFile());
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };
const kib = (n: number) => (n / 1024).toFixed(1);

for (const v of VARIANTS) {
  test(`${v.name}: a production build runs in Chromium (page and Worker) with Node's numbers`, async () => {
    const slug = v.name.replace(/[^a-z]+/g, '-');
    const app = join(installed.project, 'apps', slug);
    const out = join(installed.project, 'out', slug);
    writeApp(v, app);

    const built = await node([join(ROOT, 'tests', 'bundlers', 'build.mjs'), v.bundler, app, out], { cwd: installed.project, timeoutMs: 180_000 });
    const { warnings } = JSON.parse(built.stdout.trim().split('\n').pop()!) as { warnings: string[] };
    expect(warnings).toEqual([]);
    // Vite writes its own index.html; the others get the page that loads their main.js (webpack's
    // is a classic script).
    if (v.bundler !== 'vite') {
      const script = v.bundler === 'webpack' ? '<script src="./main.js"></script>' : '<script type="module" src="./main.js"></script>';
      writeFileSync(join(out, 'index.html'), `<!doctype html><meta charset="utf-8"><title>simdopt ${v.name}</title>${script}`);
    }

    /** Opens the page (with `headers` on every answer); what it computed and the files it fetched. */
    const visit = async (headers: Record<string, string>): Promise<{ r: AppResult; loaded: string[] }> => {
      const fetched = new Set<string>();
      const server = await serveLocal((path): Answer | undefined => {
        if (path === '/favicon.ico') return { type: 'image/x-icon', body: '' }; // (else a 404 in the console)
        const file = join(out, path === '/' ? 'index.html' : decodeURIComponent(path.slice(1)));
        if (relative(out, file).startsWith('..') || !existsSync(file) || !statSync(file).isFile()) return undefined;
        fetched.add(relative(out, file));
        return { type: TYPES[extname(file)] ?? 'application/octet-stream', body: readFileSync(file), headers };
      });
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`console.${m.type()}: ${m.text()}`);
      });
      try {
        await page.goto(`${server.origin}/`);
        await page.waitForFunction(
          () => (window as unknown as Record<string, unknown>).__result !== undefined || (window as unknown as Record<string, unknown>).__error !== undefined,
          undefined,
          { timeout: 60_000 },
        );
        const { result, error } = await page.evaluate(() => ({
          result: (window as unknown as Record<string, unknown>).__result,
          error: (window as unknown as Record<string, unknown>).__error,
        }));
        if (error) throw new Error(`the ${v.name} app failed: ${String(error)}`);
        expect(problems).toEqual([]);
        return { r: result as AppResult, loaded: [...fetched].filter((f) => /\.(js|wasm)$/.test(f)) };
      } finally {
        await page.close();
        await server.close();
      }
    };

    const emitted = filesUnder(out).filter((f) => /\.(js|wasm)$/.test(f));
    const text = (f: string) => readFileSync(join(out, f), 'latin1');
    const embedding = (files: string[], b: Build) => files.filter((f) => f.endsWith('.js') && text(f).includes(marker[b]));
    const shipped = (b: Build) => readFileSync(join(ROOT, 'dist', 'wasm', `simdopt-${b}.wasm`));
    /** The numbers are Node's, bit for bit, in the page and in the Worker, with `build`; only that
     * build is downloaded, embedded or as a .wasm file. */
    const check = ({ r, loaded }: { r: AppResult; loaded: string[] }, build: 'simd' | 'threads') => {
      expect(nodeResult.backend).toBe('simd');
      expect(nodeResult.scalar.bits).toEqual(f32Bits([9.900001])); // TF 2.4's Adam(0.1) step
      expect(r.backend).toBe(build);
      expect(r.page).toEqual({ ...nodeResult, backend: build, loaded: build });
      expect(r.worker.error).toBeUndefined();
      expect(r.worker).toEqual({ ...nodeResult, backend: build, loaded: build });
      // simdopt/keras3 in the bundle: Node's Keras 3 steps, bit for bit.
      expect((nodeKeras3 as { names: string[] }).names[0]).toBe('adam_w/iteration');
      expect(r.keras3).toEqual(nodeKeras3);
      for (const b of BUILDS.filter((b) => b !== build)) expect([b, embedding(loaded, b)]).toEqual([b, []]);
      if (v.init === 'init.js') {
        expect(embedding(loaded, build)).toHaveLength(1);
        expect(loaded.filter((f) => f.endsWith('.wasm'))).toEqual([]);
      } else {
        expect(embedding(loaded, build)).toEqual([]);
        expect(emitted.filter((f) => f.endsWith('.js') && BUILDS.some((b) => text(f).includes(marker[b])))).toEqual([]);
        const wasm = loaded.filter((f) => f.endsWith('.wasm'));
        expect(wasm).toHaveLength(1);
        expect(readFileSync(join(out, wasm[0]))).toEqual(shipped(build));
      }
    };

    const plain = await visit({});
    check(plain, 'simd');
    const r = plain.r;
    // Error classes keep their names through minification; messages end with one period at most.
    expect(r.notReady).toMatchObject({ name: 'StateError', isClass: true, code: 'NotReady' });
    expect(r.notReady.text).toBe(`StateError: ${r.notReady.message}`);
    expect(r.noSlot).toMatchObject({ name: 'SlotError', isClass: true, code: 'UnknownSlot' });
    for (const e of [r.notReady, r.noSlot]) expect(e.message).not.toMatch(/\.\.$/);
    // Cross-origin isolated, the same app runs on the threads build, page and Worker.
    check(await visit({ 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' }), 'threads');
    const loaded = plain.loaded;

    const total = (fs: string[], gz: boolean) => fs.reduce((n, f) => n + (gz ? gzipSync(readFileSync(join(out, f)), { level: 9 }).length : statSync(join(out, f)).size), 0);
    sizes.push(`| ${v.name} | ${kib(total(emitted, false))} (${emitted.length} files) | ${kib(total(loaded, false))} (${loaded.length} files) | ${kib(total(loaded, true))} |`);
  }, 240_000);
}
