// Entry of a replica's Web Worker (spawned by `webWorkerSpawner`, as a module worker).
import { runReplica } from './replica.js';
import type { MainToReplica } from './protocol.js';

interface WorkerScope {
  postMessage(message: unknown, transfer: ArrayBuffer[]): void;
  addEventListener(type: 'message', listener: (e: { data: MainToReplica }) => void): void;
}

const scope = globalThis as unknown as WorkerScope;
runReplica({
  post: (message, transfer) => scope.postMessage(message, transfer),
  listen: (handler) => scope.addEventListener('message', (e) => handler(e.data)),
});
