// Probes the page's runtime, takes the build `chooseBuild` picks, and where that is the threads
// build, steps Adam on 1M elements split over two Web Workers (until they have taken part) and as
// many steps on the page's thread alone, reporting both results' bits (a hash) and the chunks
// the workers ran.
import * as glue from '../../ts/wasm/generated/threads/simdopt_wasm.js';
import threadsBase64 from '../../ts/wasm/generated/threads/threads-bytes.js';
import { simdSupported } from 'simdopt';
import { chooseBuild, probeRuntime, startPool, type BuildChoice, type Runtime } from '../../ts/wasm/threads';
import { denseSteps, type ThreadsGlue } from '../helpers/threads';

export interface ThreadsPageResult {
  runtime: Runtime;
  choice: BuildChoice;
  /** `chooseBuild({ threads: true })`: the error's class name and message, if it threw. */
  insisted: { build?: string; error?: string; name?: string };
  split?: { hash: string; steps: number; workerChunks: number; workers: number };
  alone?: { hash: string; steps: number };
}

declare global {
  interface Window {
    __threads?: ThreadsPageResult;
    __threadsError?: string;
  }
}

const N = 1 << 20;

/** FNV-1a over the bits of `x`. */
function hash(x: Float32Array): string {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  let h = 0x811c9dc5;
  for (let i = 0; i < u.length; i++) h = Math.imul(h ^ u[i], 0x01000193) >>> 0;
  return h.toString(16);
}

/** Adam steps on N elements (the gradients differ per step; then the last repeats until a
 * worker has taken part, when `untilWorkers`): the variable's hash and the steps taken. */
function adamSteps(memory: WebAssembly.Memory, steps: number, untilWorkers: boolean): { hash: string; steps: number } {
  const grads = [0, 1, 2].slice(0, steps).map((s) => {
    const g = new Float32Array(N);
    for (let i = 0; i < N; i++) g[i] = (((i * (s + 3)) % 17) - 8) * 1e-3;
    return g;
  });
  while (grads.length < steps) grads.push(grads[grads.length - 1]);
  const before = glue.threads_worker_chunks();
  const r = denseSteps(
    glue as unknown as ThreadsGlue,
    memory,
    'Adam',
    { learning_rate: 0.01 },
    new Float32Array(N).fill(0.5),
    grads,
    untilWorkers ? () => glue.threads_worker_chunks() > before : undefined,
  );
  return { hash: hash(r.variable), steps: r.steps };
}

async function main(): Promise<ThreadsPageResult> {
  const runtime = await probeRuntime(simdSupported());
  const choice = chooseBuild({}, runtime);
  let insisted: ThreadsPageResult['insisted'];
  try {
    insisted = { build: chooseBuild({ threads: true }, runtime).build };
  } catch (e) {
    insisted = { error: (e as Error).message, name: (e as Error).name };
  }
  const result: ThreadsPageResult = { runtime, choice, insisted };
  if (choice.build !== 'threads') return result;
  const bytes = Uint8Array.from(atob(threadsBase64), (c) => c.charCodeAt(0));
  const module = await WebAssembly.compile(bytes);
  const exports = glue.initSync({ module });
  const pool = await startPool(module, exports.memory, glue, 2);
  try {
    const before = glue.threads_worker_chunks();
    const split = adamSteps(exports.memory, 3, true);
    result.split = { ...split, workerChunks: glue.threads_worker_chunks() - before, workers: glue.threads_workers() };
    glue.threads_set_threshold(2 ** 31);
    result.alone = adamSteps(exports.memory, split.steps, false);
  } finally {
    await pool.terminate();
  }
  return result;
}

main().then(
  (r) => (window.__threads = r),
  (e: unknown) => (window.__threadsError = e instanceof Error ? `${e.message}\n${e.stack}` : String(e)),
);
