// What WorkerMirroredStrategy takes and gives: its options (checked here), a step's options and
// result, and the user functions it calls (aggregator, cross-host collectives).
import { Optimizer } from '../optimizer/index.js';
import { IndexedSlices, Variable } from '../tensor.js';
import { ArgumentError, StateError } from '../errors.js';
import { readArray } from '../values.js';
import type { ReduceOp, SparseGradient } from './protocol.js';
import type { WorkerSpawner } from './spawn.js';

/** A replica's gradient for one variable as the strategy's aggregator sees it: dense, or sparse
 * rows (when the replica returned `{ indices, values }`). */
export type ReplicaGradient = Float32Array | IndexedSlices;

/**
 * Replaces the default aggregation (the sum over replicas, in the wasm core; sparse gradients
 * concatenated): receives every replica's gradients, `replicaGrads[replica][variable]`
 * (variables without gradients left out), and returns one aggregated gradient per variable. It
 * replaces `crossHost` aggregation too. (Not the root package's `GradientAggregator`, Keras'
 * `grads_and_vars` hook, which the optimizer runs inside `applyGradients`.)
 */
export type ReplicaGradientAggregator = {
  // A method signature, so that an aggregator written for dense gradients only,
  // `(rg: Float32Array[][]) => Float32Array[]`, type-checks too (parameters of methods are bivariant).
  /** Takes each replica's gradients (replica order, then variable order) and returns one per variable. */
  aggregate(replicaGrads: ReplicaGradient[][]): ReplicaGradient[] | Promise<ReplicaGradient[]>;
}['aggregate'];

/** @deprecated The earlier name of {@link ReplicaGradientAggregator}, kept for existing code; it
 * is not the root package's `GradientAggregator`. */
export type GradientAggregator = ReplicaGradientAggregator;

/**
 * An all-reduce among participants (hosts): each participant calls it with its values and every
 * call resolves to the element-wise combination of all participants' values (same lengths, same
 * order). The strategy calls it with `'sum'` and with arrays it does not use afterwards (the
 * implementation may keep, transfer or overwrite them).
 */
export type AllReduce = (values: Float32Array[], op: ReduceOp) => Promise<Float32Array[]>;

/**
 * An all-gather among participants (hosts), for sparse gradients: each participant calls it with
 * its rows of every sparse variable (in variable order) and every call resolves to all
 * participants' lists, in participant order, its own included. The strategy concatenates them.
 */
export type AllGather = (rows: SparseGradient[]) => Promise<SparseGradient[][]>;

/** Training over several hosts (processes or machines), each running one strategy with its
 * own local replicas and its own copy of the optimizer and variables. Every host must give a
 * variable the same kind of gradient (dense or sparse), so that all make the same calls. */
export interface CrossHostOptions {
  /** Sums the hosts' local sums of dense gradients (e.g. a ring all-reduce over sockets, MPI,
   * NCCL). */
  allReduce: AllReduce;
  /** Gathers the hosts' sparse gradients (Keras all-gathers IndexedSlices); needed only when
   * replicas return sparse gradients. */
  allGather?: AllGather;
  /** Replicas over all hosts (Keras' `num_replicas_in_sync`). */
  numReplicasInSync: number;
  /** Id of this host's first replica; its replicas are `firstReplicaId + 0..numReplicas-1`. */
  firstReplicaId: number;
}

/** The options of `WorkerMirroredStrategy.create`. */
export interface WorkerMirroredStrategyOptions {
  /** The replica module: a URL, or (Node) a file path. It exports the step function as `step`
   * (or as its default export) and may export `setup(ctx)`, awaited once per worker. */
  module: string | URL;
  /** Number of replicas (workers) on this host. */
  numReplicas: number;
  /** The optimizer that applies the aggregated gradients (on the main thread). */
  optimizer: Optimizer;
  /** The variables replicas compute gradients for, in the order of values and gradients. */
  variables: readonly Variable[];
  /** Handed to every replica once, as `ctx.data` (structured-cloned). */
  workerData?: unknown;
  /** Replaces the default aggregation (see {@link ReplicaGradientAggregator}). Default: the sum over
   * replicas in the wasm core. (The optimizer's own `gradientAggregator`, Keras' signature
   * `grads_and_vars -> grads_and_vars`, then runs inside its `applyGradients` on the aggregated
   * gradients, before clipping, as with any other `applyGradients` call.) */
  gradientAggregator?: ReplicaGradientAggregator;
  /** Multi-host training (see {@link CrossHostOptions}). */
  crossHost?: CrossHostOptions;
  /** How workers are started (default: Node worker threads from `simdopt/distribute` under
   * Node, Web Workers elsewhere). */
  spawn?: WorkerSpawner;
  /** Fails a step whose replicas have not all answered after this many milliseconds (a
   * {@link ReplicaError} with code `ReplicaTimeout`; nothing is applied). The replicas that hang
   * are terminated, so the strategy must be recreated afterwards. Default: no limit. */
  stepTimeoutMs?: number;
}

