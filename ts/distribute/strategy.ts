// Synchronous data-parallel training over worker threads: TensorFlow's MirroredStrategy with
// workers as the devices. The main thread owns the optimizer and the variables; every step it
// sends each replica its shard and the variables' values, collects each replica's gradients,
// sums them in the wasm core (fixed replica order) and applies one update.
import { Optimizer } from '../optimizer/index.js';
import { Variable } from '../tensor.js';
import { ArgumentError, ReplicaError, StateError } from '../errors.js';
import { describeValue, readArray, typedArrayLength } from '../values.js';
import { INIT_STEP, VariableSpec, WireError, collectBuffers, fromWire, readAllReduce, readResult } from './protocol.js';
import type { WorkerSpawner } from './spawn.js';
import { webWorkerSpawner } from './spawn.js';
import { ReplicaAggregation } from './aggregate.js';
import { AllReduceHub } from './collective.js';
import { Replica, ResultMsg, RunningStep, settle } from './state.js';
import { CrossHostOptions, StepOptions, StrategyStepResult, WorkerMirroredStrategyOptions, checkOptions, checkTimeout } from './strategy-options.js';

export type {
  AllGather,
  AllReduce,
  CrossHostOptions,
  GradientAggregator,
  ReplicaGradientAggregator,
  ReplicaGradient,
  StepOptions,
  StrategyStepResult,
  WorkerMirroredStrategyOptions,
} from './strategy-options.js';
export type { ReduceOp, SparseGradient, VariableSpec } from './protocol.js';

/**
 * Synchronous data-parallel training on N replicas in worker threads (TensorFlow's
 * `MirroredStrategy`, with workers as the devices). Start it with
 * `await WorkerMirroredStrategy.create({...})`, run `await strategy.step(shards)` per global
 * batch, and end it with `await strategy.shutdown()`.
 */
export class WorkerMirroredStrategy {
  /** The optimizer that applies the aggregated gradients (on this thread). */
  readonly optimizer: Optimizer;
  /** The variables the replicas compute gradients for, in order. */
  readonly variables: readonly Variable[];
  /** Replicas over all hosts (Keras' `num_replicas_in_sync`). */
  readonly numReplicasInSync: number;
  /** Replicas (workers) of this strategy. */
  readonly numReplicas: number;

  private readonly replicas: Replica[] = [];
  /** Names and shapes of the variables (what the replicas see). */
  private readonly specs: readonly VariableSpec[];
  private readonly crossHost?: CrossHostOptions;
  private readonly stepTimeoutMs?: number;
  private readonly aggregation: ReplicaAggregation;
  private readonly allReduces: AllReduceHub;
  private current?: RunningStep;
  private stepCount = 0;
  private busy = false;
  private broken?: Error;
  private closing?: Promise<void>;

  /** Starts the replicas: spawns the workers, imports the module in each and awaits `setup`.
   * Rejects with a {@link ReplicaError} if a replica cannot start (no worker is left running). */
  static async create(options: WorkerMirroredStrategyOptions): Promise<WorkerMirroredStrategy> {
    const o = checkOptions(options);
    const module = this.resolveModule(o.module);
    const spawn = o.spawn ?? this.defaultSpawner();
    const s = new this(o);
    try {
      await s.start(module, spawn, o.workerData);
    } catch (e) {
      await s.shutdown();
      throw e;
    }
    return s;
  }

  /** The spawner used when `spawn` is not given. */
  protected static defaultSpawner(): WorkerSpawner {
    return webWorkerSpawner();
  }

  /** Turns the `module` option into the URL the workers import. */
  protected static resolveModule(module: string | URL): string {
    const base = (globalThis as { location?: { href: string } }).location?.href;
    return new URL(String(module), base).href;
  }

  protected constructor(o: WorkerMirroredStrategyOptions) {
    this.optimizer = o.optimizer;
    this.variables = Object.freeze([...o.variables]);
    this.numReplicas = o.numReplicas;
    this.numReplicasInSync = o.crossHost?.numReplicasInSync ?? o.numReplicas;
    this.specs = this.variables.map((v) => ({ name: v.name, shape: [...v.shape] }));
    this.crossHost = o.crossHost;
    this.stepTimeoutMs = o.stepTimeoutMs;
    const first = o.crossHost?.firstReplicaId ?? 0;
    const replicaIds = Array.from({ length: o.numReplicas }, (_, i) => first + i);
    this.aggregation = new ReplicaAggregation(this.optimizer, this.variables, replicaIds, this.numReplicasInSync, o.gradientAggregator, o.crossHost);
    this.allReduces = new AllReduceHub(
      this.replicas,
      this.numReplicasInSync,
      o.crossHost,
      (cur) => this.current === cur,
      (cur, e) => this.fail(cur, e),
    );
  }

