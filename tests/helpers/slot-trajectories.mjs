// The generated gradients and hashes of the compressed-slot trajectory tests, as the Rust
// reference computes them (crates/simdopt-core/tests/slot_trajectories/mod.rs): slot-dtype.test.ts
// (TF 2.4 classes), slot-dtype-keras3.test.ts (Keras 3 forms) and the child processes of
// slot-dtype-builds.test.ts replay its fixtures. (A plain ES module: a child process imports it
// without a TypeScript step.)

/** Gradient `i` of step `t` for a variable of `n` elements (an f64 product rounded once to f32). */
export function grad(i, t, n) {
  const k = (i * 7919 + t * 104729 + n) % 2001;
  const decade = [1.0, 0.5, 1e-1, 5e-2, 1e-2][i % 5];
  return Math.fround((k - 1000) * 1e-3 * decade);
}

/** Element `i`'s starting value. */
export const start = (i) => Math.fround(((i * 31) % 97) * 0.01 - 0.5);

/** FNV-1a 64 over bytes, as hex. */
export function fnvBytes(bytes) {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  return h.toString(16).padStart(16, '0');
}

/** The bytes of a typed array (little-endian on every machine these tests run on). */
export const bytesOf = (x) => new Uint8Array(x.buffer, x.byteOffset, x.byteLength);

/** FNV-1a 64 over the little-endian bytes of f32 values. */
export const fnv = (x) => fnvBytes(bytesOf(x));
