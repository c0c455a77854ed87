// `simdopt/distribute` under Node: replicas in worker threads by default, and file paths
// accepted as the replica module.
/// <reference types="node" />
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { WorkerMirroredStrategy as Base } from './strategy.js';
import { nodeWorkerSpawner } from './spawn-node.js';
import type { WorkerSpawner } from './spawn.js';

/**
 * Synchronous data-parallel training on N replicas in worker threads (TensorFlow's
 * `MirroredStrategy`, with Node worker threads as the devices). `module` may be a URL or a file
 * path (relative paths resolve against the current directory).
 */
export class WorkerMirroredStrategy extends Base {
  protected static override defaultSpawner(): WorkerSpawner {
    return nodeWorkerSpawner();
  }

  protected static override resolveModule(module: string | URL): string {
    if (module instanceof URL) return module.href;
    // A URL has a scheme of two letters or more (`C:\...` is a Windows path).
    if (/^[a-z][a-z0-9+.-]+:/i.test(module)) return new URL(module).href;
    return pathToFileURL(isAbsolute(module) ? module : resolve(module)).href;
  }
}

export { nodeWorkerSpawner } from './spawn-node.js';
export type { NodeWorkerSpawnerOptions } from './spawn-node.js';
export * from './common.js';
