// Headless Debian Chromium through playwright-core, and long-running child processes (a server)
// whose output is watched until a line says they are ready.
import { spawn, type ChildProcess } from 'node:child_process';
import { chromium, type BrowserContext } from 'playwright-core';
import { ROOT, tempDir, which } from './process';

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A persistent Chromium context in a fresh profile; `close()` also removes the profile. */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const executablePath = which('chromium');
  if (!executablePath) {
    throw new Error('Chromium is not installed (no `chromium` on PATH). Install it with `bash scripts/setup.sh --browser` (apt-get install chromium); the browser tests do not skip.');
  }
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
