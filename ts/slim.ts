// simdopt/slim: the whole `simdopt` API without the embedded WebAssembly; `ready()` takes the
// `.wasm` files (`simdopt/simd.wasm`, `simdopt/scalar.wasm`).
export * from './api.js';
export { ready } from './wasm/ready-slim.js';
