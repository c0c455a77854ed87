//! Native benchmarks of the fused kernels through the public optimizer API.
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use simdopt_core::{build_optimizer, Gradient, Store, Tensor};

/// Keras constructor options by name.
type Options = &'static [(&'static str, f32)];

/// (label, Keras class, options) of every benchmarked configuration.
const CONFIGS: &[(&str, &str, Options)] = &[
    ("sgd", "SGD", &[]),
    ("sgd_momentum", "SGD", &[("momentum", 0.9), ("nesterov", 1.0)]),
    ("adam", "Adam", &[]),
    ("adam_amsgrad", "Adam", &[("amsgrad", 1.0)]),
];

fn bench_dense(c: &mut Criterion) {
    let mut group = c.benchmark_group("dense");
    for &n in &[1usize << 10, 1 << 16, 1 << 20] {
        group.throughput(Throughput::Elements(n as u64));
        for (label, class, options) in CONFIGS {
            let mut store = Store::new();
            let w = store.insert(Tensor::new("w", vec![n], vec![0.5; n]).unwrap());
            let grad: Vec<f32> = (0..n).map(|i| ((i % 17) as f32 - 8.0) * 1e-3).collect();
            let mut opt = build_optimizer(class, options).unwrap();
            group.bench_with_input(BenchmarkId::new(*label, n), &n, |b, _| {
                b.iter(|| opt.apply_gradients(&mut store, &[(Some(Gradient::Dense(&grad)), w)]).unwrap())
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_dense);
criterion_main!(benches);
