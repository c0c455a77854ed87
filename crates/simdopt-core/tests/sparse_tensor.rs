//! `Gradient::SparseTensor` (slices whose rows are a tensor of the store, read in place) gives
//! the bits of `Gradient::Sparse` with the same rows, for every class of the registry and with
//! the clipping and Keras 3 stages that read sparse values; bad ones are errors that change
//! nothing.

use simdopt_core::{build_optimizer_in, registry, Error, Family, Gradient, Optimizer, Store, Tensor, TensorId};

/// Variable `table` [6, 3], the rows' tensor `rows` [5 rows of 3], and the optimizer.
struct World {
    store: Store,
    opt: Optimizer,
    table: TensorId,
    rows: TensorId,
}

const INDICES: [i64; 5] = [4, 1, 4, 0, 1];
const ROWS: [f32; 15] = [0.5, -1.0, 2.0, -0.0, 0.25, -3.0, 1.5, 0.75, -0.5, 4.0, -2.0, 0.125, 1.0, 1.0, -1.0];

fn world(family: Family, class: &str, options: &[(&str, f32)]) -> World {
    let mut store = Store::new();
    let table = store.insert(Tensor::new("table", vec![6, 3], (0..18).map(|i| i as f32 * 0.25 - 2.0).collect()).unwrap());
    let rows = store.insert(Tensor::new("rows", vec![5, 3], ROWS.to_vec()).unwrap());
    World { store, opt: build_optimizer_in(family, class, options).unwrap(), table, rows }
}

fn bits(w: &World) -> (Vec<u32>, Vec<Vec<u32>>, u64) {
    let o = &w.opt;
    let weight = |i: usize| match o.weight(i) {
        Some(v) => v.iter().map(|x| x.to_bits()).collect(),
        None => o.weight_i32(i).unwrap().iter().map(|&x| x as u32).collect(),
    };
    (w.store.get(w.table).unwrap().data.iter().map(|x| x.to_bits()).collect(), (1..o.weight_count()).map(weight).collect(), o.iterations())
}

#[test]
fn rows_in_a_tensor_give_the_bits_of_rows_in_a_slice() {
    let stages: &[&[(&str, f32)]] = &[
        &[("learning_rate", 0.1)],
        &[("learning_rate", 0.1), ("clipnorm", 0.5)],
        &[("learning_rate", 0.1), ("global_clipnorm", 0.5), ("clipvalue", 1.0)],
    ];
    let keras3: &[&[(&str, f32)]] = &[
        &[("learning_rate", 0.1), ("loss_scale_factor", 4.0), ("weight_decay", 0.01)],
        &[("learning_rate", 0.1), ("gradient_accumulation_steps", 2.0), ("use_ema", 1.0)],
    ];
    let mut cases = 0;
    for c in &registry::CLASSES {
        let extra = if c.family == Family::Keras3 { keras3 } else { &[] };
        for options in stages.iter().chain(extra) {
            let Ok(mut a) = build_optimizer_in(c.family, c.class_name, options).map(|_| world(c.family, c.class_name, options)) else {
                continue;
            };
            let mut b = world(c.family, c.class_name, options);
            for step in 0..3 {
                let ra = a.opt.apply_gradients(&mut a.store, &[(Some(Gradient::Sparse { indices: &INDICES, values: &ROWS }), a.table)]);
                let rb =
                    b.opt.apply_gradients(&mut b.store, &[(Some(Gradient::SparseTensor { indices: &INDICES, values: b.rows }), b.table)]);
                assert_eq!(ra.is_ok(), rb.is_ok(), "{} {options:?}: {ra:?} / {rb:?}", c.class_name);
                assert_eq!(bits(&a), bits(&b), "{} {options:?} step {step}", c.class_name);
            }
            assert_eq!(b.store.get(b.rows).unwrap().data, ROWS, "the rows are read, not changed");
            cases += 1;
        }
    }
    assert!(cases >= 80, "{cases}");
}

#[test]
fn bad_rows_in_a_tensor_change_nothing() {
    let mut w = world(Family::Tf24, "Adagrad", &[("learning_rate", 0.1)]);
    w.opt.apply_gradients(&mut w.store, &[(Some(Gradient::SparseTensor { indices: &INDICES, values: w.rows }), w.table)]).unwrap();
    let before = bits(&w);
    let short = w.store.insert(Tensor::new("short", vec![4, 3], vec![1.0; 12]).unwrap());
    let gone = w.store.insert(Tensor::new("gone", vec![5, 3], vec![1.0; 15]).unwrap());
    w.store.remove(gone).unwrap();
    let nan = w.store.insert(Tensor::new("nan", vec![5, 3], (0..15).map(|i| if i == 7 { f32::NAN } else { 1.0 }).collect()).unwrap());
    let (table, rows) = (w.table, w.rows);
    let mut call = |values: TensorId, indices: &[i64]| {
        w.opt.apply_gradients(&mut w.store, &[(Some(Gradient::SparseTensor { indices, values }), table)])
    };
    assert!(matches!(call(table, &[0, 1, 2, 3, 4, 5]), Err(Error::InvalidState { .. })), "the variable itself");
    assert!(matches!(call(short, &INDICES), Err(Error::GradientShape { expected: 15, got: 12, .. })));
    assert!(matches!(call(gone, &INDICES), Err(Error::UnknownTensor { .. })));
    assert!(matches!(call(rows, &[0, 1, 6, 2, 3]), Err(Error::IndexOutOfRange { index: 6, offset: 2, .. })));
    assert_eq!(bits(&w), before);
    let mut skipped = Vec::new();
    let pairs = [(Some(Gradient::SparseTensor { indices: &INDICES, values: nan }), table)];
    assert!(!w.opt.apply_gradients_checked(&mut w.store, &pairs, &mut skipped).unwrap());
    assert_eq!(skipped, [0]);
    assert_eq!(bits(&w), before);
}
