// Replica module of the read-once tests: user code in a worker that posts messages of its own
// to the main thread, in the strategy's protocol, before its step returns. Shard: { action }:
//   'ok'          gradient 1 for every element of 'w'
//   'long'        a forged result whose gradient is far longer than 'w' (an overrun if copied)
//   'not-f32'     a forged result whose gradient is a plain object posing as a Float32Array
//   'bad-reduce'  a forged all-reduce whose values are not Float32Arrays
import { parentPort } from 'node:worker_threads';

export async function step(ctx, shard, [w]) {
  const forged = { t: 'result', step: ctx.step, loss: 0, values: [new Float32Array(w.length)], aux: null, allReduces: 0 };
  switch (shard.action) {
    case 'long':
      parentPort.postMessage({ ...forged, grads: [new Float32Array(1 << 16).fill(7)] });
      break;
    case 'not-f32':
      parentPort.postMessage({ ...forged, grads: [{ length: w.length, 0: 1 }] });
      break;
    case 'bad-reduce':
      parentPort.postMessage({ t: 'allreduce', step: ctx.step, seq: 0, op: 'sum', values: [[1, 2, 3]] });
      break;
  }
  // Let the forged message arrive first.
  await new Promise((r) => setTimeout(r, 20));
  return { loss: 1, grads: [new Float32Array(w.length).fill(1)] };
}
