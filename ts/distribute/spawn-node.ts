// Replicas in Node worker threads.
/// <reference types="node" />
import { Worker } from 'node:worker_threads';
import type { ReplicaWorker, ReplicaWorkerEvents, WorkerSpawner } from './spawn.js';

/** Options of {@link nodeWorkerSpawner}. */
export interface NodeWorkerSpawnerOptions {
  /** Node options of the worker threads (`execArgv` of `new Worker`). */
  execArgv?: string[];
  /** Heap limits of each worker thread (`resourceLimits` of `new Worker`). */
  resourceLimits?: {
    /** Most memory of the main heap, MB. */
    maxOldGenerationSizeMb?: number;
    /** Most memory of the heap for new objects, MB. */
    maxYoungGenerationSizeMb?: number;
    /** Memory for generated code, MB. */
    codeRangeSizeMb?: number;
    /** Largest stack, MB. */
    stackSizeMb?: number;
  };
}

/** Replicas in Node `worker_threads`. */
export function nodeWorkerSpawner(options: NodeWorkerSpawnerOptions = {}): WorkerSpawner {
  return ({ replicaId }): ReplicaWorker => {
    const w = new Worker(new URL('./worker-node.js', import.meta.url), {
      execArgv: options.execArgv,
      resourceLimits: options.resourceLimits,
      name: `simdopt replica ${replicaId}`,
    });
    let events: ReplicaWorkerEvents | undefined;
    let exited = false;
    const exit = new Promise<void>((resolve) =>
      w.once('exit', (code) => {
        exited = true;
        events?.exit(code);
        resolve();
      }),
    );
    w.on('message', (m) => events?.message(m));
    w.on('error', (e) => events?.error(e instanceof Error ? e : new Error(String(e))));
    w.on('messageerror', (e) => events?.error(e instanceof Error ? e : new Error(String(e))));
    return {
      postMessage: (m, transfer) => w.postMessage(m, transfer),
      listen: (ev) => {
        events = ev;
      },
      terminate: async () => {
        if (!exited) await w.terminate();
        await exit;
      },
      ref: () => w.ref(),
      unref: () => w.unref(),
    };
  };
}
