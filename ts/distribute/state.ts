// The main thread's records of its replicas and of the running step.
import type { ReduceOp, ReplicaToMain } from './protocol.js';
import type { ReplicaWorker } from './spawn.js';

export type ResultMsg = Extract<ReplicaToMain, { t: 'result' }>;

export interface Waiter {
  step: number;
  resolve(m: ResultMsg | undefined): void;
  reject(e: Error): void;
}

export interface Replica {
  localIndex: number;
  replicaId: number;
  worker: ReplicaWorker;
  /** Buffers for the variables' values of the next step (back from the last step). */
  buffers: Float32Array[] | null;
  exitCode?: number;
  lastError?: Error;
  waiter: Waiter | null;
}

export interface Collective {
  op: ReduceOp;
  /** The lengths of the first part's arrays, as read when it arrived. */
  lengths?: number[];
  parts: (Float32Array[] | undefined)[];
  count: number;
}

export interface RunningStep {
  step: number;
  /** Whether the strategy aggregates (every replica sends its gradients). */
  aggregate: boolean;
  aborted: boolean;
  /** The root cause of a failed step (the first failure). */
  error?: Error;
  collectives: Map<number, Collective>;
}

/** Settles a replica's current waiter once. */
export function settle(r: Replica, f: (w: Waiter) => void): void {
  const w = r.waiter;
  if (!w) return;
  r.waiter = null;
  f(w);
}
