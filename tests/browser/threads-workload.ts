// Adam on 1M elements through the package's public API, the same in the threads page
// (tests/browser/threads-page.ts) and in Node (tests/threads.test.ts): three steps with different
// gradients, then the last one again until `until()` holds (the threads page: until a worker
// has taken part), and a hash of the variable's and the slots' bits.
import type { Variable as VariableClass, Adam as AdamClass } from 'simdopt';

export interface AdamWorkloadResult {
  steps: number;
  hash: string;
}

export const WORKLOAD_ELEMENTS = 1 << 20;

/** FNV-1a over the bits of `x`. */
function fnv(h: number, x: Float32Array): number {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  for (let i = 0; i < u.length; i++) h = Math.imul(h ^ u[i], 0x01000193) >>> 0;
  return h;
}

export function adamWorkload(api: { Variable: typeof VariableClass; Adam: typeof AdamClass }, until: () => boolean = () => true, maxSteps = 200): AdamWorkloadResult {
  const n = WORKLOAD_ELEMENTS;
  const grads = [0, 1, 2].map((s) => {
    const g = new Float32Array(n);
    for (let i = 0; i < n; i++) g[i] = (((i * (s + 3)) % 17) - 8) * 1e-3;
    return g;
  });
  const v = new api.Variable(new Float32Array(n).fill(0.5), { name: 'w' });
  const opt = new api.Adam({ learningRate: 0.01 });
  let steps = 0;
  try {
    for (const g of grads) {
      opt.applyGradients([[g, v]]);
      steps++;
    }
    while (!until() && steps < maxSteps) {
      opt.applyGradients([[grads[2], v]]);
      steps++;
    }
    let h = fnv(0x811c9dc5, v.read());
    for (const slot of opt.getSlotNames()) h = fnv(h, opt.getSlot(v, slot).value);
    return { steps, hash: h.toString(16) };
  } finally {
    opt.dispose();
    v.dispose();
  }
}
