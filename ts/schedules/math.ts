// The math of the built-in learning-rate schedules, in one place: one pure function per
// schedule, the learning rate at a float32 `step` for the schedule's arguments (camelCase, as the
// classes' properties), in TF's float32 op order. The classes of builtins.ts call these, and other
// schedule families with the same formulas (Keras 3's) can too. Not part of the package's API.
//
// Every intermediate result is rounded with `Math.fround`. `+ - * /` on float32 operands through
// double and one rounding are exact float32 ops; `pow`, `exp`, `log` and `cos` are computed in
// double and rounded once, so they can differ from TF's float32 libm by about 1 ulp.

export const f = Math.fround;
/** TF's `tf.constant(math.pi)`: π as a float32. */
export const PI_F32 = Math.fround(Math.PI);

/** float32 `pow` with C's special cases (`pow(1, NaN) = 1`, `pow(-1, ±inf) = 1`, which JS's
 * `Math.pow` gives as NaN). */
export function powf(x: number, y: number): number {
  if (x === 1 || y === 0) return 1;
  if (x === -1 && (y === Infinity || y === -Infinity)) return 1;
  return f(Math.pow(x, y));
}

/** Eigen's `minimum` (`b < a ? b : a`). */
export function minf(a: number, b: number): number {
  return b < a ? b : a;
}

/** The arguments of ExponentialDecay and InverseTimeDecay. */
export interface TimeDecayArgs {
  readonly initialLearningRate: number;
  readonly decaySteps: number;
  readonly decayRate: number;
  readonly staircase: boolean;
}

/** `initialLearningRate * decayRate ^ (step / decaySteps)` (the exponent floored if `staircase`). */
export function exponentialDecay(s: number, a: TimeDecayArgs): number {
  let p = f(s / f(a.decaySteps));
  if (a.staircase) p = Math.floor(p);
  return f(f(a.initialLearningRate) * powf(f(a.decayRate), p));
}

/** `initialLearningRate / (1 + decayRate * step / decaySteps)` (the quotient floored if `staircase`). */
export function inverseTimeDecay(s: number, a: TimeDecayArgs): number {
  let p = f(s / f(a.decaySteps));
  if (a.staircase) p = Math.floor(p);
  const denom = f(1 + f(f(a.decayRate) * p));
  return f(f(a.initialLearningRate) / denom);
}

/** `values[i]` for the interval of `boundaries` that holds the step (boundaries compared as
 * float32); `tf.case`'s default `values[0]` when none does (a NaN step). */
export function piecewiseConstantDecay(s: number, a: { readonly boundaries: readonly number[]; readonly values: readonly number[] }): number {
  const b = a.boundaries;
  const v = a.values;
  if (s <= f(b[0])) return f(v[0]);
  if (s > f(b[b.length - 1])) return f(v[v.length - 1]);
  for (let i = 1; i < b.length; i++) {
    if (s > f(b[i - 1]) && s <= f(b[i])) return f(v[i]);
  }
  return f(v[0]);
}

/** `(lr0 - end) * (1 - step / D) ^ power + end`; without `cycle` the step stops at `D = decaySteps`,
 * with `cycle` `D = decaySteps * ceil(step / decaySteps)` (1× at step 0). */
export function polynomialDecay(
  s: number,
  a: { readonly initialLearningRate: number; readonly decaySteps: number; readonly endLearningRate: number; readonly power: number; readonly cycle: boolean },
): number {
  const lr0 = f(a.initialLearningRate);
  const end = f(a.endLearningRate);
  let d = f(a.decaySteps);
  if (a.cycle) {
    const multiplier = s === 0 ? 1 : Math.ceil(f(s / d));
    d = f(d * multiplier);
  } else {
    s = minf(s, d);
  }
  const p = f(s / d);
  return f(f(f(lr0 - end) * powf(f(1 - p), f(a.power))) + end);
}

