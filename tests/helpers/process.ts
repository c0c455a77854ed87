// Child processes and temp dirs for the tests that use the package as a user does (npm, node,
// tsc, Chromium). Every run has a timeout and its output is kept for a clear failure message.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tests/helpers/../..). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
  timeoutMs?: number;
}

/** Runs a command to completion (killed after `timeoutMs`); never throws on a non-zero exit. */
export function run(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    // NODE_OPTIONS of jest (--experimental-vm-modules) must not leak into the children.
    const env = { ...process.env, NODE_OPTIONS: '', ...options.env };
    // Without input the child gets no stdin at all (writing to one that has already exited is EPIPE).
    const stdin = options.input === undefined ? 'ignore' : 'pipe';
    const child = spawn(cmd, args, { cwd: options.cwd ?? ROOT, env, stdio: [stdin, 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
    if (child.stdin) {
      child.stdin.on('error', () => {}); // the child may exit before reading its input
      child.stdin.end(options.input);
    }
  });
}

/** Like [[run]], but throws with the command's output unless it exits with 0. */
export async function runOk(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, options);
  if (r.code !== 0) {
    throw new Error(`\`${cmd} ${args.join(' ')}\` failed (exit ${r.code}, signal ${r.signal}) in ${options.cwd ?? ROOT}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  }
  return r;
}

/** Runs `node` (this same binary) with the given arguments. */
export function node(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return runOk(process.execPath, args, options);
}

/** A fresh temp dir; `remove()` deletes it. */
export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `simdopt-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** The first executable called `name` on PATH, or undefined. */
export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** Fails early, with the fix, when the package has not been built. */
export function requireBuilt(): void {
  for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/wasm/generated/simd-bytes.js', 'dist/wasm/generated/scalar-bytes.js']) {
    if (!existsSync(join(ROOT, f))) throw new Error(`${f} is missing: build the package first (bash scripts/build.sh)`);
  }
}

/** The raw bits of f32 values, so results compare exactly (NaN payloads and -0 included). */
export function f32Bits(values: Float32Array | ArrayLike<number>): number[] {
  const f = values instanceof Float32Array ? values : Float32Array.from(values);
  return Array.from(new Uint32Array(f.buffer, f.byteOffset, f.length));
}
