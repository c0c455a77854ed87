//! Native benchmarks of the fused kernels through the public optimizer API (`cargo bench`).
//!
//! Data-driven: every class of the core's registry is benchmarked (variants that do not build
//! are skipped with a note), dense at 1K, 64K and 1M parameters (16M for a few), sparse
//! (1% of the rows of a [rows, 64] variable) and with clipping over several tensors.
//!
//! Filter as usual: `cargo bench -p simdopt-benches -- 'dense/Adam'`. Sizes and sample counts
//! keep a full run to a few minutes on 2 cores; `SIMDOPT_BENCH_QUICK=1` shortens it further.
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use simdopt_core::{build_optimizer_in, registry, Ema, Family, Gradient, Optimizer, Stages, Store, Tensor, TensorId};

/// Keras constructor options by name.
type Options = &'static [(&'static str, f32)];

/// Extra configurations besides each class' defaults: (label, TF 2.4 class, options).
const VARIANTS: &[(&str, &str, Options)] = &[
    ("SGD_momentum", "SGD", &[("momentum", 0.9)]),
    ("SGD_nesterov", "SGD", &[("momentum", 0.9), ("nesterov", 1.0)]),
    ("RMSprop_centered_momentum", "RMSprop", &[("centered", 1.0), ("momentum", 0.9)]),
    ("Adam_amsgrad", "Adam", &[("amsgrad", 1.0)]),
    ("RMSprop_momentum", "RMSprop", &[("momentum", 0.9)]),
    ("Ftrl_shrinkage", "Ftrl", &[("l2_shrinkage_regularization_strength", 0.01), ("l1_regularization_strength", 0.001)]),
    ("Ftrl_power", "Ftrl", &[("learning_rate_power", -0.7)]),
];

/// Configurations also run at 16M parameters (each step streams 64 MiB per buffer). Keras 3's
/// AdamW and Lion are compared with Adam's kernel at 1M and 16M (issue 13: within 1.1x).
const HUGE: &[&str] = &["SGD", "SGD_momentum", "Adam", "RMSprop", "keras3_Adam", "keras3_AdamW", "keras3_Lion"];

const K: usize = 1 << 10;
const M: usize = 1 << 20;

fn quick() -> bool {
    std::env::var_os("SIMDOPT_BENCH_QUICK").is_some()
}

/// Every configuration that builds: (label, family, class, options). Keras 3 classes are
/// labelled `keras3_<class>`.
fn configs() -> Vec<(String, Family, &'static str, Options)> {
    let label = |c: &registry::Class| match c.family {
        Family::Tf24 => c.class_name.to_string(),
        family => format!("{}_{}", family.name(), c.class_name),
    };
    let defaults = registry::CLASSES.iter().map(|c| (label(c), c.family, c.class_name, &[][..]));
    let variants = VARIANTS.iter().map(|(l, c, o)| (l.to_string(), Family::Tf24, *c, *o));
    defaults
        .chain(variants)
        .filter(|(label, family, class, options)| match build_optimizer_in(*family, class, options) {
            Ok(_) => true,
            Err(e) => {
                eprintln!("skipping {label}: {e}");
                false
            }
        })
        .collect()
}

fn grad_values(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i % 17) as f32 - 8.0) * 1e-3).collect()
}

fn dense_tensor(store: &mut Store, name: &str, n: usize) -> TensorId {
    store.insert(Tensor::new(name, vec![n], vec![0.5; n]).unwrap())
}

fn bench_dense(c: &mut Criterion) {
    let configs = configs();
    let mut group = c.benchmark_group("dense");
    for &n in &[K, 64 * K, M, 16 * M] {
        let (samples, time) = match n {
            _ if quick() => (10, Duration::from_millis(300)),
            n if n >= 16 * M => (10, Duration::from_secs(2)),
            _ => (20, Duration::from_secs(1)),
        };
        group.sample_size(samples).measurement_time(time).warm_up_time(Duration::from_millis(300));
        group.throughput(Throughput::Elements(n as u64));
        for (label, family, class, options) in &configs {
            if n >= 16 * M && !HUGE.contains(&label.as_str()) {
                continue;
            }
            let mut store = Store::new();
            let w = dense_tensor(&mut store, "w", n);
            let grad = grad_values(n);
            let mut opt = build_optimizer_in(*family, class, options).unwrap();
            group.bench_with_input(BenchmarkId::new(label, n), &n, |b, _| {
                b.iter(|| opt.apply_gradients(&mut store, &[(Some(Gradient::Dense(&grad)), w)]).unwrap())
            });
        }
    }
    group.finish();
}

