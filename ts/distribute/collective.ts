// `ctx.allReduce` of the replicas: each replica's part is collected on the main thread, the
// parts are reduced in the wasm core (fixed replica order), across hosts through
// `crossHost.allReduce`, and every replica gets the result back in the buffers it gave.
import { Tensor } from '../tensor.js';
import { call, core, heapFloat32 } from '../wasm/loader.js';
import { ArgumentError, SimdoptError, StateError } from '../errors.js';
import { ReplicaToMain, isF32, local, unchanged } from './protocol.js';
import { readArray, typedArrayLength } from '../values.js';
import type { Collective, Replica, RunningStep } from './state.js';
import type { CrossHostOptions } from './strategy-options.js';

export class AllReduceHub {
  /** The reduced values (reused while the total length stays the same). */
  private flat?: Tensor;

  constructor(
    private readonly replicas: readonly Replica[],
    private readonly numReplicasInSync: number,
    private readonly crossHost: CrossHostOptions | undefined,
    /** Whether `cur` is still the strategy's running step. */
    private readonly isCurrent: (cur: RunningStep) => boolean,
    /** Fails step `cur` (the first failure wins). */
    private readonly fail: (cur: RunningStep, e: Error) => void,
  ) {}

  dispose(): void {
    this.flat?.dispose();
  }

  /** Records replica `r`'s part of an all-reduce of step `cur`; the last part reduces them. */
  collect(cur: RunningStep | undefined, r: Replica, m: Extract<ReplicaToMain, { t: 'allreduce' }>): void {
    if (!cur || cur.step !== m.step || cur.aborted) return;
    let c = cur.collectives.get(m.seq);
    if (!c) {
      c = { op: m.op, parts: new Array(this.replicas.length), count: 0 };
      cur.collectives.set(m.seq, c);
    }
    // The lengths of the first part (as read when it arrived) are the all-reduce's.
    c.lengths ??= m.values.map((a) => typedArrayLength(a));
    const ref = c.lengths;
    if (c.op !== m.op) {
      return this.fail(
        cur,
        new ArgumentError('InvalidArgument', `all-reduce ${m.seq} of step ${m.step}: replica ${r.replicaId} asked for '${m.op}', another replica for '${c.op}'`),
      );
    }
    if (ref.length !== m.values.length || ref.some((n, k) => n !== typedArrayLength(m.values[k]))) {
      const shape = (p: Float32Array[]) => `[${p.map((a) => typedArrayLength(a)).join(', ')}]`;
      return this.fail(
        cur,
        new ArgumentError(
          'InvalidArgument',
          `all-reduce ${m.seq} of step ${m.step}: replica ${r.replicaId} gave arrays of lengths ${shape(m.values)}, another replica [${ref.join(', ')}]`,
        ),
      );
    }
    if (c.parts[r.localIndex]) return this.fail(cur, new StateError('InvalidState', `all-reduce ${m.seq} of step ${m.step}: replica ${r.replicaId} contributed twice`));
    c.parts[r.localIndex] = m.values;
    if (++c.count === this.replicas.length) {
      cur.collectives.delete(m.seq);
      this.reduce(cur, m.seq, c).catch((e: Error) => this.fail(cur, SimdoptError.fromCore(e)));
    }
  }

  /** Reduces a completed all-reduce and sends each replica the result, in the buffers it gave. */
  private async reduce(cur: RunningStep, seq: number, c: Collective): Promise<void> {
    const parts = c.parts as Float32Array[][];
    const lens = c.lengths!;
    const total = lens.reduce((a, b) => a + b, 0);
    // Every part still holds what it held when it arrived (user code may have run since).
    parts.forEach((p, r) => p.forEach((a, k) => unchanged(a, lens[k], () => `array ${k} of all-reduce ${seq} from replica ${this.replicas[r].replicaId}`)));
    const n = this.replicas.length;
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
        parts[r].forEach((a, k) => {
          heap.set(a, off);
          off += lens[k];
        });
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
      const global = readArray(await this.crossHost.allReduce(mine, 'sum'));
      if (!global || global.length !== lens.length || global.some((a: unknown, k) => !isF32(a) || typedArrayLength(a) !== lens[k])) {
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
    if (cur.aborted || !this.isCurrent(cur)) return;
    // (After the await, user code may have changed the parts or the result: checked again.)
    parts.forEach((p, r) => p.forEach((a, k) => unchanged(a, lens[k], () => `array ${k} of all-reduce ${seq} from replica ${this.replicas[r].replicaId}`)));
    result.forEach((a, k) => unchanged(a, lens[k], () => `array ${k} of crossHost.allReduce's result`));
    for (const r of this.replicas) {
      const out = parts[r.localIndex];
      for (let k = 0; k < out.length; k++) out[k].set(result[k]);
      r.worker.postMessage(
        { t: 'reduced', step: cur.step, seq, values: out },
        out.map((a) => a.buffer as ArrayBuffer),
      );
    }
  }
}