  private async start(module: string, spawn: WorkerSpawner, data: unknown): Promise<void> {
    const first = this.crossHost?.firstReplicaId ?? 0;
    const variables = this.specs.map((v) => ({ name: v.name, shape: [...v.shape] }));
    const ready: Promise<unknown>[] = [];
    for (let i = 0; i < this.numReplicas; i++) {
      const replicaId = first + i;
      const worker = spawn({ replicaId, localIndex: i });
      const r: Replica = { localIndex: i, replicaId, worker, buffers: null, waiter: null };
      this.replicas.push(r);
      worker.listen({ message: (m) => this.onMessage(r, m), error: (e) => this.onError(r, e), exit: (c) => this.onExit(r, c) });
      ready.push(this.wait(r, INIT_STEP));
      worker.postMessage({ t: 'init', module, replicaId, numReplicasInSync: this.numReplicasInSync, variables, data }, []);
    }
    // The first replica that fails to start fails `create` (which then ends the others).
    await Promise.all(ready);
    for (const r of this.replicas) r.worker.unref?.();
  }

  private wait(r: Replica, step: number): Promise<ResultMsg | undefined> {
    return new Promise((resolve, reject) => {
      r.waiter = { step, resolve, reject };
    });
  }

  // ---- events from the workers ------------------------------------------------------------

  private onMessage(r: Replica, message: unknown): void {
    // Whatever the message is made of, a failure here fails the replica's step (never leaves it
    // waiting): a spawner of the user's can hand over any object.
    try {
      this.receive(r, message);
    } catch (e) {
      const err = new ReplicaError('ReplicaFailed', `replica ${r.replicaId} sent a message that cannot be read: ${(e as Error)?.message ?? String(e)}`, { replicaId: r.replicaId });
      if (r.waiter) settle(r, (x) => x.reject(err));
      else if (this.current) this.fail(this.current, err);
    }
  }

  private receive(r: Replica, message: unknown): void {
    if (message === null || typeof message !== 'object') return;
    const m = message as Record<string, unknown>;
    const w = r.waiter;
    const t = m.t;
    if (t === 'ready') {
      if (w?.step === INIT_STEP) settle(r, (x) => x.resolve(undefined));
      return;
    }
    const step = m.step;
    if (t === 'result' && w?.step === step) {
      // Read once and checked before anything is used (user code in the worker can post too).
      const read = readResult(m, this.specs, (this.current?.aggregate ?? true) || r.localIndex === 0);
      if (typeof read === 'string') {
        settle(r, (x) =>
          x.reject(new ReplicaError('ReplicaFailed', `replica ${r.replicaId} sent a malformed result in step ${String(step)}: ${read}`, { replicaId: r.replicaId })),
        );
      } else {
        settle(r, (x) => x.resolve(read));
      }
    } else if (t === 'fail' && w?.step === step) {
      const cause = fromWire(m.error as WireError);
      const where = step === INIT_STEP ? 'failed to start' : `threw in step ${String(step)}`;
      settle(r, (x) => x.reject(new ReplicaError('ReplicaFailed', `replica ${r.replicaId} ${where}: ${cause.name}: ${cause.message}`, { replicaId: r.replicaId, cause })));
    } else if (t === 'allreduce') {
      const read = readAllReduce(m);
      if (typeof read === 'string') {
        if (this.current) this.fail(this.current, new ReplicaError('ReplicaFailed', `replica ${r.replicaId} sent a malformed all-reduce: ${read}`, { replicaId: r.replicaId }));
        return;
      }
      this.allReduces.collect(this.current, r, read);
    }
  }

  private onError(r: Replica, e: Error): void {
    r.lastError = e;
  }

  private onExit(r: Replica, code: number): void {
    r.exitCode = code;
    const why = r.lastError ? ` (${r.lastError.name}: ${r.lastError.message})` : '';
    const err = this.closing
      ? new StateError('Disposed', 'the strategy was shut down')
      : new ReplicaError(
          'ReplicaFailed',
          `replica ${r.replicaId} exited with code ${code}${r.waiter ? (r.waiter.step === INIT_STEP ? ' while starting' : ` during step ${r.waiter.step}`) : ''}${why}`,
          {
            replicaId: r.replicaId,
            exitCode: code,
            cause: r.lastError,
          },
        );
    if (!this.closing) this.broken ??= err;
    if (r.waiter) settle(r, (x) => x.reject(err));
  }

