// Synchronous data-parallel training over worker threads: TensorFlow's MirroredStrategy with
// workers as the devices. The main thread owns the optimizer and the variables; every step it
// sends each replica its shard and the variables' values, collects each replica's gradients,
// sums them in the wasm core (fixed replica order) and applies one update.
import { Optimizer } from '../optimizer/index.js';
import { IndexedSlices, Tensor, Variable } from '../tensor.js';
import { rowSize } from '../values.js';
import { call, core, heapFloat32 } from '../wasm/loader.js';
import { ArgumentError, ReplicaError, SimdoptError, StateError } from '../errors.js';
import { INIT_STEP, ReduceOp, ReplicaToMain, SparseGradient, VariableSpec, WireGradient, collectBuffers, fromWire } from './protocol.js';
import type { ReplicaWorker, WorkerSpawner } from './spawn.js';
import { webWorkerSpawner } from './spawn.js';

export type { ReduceOp, SparseGradient, VariableSpec } from './protocol.js';

/** A replica's gradient for one variable as the strategy's aggregator sees it: dense, or sparse
 * rows (when the replica returned `{ indices, values }`). */
export type ReplicaGradient = Float32Array | IndexedSlices;

/**
 * Replaces the default aggregation (the sum over replicas, in the wasm core; sparse gradients
 * concatenated): receives every replica's gradients, `replicaGrads[replica][variable]`
 * (variables without gradients left out), and returns one aggregated gradient per variable. It
 * replaces `crossHost` aggregation too.
 */
export type GradientAggregator = {
  // A method signature, so that an aggregator written for dense gradients only,
  // `(rg: Float32Array[][]) => Float32Array[]`, type-checks too (parameters of methods are bivariant).
  aggregate(replicaGrads: ReplicaGradient[][]): ReplicaGradient[] | Promise<ReplicaGradient[]>;
}['aggregate'];

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
  /** Replaces the default aggregation (see [[GradientAggregator]]). Default: the sum over
   * replicas in the wasm core. (The optimizer's own `gradientAggregator`, Keras' signature
   * `grads_and_vars -> grads_and_vars`, then runs inside its `applyGradients` on the aggregated
   * gradients, before clipping, as with any other `applyGradients` call.) */
  gradientAggregator?: GradientAggregator;
  /** Multi-host training (see [[CrossHostOptions]]). */
  crossHost?: CrossHostOptions;
  /** How workers are started (default: Node worker threads from `simdopt/distribute` under
   * Node, Web Workers elsewhere). */
  spawn?: WorkerSpawner;
  /** Fails a step whose replicas have not all answered after this many milliseconds (a
   * [[ReplicaError]] with code `ReplicaTimeout`; nothing is applied). The replicas that hang
   * are terminated, so the strategy must be recreated afterwards. Default: no limit. */
  stepTimeoutMs?: number;
}

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

type ResultMsg = Extract<ReplicaToMain, { t: 'result' }>;

interface Waiter {
  step: number;
  resolve(m: ResultMsg | undefined): void;
  reject(e: Error): void;
}

interface Replica {
  localIndex: number;
  replicaId: number;
  worker: ReplicaWorker;
  /** Buffers for the variables' values of the next step (back from the last step). */
  buffers: Float32Array[] | null;
  exitCode?: number;
  lastError?: Error;
  waiter: Waiter | null;
}

interface Collective {
  op: ReduceOp;
  parts: (Float32Array[] | undefined)[];
  count: number;
}

interface RunningStep {
  step: number;
  aborted: boolean;
  /** The root cause of a failed step (the first failure). */
  error?: Error;
  collectives: Map<number, Collective>;
}

/**
 * Synchronous data-parallel training on N replicas in worker threads (TensorFlow's
 * `MirroredStrategy`, with workers as the devices). Start it with
 * `await WorkerMirroredStrategy.create({...})`, run `await strategy.step(shards)` per global
 * batch, and end it with `await strategy.shutdown()`.
 */
export class WorkerMirroredStrategy {
  readonly optimizer: Optimizer;
  readonly variables: readonly Variable[];
  /** Replicas over all hosts (Keras' `num_replicas_in_sync`). */
  readonly numReplicasInSync: number;
  /** Replicas (workers) of this strategy. */
  readonly numReplicas: number;

