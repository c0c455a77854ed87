//! Keras 3's Adafactor. With `t = iterations + 1`: `ρ = min(lr, 1/√t)` (Keras 3.15.1 takes it
//! whatever `relative_step` says), `α = max(ε2, RMS(x))·ρ`, `g2 = g² + ε1`,
//! `β2_t = 1 - t^beta_2_decay`. A variable of rank ≥ 2 factors its last two axes:
//! `r = β2_t·r + (1-β2_t)·mean(g2, -1)`, `c = β2_t·c + (1-β2_t)·mean(g2, -2)`,
//! `v = (r / mean(r, -1))[..., None]·c[..., None, :]`; rank < 2 keeps `v = β2_t·v + (1-β2_t)·g2`
//! (its `r` and `c` are scalar placeholders, 0; Keras makes them int32, here they are f32). Then `u = g/√v`,
//! `x -= α·(u / max(1, RMS(u)/clip_threshold))`. Per variable the slots are `r`, `c`,
//! `velocity` (Keras' paths for `r` and `c` are `<optimizer>/<variable name>`).
//!
//! Sparse (Keras 3 on TensorFlow): `g²` and `u` stay per entry, so `g2` sums the entries'
//! squares and `RMS(u)` sums `gᵢ²/v`.

use super::passes::StepGrad;
use crate::error::{Error, Result};
use crate::reduce;
use crate::rules::{finite, powf, DenseStep, Hyper, Options, SlotSpec, SparseStep, StepContext, UpdateRule};
use crate::slot::{Slot, SlotShape};
use crate::step::DensePrelude;

const BETA_2_DECAY: Hyper = Hyper::number("beta_2_decay", -0.8);
const EPSILON_1: Hyper = Hyper::number("epsilon_1", 1e-30);
const EPSILON_2: Hyper = Hyper::number("epsilon_2", 1e-3);
const CLIP_THRESHOLD: Hyper = Hyper::number("clip_threshold", 1.0);
const RELATIVE_STEP: Hyper = Hyper::flag("relative_step", true);

const NAMES: [&str; 4] = ["beta_2_decay", "epsilon_1", "epsilon_2", "clip_threshold"];

#[derive(Clone, Debug, PartialEq)]
pub struct Adafactor {
    /// `beta_2_decay, epsilon_1, epsilon_2, clip_threshold`.
    values: [f32; 4],
    /// Kept for the config: it changes nothing in Keras 3.15.1.
    relative_step: bool,
}

impl Adafactor {
    pub fn new(beta_2_decay: f32, epsilon_1: f32, epsilon_2: f32, clip_threshold: f32, relative_step: bool) -> Result<Self> {
        let mut a = Adafactor { values: [0.0; 4], relative_step };
        for (name, v) in NAMES.iter().zip([beta_2_decay, epsilon_1, epsilon_2, clip_threshold]) {
            a.set_hyper(name, v)?;
        }
        Ok(a)
    }

    pub fn relative_step(&self) -> bool {
        self.relative_step
    }

