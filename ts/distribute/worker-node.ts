// Entry of a replica's Node worker thread (spawned by `nodeWorkerSpawner`).
/// <reference types="node" />
import { parentPort } from 'node:worker_threads';
import { runReplica } from './replica.js';
import type { MainToReplica } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('simdopt/distribute: worker-node.js must run in a worker thread');
runReplica({
  post: (message, transfer) => port.postMessage(message, transfer),
  listen: (handler) => port.on('message', (m: MainToReplica) => handler(m)),
});
