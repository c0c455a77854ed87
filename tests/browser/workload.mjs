// The same few Adam steps everywhere a user may run simdopt: Node on the packed tarball
// (tests/package.test.ts), Node on dist/ and headless Chromium (tests/browser.test.ts).
// 'simdopt' resolves to the installed package, to this repository's own package (Node's
// self-reference through "exports") or, in the browser bundle, to dist/ (esbuild alias).
import { ready, backend, simdSupported, Variable, Adam } from 'simdopt';

/** The raw bits of f32 values, so the results compare exactly through JSON. */
function bits(values) {
  return Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length));
}

/**
 * Runs the workload with the given build (`'auto'`, `'simd'` or `'scalar'`).
 * @returns {Promise<import('./workload.d.mts').WorkloadResult>}
 */
export async function run(which = 'auto') {
  const loaded = await ready(which === 'auto' ? {} : { backend: which });

  // TF 2.4: Adam(learning_rate=0.1) on tf.Variable(10.0) with gradient 1.0 -> 9.900001.
  const v = new Variable(10, { name: 'v' });
  const adam = new Adam({ learningRate: 0.1 });
  adam.applyGradients([[new Float32Array([1]), v]]);
  const scalar = v.read();

  // A [2,2] variable with AMSGrad, two steps (the second makes vhat differ from v).
  const w = new Variable(new Float32Array([1, 2, 3, 4]), { shape: [2, 2], name: 'w' });
  const ams = new Adam({ learningRate: 0.1, amsgrad: true });
  ams.applyGradients([[new Float32Array([0.1, -0.2, 0.3, -0.4]), w]]);
  const afterOne = w.read();
  ams.applyGradients([[new Float32Array([-0.5, 0.05, 0, 2]), w]]);
  const afterTwo = w.read();
  const weights = ams.getWeights().slice(1); // m, v, vhat (iterations is an int64)

  const result = {
    loaded,
    backend: backend(),
    simdSupported: simdSupported(),
    scalar: { values: Array.from(scalar), bits: bits(scalar) },
    amsgrad: {
      afterOne: { values: Array.from(afterOne), bits: bits(afterOne) },
      afterTwo: { values: Array.from(afterTwo), bits: bits(afterTwo) },
      weightNames: ams.getWeightNames(),
      iterations: ams.iterations,
      weights: weights.map((x) => bits(x)),
    },
  };
  for (const x of [v, w, adam, ams]) x.dispose();
  return result;
}
