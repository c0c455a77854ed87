// Dense optimizer steps straight through the threads build's binding (its wasm-bindgen glue), for
// tests/threads.test.ts (the pool's own behaviour, below the facade), and the build's bytes.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The threads build's base64 as embedded in `dir` (in parts: threads-bytes-1.js, -2.js, ...). */
export function threadsBase64(dir: string): string {
  let out = '';
  for (let i = 1; existsSync(join(dir, `threads-bytes-${i}.js`)); i++) {
    out += JSON.parse(/export default ("[A-Za-z0-9+/=]*");/.exec(readFileSync(join(dir, `threads-bytes-${i}.js`), 'utf8'))![1]) as string;
  }
  if (!out) throw new Error(`no threads-bytes-*.js in ${dir}`);
  return out;
}

/** The parts of the threads build's glue used here. */
export interface ThreadsGlue {
  initSync(o: { module: WebAssembly.Module }): { memory: WebAssembly.Memory };
  tensor_create(name: string, shape: Uint32Array): number;
  tensor_generation(index: number): number;
  tensor_ptr(index: number, generation: number): number;
  tensor_dispose(index: number, generation: number): void;
  optimizer_create(className: string, name: string, keys: string[], values: Float32Array): number;
  optimizer_create_in(family: string, className: string, name: string, keys: string[], values: Float32Array): number;
  optimizer_set_clipping(id: number, clipvalue?: number, clipnorm?: number, globalClipnorm?: number): void;
  optimizer_set_slot_dtype(id: number, dtype: string): void;
  optimizer_raw_weight(id: number, i: number): Uint32Array;
  registry_json(): string;
  optimizer_dispose(id: number): void;
  optimizer_slot_names(id: number): string[];
  optimizer_slot_view(id: number, index: number, generation: number, slot: string): Uint32Array;
  optimizer_apply(id: number, n: number): number;
  take_error(): void;
  frame_reserve(commands: number, values: number, indices: number): void;
  frame_layout(): Uint32Array;
  threads_workers(): number;
  threads_stop(): void;
  threads_poison_ptr(): number;
  threads_worker_chunks(): number;
  threads_wakeups(): number;
  threads_sleepers(): number;
  threads_spin(): number;
  threads_threshold(): number;
  threads_set_threshold(n: number): void;
  threads_chunk(): number;
}

export interface DenseRun {
  /** The variable after the steps. */
  variable: Float32Array;
  /** Each slot after the steps, by name (f32 slots). */
  slots: Record<string, Float32Array>;
  /** The bytes of each compressed slot after the steps, by name (bfloat16 bits; 8-bit codes then
   * their block scales). */
  raw: Record<string, Uint8Array>;
  /** Chunks the workers ran during the steps. */
  workerChunks: number;
}

const KIND_DENSE_TENSOR = 2;

/** A Keras class name (TF 2.4's family), or a class of a family of the core's registry, with an
 * optional global_clipnorm and slot storage (`slotDtype`: 'bfloat16' or 'int8'). */
export type OptimizerClass = string | { family: string; className: string; globalClipnorm?: number; slotDtype?: string };

/**
 * Steps an optimizer of Keras class `cls` (`options` in Keras' names, flags as 0/1) on a
 * variable starting at `start`, once per gradient in `grads`, each held in a core tensor (the
 * kernel-only path); `until`, if given, repeats the last gradient until it returns true (at
 * most `maxSteps` steps in all).
 */
export function denseSteps(
  glue: ThreadsGlue,
  memory: WebAssembly.Memory,
  cls: OptimizerClass,
  options: Record<string, number>,
  start: Float32Array,
  grads: Float32Array[],
  until?: () => boolean,
  maxSteps = 500,
): DenseRun & { steps: number } {
  const n = start.length;
  const shape = Uint32Array.of(n);
  const vi = glue.tensor_create('w', shape);
  const vg = glue.tensor_generation(vi);
  const gi = glue.tensor_create('g', shape);
  const gg = glue.tensor_generation(gi);
  const [keys, values] = [Object.keys(options), Float32Array.from(Object.values(options))];
  const id = typeof cls === 'string' ? glue.optimizer_create(cls, cls, keys, values) : glue.optimizer_create_in(cls.family, cls.className, cls.className, keys, values);
  if (typeof cls !== 'string' && cls.globalClipnorm !== undefined) glue.optimizer_set_clipping(id, undefined, undefined, cls.globalClipnorm);
  const compressed = typeof cls !== 'string' && cls.slotDtype !== undefined;
  if (compressed) glue.optimizer_set_slot_dtype(id, cls.slotDtype!);
  try {
    new Float32Array(memory.buffer, glue.tensor_ptr(vi, vg), n).set(start);
    glue.frame_reserve(7, 0, 0);
    const before = glue.threads_worker_chunks();
    let steps = 0;
    const step = (g: Float32Array) => {
      new Float32Array(memory.buffer, glue.tensor_ptr(gi, gg), n).set(g);
      new Uint32Array(memory.buffer, glue.frame_layout()[0], 7).set([vi, vg, KIND_DENSE_TENSOR, gi, gg, 0, 0]);
      if (glue.optimizer_apply(id, 1) !== 0) glue.take_error();
      steps++;
    };
    for (const g of grads) step(g);
    while (until && !until() && steps < maxSteps) step(grads[grads.length - 1]);
    const slots: Record<string, Float32Array> = {};
    const raw: Record<string, Uint8Array> = {};
    // One variable: weight 0 is `iterations`, the slots follow in their order.
    glue.optimizer_slot_names(id).forEach((name, k) => {
      const r = compressed ? glue.optimizer_raw_weight(id, k + 1) : new Uint32Array();
      if (r.length === 0) {
        const [ptr, len] = glue.optimizer_slot_view(id, vi, vg, name);
        slots[name] = new Float32Array(memory.buffer, ptr, len).slice();
      } else if (r[0] === 1) {
        raw[name] = new Uint8Array(memory.buffer, r[1], 2 * r[2]).slice();
      } else {
        raw[name] = Uint8Array.from([...new Uint8Array(memory.buffer, r[1], r[2]), ...new Uint8Array(memory.buffer, r[3], 4 * r[4])]);
      }
    });
    return { variable: new Float32Array(memory.buffer, glue.tensor_ptr(vi, vg), n).slice(), slots, raw, workerChunks: glue.threads_worker_chunks() - before, steps };
  } finally {
    glue.optimizer_dispose(id);
    glue.tensor_dispose(vi, vg);
    glue.tensor_dispose(gi, gg);
  }
}
