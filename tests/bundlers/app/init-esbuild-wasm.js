// The opt-in `.wasm` files with esbuild: its `file` loader copies each into the output and
// gives its URL; ready() compiles the one it needs while it downloads.
import { ready } from 'simdopt/slim';
import simd from 'simdopt/simd.wasm';
import scalar from 'simdopt/scalar.wasm';
import threads from 'simdopt/threads.wasm';

const url = (file) => new URL(file, import.meta.url);
export const init = () => ready({ wasm: { simd: url(simd), scalar: url(scalar), threads: url(threads) } });
