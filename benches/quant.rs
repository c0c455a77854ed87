//! Native benchmarks of the compressed optimizer state (`simdopt_core::quant`): block-wise 8-bit
//! quantize/dequantize, the Adam optimizer with its slots stored as float32, bfloat16 and int8
//! (`slotDtype`), and sparse steps (an embedding's rows) on each, side by side in one run
//! (`cargo bench -p simdopt-benches --bench quant`).
//!
//! Filter as usual (`-- 'adam_state/int8'`); `SIMDOPT_BENCH_QUICK=1` shortens the run.
//!
//! Each group runs twice: timed by the wall clock (`quantize`, `adam_state`) and by this thread's
//! CPU time (`cpu_quantize`, `cpu_adam_state`; 64-bit Linux: `clock_gettime`),
//! which stays meaningful on a machine shared with other builds, where the wall clock mostly
//! measures the scheduler.
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use simdopt_core::quant::adam::{step_int8, AdamHyper};
use simdopt_core::quant::blockwise::{dequantize, quantize};
use simdopt_core::quant::{Codebook, Quantized};
use simdopt_core::slot::SlotStorage;
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

fn timing<T: Measurement>(group: &mut criterion::BenchmarkGroup<'_, T>, n: usize) {
    let (samples, time) = match n {
        _ if quick() => (10, Duration::from_millis(300)),
        n if n >= 16 * M => (10, Duration::from_secs(3)),
        _ => (20, Duration::from_secs(1)),
    };
    group.sample_size(samples).measurement_time(time).warm_up_time(Duration::from_millis(300));
    group.throughput(Throughput::Elements(n as u64));
}

fn bench_quantize<T: Measurement + 'static>(c: &mut Criterion<T>, name: &str) {
    let mut group = c.benchmark_group(name);
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

fn bench_adam<T: Measurement + 'static>(c: &mut Criterion<T>, name: &str) {
    let mut group = c.benchmark_group(name);
    for n in [M, 16 * M] {
        timing(&mut group, n);
        let grad = grad_values(n);
        // The optimizer as users run it: Adam with its slots stored as each dtype, side by side.
        for storage in [SlotStorage::Float32, SlotStorage::Bfloat16, SlotStorage::Int8] {
            let mut store = Store::new();
            let w = store.insert(Tensor::new("w", vec![n], vec![0.5; n]).unwrap());
            let mut opt = build_optimizer("Adam", &[]).unwrap();
            opt.set_slot_storage(storage).unwrap();
            // one step first, so the codes are the ones of a running optimizer
            opt.apply_gradients(&mut store, &[(Some(Gradient::Dense(&grad)), w)]).unwrap();
            group.bench_with_input(BenchmarkId::new(storage.name(), n), &n, |b, _| {
                b.iter(|| opt.apply_gradients(&mut store, &[(Some(Gradient::Dense(&grad)), w)]).unwrap())
            });
        }
        // The paper's block size, through the raw-slice Adam (same driver).
        let h = AdamHyper::default();
        let mut var = vec![0.5f32; n];
        let (mut m, mut v) = (Quantized::zeros(n, 2048), Quantized::zeros(n, 2048));
        step_int8(&h, 0, &mut var, &grad, &mut m, &mut v);
        group.bench_with_input(BenchmarkId::new("int8_block2048", n), &n, |b, _| {
            b.iter(|| step_int8(&h, 1, &mut var, &grad, &mut m, &mut v))
        });
    }
    group.finish();
}