  // ---- a step -------------------------------------------------------------------------------

  /**
   * One training step: replica i computes the loss and gradients of `shards[i]` at the current
   * variable values; the gradients are summed and applied by the optimizer, once. If a replica
   * throws or dies, the step rejects with a {@link ReplicaError} and nothing is applied (variables
   * and optimizer unchanged).
   */
  async step<Shard = unknown>(shards: readonly Shard[], options: StepOptions = {}): Promise<StrategyStepResult> {
    if (this.closing) throw new StateError('Disposed', 'the strategy has been shut down');
    if (this.broken) throw new StateError('InvalidState', `the strategy has lost a replica (${this.broken.message}); shut it down and create a new one`);
    if (this.busy) throw new StateError('InvalidState', 'a step is already running: await it before starting the next');
    // The shards and the options are read once (each shard, each option).
    const list = readArray(shards);
    if (!list || list.length !== this.numReplicas) {
      throw new ArgumentError('InvalidArgument', `step expects one shard per replica (${this.numReplicas}), got ${list ? list.length : describeValue(shards)}`);
    }
    if (options === null || typeof options !== 'object') throw new ArgumentError('InvalidArgument', `step options must be an object, got ${describeValue(options)}`);
    const { experimentalAggregateGradients, timeoutMs: stepTimeout, transfer } = options;
    if (experimentalAggregateGradients !== undefined && typeof experimentalAggregateGradients !== 'boolean') {
      throw new ArgumentError('InvalidArgument', `\`experimentalAggregateGradients\` must be a boolean, got ${describeValue(experimentalAggregateGradients)}`);
    }
    const aggregate = experimentalAggregateGradients ?? true;
    if (stepTimeout !== undefined) checkTimeout(stepTimeout, 'timeoutMs');
    const timeoutMs = stepTimeout ?? this.stepTimeoutMs;
    // Everything that can fail on this side is done before anything is sent.
    const values = this.replicas.map((r) => this.fillValues(r));
    const transfers = this.replicas.map((_, i) => {
      const t = values[i].map((v) => v.buffer as ArrayBuffer);
      if (transfer) {
        const found = new Set<ArrayBuffer>();
        collectBuffers(list[i], found);
        t.push(...found);
      }
      return t;
    });

    this.busy = true;
    const cur: RunningStep = { step: this.stepCount++, aggregate, aborted: false, collectives: new Map() };
    this.current = cur;
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => this.timeOut(cur, timeoutMs), timeoutMs);
    try {
      for (const r of this.replicas) r.worker.ref?.();
      const pending = this.replicas.map((r, i) => {
        const p = this.wait(r, cur.step);
        try {
          r.worker.postMessage({ t: 'step', step: cur.step, shard: list[i], values: values[i], aggregate, sendGrads: aggregate || i === 0 }, transfers[i]);
          r.buffers = null;
        } catch (e) {
          settle(r, (x) => x.reject(new ArgumentError('InvalidArgument', `shard ${i} cannot be sent to its worker: ${(e as Error).message}`)));
        }
        return p.catch((e: Error) => {
          this.fail(cur, e);
          return undefined;
        });
      });
      const results = await Promise.all(pending);
      for (const [i, m] of results.entries()) if (m) this.replicas[i].buffers = m.values;
      if (cur.error) throw cur.error;
      if (this.closing) throw new StateError('Disposed', 'the strategy was shut down during the step');
      const ok = results as ResultMsg[];
      const applied = await this.aggregation.apply(ok, aggregate);
      return { applied, loss: ok.reduce((s, m) => s + m.loss, 0), replicaLosses: ok.map((m) => m.loss), aux: ok.map((m) => m.aux) };
    } finally {
      clearTimeout(timer);
      this.current = undefined;
      this.busy = false;
      for (const r of this.replicas) if (r.exitCode === undefined) r.worker.unref?.();
    }
  }

  /** Records the first failure of a step and tells the other replicas to give up on their
   * all-reduces (so none waits for a replica that will never contribute). */
  private fail(cur: RunningStep, e: Error): void {
    if (cur.aborted) return;
    cur.error = e;
    cur.aborted = true;
    cur.collectives.clear();
    for (const r of this.replicas) {
      if (r.waiter?.step === cur.step && r.exitCode === undefined) {
        try {
          r.worker.postMessage({ t: 'abort', step: cur.step, reason: e.message }, []);
        } catch {
          // The worker is going away; its exit settles it.
        }
      }
    }
  }

  /**
   * A step's time limit has passed. The replicas still computing (not waiting in an all-reduce
   * for the others) are the ones that hang: they are terminated, since a worker cannot be
   * interrupted; the others are told to abort. If every late replica waits in an all-reduce
   * (they disagree on how many to run), all of them are terminated.
   */
  private timeOut(cur: RunningStep, ms: number): void {
    if (cur.aborted || this.current !== cur) return;
    const late = this.replicas.filter((r) => r.waiter?.step === cur.step);
    if (late.length === 0) return;
    const inCollective = new Set<number>();
    for (const c of cur.collectives.values()) c.parts.forEach((p, i) => p && inCollective.add(i));
    let hung = late.filter((r) => !inCollective.has(r.localIndex));
    if (hung.length === 0) hung = late;
    const ids = hung.map((r) => r.replicaId).join(', ');
    const err = new ReplicaError(
      'ReplicaTimeout',
      `step ${cur.step} timed out after ${ms} ms: replica${hung.length > 1 ? 's' : ''} ${ids} did not finish and ${hung.length > 1 ? 'were' : 'was'} terminated; nothing was applied`,
      {
        replicaId: hung[0].replicaId,
      },
    );
    this.broken ??= err;
    this.fail(cur, err);
    // Their exit settles their part of the step, so the step ends once they are gone.
    for (const r of hung) r.worker.terminate().catch(() => settle(r, (x) => x.reject(err)));
  }

  /** The variables' current values in the replica's buffers (reused from its last step). */
  private fillValues(r: Replica): Float32Array[] {
    let bufs = r.buffers;
    // (A buffer detached or resized since it came back, by whoever else holds it, is replaced.)
    if (!bufs || bufs.some((b, i) => typedArrayLength(b) !== this.variables[i].size)) bufs = this.variables.map((v) => new Float32Array(v.size));
    for (let i = 0; i < bufs.length; i++) bufs[i].set(this.variables[i].value);
    return bufs;
  }

  // ---- ctx.allReduce ------------------------------------------------------------------------

  // ---- the end ------------------------------------------------------------------------------

  /** Ends every worker (a running step rejects) and frees the strategy's WASM memory. Resolves
   * once every worker has exited. Safe to call more than once. */
  shutdown(): Promise<void> {
    if (!this.closing) {
      this.closing = (async () => {
        await Promise.all(this.replicas.map((r) => r.worker.terminate().catch(() => undefined)));
        this.aggregation.dispose();
        this.allReduces.dispose();
      })();
    }
    return this.closing;
  }

  /** Starts `shutdown()` without waiting for it. */
  dispose(): void {
    void this.shutdown();
  }

  /** Whether `shutdown()` (or `dispose()`) has ended the workers. */
  get isShutdown(): boolean {
    return this.closing !== undefined;
  }
}

/**
 * Splits a batch into `numShards` contiguous shards of whole rows (`rowLength` values each), as
 * evenly as possible (the first shards get one row more). Each shard is a new Float32Array that
 * owns its buffer, so `step(shards, { transfer: true })` moves exactly its values.
 */
export function splitBatch(values: ArrayLike<number>, numShards: number, rowLength = 1): Float32Array[] {
  if (!Number.isInteger(numShards) || numShards < 1) throw new ArgumentError('InvalidArgument', `numShards must be a positive integer, got ${numShards}`);
  if (!Number.isInteger(rowLength) || rowLength < 1 || values.length % rowLength !== 0) {
    throw new ArgumentError('InvalidArgument', `a batch of ${values.length} values is not made of rows of ${rowLength}`);
  }
  const rows = values.length / rowLength;
  const src = values instanceof Float32Array ? values : Float32Array.from(values);
  const out: Float32Array[] = [];
  let row = 0;
  for (let s = 0; s < numShards; s++) {
    const n = Math.floor(rows / numShards) + (s < rows % numShards ? 1 : 0);
    out.push(src.slice(row * rowLength, (row + n) * rowLength));
    row += n;
  }
  return out;
}
