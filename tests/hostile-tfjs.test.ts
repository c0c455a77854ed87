// The tfjs adapter with hostile input, by the rules of tests/hostile.test.ts: a `[{name, tensor}]`
// list or a `{name: tensor}` map whose entries change between reads (getters, a Proxy whose
// length changes). Each case ends with a typed SimdoptError and everything as it was, or exactly
// the result of the plain call with the first-read values, on a twin world.
import * as fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import { ready, Adam, Optimizer, SimdoptError, stats } from 'simdopt';
import { toTfjs, TfjsOptimizer } from 'simdopt/tfjs';

tf.env().set('PROD', true);

const RUNS = Number(process.env.SIMDOPT_FUZZ_RUNS ?? 40);
const SEED = process.env.SIMDOPT_FUZZ_SEED !== undefined ? Number(process.env.SIMDOPT_FUZZ_SEED) : process.env.CI ? 20261124 : undefined;

beforeAll(async () => {
  await ready();
  await tf.setBackend('cpu');
});

let worlds = 0;

interface World {
  adapter: TfjsOptimizer;
  w: tf.Variable;
  b: tf.Variable;
}

/** tfjs finds variables by name: each world's have their own. */
function makeWorld(): World {
  const id = worlds++;
  const w = tf.variable(tf.tensor1d([0.5, -1, 2, 3, -4, 0.25]), true, `hostile_w_${id}`);
  const b = tf.variable(tf.tensor1d([1, 2, 3, 4, 5]), true, `hostile_b_${id}`);
  const adapter = toTfjs(new Adam({ learningRate: 0.05, amsgrad: true }));
  const gw = tf.tensor1d([0.1, -0.2, 0.3, -0.4, 0.5, -0.6]);
  const gb = tf.tensor1d([0.3, 0.1, -0.7, 0.2, 0.9]);
  adapter.applyGradients([
    { name: w.name, tensor: gw },
    { name: b.name, tensor: gb },
  ]);
  tf.dispose([gw, gb]);
  return { adapter, w, b };
}

const bits = (a: Float32Array | BigInt64Array) => (a instanceof BigInt64Array ? a[0].toString() : Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length)).join(','));

function observe(x: World): string {
  const o: Optimizer = x.adapter.optimizer;
  const { tensors, optimizers } = stats();
  return JSON.stringify({
    iterations: o.iterations,
    weights: o.getWeights().map(bits),
    vars: [x.w, x.b].map((v) => bits(v.dataSync() as Float32Array)),
    tensors,
    optimizers,
    tfTensors: tf.memory().numTensors,
  });
}

/** An object whose property `key` reads `first` once, then `later()` on every read after. */
function changing<T extends object>(target: T, key: PropertyKey, first: unknown, later: () => unknown): T {
  let reads = 0;
  Object.defineProperty(target, key, { get: () => (reads++ === 0 ? first : later()), enumerable: true, configurable: true });
  return target;
}

const outcomes = { applied: 0, refused: 0 };
afterAll(() =>
  console.log(`hostile tfjs inputs: ${outcomes.applied + outcomes.refused} cases, ${outcomes.applied} applied as the plain call, ${outcomes.refused} refused unchanged`),
);

test('applyGradients with entries that change between reads', () => {
  const kind = fc.constantFrom('tensor getter', 'name getter', 'list length', 'map getter');
  fc.assert(
    fc.property(kind, fc.array(fc.float({ min: -4, max: 4, noNaN: true }), { minLength: 6, maxLength: 6 }), fc.constantFrom(0, 5, 7, 4096), (how, vals, n) => {
      const a = makeWorld();
      const b = makeWorld();
      const g = tf.tensor1d(vals);
      const other = tf.zeros([n]);
      const gb = tf.ones([5]);
      try {
        // (tfjs tensors count in the comparison: the attack's own are made before it.)
        const before = observe(a);
        let input: unknown;
        if (how === 'tensor getter') input = [changing({ name: a.w.name }, 'tensor', g, () => other)];
        else if (how === 'name getter') input = [changing({ tensor: g }, 'name', a.w.name, () => a.b.name)];
        else if (how === 'map getter') input = changing({}, a.w.name, g, () => other);
        else {
          let reads = 0;
          const list = [{ name: a.w.name, tensor: g }];
          input = new Proxy(list, {
            get: (t, p, r) => (p === 'length' ? (reads++ === 0 ? 1 : n) : typeof p === 'string' && /^[1-9]\d*$/.test(p) ? { name: a.b.name, tensor: gb } : Reflect.get(t, p, r)),
          });
        }
        let error: unknown;
        try {
          a.adapter.applyGradients(input as never);
        } catch (e) {
          error = e;
        }
        if (error !== undefined) {
          if (!(error instanceof SimdoptError)) throw new Error(`${how}: not a typed refusal: ${String(error)}`);
          if (observe(a) !== before) throw new Error(`${how}: changed after ${String(error)}`);
          outcomes.refused++;
        } else {
          b.adapter.applyGradients([{ name: b.w.name, tensor: g }]);
          const strip = (s: string) => s.replace(/"tfTensors":\d+/, '');
          if (strip(observe(a)) !== strip(observe(b))) throw new Error(`${how}: applied, but not as the plain call`);
          outcomes.applied++;
        }
      } finally {
        tf.dispose([g, other, gb]);
        for (const x of [a, b]) {
          x.adapter.dispose();
          tf.dispose([x.w, x.b]);
        }
      }
    }),
    { numRuns: RUNS, seed: SEED, endOnFailure: true },
  );
});