  private readonly replicas: Replica[] = [];
  private readonly aggregator?: GradientAggregator;
  private readonly crossHost?: CrossHostOptions;
  private readonly stepTimeoutMs?: number;
  private readonly sums: Tensor[];
  private readonly sumHandles: Uint32Array;
  private flat?: Tensor;
  private current?: RunningStep;
  private stepCount = 0;
  private busy = false;
  private broken?: Error;
  private closing?: Promise<void>;

  /** Starts the replicas: spawns the workers, imports the module in each and awaits `setup`.
   * Rejects with a [[ReplicaError]] if a replica cannot start (no worker is left running). */
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
    this.aggregator = o.gradientAggregator;
    this.crossHost = o.crossHost;
    this.stepTimeoutMs = o.stepTimeoutMs;
    this.sums = [];
    try {
      for (const v of this.variables) this.sums.push(Tensor.zeros(v.shape, `${v.name}/replica_sum`));
    } catch (e) {
      for (const t of this.sums) t.dispose();
      throw e;
    }
    this.sumHandles = Uint32Array.from(this.sums.flatMap((t) => [t.handleIndex, t.handleGeneration]));
  }

  private async start(module: string, spawn: WorkerSpawner, data: unknown): Promise<void> {
    const first = this.crossHost?.firstReplicaId ?? 0;
    const variables: VariableSpec[] = this.variables.map((v) => ({ name: v.name, shape: [...v.shape] }));
    const ready: Promise<unknown>[] = [];
    for (let i = 0; i < this.numReplicas; i++) {
      const replicaId = first + i;
      const worker = spawn({ replicaId, localIndex: i });
      const r: Replica = { localIndex: i, replicaId, worker, buffers: null, waiter: null };
      this.replicas.push(r);
      worker.listen({ message: (m) => this.onMessage(r, m as ReplicaToMain), error: (e) => this.onError(r, e), exit: (c) => this.onExit(r, c) });
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

  private onMessage(r: Replica, m: ReplicaToMain): void {
    const w = r.waiter;
    switch (m.t) {
      case 'ready':
        if (w?.step === INIT_STEP) settle(r, (x) => x.resolve(undefined));
        break;
      case 'result':
        if (w?.step === m.step) {
          // Arrays from another realm (a VM context such as Jest's) become this realm's, no copy.
          m.values = m.values.map(local);
          if (m.grads) m.grads = m.grads.map(localGradient);
          settle(r, (x) => x.resolve(m));
        }
        break;
      case 'fail':
        if (w?.step === m.step) {
          const cause = fromWire(m.error);
          const where = m.step === INIT_STEP ? 'failed to start' : `threw in step ${m.step}`;
          settle(r, (x) => x.reject(new ReplicaError('ReplicaFailed', `replica ${r.replicaId} ${where}: ${cause.name}: ${cause.message}`, { replicaId: r.replicaId, cause })));
        }
        break;
      case 'allreduce':
        m.values = m.values.map(local);
        this.collect(r, m);
        break;
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
      : new ReplicaError('ReplicaFailed', `replica ${r.replicaId} exited with code ${code}${r.waiter ? r.waiter.step === INIT_STEP ? ' while starting' : ` during step ${r.waiter.step}` : ''}${why}`, {
          replicaId: r.replicaId,
          exitCode: code,
          cause: r.lastError,
        });
    if (!this.closing) this.broken ??= err;
    if (r.waiter) settle(r, (x) => x.reject(err));
  }

  // ---- a step -------------------------------------------------------------------------------

  /**
   * One training step: replica i computes the loss and gradients of `shards[i]` at the current
   * variable values; the gradients are summed and applied by the optimizer, once. If a replica
   * throws or dies, the step rejects with a [[ReplicaError]] and nothing is applied (variables
   * and optimizer unchanged).
   */
  async step<Shard = unknown>(shards: readonly Shard[], options: StepOptions = {}): Promise<StrategyStepResult> {
    if (this.closing) throw new StateError('Disposed', 'the strategy has been shut down');
    if (this.broken) throw new StateError('InvalidState', `the strategy has lost a replica (${this.broken.message}); shut it down and create a new one`);
    if (this.busy) throw new StateError('InvalidState', 'a step is already running: await it before starting the next');
    if (!Array.isArray(shards) || shards.length !== this.numReplicas) {
      throw new ArgumentError('InvalidArgument', `step expects one shard per replica (${this.numReplicas}), got ${Array.isArray(shards) ? shards.length : typeof shards}`);
    }
    const aggregate = options.experimentalAggregateGradients ?? true;
    const timeoutMs = options.timeoutMs ?? this.stepTimeoutMs;
    if (options.timeoutMs !== undefined) checkTimeout(options.timeoutMs, 'timeoutMs');
    // Everything that can fail on this side is done before anything is sent.
    const values = this.replicas.map((r) => this.fillValues(r));
    const transfers = this.replicas.map((_, i) => {
      const t = values[i].map((v) => v.buffer as ArrayBuffer);
      if (options.transfer) {
        const found = new Set<ArrayBuffer>();
        collectBuffers(shards[i], found);
        t.push(...found);
      }
      return t;
    });

    this.busy = true;
    const cur: RunningStep = { step: this.stepCount++, aborted: false, collectives: new Map() };
    this.current = cur;
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => this.timeOut(cur, timeoutMs), timeoutMs);
    try {
      for (const r of this.replicas) r.worker.ref?.();
      const pending = this.replicas.map((r, i) => {
        const p = this.wait(r, cur.step);
        try {
          r.worker.postMessage({ t: 'step', step: cur.step, shard: shards[i], values: values[i], aggregate, sendGrads: aggregate || i === 0 }, transfers[i]);
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
      const applied = await this.apply(ok, aggregate);
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
    const err = new ReplicaError('ReplicaTimeout', `step ${cur.step} timed out after ${ms} ms: replica${hung.length > 1 ? 's' : ''} ${ids} did not finish and ${hung.length > 1 ? 'were' : 'was'} terminated; nothing was applied`, {
      replicaId: hung[0].replicaId,
    });
    this.broken ??= err;
    this.fail(cur, err);
    // Their exit settles their part of the step, so the step ends once they are gone.
    for (const r of hung) r.worker.terminate().catch(() => settle(r, (x) => x.reject(err)));
  }

  /** The variables' current values in the replica's buffers (reused from its last step). */
  private fillValues(r: Replica): Float32Array[] {
    let bufs = r.buffers;
    if (!bufs || bufs.some((b) => b.buffer.byteLength === 0)) bufs = this.variables.map((v) => new Float32Array(v.size));
    for (let i = 0; i < bufs.length; i++) bufs[i].set(this.variables[i].value);
    return bufs;
  }

  /** Aggregates and applies; false if the optimizer skipped the step (non-finite gradients). */
  private async apply(results: ResultMsg[], aggregate: boolean): Promise<boolean> {
    const vars = this.variables;
    if (!aggregate) {
      if (this.numReplicasInSync > 1) {
        const lazy = results.findIndex((m) => m.allReduces === 0);
        if (lazy >= 0) {
          throw new ArgumentError('InvalidArgument', `experimentalAggregateGradients is false but replica ${this.replicas[lazy].replicaId} called no ctx.allReduce: its gradients are not aggregated`);
        }
      }
      const g = results[0].grads!;
      return applied(this.optimizer.applyGradients(vars.map((v, i) => [gradient(g[i], v), v] as const), { experimentalAggregateGradients: false }));
    }

    const present = vars.map((_, i) => results[0].grads![i] !== null);
    for (const [r, m] of results.entries()) {
      for (let i = 0; i < vars.length; i++) {
        if ((m.grads![i] !== null) !== present[i]) {
          throw new ArgumentError('InvalidArgument', `replica ${this.replicas[r].replicaId} ${present[i] ? 'returned no gradient' : 'returned a gradient'} for '${vars[i].name}' but replica ${this.replicas[0].replicaId} did${present[i] ? '' : ' not'}`);
        }
      }
    }
    const idx = present.flatMap((p, i) => (p ? [i] : []));
    // Sparse where every replica's gradient is; where only some are, those are made dense, as
    // TF does when it aggregates IndexedSlices with dense tensors.
    const sparse = vars.map(() => false);
    for (const i of idx) {
      const kinds = results.map((m) => !(m.grads![i] instanceof Float32Array));
      sparse[i] = kinds.every(Boolean);
      if (!sparse[i]) for (const m of results) m.grads![i] = dense(m.grads![i]!, vars[i]);
    }

    const aggregator = this.aggregator;
    if (aggregator) {
      const out = await aggregator(results.map((m) => idx.map((i) => gradient(m.grads![i], vars[i])!)));
      return this.applyAggregated(this.checkAggregated(out, idx, 'the gradient aggregator'), idx);
    }
    const denseIdx = idx.filter((i) => !sparse[i]);
    const sparseIdx = idx.filter((i) => sparse[i]);
    const host = this.crossHost;
    if (host && sparseIdx.length > 0 && !host.allGather) {
      throw new ArgumentError('InvalidArgument', `the replicas' gradients of '${vars[sparseIdx[0]].name}' are sparse: crossHost needs \`allGather\` to exchange them (its allReduce sums dense arrays)`);
    }

    this.sumDense(results, denseIdx);
    // Sparse gradients: the replicas' rows one after the other (Keras concatenates
    // IndexedSlices; the optimizer sums repeated rows, in this order).
    const grads: (ReplicaGradient | Tensor | null)[] = vars.map((v, i) => (!present[i] ? null : sparse[i] ? concatenated(results.map((m) => m.grads![i] as SparseGradient), v) : this.sums[i]));
    // Across hosts: dense sums all-reduced, sparse rows all-gathered (then concatenated in host order).
    if (host && denseIdx.length > 0) {
      const global = this.checkAggregated(await host.allReduce(denseIdx.map((i) => this.sums[i].read()), 'sum'), denseIdx, 'crossHost.allReduce');
      denseIdx.forEach((i, k) => (grads[i] = global[k]));
    }
    if (host && sparseIdx.length > 0) {
      const mine = sparseIdx.map((i) => grads[i] as IndexedSlices);
      const all: unknown = await host.allGather!(mine.map((g) => ({ indices: g.indices, values: g.values })));
      sparseIdx.forEach((i, k) => (grads[i] = concatenated(gathered(all, k, sparseIdx.length, vars[i]), vars[i])));
    }
    return applied(this.optimizer.applyGradients(vars.map((v, i) => [grads[i], v] as const)));
  }

  /** The dense gradients of variables `idx`: the sum over replicas (in replica order) in the
   * wasm core, straight into the gradient tensors `this.sums`. */
  private sumDense(results: ResultMsg[], idx: number[]): void {
    if (idx.length === 0) return;
    const vars = this.variables;
    const n = results.length;
    let total = 0;
    for (const i of idx) total += vars[i].size;
    const c = core();
    const base = call(() => c.aggregate_reserve(n * total)) >>> 2;
    const heap = heapFloat32();
    for (let r = 0; r < n; r++) {
      const g = results[r].grads!;
      let off = base + r * total;
      for (const i of idx) {
        heap.set(g[i] as Float32Array, off);
        off += vars[i].size;
      }
    }
    const handles = idx.length === vars.length ? this.sumHandles : Uint32Array.from(idx.flatMap((i) => [this.sums[i].handleIndex, this.sums[i].handleGeneration]));
    call(() => c.aggregate_reduce(n, handles, false));
  }

  /** The aggregated gradients as this realm's arrays, checked (no copy). */
  private checkAggregated(out: unknown, idx: number[], who: string): ReplicaGradient[] {
    if (!Array.isArray(out) || out.length !== idx.length) {
      throw new ArgumentError('InvalidArgument', `${who} must return ${idx.length} gradients, got ${Array.isArray(out) ? out.length : typeof out}`);
    }
    return out.map((g: unknown, k) => {
      const v = this.variables[idx[k]];
      if (g instanceof IndexedSlices) return g;
      if (!isF32(g) || g.length !== v.size) {
        throw new ArgumentError('InvalidArgument', `${who} returned a gradient for '${v.name}' that is neither a Float32Array of ${v.size} values nor IndexedSlices`);
      }
      return local(g);
    });
  }

  private applyAggregated(out: ReplicaGradient[], idx: number[]): boolean {
    const grads: (ReplicaGradient | null)[] = this.variables.map(() => null);
    idx.forEach((i, k) => (grads[i] = out[k]));
    return applied(this.optimizer.applyGradients(this.variables.map((v, i) => [grads[i], v] as const)));
  }

  // ---- ctx.allReduce ------------------------------------------------------------------------

  private collect(r: Replica, m: Extract<ReplicaToMain, { t: 'allreduce' }>): void {
    const cur = this.current;
    if (!cur || cur.step !== m.step || cur.aborted) return;
    let c = cur.collectives.get(m.seq);
    if (!c) {
      c = { op: m.op, parts: new Array(this.numReplicas), count: 0 };
      cur.collectives.set(m.seq, c);
    }
    const ref = c.parts.find((p) => p !== undefined);
    if (c.op !== m.op) {
      return this.fail(cur, new ArgumentError('InvalidArgument', `all-reduce ${m.seq} of step ${m.step}: replica ${r.replicaId} asked for '${m.op}', another replica for '${c.op}'`));
    }
    if (ref && (ref.length !== m.values.length || ref.some((a, k) => a.length !== m.values[k].length))) {
      const shape = (p: Float32Array[]) => `[${p.map((a) => a.length).join(', ')}]`;
      return this.fail(cur, new ArgumentError('InvalidArgument', `all-reduce ${m.seq} of step ${m.step}: replica ${r.replicaId} gave arrays of lengths ${shape(m.values)}, another replica ${shape(ref)}`));
    }
    if (c.parts[r.localIndex]) return this.fail(cur, new StateError('InvalidState', `all-reduce ${m.seq} of step ${m.step}: replica ${r.replicaId} contributed twice`));
    c.parts[r.localIndex] = m.values;
    if (++c.count === this.numReplicas) {
      cur.collectives.delete(m.seq);
      this.reduce(cur, m.seq, c).catch((e: Error) => this.fail(cur, SimdoptError.fromCore(e)));
    }
  }

  /** Reduces a completed all-reduce and sends each replica the result, in the buffers it gave. */
  private async reduce(cur: RunningStep, seq: number, c: Collective): Promise<void> {
    const parts = c.parts as Float32Array[][];
    const lens = parts[0].map((a) => a.length);
    const total = lens.reduce((a, b) => a + b, 0);
    const n = this.numReplicas;
    const mean = c.op === 'mean';
    if (total > 0) {
      if (this.flat?.size !== total) {
        this.flat?.dispose();
        this.flat = undefined;
        this.flat = Tensor.zeros([total], 'allreduce');
      }
      const c2 = core();
      const base = call(() => c2.aggregate_reserve(n * total)) >>> 2;
      const heap = heapFloat32();
      for (let r = 0; r < n; r++) {
        let off = base + r * total;
        for (const a of parts[r]) {
          heap.set(a, off);
          off += a.length;
        }
      }
      call(() => c2.aggregate_reduce(n, Uint32Array.of(this.flat!.handleIndex, this.flat!.handleGeneration), mean && !this.crossHost));
    }
    let result: Float32Array[];
    if (this.crossHost && total > 0) {
      const mine: Float32Array[] = [];
      let off = 0;
      const flat = this.flat!.read();
      for (const len of lens) {
        mine.push(flat.slice(off, off + len));
        off += len;
      }
      const global: unknown = await this.crossHost.allReduce(mine, 'sum');
      if (!Array.isArray(global) || global.length !== lens.length || global.some((a: unknown, k) => !isF32(a) || a.length !== lens[k])) {
        throw new ArgumentError('InvalidArgument', `crossHost.allReduce must return Float32Arrays of lengths [${lens.join(', ')}]`);
      }
      const d = this.numReplicasInSync;
      // The mean divides the global sum (a new array: the all-reduce's result is not written).
      result = (global as Float32Array[]).map((a) => (mean ? Float32Array.from(a, (x) => Math.fround(x / d)) : local(a)));
    } else {
      const flat = total > 0 ? this.flat!.value : new Float32Array(0);
      let off = 0;
      result = lens.map((len) => flat.subarray(off, (off += len)));
    }
    if (cur.aborted || this.current !== cur) return;
    for (const r of this.replicas) {
      const out = parts[r.localIndex];
      for (let k = 0; k < out.length; k++) out[k].set(result[k]);
      r.worker.postMessage({ t: 'reduced', step: cur.step, seq, values: out }, out.map((a) => a.buffer as ArrayBuffer));
    }
  }

  // ---- the end ------------------------------------------------------------------------------

  /** Ends every worker (a running step rejects) and frees the strategy's WASM memory. Resolves
   * once every worker has exited. Safe to call more than once. */
  shutdown(): Promise<void> {
    if (!this.closing) {
      this.closing = (async () => {
        await Promise.all(this.replicas.map((r) => r.worker.terminate().catch(() => undefined)));
        for (const t of this.sums) t.dispose();
        this.flat?.dispose();
      })();
    }
    return this.closing;
  }

  /** Starts `shutdown()` without waiting for it. */
  dispose(): void {
    void this.shutdown();
  }

  get isShutdown(): boolean {
    return this.closing !== undefined;
  }
}

/** Whether `applyGradients` applied the step (its result says `applied: false` when it skipped
 * non-finite gradients). */
function applied(r: unknown): boolean {
  return (r as { applied?: unknown } | undefined)?.applied !== false;
}

/** Whether `x` is a Float32Array of any realm. */
function isF32(x: unknown): x is Float32Array {
  return ArrayBuffer.isView(x) && Object.prototype.toString.call(x) === '[object Float32Array]';
}

/** The same values as this realm's Float32Array (no copy). */
function local(a: Float32Array): Float32Array {
  if (a instanceof Float32Array) return a;
  const v = a as ArrayBufferView;
  return new Float32Array(v.buffer, v.byteOffset, v.byteLength >>> 2);
}

/** A gradient from a replica with this realm's arrays (no copy). */
function localGradient(g: WireGradient): WireGradient {
  if (g === null) return null;
  if (isF32(g)) return local(g);
  const i = g.indices as ArrayBufferView;
  return { values: local(g.values), indices: i instanceof Int32Array ? i : new Int32Array(i.buffer, i.byteOffset, i.byteLength >>> 2) };
}

/** What the optimizer takes for a replica's gradient of `v`. */
function gradient(g: WireGradient, v: Variable): ReplicaGradient | null {
  return g === null || g instanceof Float32Array ? g : new IndexedSlices(g.values, g.indices, v.shape);
}

/** A sparse gradient made dense: its rows added into zeros, in order. */
function dense(g: WireGradient & object, v: Variable): Float32Array {
  if (g instanceof Float32Array) return g;
  const out = new Float32Array(v.size);
  const row = rowSize(v.shape);
  g.indices.forEach((r, k) => {
    for (let j = 0; j < row; j++) out[r * row + j] = Math.fround(out[r * row + j] + g.values[k * row + j]);
  });
  return out;
}

/** The replicas' rows one after the other. */
function concatenated(parts: SparseGradient[], v: Variable): IndexedSlices {
  const row = rowSize(v.shape);
  let rows = 0;
  for (const p of parts) rows += p.indices.length;
  const indices = new Int32Array(rows);
  const values = new Float32Array(rows * row);
  let at = 0;
  for (const p of parts) {
    indices.set(p.indices, at);
    values.set(p.values, at * row);
    at += p.indices.length;
  }
  return new IndexedSlices(values, indices, v.shape);
}

/** Every host's rows of sparse variable `k` (of `count`) from an all-gather's result, checked
 * for shape and types (the optimizer checks the indices). */
function gathered(all: unknown, k: number, count: number, v: Variable): SparseGradient[] {
  const bad = () => new ArgumentError('InvalidArgument', `crossHost.allGather must resolve to one list per host of ${count} { indices: Int32Array, values: Float32Array } (rows of '${v.name}' malformed)`);
  if (!Array.isArray(all) || all.length === 0) throw bad();
  return all.map((hostRows: unknown) => {
    const r = Array.isArray(hostRows) && hostRows.length === count ? (hostRows[k] as Partial<SparseGradient> | undefined) : undefined;
    if (!r || !isF32(r.values) || !ArrayBuffer.isView(r.indices) || Object.prototype.toString.call(r.indices) !== '[object Int32Array]') throw bad();
    const g = localGradient(r as SparseGradient) as SparseGradient;
    if (g.values.length !== g.indices.length * rowSize(v.shape)) throw bad();
    return g;
  });
}

/** Settles a replica's current waiter once. */
function settle(r: Replica, f: (w: Waiter) => void): void {
  const w = r.waiter;
  if (!w) return;
  r.waiter = null;
  f(w);
}

function checkOptions(o: WorkerMirroredStrategyOptions): WorkerMirroredStrategyOptions {
  if (o === null || typeof o !== 'object') throw new ArgumentError('InvalidArgument', 'WorkerMirroredStrategy.create expects an options object');
  if (typeof o.module !== 'string' && !(o.module instanceof URL)) throw new ArgumentError('InvalidArgument', '`module` must be a URL or a path');
  if (!Number.isInteger(o.numReplicas) || o.numReplicas < 1) throw new ArgumentError('InvalidArgument', `\`numReplicas\` must be a positive integer, got ${String(o.numReplicas)}`);
  if (!(o.optimizer instanceof Optimizer)) throw new ArgumentError('InvalidArgument', '`optimizer` must be a simdopt Optimizer');
  if (o.optimizer.isDisposed) throw new StateError('Disposed', `optimizer '${o.optimizer.name}' has been disposed`);
  if (!Array.isArray(o.variables) || o.variables.length === 0) throw new ArgumentError('InvalidArgument', '`variables` must be a non-empty array of Variables');
  for (const v of o.variables) {
    if (!(v instanceof Variable)) throw new ArgumentError('InvalidArgument', '`variables` must contain only Variables');
    if (v.isDisposed) throw new StateError('Disposed', `variable '${v.name}' has been disposed`);
  }
  if (new Set(o.variables).size !== o.variables.length) throw new ArgumentError('InvalidArgument', '`variables` lists a variable twice');
  if (o.gradientAggregator !== undefined && typeof o.gradientAggregator !== 'function') throw new ArgumentError('InvalidArgument', '`gradientAggregator` must be a function');
  const h = o.crossHost;
  if (h !== undefined) {
    if (typeof h.allReduce !== 'function') throw new ArgumentError('InvalidArgument', '`crossHost.allReduce` must be a function');
    if (h.allGather !== undefined && typeof h.allGather !== 'function') throw new ArgumentError('InvalidArgument', '`crossHost.allGather` must be a function');
    if (!Number.isInteger(h.firstReplicaId) || h.firstReplicaId < 0 || !Number.isInteger(h.numReplicasInSync) || h.firstReplicaId + o.numReplicas > h.numReplicasInSync) {
      throw new ArgumentError('InvalidArgument', `\`crossHost\`: replicas ${h.firstReplicaId}..${h.firstReplicaId + o.numReplicas - 1} do not fit in numReplicasInSync ${h.numReplicasInSync}`);
    }
  }
  if (o.spawn !== undefined && typeof o.spawn !== 'function') throw new ArgumentError('InvalidArgument', '`spawn` must be a function');
  if (o.stepTimeoutMs !== undefined) checkTimeout(o.stepTimeoutMs, 'stepTimeoutMs');
  return o;
}

function checkTimeout(ms: unknown, name: string): void {
  // (setTimeout's own limit is 2^31 - 1 ms; beyond it fires at once.)
  if (typeof ms !== 'number' || !(ms > 0) || ms > 2 ** 31 - 1) throw new ArgumentError('InvalidArgument', `\`${name}\` must be a number of milliseconds in (0, 2^31 - 1], got ${String(ms)}`);
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
