// `ready()` of the `simdopt` entry point: the three builds are embedded in the JavaScript (base64
// modules), and only the one the runtime uses is loaded (a dynamic import, so bundlers that
// split code fetch the others never).
import { loadCore, type Backend, type ReadyOptions } from './loader.js';

/**
 * Loads the WebAssembly core. Await it once before creating variables or optimizers (creating
 * one before throws a `StateError`); later calls return the same promise. Resolves to the build
 * in use, decided once: `'threads'` where the runtime has shared WebAssembly memory and workers
 * (Node; a browser page only when `crossOriginIsolated`) and more than one processor, else
 * `'simd'` where the runtime supports WebAssembly SIMD, else `'scalar'`. `options.threads` sets
 * the number of threads or turns them off (see {@link ReadyOptions.threads}).
 *
 * With no options the build comes from the copy embedded in the JavaScript: nothing to serve or
 * configure. `options.wasm` loads `.wasm` files instead (see {@link ReadyOptions.wasm}).
 * @param options - Which build to load, and from where.
 * @returns The build in use.
 * @throws {@link StateError} (code `InvalidState`) when the WebAssembly cannot be compiled (a
 * Content-Security-Policy without `'wasm-unsafe-eval'`, a failed download), a build or thread
 * count the runtime cannot run was asked for (the message says why), or a different build was
 * already loaded.
 * @example
 * ```ts
 * import { ready, Variable, Adam } from 'simdopt';
 * await ready(); // 'threads', 'simd' or 'scalar'
 * await ready({ threads: false }); // never worker threads
 * ```
 */
export function ready(options: ReadyOptions = {}): Promise<Backend> {
  return loadCore(options, embeddedWasm);
}

async function embeddedWasm(backend: Backend): Promise<string> {
  switch (backend) {
    case 'threads': {
      // In two modules, so that bundlers emit two chunks, each below Vite's 500 kB warning.
      const [a, b] = await Promise.all([import('./generated/threads/threads-bytes-1.js'), import('./generated/threads/threads-bytes-2.js')]);
      return a.default + b.default;
    }
    case 'simd':
      return (await import('./generated/simd-bytes.js')).default;
    default:
      return (await import('./generated/scalar-bytes.js')).default;
  }
}
