// A replica module whose setup throws on replica 1.
export function setup(ctx) {
  if (ctx.replicaId === 1) throw new TypeError('setup failed on replica 1');
}
export function step() {
  return { loss: 0, grads: [null, null] };
}
