//! Runs `steps` dense steps of one configuration at `n` parameters, for instruction counts
//! (`valgrind --tool=callgrind target/release/examples/steps Adam 65536 20`) that compare two
//! builds of the core where the machine is too loaded for timings.
use simdopt_core::{build_optimizer, Gradient, Store, Tensor};
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let (label, n, steps): (&str, usize, usize) = (&a[1], a[2].parse().unwrap(), a[3].parse().unwrap());
    let (class, opts): (&str, Vec<(&str, f32)>) = match label {
        "SGD_momentum" => ("SGD", vec![("momentum", 0.9)]),
        "SGD_nesterov" => ("SGD", vec![("momentum", 0.9), ("nesterov", 1.0)]),
        "RMSprop_momentum" => ("RMSprop", vec![("momentum", 0.9)]),
        "RMSprop_centered_momentum" => ("RMSprop", vec![("centered", 1.0), ("momentum", 0.9)]),
        "Adam_amsgrad" => ("Adam", vec![("amsgrad", 1.0)]),
        "Ftrl_shrinkage" => ("Ftrl", vec![("l2_shrinkage_regularization_strength", 0.01), ("l1_regularization_strength", 0.001)]),
        "Adam_clipnorm" => ("Adam", vec![("clipnorm", 1.0)]),
        c => (c, vec![]),
    };
    let mut store = Store::new();
    let w = store.insert(Tensor::new("w", vec![n], vec![0.5; n]).unwrap());
    let g: Vec<f32> = (0..n).map(|i| ((i % 17) as f32 - 8.0) * 1e-3).collect();
    let mut opt = build_optimizer(class, &opts).unwrap();
    for _ in 0..steps {
        opt.apply_gradients(&mut store, &[(Some(Gradient::Dense(&g)), w)]).unwrap();
    }
    std::hint::black_box(&store);
}
