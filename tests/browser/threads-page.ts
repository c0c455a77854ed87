// The threads page: `ready()` as a page gets it (the threads build only on a cross-origin isolated
// page), what `chooseBuild` says when threads are insisted on, and Adam on 1M elements through the
// public API on the page's main thread (which never blocks on an atomic wait: it runs chunks and
// spins), until a worker has taken part where threads are in use.
import * as simdopt from 'simdopt';
// The loader dist/index.js uses (so the same instance); `core()` is internal, not in its types.
import * as loader from '../../dist/wasm/loader.js';
import { chooseBuild, probeRuntime, type BuildChoice, type Runtime } from '../../dist/wasm/threads.js';
import { adamWorkload, type AdamWorkloadResult } from './threads-workload';

export interface ThreadsPageResult {
  runtime: Runtime;
  /** What `ready()` resolved to, and `stats().threads`. */
  loaded: string;
  threads: number;
  /** `chooseBuild({ threads: true })`: the build, or the error's class name and message. */
  insisted: { build?: BuildChoice['build']; error?: string; name?: string };
  adam: AdamWorkloadResult;
  /** Chunks the workers ran during the workload (threads build only). */
  workerChunks?: number;
}

declare global {
  interface Window {
    __threads?: ThreadsPageResult;
    __threadsError?: string;
  }
}

async function main(): Promise<ThreadsPageResult> {
  const runtime = await probeRuntime(simdopt.simdSupported());
  let insisted: ThreadsPageResult['insisted'];
  try {
    insisted = { build: chooseBuild({ threads: true }, runtime).build };
  } catch (e) {
    insisted = { error: (e as Error).message, name: (e as Error).name };
  }
  const loaded = await simdopt.ready();
  const threads = simdopt.stats().threads;
  if (loaded !== 'threads') return { runtime, loaded, threads, insisted, adam: adamWorkload(simdopt) };
  const glue = (loader as unknown as { core(): { threads_worker_chunks(): number } }).core();
  const before = glue.threads_worker_chunks();
  const adam = adamWorkload(simdopt, () => glue.threads_worker_chunks() > before);
  return { runtime, loaded, threads, insisted, adam, workerChunks: glue.threads_worker_chunks() - before };
}

main().then(
  (r) => (window.__threads = r),
  (e: unknown) => (window.__threadsError = e instanceof Error ? `${e.message}\n${e.stack}` : String(e)),
);
