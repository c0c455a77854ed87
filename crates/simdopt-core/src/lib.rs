//! # simdopt-core
//!
//! The numerical core of simdopt: TensorFlow 2.4 Keras optimizers (same update rules, same f32
//! numbers, same slot layout) as fused SIMD kernels, with gradient clipping and slot storage.
//! It has no WebAssembly dependency; `simdopt-wasm` binds it for JavaScript.
//!
//! ```
//! use ndarray::array;
//! use simdopt_core::{rules::Adam, Gradient, Optimizer, Store};
//!
//! let mut store = Store::new();
//! let w = store.insert_array("w", array![[1.0f32, 2.0], [3.0, 4.0]].into_dyn());
//! let mut opt = Optimizer::new(Adam::default(), 0.01).unwrap();
//! let grad = [0.1f32, 0.2, 0.3, 0.4];
//! opt.apply_gradients(&mut store, &[(Some(Gradient::Dense(&grad)), w)]).unwrap();
//! assert_eq!(opt.iterations(), 1);
//! assert!(store.view(w).unwrap()[[0, 0]] < 1.0);
//! ```

// Kernels spell out TF's op order on purpose: `(n - n)` is TF's NaN propagation, `s = s + x`
// keeps the summation order visible, and index loops over fixed lanes vectorise best.
#![allow(clippy::eq_op, clippy::assign_op_pattern, clippy::needless_range_loop)]
// The worker pool sleeps with `memory.atomic.wait32`, an unstable intrinsic (the threads build
// is made with RUSTC_BOOTSTRAP, as its std is: scripts/build-wasm-threads.sh).
#![cfg_attr(all(target_arch = "wasm32", feature = "threads"), feature(stdarch_wasm_atomic_wait))]

pub mod aggregate;
pub mod drive;
pub mod error;
pub mod external;
pub mod external_keras3;
pub mod lanes;
pub mod matmul;
pub mod optimizer;
#[cfg(feature = "threads")]
pub mod pool;
pub mod quant;
pub mod reduce;
pub mod registry;
pub mod rules;
pub mod slot;
pub mod step;
pub mod store;

/// The README's example runs as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;

pub use error::{Error, Result};
pub use optimizer::{Gradient, Optimizer};
pub use registry::{build_optimizer, build_optimizer_in, registry_json, Family, Options};
pub use step::clip::{self, Clipping};
pub use step::{Ema, Stages};
pub use store::{Store, Tensor, TensorId};

/// Which lane implementation this build runs: `"simd128"`, `"scalar"` (wasm without SIMD) or
/// `"native"`.
pub const fn kernel_flavor() -> &'static str {
    if cfg!(all(target_arch = "wasm32", target_feature = "simd128")) {
        "simd128"
    } else if cfg!(target_arch = "wasm32") {
        "scalar"
    } else {
        "native"
    }
}