/** `lr0 * ((1 - alpha) * 0.5 * (1 + cos(π * min(step, D) / D)) + alpha)`. */
export function cosineDecay(s: number, a: { readonly initialLearningRate: number; readonly decaySteps: number; readonly alpha: number }): number {
  const d = f(a.decaySteps);
  const fraction = f(minf(s, d) / d);
  const cosine = f(0.5 * f(1 + f(Math.cos(f(PI_F32 * fraction)))));
  // Keras computes `(1 - self.alpha)` on the Python number, then casts it to float32.
  const decayed = f(f(f(1 - a.alpha) * cosine) + f(a.alpha));
  return f(f(a.initialLearningRate) * decayed);
}

/** Cosine decay with warm restarts (SGDR): periods `tMul` times longer each, restarts at `mMul`
 * times the previous start. */
export function cosineDecayRestarts(
  s: number,
  a: { readonly initialLearningRate: number; readonly firstDecaySteps: number; readonly tMul: number; readonly mMul: number; readonly alpha: number },
): number {
  const alpha = f(a.alpha);
  const tMul = f(a.tMul);
  const mMul = f(a.mMul);
  let fraction = f(s / f(a.firstDecaySteps));
  let restart: number;
  if (tMul === 1) {
    restart = Math.floor(fraction);
    fraction = f(fraction - restart);
  } else {
    restart = Math.floor(f(f(Math.log(f(1 - f(fraction * f(1 - tMul))))) / f(Math.log(tMul))));
    const tPow = powf(tMul, restart);
    const sumR = f(f(1 - tPow) / f(1 - tMul));
    fraction = f(f(fraction - sumR) / tPow);
  }
  const mFac = powf(mMul, restart);
  const cosine = f(f(0.5 * mFac) * f(1 + f(Math.cos(f(PI_F32 * fraction)))));
  const decayed = f(f(f(1 - alpha) * cosine) + alpha);
  return f(f(a.initialLearningRate) * decayed);
}

/** The arguments of LinearCosineDecay (and NoisyLinearCosineDecay's). */
export interface LinearCosineArgs {
  readonly initialLearningRate: number;
  readonly decaySteps: number;
  readonly numPeriods: number;
  readonly alpha: number;
  readonly beta: number;
}

/** Linear cosine decay: with `k = min(step, D)`,
 * `lr0 * ((alpha + (D - k) / D) * 0.5 * (1 + cos(π * 2 * numPeriods * k / D)) + beta)`. */
export function linearCosineDecay(s: number, a: LinearCosineArgs): number {
  const d = f(a.decaySteps);
  const k = minf(s, d);
  return linearCosine(a, d, k, f(f(d - k) / d));
}

/** LinearCosineDecay with `normal * sqrt(initialVariance / (1 + k)^varianceDecay)` added to the
 * linear part; `normal` is a standard normal sample (the caller's generator). */
export function noisyLinearCosineDecay(s: number, a: LinearCosineArgs & { readonly initialVariance: number; readonly varianceDecay: number }, normal: number): number {
  const d = f(a.decaySteps);
  const k = minf(s, d);
  const linear = f(f(d - k) / d);
  const variance = f(f(a.initialVariance) / powf(f(1 + k), f(a.varianceDecay)));
  const std = f(Math.sqrt(variance));
  return linearCosine(a, d, k, f(linear + f(f(normal) * std)));
}

/** The shared tail of (Noisy)LinearCosineDecay, in TF's float32 op order. */
function linearCosine(a: LinearCosineArgs, d: number, k: number, linear: number): number {
  const completed = f(k / d);
  const fraction = f(f(2 * f(a.numPeriods)) * completed);
  const cosine = f(0.5 * f(1 + f(Math.cos(f(PI_F32 * fraction)))));
  const decayed = f(f(f(f(a.alpha) + linear) * cosine) + f(a.beta));
  return f(f(a.initialLearningRate) * decayed);
}