/// Sparse steps on an embedding of [1,000,000 × 64] with 4,096 rows a step (about 10% repeats),
/// SGD with momentum (only the rows move) and Adam (every row moves), slots in each storage:
/// compressed slots run window by window (`step::rows::windows`).
fn bench_sparse<T: Measurement + 'static>(c: &mut Criterion<T>, name: &str) {
    const ROWS: usize = 1_000_000;
    const WIDTH: usize = 64;
    const K: usize = 4096;
    let mut group = c.benchmark_group(name);
    let (samples, time) = if quick() { (10, Duration::from_millis(300)) } else { (10, Duration::from_secs(2)) };
    group.sample_size(samples).measurement_time(time).warm_up_time(Duration::from_millis(300));
    group.throughput(Throughput::Elements((K * WIDTH) as u64));
    let mut s = 20261203u32;
    let mut next = move || {
        s = s.wrapping_mul(1664525).wrapping_add(1013904223);
        s
    };
    let batches: Vec<(Vec<i64>, Vec<f32>)> = (0..8)
        .map(|_| {
            let mut indices: Vec<i64> = Vec::with_capacity(K);
            for i in 0..K {
                let row = if i > 0 && next() % 100 < 10 { indices[next() as usize % i] } else { (next() as usize % ROWS) as i64 };
                indices.push(row);
            }
            let values = (0..K * WIDTH).map(|_| ((next() >> 8) as f32 / (1 << 24) as f32 - 0.5) * 1e-2).collect();
            (indices, values)
        })
        .collect();
    for (class, options) in [("SGD", &[("momentum", 0.9)][..]), ("Adam", &[][..])] {
        for storage in [SlotStorage::Float32, SlotStorage::Bfloat16, SlotStorage::Int8] {
            let mut store = Store::new();
            let w = store.insert(Tensor::new("table", vec![ROWS, WIDTH], vec![0.5; ROWS * WIDTH]).unwrap());
            let mut opt = build_optimizer(class, options).unwrap();
            opt.set_slot_storage(storage).unwrap();
            let mut b = 0;
            let mut step = || {
                let (indices, values) = &batches[b % batches.len()];
                b += 1;
                opt.apply_gradients(&mut store, &[(Some(Gradient::Sparse { indices, values }), w)]).unwrap()
            };
            step();
            let id = format!("{}/{}", class.to_lowercase(), storage.name());
            group.bench_function(BenchmarkId::new(id, ROWS * WIDTH), |bench| bench.iter(&mut step));
        }
    }
    group.finish();
}

/// Nanoseconds this thread has run on a CPU (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)`; the C
/// library std links against already provides it).
fn thread_cpu_ns() -> u64 {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut t = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `t` is a valid timespec for the call to fill.
    assert_eq!(unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut t) }, 0, "clock_gettime");
    t.sec as u64 * 1_000_000_000 + t.nsec as u64
}

/// This thread's CPU time as a criterion measurement.
struct CpuTime;

impl Measurement for CpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns() - start
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

/// Values in CPU nanoseconds, shown as CPU ms; throughput as elements per CPU second.
struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, _typical: f64, values: &mut [f64]) -> &'static str {
        values.iter_mut().for_each(|v| *v /= 1e6);
        "ms (cpu)"
    }
    fn scale_throughputs(&self, _typical: f64, throughput: &Throughput, values: &mut [f64]) -> &'static str {
        let elements = match throughput {
            Throughput::Elements(n) | Throughput::Bytes(n) | Throughput::BytesDecimal(n) => *n as f64,
        };
        values.iter_mut().for_each(|v| *v = elements / (*v * 1e-9) / 1e6);
        "Melem/s (cpu)"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns (cpu)"
    }
}

fn wall(c: &mut Criterion<WallTime>) {
    bench_quantize(c, "quantize");
    bench_adam(c, "adam_state");
    bench_sparse(c, "sparse_state");
}

fn cpu(c: &mut Criterion<CpuTime>) {
    bench_quantize(c, "cpu_quantize");
    bench_adam(c, "cpu_adam_state");
    bench_sparse(c, "cpu_sparse_state");
}

criterion_group!(wall_clock, wall);
criterion_group! {
    name = cpu_time;
    config = Criterion::default().with_measurement(CpuTime);
    targets = cpu
}
criterion_main!(wall_clock, cpu_time);
