// Gradient sources for `Optimizer.minimize` (JavaScript has no autodiff): central finite
// differences over the Variables' values. Slow (two loss evaluations per element) and only as
// exact as f32 steps allow: for small problems, tests and checking hand-written gradients.
import { ArgumentError } from './errors.js';
import type { GradientSource } from './optimizer/index.js';
import { Variable } from './tensor.js';
import { describeValue } from './values.js';

/** A loss for {@link finiteDifferenceGradients}: reads the Variables' current values, returns a number. */
export type LossFunction = () => number;

/** Options of {@link finiteDifferences}. */
export interface FiniteDifferenceOptions {
  /**
   * Relative step: each element moves by `step * max(1, |x|)` each way.
   * @default 1e-3
   */
  step?: number;
}

/**
 * A {@link GradientSource} of central differences: evaluates `loss()` once (the reported loss),
 * resolves the variables, then for each element `x` sets `x ± h` (f32), evaluates the loss
 * and takes `(f(x+) - f(x-)) / (x+ - x-)` in f64; every value is restored afterwards.
 */
export function finiteDifferences(options: FiniteDifferenceOptions = {}): GradientSource<LossFunction> {
  const step = options?.step ?? 1e-3;
  if (typeof step !== 'number' || !(step > 0) || !Number.isFinite(step)) {
    throw new ArgumentError('InvalidArgument', `\`step\` must be a positive finite number, got ${describeValue(step)}`);
  }
  return (loss, varList) => {
    if (typeof loss !== 'function') throw new ArgumentError('InvalidArgument', `finite differences need the loss as a function returning a number, got ${describeValue(loss)}`);
    const evaluate = (): number => {
      const y: unknown = loss();
      if (typeof y !== 'number') throw new ArgumentError('InvalidArgument', `the loss function returned ${describeValue(y)}, not a number`);
      return y;
    };
    const value = evaluate();
    const vars = varList();
    const grads = vars.map((v: Variable) => {
      const g = new Float32Array(v.size);
      for (let i = 0; i < v.size; i++) {
        const x = v.value[i];
        const h = step * Math.max(1, Math.abs(x));
        const xp = Math.fround(x + h);
        const xm = Math.fround(x - h);
        try {
          v.value[i] = xp;
          const fp = evaluate();
          v.value[i] = xm;
          const fm = evaluate();
          g[i] = (fp - fm) / (xp - xm);
        } finally {
          v.value[i] = x;
        }
      }
      return g;
    });
    return { loss: value, grads };
  };
}

/** {@link finiteDifferences} with the default step (1e-3, relative). */
export const finiteDifferenceGradients: GradientSource<LossFunction> = finiteDifferences();