    fn step(&self, c: &AdafactorCoeffs, shape: &[usize], var: &mut [f32], grad: StepGrad, slots: &mut [Slot]) {
        let n = var.len();
        if n == 0 {
            return;
        }
        let [eps_1, eps_2, clip] = [self.values[1], self.values[2], self.values[3]];
        let alpha = eps_2.max(rms(reduce::sum_of_squares(var), n)) * c.rho;
        let g2: Vec<f32> = (0..n).map(|i| grad.square(i) + eps_1).collect();
        let (b, omb) = (c.beta_2_t, 1.0 - c.beta_2_t);
        let [r_slot, c_slot, v_slot] = slots else { unreachable!("Adafactor has three slots") };
        let v = v_slot.f32_mut().expect("velocity is f32");
        if shape.len() >= 2 {
            let (rows, cols) = (shape[shape.len() - 2], shape[shape.len() - 1]);
            let (r, col) = (r_slot.f32_mut().expect("r is f32"), c_slot.f32_mut().expect("c is f32"));
            let (mut mean_r, mut mean_c) = (vec![0.0f32; rows], vec![0.0f32; cols]);
            for k in 0..n / (rows * cols) {
                let (block, rk, ck) = (k * rows * cols..(k + 1) * rows * cols, k * rows..(k + 1) * rows, k * cols..(k + 1) * cols);
                reduce::mean_last_axis(&g2[block.clone()], cols, &mut mean_r);
                reduce::mean_second_last_axis(&g2[block.clone()], rows, &mut mean_c);
                for (ri, m) in r[rk.clone()].iter_mut().zip(&mean_r) {
                    *ri = b * *ri + omb * *m;
                }
                for (ci, m) in col[ck.clone()].iter_mut().zip(&mean_c) {
                    *ci = b * *ci + omb * *m;
                }
                let r_mean = reduce::sum(&r[rk.clone()]) / rows as f32;
                for (i, &ri) in r[rk].iter().enumerate() {
                    let row = &mut v[block.start + i * cols..block.start + (i + 1) * cols];
                    for (vj, &cj) in row.iter_mut().zip(&col[ck.clone()]) {
                        *vj = (ri / r_mean) * cj;
                    }
                }
            }
        } else {
            for (vi, &g2i) in v.iter_mut().zip(&g2) {
                *vi = b * *vi + omb * g2i;
            }
        }
        // u = g/√v; RMS(u) from u² (per entry for a sparse step: Σgᵢ²/v).
        let u: Vec<f32> = grad.g.iter().zip(v.iter()).map(|(&g, &vi)| g / vi.sqrt()).collect();
        let u_squares = match &grad.g2 {
            None => reduce::sum_of_squares(&u),
            Some(e) => reduce::sum(&e.iter().zip(v.iter()).map(|(&e, &vi)| e / vi).collect::<Vec<f32>>()),
        };
        let denom = 1.0f32.max(rms(u_squares, n) / clip);
        for (x, &ui) in var.iter_mut().zip(&u) {
            *x = *x - alpha * (ui / denom);
        }
    }
}

/// `sqrt(mean(x²))` from the sum of squares of `n` values.
fn rms(sum_of_squares: f32, n: usize) -> f32 {
    (sum_of_squares / n as f32).sqrt()
}

#[derive(Clone, Copy)]
pub struct AdafactorCoeffs {
    rho: f32,
    beta_2_t: f32,
}

impl UpdateRule for Adafactor {
    const CLASS_NAME: &'static str = "Adafactor";
    const KERAS3_FAMILY: bool = true;
    const CONFIG: &'static [Hyper] = &[BETA_2_DECAY, EPSILON_1, EPSILON_2, CLIP_THRESHOLD, RELATIVE_STEP];
    type Coeffs = AdafactorCoeffs;

    fn from_options(o: &mut Options<'_>) -> Result<Self> {
        let [d, e1, e2, clip] = [BETA_2_DECAY, EPSILON_1, EPSILON_2, CLIP_THRESHOLD].map(|h| o.number(&h));
        Adafactor::new(d, e1, e2, clip, o.flag(&RELATIVE_STEP))
    }

    fn slots(&self) -> Vec<SlotSpec> {
        vec![
            SlotSpec { shape: SlotShape::FactoredRows, ..SlotSpec::like_var("r", 0.0) },
            SlotSpec { shape: SlotShape::FactoredCols, ..SlotSpec::like_var("c", 0.0) },
            SlotSpec::like_var("velocity", 0.0),
        ]
    }

    fn slot_groups(&self) -> Vec<usize> {
        vec![3]
    }

