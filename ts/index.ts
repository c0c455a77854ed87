// simdopt: Keras (TF 2.4) optimizers for JavaScript and TypeScript on a Rust SIMD wasm core.
// `ready()` here loads the wasm embedded in the JavaScript (see slim.ts for the `.wasm` files).
export * from './api.js';
export { ready } from './wasm/ready.js';
