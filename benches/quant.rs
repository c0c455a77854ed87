//! Native benchmarks of the compressed optimizer state (`simdopt_core::quant`): block-wise 8-bit
//! quantize/dequantize, and Adam with f32, bfloat16 and 8-bit slots against the f32 Adam kernel
//! of the public API (`cargo bench -p simdopt-benches --bench quant`).
//!
//! Filter as usual (`-- 'adam_state/int8'`); `SIMDOPT_BENCH_QUICK=1` shortens the run.
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use simdopt_core::quant::adam::{step_bf16, step_f32, step_int8, AdamHyper};
use simdopt_core::quant::blockwise::{dequantize, quantize};
use simdopt_core::quant::{Codebook, Quantized};
use simdopt_core::{build_optimizer, Gradient, Store, Tensor};

const M: usize = 1 << 20;

fn quick() -> bool {
    std::env::var_os("SIMDOPT_BENCH_QUICK").is_some()
}

/// Moment-like values: mostly small, a few large (spread over the map's decades).
fn values(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i % 17) as f32 - 8.0) * 1e-3 * if i % 97 == 0 { 50.0 } else { 1.0 }).collect()
}

fn grad_values(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i % 17) as f32 - 8.0) * 1e-3).collect()
}

fn timing(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>, n: usize) {
    let (samples, time) = match n {
        _ if quick() => (10, Duration::from_millis(300)),
        n if n >= 16 * M => (10, Duration::from_secs(3)),
        _ => (20, Duration::from_secs(1)),
    };
    group.sample_size(samples).measurement_time(time).warm_up_time(Duration::from_millis(300));
    group.throughput(Throughput::Elements(n as u64));
}

fn bench_quantize(c: &mut Criterion) {
    let mut group = c.benchmark_group("quantize");
    let n = M;
    timing(&mut group, n);
    let x = values(n);
    for block in [256, 2048] {
        group.bench_with_input(BenchmarkId::new(format!("signed_block{block}"), n), &n, |b, _| {
            b.iter(|| quantize(Codebook::signed(), &x, block))
        });
        let q = quantize(Codebook::signed(), &x, block);
        let mut out = vec![0.0; n];
        group.bench_with_input(BenchmarkId::new(format!("dequantize_block{block}"), n), &n, |b, _| {
            b.iter(|| dequantize(Codebook::signed(), &q, &mut out))
        });
    }
    group.finish();
}

fn bench_adam(c: &mut Criterion) {
    let h = AdamHyper::default();
    let mut group = c.benchmark_group("adam_state");
    for n in [M, 16 * M] {
        timing(&mut group, n);
        let grad = grad_values(n);

        let mut store = Store::new();
        let w = store.insert(Tensor::new("w", vec![n], vec![0.5; n]).unwrap());
        let mut opt = build_optimizer("Adam", &[]).unwrap();
        group.bench_with_input(BenchmarkId::new("f32_rule_kernel", n), &n, |b, _| {
            b.iter(|| opt.apply_gradients(&mut store, &[(Some(Gradient::Dense(&grad)), w)]).unwrap())
        });
        drop(store);

        let mut var = vec![0.5f32; n];
        {
            let (mut m, mut v) = (vec![0.0f32; n], vec![0.0f32; n]);
            group.bench_with_input(BenchmarkId::new("f32_fused_driver", n), &n, |b, _| {
                b.iter(|| step_f32(&h, 0, &mut var, &grad, &mut m, &mut v))
            });
        }
        {
            let (mut m, mut v) = (vec![0u16; n], vec![0u16; n]);
            group.bench_with_input(BenchmarkId::new("bf16", n), &n, |b, _| b.iter(|| step_bf16(&h, 0, &mut var, &grad, &mut m, &mut v)));
        }
        for block in [256, 2048] {
            let (mut m, mut v) = (Quantized::zeros(n, block), Quantized::zeros(n, block));
            // one step first, so the codes are the ones of a running optimizer
            step_int8(&h, 0, &mut var, &grad, &mut m, &mut v);
            group.bench_with_input(BenchmarkId::new(format!("int8_block{block}"), n), &n, |b, _| {
                b.iter(|| step_int8(&h, 1, &mut var, &grad, &mut m, &mut v))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_quantize, bench_adam);
criterion_main!(benches);
