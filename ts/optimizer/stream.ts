// Streamed gradients: a large Float32Array (or number[]) gradient is not copied into the frame
// whole. The core pulls it a chunk at a time through `source.fill` into one staging buffer and
// updates each chunk while it is in cache (crates/simdopt-core/src/step/stream.rs), so the
// gradient crosses memory once instead of being copied in and read back. Same bits as the whole
// path; the core reads every streamed gradient fully (guard, clipping norms) before it changes
// anything when the step needs that. In the threads build the chunks of a variable large enough
// to split are larger, and each is updated by the pool's workers and the calling thread; only the
// calling thread runs `fill` (workers never see the caller's arrays).
//
// Read once: the arrays streamed are the snapshot's (step.ts); `writeFrame` checks each one's
// length just before the core call, and from there to the call's end no user code runs, so the
// arrays cannot change in between. Not streamed (copied whole as before): gradients in shared
// memory (another thread could write them between the core's two reads), views of WASM memory
// (the step may grow it), custom optimizers, and whatever the core declines (status 3: Keras 3
// stages, a gradient whose length is not its variable's, so that the whole path reports it).
import { core, heapFloat32 } from '../wasm/loader.js';
import { KIND_DENSE_STAGED } from '../frame.js';
import { ArgumentError } from '../errors.js';
import { float32Window, ownsPlainBuffer, typedArrayLength } from '../values.js';
import { StepArguments, writeFrame } from './step.js';

/** `applyStreamed`'s status when nothing was done (the step takes the whole path). */
export const NOT_STREAMED = 3;

/** Gradients of at least this many values (4 chunks) stream. Smaller ones are copied whole: the
 * variable, its slots and the copied gradient then stay in L2, where streaming saves no memory
 * traffic and costs a call per chunk (at 64K values it was up to 1.1× slower; from 128K on it
 * won for Adam, SGD-momentum and RMSprop: benches/README.md, "Streamed gradients"). */
export const STREAM_FROM = 1 << 17;

/** The threshold in force (`__streamFrom` changes it for tests and benchmarks). */
let streamFrom = STREAM_FROM;

/** @internal Test and benchmark hook: gradients of at least `elements` values stream from the
 * next step on (`undefined`: only reads it). Returns the threshold in force before. Not part of
 * the public API. */
export function __streamFrom(elements?: number): number {
  const before = streamFrom;
  if (elements !== undefined) {
    if (!Number.isSafeInteger(elements) || elements < 1) throw new ArgumentError('InvalidArgument', `a streaming threshold is a positive integer, got ${String(elements)}`);
    streamFrom = elements;
  }
  return before;
}

/** Whether `fill` copies (`__streamCopies` turns it off for benchmarks). */
let copies = true;

/** @internal Benchmark hook (benches/stream-floor.mjs): with `false`, streamed chunks are not
 * copied, so the kernel reads whatever the staging buffer holds (wrong results: for measuring
 * the copy's share of a step only). `undefined`: only reads it. Returns the setting in force
 * before. Not part of the public API. */
export function __streamCopies(on?: boolean): boolean {
  const before = copies;
  if (on !== undefined) copies = on;
  return before;
}

/** 1 for the pairs of the step in progress whose gradient streams. */
let streamedAt = new Uint8Array(16);
/** The step in progress (set only during the core call, which runs no user code). */
let active: StepArguments | undefined;

/** What the core calls for each chunk: copies `len` values of the gradient of pair `pair` from
 * its element `offset` to byte address `dst`. Returns 0, or 1 if it cannot (never expected: the
 * lengths were checked just before the call); the core then fails the step. Allocates only the
 * window over a part of the array (a gradient of one chunk is copied whole). */
function fill(pair: number, offset: number, len: number, dst: number): number {
  const args = active;
  if (args === undefined || pair >= args.n || streamedAt[pair] !== 1) return 1;
  const src = args.values[pair] as Float32Array;
  const count = args.valueCounts[pair];
  const heap = heapFloat32();
  const at = dst >>> 2;
  if (dst % 4 !== 0 || offset + len > count || at + len > heap.length || typedArrayLength(src) !== count) return 1;
  if (copies) heap.set(len === count ? src : float32Window(src, offset, len), at);
  return 0;
}

const source = { fill };

/**
 * Applies the step with its large dense gradients streamed: writes the frame (streamed pairs as
 * streamed commands) and calls the core. Returns the core's status (0 applied, 1 error, 2
 * skipped) or `NOT_STREAMED` if no gradient streams or the core declined (nothing done).
 */
export function applyStreamed(id: number, args: StepArguments, guarded: boolean): number {
  const from = streamFrom;
  // (No gradient of the step can stream: nothing to look at. The common case of small or
  // Tensor gradients costs this one comparison.)
  if (args.totalValues < from) return NOT_STREAMED;
  const n = args.n;
  if (streamedAt.length < n) streamedAt = new Uint8Array(Math.max(n, 2 * streamedAt.length));
  let values = 0;
  let memory: ArrayBufferLike | undefined;
  for (let i = 0; i < n; i++) {
    streamedAt[i] = 0;
    if (args.kinds[i] !== KIND_DENSE_STAGED || args.valueCounts[i] < from) continue;
    memory ??= heapFloat32().buffer;
    if (!ownsPlainBuffer(args.values[i] as Float32Array, memory)) continue;
    streamedAt[i] = 1;
    values += args.valueCounts[i];
  }
  if (values === 0) return NOT_STREAMED;
  writeFrame(args, streamedAt, values);
  active = args;
  try {
    return core().optimizer_apply_streamed(id, n, guarded, source);
  } finally {
    active = undefined;
  }
}
