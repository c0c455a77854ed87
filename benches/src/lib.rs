//! Criterion benchmarks of simdopt-core live in `kernels.rs`.
