// The opt-in `.wasm` files with Vite: `?url` turns each into a URL of the build, and ready()
// compiles the one it needs while it downloads.
import { ready } from 'simdopt/slim';
import simd from 'simdopt/simd.wasm?url';
import scalar from 'simdopt/scalar.wasm?url';
import threads from 'simdopt/threads.wasm?url';

export const init = () => ready({ wasm: { simd, scalar, threads } });
