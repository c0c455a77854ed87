//! The wider rule contract, end to end through the optimizer: a rule sees its variable's shape,
//! declares slots of other shapes (factored rows/columns of the last two axes, scalars; scalar
//! placeholders for variables of rank < 2, as Keras' Adafactor has), runs several passes through
//! the lane driver with reductions in the fixed block order between them.

use simdopt_core::drive::{self, LaneKernel};
use simdopt_core::lanes::Lanes;
use simdopt_core::reduce;
use simdopt_core::rules::{DenseStep, Hyper, Options, SlotShape, SlotSpec, SparseStep, StepContext, UpdateRule};
use simdopt_core::step::clip::Identity;
use simdopt_core::step::GradPrelude;
use simdopt_core::{Gradient, Optimizer, Result, Store, Tensor};

/// `v = g²`; `r`, `c` = means of `v` over the last and second-to-last axes; `s = ‖var‖²`
/// (before the update); then `var -= lr · g / (1 + s)`.
#[derive(Clone, Default)]
struct Factored;

#[derive(Clone, Copy)]
struct Square;

impl LaneKernel<1> for Square {
    const UPDATES_VAR: bool = false;
    fn lanes<L: Lanes>(&self, x: L, g: L, _: [L; 1]) -> (L, [L; 1]) {
        (x, [g * g])
    }
}

#[derive(Clone, Copy)]
struct Step(f32);

impl LaneKernel<0> for Step {
    fn lanes<L: Lanes>(&self, x: L, g: L, s: [L; 0]) -> (L, [L; 0]) {
        (x - g * L::splat(self.0), s)
    }
}

impl UpdateRule for Factored {
    const CLASS_NAME: &'static str = "Factored";
    const CONFIG: &'static [Hyper] = &[];
    type Coeffs = f32;

    fn from_options(_: &mut Options<'_>) -> Result<Self> {
        Ok(Factored)
    }
    fn slots(&self) -> Vec<SlotSpec> {
        vec![
            SlotSpec::like_var("v", 0.0),
            SlotSpec { shape: SlotShape::FactoredRows, ..SlotSpec::like_var("r", 0.0) },
            SlotSpec { shape: SlotShape::FactoredCols, ..SlotSpec::like_var("c", 0.0) },
            SlotSpec::scalar("s", 0.0),
        ]
    }
    fn hyper_names(&self) -> &'static [&'static str] {
        &[]
    }
    fn hyper(&self, _: &str) -> Option<f32> {
        None
    }
    fn set_hyper(&mut self, name: &str, _: f32) -> Result<()> {
        Err(simdopt_core::Error::UnknownHyperparameter { name: name.into() })
    }
    fn prepare(&self, ctx: &StepContext, _: &mut [f32]) -> f32 {
        ctx.lr
    }
    fn apply_dense<P: GradPrelude>(&self, lr: &f32, t: DenseStep<'_, P>) {
        let [v, r, c, s] = t.slots else { unreachable!("four slots") };
        let v = v.f32_mut().unwrap();
        let grad = t.grad.values().expect("no accumulation in this test");
        // Pass 1: v = g² (the variable is not written).
        drive::update(Identity, &Square, t.var, grad, [v]);
        // Reductions in the fixed order, over the shapes the rule sees.
        if t.shape.len() >= 2 {
            let cols = t.shape[t.shape.len() - 1];
            reduce::mean_last_axis(v, cols, r.f32_mut().unwrap());
            reduce::mean_second_last_axis(v, t.shape[t.shape.len() - 2], c.f32_mut().unwrap());
        }
        let norm = reduce::sum_of_squares(t.var);
        s.f32_mut().unwrap()[0] = norm;
        // Pass 2.
        drive::update(Identity, &Step(*lr / (1.0 + norm)), t.var, grad, []);
    }
    fn apply_sparse(&self, _: &f32, _: SparseStep<'_>) {
        unimplemented!("dense only")
    }
}

#[test]
fn slots_of_their_own_shapes_and_passes_with_reductions() {
    let mut store = Store::new();
    let x: Vec<f32> = (0..12).map(|i| i as f32 * 0.25 - 1.0).collect();
    let g: Vec<f32> = (0..12).map(|i| (i as f32 - 5.0) * 0.1).collect();
    let m = store.insert(Tensor::new("m", vec![3, 4], x.clone()).unwrap());
    let b = store.insert(Tensor::new("b", vec![5], vec![1.0; 5]).unwrap());
    let mut opt = Optimizer::new(Factored, 0.5).unwrap();
    opt.apply_gradients(&mut store, &[(Some(Gradient::Dense(&g)), m), (Some(Gradient::Dense(&[0.5; 5])), b)]).unwrap();

    let v: Vec<f32> = g.iter().map(|g| g * g).collect();
    assert_eq!(opt.slot(m, "v").unwrap(), v.as_slice());
    let rows: Vec<f32> = (0..3).map(|r| reduce::sum(&v[r * 4..r * 4 + 4]) / 4.0).collect();
    assert_eq!(opt.slot(m, "r").unwrap(), rows.as_slice());
    let cols: Vec<f32> = (0..4).map(|c| (((0.0 + v[c]) + v[4 + c]) + v[8 + c]) / 3.0).collect();
    assert_eq!(opt.slot(m, "c").unwrap(), cols.as_slice());
    let norm = reduce::sum_of_squares(&x);
    assert_eq!(opt.slot(m, "s").unwrap(), &[norm]);
    let want: Vec<f32> = x.iter().zip(&g).map(|(x, g)| x - g * (0.5 / (1.0 + norm))).collect();
    assert_eq!(store.get(m).unwrap().data, want);

    // The rank-1 variable: scalar placeholders (0) for its factors, as Keras has (Keras' are
    // int32; here they keep the slot's f32 storage, so every weight reads as f32).
    assert_eq!(opt.slot(b, "r").unwrap(), &[0.0]);
    let names = opt.weight_names();
    assert_eq!(names.len(), 1 + 2 * 4);
    assert_eq!(names[1..4], ["Factored/m/v:0", "Factored/b/v:0", "Factored/m/r:0"]);
    let lens: Vec<Option<usize>> = (1..names.len()).map(|i| opt.weight(i).map(<[f32]>::len)).collect();
    assert_eq!(lens, [Some(12), Some(5), Some(3), Some(1), Some(4), Some(1), Some(1), Some(1)]);
}