/** Per-step options of `strategy.step`. */
export interface StepOptions {
  /** Keras' `experimental_aggregate_gradients`. `false`: the replicas all-reduce their
   * gradients themselves (`ctx.allReduce`), and the first replica's result is applied as it is
   * (clipping still applies, after that aggregation). Default true. */
  experimentalAggregateGradients?: boolean;
  /** Move (transfer) the ArrayBuffers found in the shards instead of copying them; the
   * caller's arrays are detached afterwards. Each shard must have buffers of its own. */
  transfer?: boolean;
  /** This step's time limit (overrides the strategy's `stepTimeoutMs`). */
  timeoutMs?: number;
}

/** What `strategy.step` resolves to. */
export interface StrategyStepResult {
  /** False only when the optimizer skipped the update for non-finite gradients (its
   * `skipNonFinite`); the losses are reported all the same. */
  applied: boolean;
  /** The global loss: the sum of the replicas' losses (each a share of the global mean). */
  loss: number;
  /** Each local replica's loss. */
  replicaLosses: number[];
  /** Each local replica's `aux` output. */
  aux: unknown[];
}

/** The options read once, each field and each variable, into a new object, and checked. */
export function checkOptions(options: WorkerMirroredStrategyOptions): WorkerMirroredStrategyOptions {
  if (options === null || typeof options !== 'object') throw new ArgumentError('InvalidArgument', 'WorkerMirroredStrategy.create expects an options object');
  const { module, numReplicas, optimizer, variables: given, workerData, gradientAggregator, crossHost, spawn, stepTimeoutMs } = options;
  if (typeof module !== 'string' && !(module instanceof URL)) throw new ArgumentError('InvalidArgument', '`module` must be a URL or a path');
  if (!Number.isInteger(numReplicas) || numReplicas < 1) throw new ArgumentError('InvalidArgument', `\`numReplicas\` must be a positive integer, got ${String(numReplicas)}`);
  if (!(optimizer instanceof Optimizer)) throw new ArgumentError('InvalidArgument', '`optimizer` must be a simdopt Optimizer');
  if (optimizer.isDisposed) throw new StateError('Disposed', `optimizer '${optimizer.name}' has been disposed`);
  const variables = readArray(given);
  if (!variables || variables.length === 0) throw new ArgumentError('InvalidArgument', '`variables` must be a non-empty array of Variables');
  for (const v of variables) {
    if (!(v instanceof Variable)) throw new ArgumentError('InvalidArgument', '`variables` must contain only Variables');
    if (v.isDisposed) throw new StateError('Disposed', `variable '${v.name}' has been disposed`);
  }
  if (new Set(variables).size !== variables.length) throw new ArgumentError('InvalidArgument', '`variables` lists a variable twice');
  if (gradientAggregator !== undefined && typeof gradientAggregator !== 'function') throw new ArgumentError('InvalidArgument', '`gradientAggregator` must be a function');
  let host: CrossHostOptions | undefined;
  if (crossHost !== undefined) {
    if (crossHost === null || typeof crossHost !== 'object') throw new ArgumentError('InvalidArgument', '`crossHost` must be an object');
    const { allReduce, allGather, firstReplicaId, numReplicasInSync } = crossHost;
    if (typeof allReduce !== 'function') throw new ArgumentError('InvalidArgument', '`crossHost.allReduce` must be a function');
    if (allGather !== undefined && typeof allGather !== 'function') throw new ArgumentError('InvalidArgument', '`crossHost.allGather` must be a function');
    if (!Number.isInteger(firstReplicaId) || firstReplicaId < 0 || !Number.isInteger(numReplicasInSync) || firstReplicaId + numReplicas > numReplicasInSync) {
      throw new ArgumentError(
        'InvalidArgument',
        `\`crossHost\`: replicas ${firstReplicaId}..${firstReplicaId + numReplicas - 1} do not fit in numReplicasInSync ${numReplicasInSync}`,
      );
    }
    // The functions read here, called with the user's object as `this` (methods of a class work).
    const gather = allGather;
    host = Object.freeze({
      allReduce: (values: Float32Array[], op: ReduceOp) => Reflect.apply(allReduce, crossHost, [values, op]) as Promise<Float32Array[]>,
      allGather: gather === undefined ? undefined : (rows: SparseGradient[]) => Reflect.apply(gather, crossHost, [rows]) as Promise<SparseGradient[][]>,
      firstReplicaId,
      numReplicasInSync,
    });
  }
  if (spawn !== undefined && typeof spawn !== 'function') throw new ArgumentError('InvalidArgument', '`spawn` must be a function');
  if (stepTimeoutMs !== undefined) checkTimeout(stepTimeoutMs, 'stepTimeoutMs');
  return { module, numReplicas, optimizer, variables: variables as Variable[], workerData, gradientAggregator, crossHost: host, spawn, stepTimeoutMs };
}

export function checkTimeout(ms: unknown, name: string): void {
  // (setTimeout's own limit is 2^31 - 1 ms; beyond it fires at once.)
  if (typeof ms !== 'number' || !(ms > 0) || ms > 2 ** 31 - 1)
    throw new ArgumentError('InvalidArgument', `\`${name}\` must be a number of milliseconds in (0, 2^31 - 1], got ${String(ms)}`);
}
