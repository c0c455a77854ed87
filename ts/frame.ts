// The step frame: buffers in WASM memory that a step's commands and copied gradients are
// written into, so that applying gradients to many variables is a single call into wasm and
// allocates nothing in JavaScript once the frame is large enough.
import { call, core } from './wasm/loader.js';

/** Words per command, as `COMMAND_WORDS` in crates/simdopt-wasm. */
export const COMMAND_WORDS = 7;
export const KIND_NONE = 0;
export const KIND_DENSE_STAGED = 1;
export const KIND_DENSE_TENSOR = 2;
export const KIND_SPARSE = 3;
/** A dense gradient not in the frame, which the core pulls a chunk at a time (ts/optimizer/stream.ts). */
export const KIND_DENSE_STREAMED = 4;
/** Sparse rows whose values are a Tensor (read in place): `[..., tensor index, generation,
 * indices offset, rows]`. */
export const KIND_SPARSE_TENSOR = 5;
/** Words a step may leave unused before each pair's staged values and before its indices, to
 * align their copies (`writeFrame`): a command's offsets say where they are. */
export const ALIGN_WORDS = 1;

/** Word offsets (commands, values, indices are u32/f32/i32 indexes into the heap views). */
export interface FrameLayout {
  commands: number;
  values: number;
  indices: number;
}

const capacity = { commands: -1, values: -1, indices: -1 };
const layout: FrameLayout & { capacity: Readonly<typeof capacity> } = { commands: 0, values: 0, indices: 0, capacity };

/** Makes the frame hold at least this much, and returns where its buffers are and how much
 * each holds (every write is checked against `capacity`). Called on every step: it allocates
 * nothing unless the frame must grow (the closure lives in `growFrame`, so this function needs
 * no context object). */
export function reserveFrame(commands: number, values: number, indices: number): FrameLayout & { capacity: Readonly<typeof capacity> } {
  if (commands > capacity.commands || values > capacity.values || indices > capacity.indices) growFrame(commands, values, indices);
  return layout;
}

function growFrame(commands: number, values: number, indices: number): void {
  const c = core();
  // Grow geometrically so a slowly growing step does not reserve every time.
  // Out of memory is a StateError here, before anything was written.
  call(() => c.frame_reserve(grow(commands, capacity.commands), grow(values, capacity.values), grow(indices, capacity.indices)));
  const l = c.frame_layout();
  layout.commands = l[0] >>> 2;
  layout.values = l[1] >>> 2;
  layout.indices = l[2] >>> 2;
  capacity.commands = l[3];
  capacity.values = l[4];
  capacity.indices = l[5];
}

function grow(need: number, have: number): number {
  return need <= have ? have : Math.max(need, Math.ceil(have * 1.5), 16);
}
