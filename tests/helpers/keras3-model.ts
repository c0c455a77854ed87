// A small two-variable model for the Keras 3 tests that step an optimizer by hand
// (checkpoints, custom optimizers): a [2,3] kernel and a [3] bias, deterministic gradients of
// mixed magnitudes, and a None gradient for the bias every `noneEvery`-th step.
import { Variable } from 'simdopt';
import type { Optimizer } from 'simdopt/keras3';

/** `dense/kernel` [2,3] and `dense/bias` [3]. */
export function model(): Variable[] {
  return [new Variable(new Float32Array([1, -2, 3, 0.5, 0, 7]), { shape: [2, 3], name: 'dense/kernel' }), new Variable(new Float32Array([0.1, -0.2, 0.3]), { name: 'dense/bias' })];
}

/** The gradients of step `step`. */
export function grads(step: number): Float32Array[] {
  const g = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(0.7 * i + 1.3 * s) * (i % 3 === 0 ? 10 : 0.1));
  return [g(6, step), g(3, step + 0.5)];
}

/** Steps `from` to `to` - 1; the bias has a None gradient on every `noneEvery`-th step (the variable is still averaged). */
export function run(opt: Optimizer, vars: Variable[], from: number, to: number, noneEvery = 3): void {
  for (let s = from; s < to; s++) {
    const gs = grads(s);
    opt.applyGradients(vars.map((v, i) => [s % noneEvery === noneEvery - 1 && i === 1 ? null : gs[i], v] as const));
  }
}
