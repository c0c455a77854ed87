// What both `simdopt/distribute` entry points (node.ts, browser.ts) export; each adds its own
// WorkerMirroredStrategy (and Node its spawner).
export { splitBatch } from './strategy.js';
export type {
  AllGather,
  AllReduce,
  CrossHostOptions,
  GradientAggregator,
  ReduceOp,
  ReplicaGradient,
  ReplicaGradientAggregator,
  SparseGradient,
  StepOptions,
  StrategyStepResult,
  VariableSpec,
  WorkerMirroredStrategyOptions,
} from './strategy.js';
export { webWorkerSpawner } from './spawn.js';
export type { ReplicaWorker, ReplicaWorkerEvents, SpawnRequest, WebWorkerSpawnerOptions, WorkerSpawner } from './spawn.js';
export { runReplica } from './replica.js';
export type { ReplicaContext, ReplicaEndpoint, ReplicaSparseGradient, ReplicaStep, ReplicaStepOutput } from './replica.js';
export { ReplicaError } from '../errors.js';
