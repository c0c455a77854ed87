// `ready()` of the `simdopt/slim` entry point: no WebAssembly embedded, the `.wasm` files are
// given to `ready()`.
import { loadCore, type Backend, type ReadyOptions } from './loader.js';

/**
 * Loads the WebAssembly core from the `.wasm` files given in `options.wasm` (`simdopt/slim`
 * embeds none, so its bundles are about 300 KiB smaller than with `simdopt`). Await it once
 * before creating variables or optimizers; later calls return the same promise. Resolves to the
 * build in use: `'threads'` where `wasm.threads` is given and the runtime has shared memory and
 * workers (see `ready()` of `simdopt`), else `'simd'` where the runtime supports WebAssembly
 * SIMD, else `'scalar'`.
 * @param options - The `.wasm` sources (`wasm.simd`, `wasm.scalar`, optionally `wasm.threads`),
 * and which build to load.
 * @returns The build in use.
 * @throws {@link ArgumentError} when the build the runtime needs has no source in
 * `options.wasm`; {@link StateError} when it cannot be fetched or compiled.
 * @example
 * ```ts
 * import { ready } from 'simdopt/slim';
 * await ready({ wasm: { simd: '/assets/simdopt-simd.wasm', scalar: '/assets/simdopt-scalar.wasm', threads: '/assets/simdopt-threads.wasm' } });
 * ```
 */
export function ready(options: ReadyOptions = {}): Promise<Backend> {
  return loadCore(options, undefined);
}
