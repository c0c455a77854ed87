// The Keras 3 classes (`simdopt/keras3`) in `npm run bench` (benches/bench.mjs): Keras 3 Adam,
// AdamW, Lion, Adam with `useEma` and Adam with `gradientAccumulationSteps: 2`, beside TF 2.4's
// Adam from the package root, on the SIMD build. One variable of n parameters shared by every
// candidate, its gradient in a `Tensor` (the kernel-only path); each timed step is two
// `applyGradients` calls, so that the accumulating optimizer does one whole cycle (a call that
// only accumulates, then one that updates) per step like the others do two updates.
//
// Issue 13's targets, against Keras 3 Adam in the same rounds: AdamW and Lion within 1.1×, and
// `use_ema` and `gradient_accumulation_steps` each at most one extra read and write of a
// variable-sized array. Adam moves seven per update (reads var, grad, m, v; writes var, m, v),
// so that is (7 + 2) / 7 = 1.29×.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const ADAM = 'Keras 3 Adam';
const EMA = 'Adam(use_ema)';
const ACCUMULATION = 'Adam(gradient_accumulation_steps=2)';
export const KERAS3_LIMITS = { AdamW: 1.1, Lion: 1.1, [EMA]: 9 / 7, [ACCUMULATION]: 9 / 7 };

/** In a simdopt engine's worker: the candidates' step functions for a variable of `n`. */
export async function keras3Scenario({ so, dist, track, denseVar, denseGrad, n }) {
  const k3 = await import(pathToFileURL(path.join(dist, 'keras3', 'index.js')).href);
  const v = denseVar('w', n);
  const g = denseGrad(n);
  const pairs = [[g.tensor, v]];
  const optimizers = {
    'TF 2.4 Adam': new so.Adam({ learningRate: 1e-3 }),
    [ADAM]: new k3.Adam({ learningRate: 1e-3 }),
    AdamW: new k3.AdamW({ learningRate: 1e-3 }),
    Lion: new k3.Lion({ learningRate: 1e-3 }),
    [EMA]: new k3.Adam({ learningRate: 1e-3, useEma: true }),
    [ACCUMULATION]: new k3.Adam({ learningRate: 1e-3, gradientAccumulationSteps: 2 }),
  };
  const fns = {};
  for (const [label, o] of Object.entries(optimizers)) {
    track(o);
    fns[label] = () => {
      o.applyGradients(pairs);
      o.applyGradients(pairs);
    };
  }
  return fns;
}

/** Each candidate's ratio to Keras 3 Adam (median over rounds of the ratio within a round). */
function ratios(bySize, pairedRatio) {
  return Object.entries(bySize).map(([size, r]) => [size, Object.fromEntries(Object.entries(r).map(([label, c]) => [label, pairedRatio(c, r[ADAM])]))]);
}

/** The targets: `add(what, value, op, limit)` as bench.mjs' checkTargets takes them. */
export function keras3Targets(bySize, add, pairedRatio) {
  for (const [size, rs] of ratios(bySize, pairedRatio)) {
    for (const [label, limit] of Object.entries(KERAS3_LIMITS)) add(`Keras 3 ${size}: ${label} / Keras 3 Adam (2 calls per step)`, rs[label], '<=', +limit.toFixed(2));
  }
}

/** The table, in bench.mjs' report. */
export function renderKeras3(bySize, out, { ms, f, pairedRatio }) {
  const labels = Object.keys(Object.values(bySize)[0] ?? {});
  out.push('');
  out.push('Keras 3 classes (simdopt/keras3, simdopt simd, one Tensor-gradient variable, ms per 2 applyGradients calls; × Keras 3 Adam in the same rounds):');
  out.push(`| params | ${labels.join(' | ')} |`);
  out.push(`|---|${labels.map(() => '---:').join('|')}|`);
  const rs = Object.fromEntries(ratios(bySize, pairedRatio));
  for (const [size, r] of Object.entries(bySize)) out.push(`| ${size} | ${labels.map((l) => `${ms(r[l].median_ms)} (${f(rs[size][l], 2)}×)`).join(' | ')} |`);
}
