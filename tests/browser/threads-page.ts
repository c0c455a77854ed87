// Probes the page's runtime, takes the build `chooseBuild` picks, and where that is the threads
// build, steps Adam on 1M elements split over two Web Workers (until they have taken part) and as
// many steps on the page's thread alone, reporting both results' bits (a hash) and the chunks
// the workers ran.
import * as glue from '../../ts/wasm/generated/threads/simdopt_wasm.js';
import threadsBase64 from '../../ts/wasm/generated/threads/threads-bytes.js';
import { simdSupported } from 'simdopt';
import { chooseBuild, probeRuntime, startPool, type BuildChoice, type Runtime } from '../../ts/wasm/threads';

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

/** Adam steps on N elements (gradients differ per step) until a worker has taken part or
 * `maxSteps`; the variable's hash and the steps taken. */
function adamSteps(memory: WebAssembly.Memory, maxSteps: number): { hash: string; steps: number } {
  const h = new glue.ChunkedDense('Adam', [], new Float32Array(), 0.01, N);
  const before = glue.threads_worker_chunks();
  try {
    new Float32Array(memory.buffer, h.var_ptr(), N).fill(0.5);
    let step = 0;
    for (; step < maxSteps && (step < 3 || glue.threads_worker_chunks() === before); step++) {
      const g = new Float32Array(memory.buffer, h.grad_ptr(), N);
      for (let i = 0; i < N; i++) g[i] = (((i * (step + 3)) % 17) - 8) * 1e-3;
      h.step();
    }
    return { hash: hash(new Float32Array(memory.buffer, h.var_ptr(), N)), steps: step };
  } finally {
    h.free();
  }
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
    const split = adamSteps(exports.memory, 500);
    result.split = { ...split, workerChunks: glue.threads_worker_chunks() - before, workers: glue.threads_workers() };
    glue.threads_set_threshold(2 ** 31);
    result.alone = adamSteps(exports.memory, split.steps);
  } finally {
    await pool.terminate();
  }
  return result;
}

main().then(
  (r) => (window.__threads = r),
  (e: unknown) => (window.__threadsError = e instanceof Error ? `${e.message}\n${e.stack}` : String(e)),
);
