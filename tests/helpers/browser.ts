// Headless Debian Chromium through playwright-core, and long-running child processes (a server)
// whose output is watched until a line says they are ready.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { build } from 'esbuild';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { ROOT, tempDir, which } from './process';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** WebGL 2 without a GPU: Chromium's SwiftShader (CPU) implementation. */
export const WEBGL_ARGS = ['--headless', '--no-sandbox', '--no-first-run', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'];

function chromiumPath(): string {
  const executablePath = which('chromium');
  if (!executablePath) {
    throw new Error(
      'Chromium is not installed (no `chromium` on PATH). Install it with `bash scripts/setup.sh --browser` (apt-get install chromium); the browser tests do not skip.',
    );
  }
  return executablePath;
}

/** Headless Chromium (Debian's, through playwright-core). */
export function launchBrowser(args: readonly string[] = CHROMIUM_ARGS): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: [...args], timeout: 30_000 });
}

/** A test page (TypeScript) bundled by esbuild for the browser, with `simdopt` and
 * `simdopt/tfjs` taken from the built package (dist/), as a bundler takes them from node_modules. */
export async function bundlePage(entry: string): Promise<Uint8Array> {
  const bundle = await build({
    entryPoints: [join(ROOT, entry)],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    alias: { simdopt: join(ROOT, 'dist', 'index.js'), 'simdopt/tfjs': join(ROOT, 'dist', 'tfjs', 'index.js') },
    write: false,
    logLevel: 'silent',
  });
  return bundle.outputFiles[0].contents;
}

/** What a local server answers for a path: a body, its content type and any other headers. */
export interface Answer {
  type: string;
  body: string | Uint8Array;
  headers?: Record<string, string>;
}
/** A server's answers by path (nothing: 404). */
export type Route = (path: string) => Answer | undefined | Promise<Answer | undefined>;

/** An HTTP server on 127.0.0.1 (a free port) answering with `route`. */
export async function serveLocal(route: Route): Promise<{ origin: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    Promise.resolve(route(path)).then(
      (r) => (r ? res.writeHead(200, { ...r.headers, 'content-type': r.type }).end(r.body) : res.writeHead(404).end()),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A page that loads one module script, `/page.js`, served with `js` (and an empty favicon, so
 * the browser logs no failed request). */
export function pageRoute(title: string, js: Uint8Array): Route {
  const files = new Map<string, Answer>([
    ['/', { type: 'text/html', body: `<!doctype html><meta charset="utf-8"><title>${title}</title><script type="module" src="/page.js"></script>` }],
    ['/page.js', { type: 'text/javascript', body: js }],
    ['/favicon.ico', { type: 'image/x-icon', body: '' }],
  ]);
  return (path) => files.get(path);
}

/** A persistent Chromium context in a fresh profile; `close()` also removes the profile. */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const executablePath = chromiumPath();
  const profile = tempDir('chromium');
  const context = await chromium.launchPersistentContext(profile.path, { executablePath, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
  return {
    context,
    async close() {
      await context.close();
      profile.remove();
    },
  };
}

export interface Started {
  child: ChildProcess;
  /** The first match of the ready pattern. */
  match: RegExpMatchArray;
  output(): string;
  stop(): Promise<void>;
}

/** Starts `node args...` and resolves once its stdout matches `ready` (rejects if it exits or
 * `timeoutMs` passes first). `stop()` sends SIGTERM (SIGKILL after 5 s) and waits for the exit. */
export function startNode(args: readonly string[], ready: RegExp, timeoutMs = 60_000): Promise<Started> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let settled = false;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
    };
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void stop();
      reject(new Error(`\`node ${args.join(' ')}\` ${why}\n--- output\n${out}`));
    };
    const timer = setTimeout(() => fail(`printed nothing matching ${ready} within ${timeoutMs} ms`), timeoutMs);
    const onData = (d: string) => {
      out += d;
      const m = out.match(ready);
      if (m && !settled) {
        settled = true;
        clearTimeout(timer);
        resolve({ child, match: m, output: () => out, stop });
      }
    };
    child.stdout!.setEncoding('utf8').on('data', onData);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('error', (e) => fail(`failed to start: ${e.message}`));
    child.once('exit', (code, signal) => fail(`exited (code ${code}, signal ${signal}) before it was ready`));
  });
}
