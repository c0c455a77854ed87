// How the strategy starts its replicas: a spawner makes one worker per replica and hands back a
// small handle on it. `webWorkerSpawner` (here) and `nodeWorkerSpawner` (spawn-node.ts) are the
// two built in; any other thread or process runtime fits the same interface.

/** What a replica's worker reports to the strategy. */
export interface ReplicaWorkerEvents {
  /** A message the worker posted. */
  message(message: unknown): void;
  /** An error outside any step (an uncaught exception, a message that cannot be read). */
  error(error: Error): void;
  /** The worker has ended (`code` 0 when it was terminated or ended normally). Reported once. */
  exit(code: number): void;
}

/** The main thread's handle on one replica's worker. */
export interface ReplicaWorker {
  /** Posts a message, moving (not copying) the buffers in `transfer`. */
  postMessage(message: unknown, transfer: ArrayBuffer[]): void;
  /** Sets the event handlers; called once, right after the spawner returns. */
  listen(events: ReplicaWorkerEvents): void;
  /** Ends the worker; resolves once it has ended and `exit` has been reported. */
  terminate(): Promise<void>;
  /** Node: keep the process alive while a step runs (`ref`), not while idle (`unref`). */
  ref?(): void;
  /** Node: let the process exit while the worker idles. */
  unref?(): void;
}

/** Which replica a spawner is asked to start. */
export interface SpawnRequest {
  /** The replica's id (the local index plus `crossHost.firstReplicaId`). */
  replicaId: number;
  /** Its index among this strategy's replicas. */
  localIndex: number;
}

/** Starts the worker of one replica. The worker must run `runReplica` (simdopt's worker entry). */
export type WorkerSpawner = (request: SpawnRequest) => ReplicaWorker;

/** Options of {@link webWorkerSpawner}. */
export interface WebWorkerSpawnerOptions {
  /** URL of the worker entry (default: simdopt's `worker-browser.js` next to this module). Set
   * it where a bundler or a CDN serves the files from elsewhere. */
  url?: string | URL;
}

/** Replicas in Web Workers (module workers): browsers, Deno, Bun. An uncaught error in a worker
 * ends it, as in Node. */
export function webWorkerSpawner(options: WebWorkerSpawnerOptions = {}): WorkerSpawner {
  return ({ replicaId }) => {
    const name = `simdopt replica ${replicaId}`;
    // Written out in full so that bundlers see the worker entry and emit it.
    const w = options.url ? new Worker(options.url, { type: 'module', name }) : new Worker(new URL('./worker-browser.js', import.meta.url), { type: 'module', name });
    let events: ReplicaWorkerEvents | undefined;
    let ended = false;
    const end = (code: number) => {
      if (ended) return;
      ended = true;
      w.terminate();
      events?.exit(code);
    };
    w.addEventListener('message', (e) => events?.message(e.data));
    w.addEventListener('messageerror', () => events?.error(new Error('a message from the worker could not be deserialized')));
    w.addEventListener('error', (e) => {
      e.preventDefault();
      events?.error(new Error(e.message || 'the worker failed to load or threw an uncaught error'));
      end(1);
    });
    return {
      postMessage: (m, transfer) => w.postMessage(m, transfer),
      listen: (ev) => {
        events = ev;
      },
      terminate: async () => end(0),
    };
  };
}