    fn hyper_names(&self) -> &'static [&'static str] {
        &NAMES
    }

    fn hyper(&self, name: &str) -> Option<f32> {
        NAMES.iter().position(|n| *n == name).map(|i| self.values[i])
    }

    fn set_hyper(&mut self, name: &str, value: f32) -> Result<()> {
        // Keras 3 checks none of them (a negative clip_threshold is accepted).
        let v = finite(name, value)?;
        let i = NAMES.iter().position(|n| *n == name).ok_or_else(|| Error::UnknownHyperparameter { name: name.into() })?;
        self.values[i] = v;
        Ok(())
    }

    fn prepare(&self, ctx: &StepContext, _globals: &mut [f32]) -> AdafactorCoeffs {
        let t = (ctx.iteration + 1) as f32;
        AdafactorCoeffs { rho: ctx.lr.min(1.0 / t.sqrt()), beta_2_t: 1.0 - powf(t, self.values[0]) }
    }

    fn apply_dense<P: DensePrelude>(&self, c: &AdafactorCoeffs, t: DenseStep<'_, P>) {
        let grad = StepGrad::dense(t.pre, t.var, t.grad);
        self.step(c, t.shape, t.var, grad, t.slots)
    }

    fn apply_sparse(&self, c: &AdafactorCoeffs, t: SparseStep<'_>) {
        let grad = StepGrad::sparse(&t);
        self.step(c, t.shape, t.var, grad, t.slots)
    }

    fn sums_duplicates(&self) -> bool {
        false
    }

    fn global_clip_densifies(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::Adafactor;
    use crate::{Gradient, Optimizer, Store, Tensor};

    /// One step on a [2, 3] variable, against the formula in f64.
    #[test]
    fn one_step_factors_a_matrix() {
        let x0 = [0.5f32, -1.0, 2.0, 0.25, 1.5, -0.75];
        let g = [0.2f32, -0.4, 0.05, 1.5, -0.9, 0.3];
        let mut store = Store::new();
        let w = store.insert(Tensor::new("w", vec![2, 3], x0.to_vec()).unwrap());
        let mut opt = Optimizer::new(Adafactor::new(-0.8, 1e-30, 1e-3, 1.0, true).unwrap(), 0.01).unwrap();
        opt.apply_gradients(&mut store, &[(Some(Gradient::Dense(&g)), w)]).unwrap();
        // t = 1: β2_t = 0, so r = mean(g², -1), c = mean(g², -2), v = r_i / mean(r) · c_j.
        let gd: Vec<f64> = g.iter().map(|&v| v as f64 * v as f64 + 1e-30).collect();
        let r = [(gd[0] + gd[1] + gd[2]) / 3.0, (gd[3] + gd[4] + gd[5]) / 3.0];
        let c: Vec<f64> = (0..3).map(|j| (gd[j] + gd[3 + j]) / 2.0).collect();
        let r_mean = (r[0] + r[1]) / 2.0;
        let v: Vec<f64> = (0..6).map(|i| r[i / 3] / r_mean * c[i % 3]).collect();
        let u: Vec<f64> = (0..6).map(|i| g[i] as f64 / v[i].sqrt()).collect();
        let rms = |a: &[f64]| (a.iter().map(|x| x * x).sum::<f64>() / a.len() as f64).sqrt();
        let xs: Vec<f64> = x0.iter().map(|&v| v as f64).collect();
        let alpha = 1e-3f64.max(rms(&xs)) * 0.01;
        let denom = 1.0f64.max(rms(&u));
        let want: Vec<f64> = (0..6).map(|i| xs[i] - alpha * u[i] / denom).collect();
        let got = &store.get(w).unwrap().data;
        for i in 0..6 {
            assert!((got[i] as f64 - want[i]).abs() <= 1e-6 * want[i].abs().max(1.0), "x[{i}] {} vs {}", got[i], want[i]);
        }
        let names = opt.weight_names();
        assert_eq!(names[1..], ["Adafactor/w/r:0", "Adafactor/w/c:0", "Adafactor/w/velocity:0"]);
        assert_eq!(opt.weight(1).unwrap().len(), 2);
        assert_eq!(opt.weight(2).unwrap().len(), 3);
    }
}
