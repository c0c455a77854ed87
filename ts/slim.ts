// simdopt/slim: the whole `simdopt` API without the embedded WebAssembly; `ready()` takes the
// `.wasm` files (`simdopt/simd.wasm`, `simdopt/scalar.wasm`). Its own `ready` shadows the
// embedding one of the star export.
export * from './index.js';
export { ready } from './wasm/ready-slim.js';