/// 1% of the rows of a [16384, 64] variable (1M parameters), distinct rows in scattered order.
fn bench_sparse(c: &mut Criterion) {
    const ROWS: usize = 16384;
    const WIDTH: usize = 64;
    let touched = ROWS / 100;
    // Distinct rows: a stride coprime with ROWS walks every row once.
    let indices: Vec<i64> = (0..touched).map(|k| ((k * 7919) % ROWS) as i64).collect();
    let values = grad_values(touched * WIDTH);
    let mut group = c.benchmark_group("sparse_1pct_of_16384x64");
    let time = if quick() { Duration::from_millis(300) } else { Duration::from_secs(1) };
    group.sample_size(20).measurement_time(time).warm_up_time(Duration::from_millis(300));
    group.throughput(Throughput::Elements((touched * WIDTH) as u64));
    for (label, family, class, options) in configs() {
        let mut store = Store::new();
        let w = store.insert(Tensor::new("emb", vec![ROWS, WIDTH], vec![0.5; ROWS * WIDTH]).unwrap());
        let mut opt = build_optimizer_in(family, class, options).unwrap();
        group.bench_function(label.as_str(), |b| {
            b.iter(|| opt.apply_gradients(&mut store, &[(Some(Gradient::Sparse { indices: &indices, values: &values }), w)]).unwrap())
        });
    }
    group.finish();
}

/// 1M parameters as 8 tensors of 128K: no clipping, `clipnorm` (one norm per tensor) and
/// `global_clipnorm` (one norm over all 8).
fn bench_clipping(c: &mut Criterion) {
    const PARTS: usize = 8;
    let n = M / PARTS;
    let grads: Vec<Vec<f32>> = (0..PARTS).map(|_| grad_values(n)).collect();
    let mut group = c.benchmark_group("clipping_8x128K");
    let time = if quick() { Duration::from_millis(300) } else { Duration::from_secs(1) };
    group.sample_size(20).measurement_time(time).warm_up_time(Duration::from_millis(300));
    group.throughput(Throughput::Elements(M as u64));
    let clips: &[(&str, Options)] = &[("none", &[]), ("clipnorm", &[("clipnorm", 1.0)]), ("global_clipnorm", &[("global_clipnorm", 1.0)])];
    for class in ["SGD", "Adam"] {
        for (clip, options) in clips {
            let mut store = Store::new();
            let vars: Vec<TensorId> = (0..PARTS).map(|i| dense_tensor(&mut store, &format!("w{i}"), n)).collect();
            let mut opt: Optimizer = build_optimizer_in(Family::Tf24, class, options).unwrap();
            group.bench_function(BenchmarkId::new(class, clip), |b| {
                b.iter(|| {
                    let pairs: Vec<_> = grads.iter().zip(&vars).map(|(g, v)| (Some(Gradient::Dense(g)), *v)).collect();
                    opt.apply_gradients(&mut store, &pairs).unwrap()
                })
            });
        }
    }
    group.finish();
}

/// Keras 3 Adam with `use_ema` or `gradient_accumulation_steps=2` against none (issue 13: each at
/// most one extra read and write of the variable-sized arrays). Two calls per iteration, so an
/// accumulation iteration is one accumulating call and one update.
fn bench_keras3_stages(c: &mut Criterion) {
    let mut group = c.benchmark_group("keras3_stages_adam_2_calls");
    // `amsgrad` is the yardstick for "one extra read and write": its `velocity_hat` slot is one
    // more array read and written in the same pass, as the EMA average is.
    let cases: [(&str, Stages, Options); 4] = [
        ("plain", Stages::default(), &[]),
        ("use_ema", Stages { ema: Some(Ema { momentum: 0.99, overwrite_frequency: None }), ..Stages::default() }, &[]),
        ("accumulation_2", Stages { gradient_accumulation_steps: Some(2), ..Stages::default() }, &[]),
        ("amsgrad", Stages::default(), &[("amsgrad", 1.0)]),
    ];
    for &n in &[M, 16 * M] {
        let samples = if quick() || n >= 16 * M { 10 } else { 20 };
        let time = if quick() { Duration::from_millis(300) } else { Duration::from_secs(2) };
        group.sample_size(samples).measurement_time(time).warm_up_time(Duration::from_millis(300));
        group.throughput(Throughput::Elements(2 * n as u64));
        for (label, stages, options) in &cases {
            let mut store = Store::new();
            let w = dense_tensor(&mut store, "w", n);
            let grad = grad_values(n);
            let mut opt = build_optimizer_in(Family::Keras3, "Adam", options).unwrap();
            opt.set_stages(stages.clone()).unwrap();
            let pair = [(Some(Gradient::Dense(&grad)), w)];
            group.bench_with_input(BenchmarkId::new(*label, n), &n, |b, _| {
                b.iter(|| {
                    opt.apply_gradients(&mut store, &pair).unwrap();
                    opt.apply_gradients(&mut store, &pair).unwrap();
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_dense, bench_sparse, bench_clipping, bench_keras3_stages);
criterion_main!(benches);
