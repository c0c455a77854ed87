// Replica module of the failure tests. Shard: { action, ...linreg shard }:
//   'ok'        linear regression (linreg.mjs)
//   'throw'     throws a RangeError
//   'exit'      process.exit(3) in the middle of the step
//   'uncaught'  an uncaught exception outside the step's promise (the worker dies)
//   'reduce'    all-reduces its gradients (waits for every replica)
//   'wrong'     returns a gradient of the wrong length
//   'strings'   returns a gradient of strings (must not become NaN)
//   'hang'      never finishes
//   'reduce-values'  all-reduces the variables' own buffers (which must stay usable)
import { lossAndGrads } from './linreg.mjs';

export async function step(ctx, shard, [w, b]) {
  const out = lossAndGrads(shard, w, b, shard.globalBatchSize);
  switch (shard.action) {
    case 'throw':
      // Give the others time to block in their all-reduce first.
      await new Promise((r) => setTimeout(r, 50));
      throw new RangeError(`boom in replica ${ctx.replicaId}`);
    case 'exit':
      await new Promise((r) => setTimeout(r, 50));
      process.exit(3);
      break;
    case 'uncaught':
      setTimeout(() => {
        throw new Error(`uncaught in replica ${ctx.replicaId}`);
      }, 50);
      return new Promise(() => {});
    case 'reduce':
      out.grads = await ctx.allReduce('sum', out.grads);
      break;
    case 'reduce-values': {
      const [sw] = await ctx.allReduce('sum', [w, b]);
      out.aux = { sum0: sw[0], w0: w[0], wLength: w.length };
      break;
    }
    case 'hang':
      return new Promise(() => {});
    case 'wrong':
      out.grads = [new Float32Array(1), out.grads[1]];
      break;
    case 'strings':
      out.grads = [Array.from(out.grads[0], String), out.grads[1]];
      break;
  }
  return out;
}
