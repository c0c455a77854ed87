//! Keras 3's Muon. A variable takes the Muon step if it is exactly 2-D, its name has no
//! "embedding" (case-insensitive, with `exclude_embeddings`) and no `exclude_layers` pattern
//! matched it (the caller runs that regex search: [`crate::Optimizer::set_layer_exclusions`]);
//! the others take AdamW with `lr·adam_lr_ratio` and have a `velocity` slot besides `momentum`
//! (as in Keras, the slot tells the two apart). Weight decay: `weight_decay` (the stage) for the
//! Muon variables, `adam_weight_decay` for the others.
//!
//! Muon step: `m += g + m·(μ-1)`; `G = g + μ·m` (Nesterov) or `m`; transposed when rows > cols;
//! `X = G / (‖G‖_F + 1e-7)`; `ns_steps` times `A = X·Xᵀ`, `B = b·A + (c·A)·A`, `X = a·X + B·X`
//! ([`newton_schulz`], with [`crate::matmul`]); back; `x -= ((lr·X)·sqrt(max(rows, cols)))·rms_rate`
//! (no factor when `rms_rate` is None).
//!
//! Options whose None is not their default (`adam_weight_decay`, `rms_rate`, and the base
//! `weight_decay`, 0.004 here) take NaN for None.

use super::passes::StepGrad;
use super::{densified, one_minus_py, Dense, EntryKernel, WithEntries};
use crate::drive;
use crate::error::{Error, Result};
use crate::lanes::Lanes;
use crate::matmul::{matmul, transpose};
use crate::reduce;
use crate::rules::{check, finite, powf, DenseStep, Hyper, Options, SlotSpec, SparseStep, StepContext, UpdateRule, VarInfo};
use crate::slot::{f32_slots, Slot, SlotData};
use crate::step::clip::Identity;
use crate::step::DensePrelude;

const CONFIG: [Hyper; 13] = [
    Hyper::number("adam_beta_1", 0.9),
    Hyper::number("adam_beta_2", 0.999),
    Hyper::number("epsilon", 1e-7),
    Hyper::number("muon_a", 3.4445),
    Hyper::number("muon_b", -4.775),
    Hyper::number("muon_c", 2.0315),
    Hyper::number("adam_lr_ratio", 1.0),
    Hyper::number("momentum", 0.95),
    Hyper::number("ns_steps", 5.0),
    Hyper::flag("nesterov", true),
    Hyper::flag("exclude_embeddings", true),
    Hyper::number("adam_weight_decay", 0.004),
    Hyper::number("rms_rate", 0.2),
];
/// The numeric options, settable after construction.
const NAMES: [&str; 11] = [
    "adam_beta_1",
    "adam_beta_2",
    "epsilon",
    "muon_a",
    "muon_b",
    "muon_c",
    "adam_lr_ratio",
    "momentum",
    "ns_steps",
    "adam_weight_decay",
    "rms_rate",
];

#[derive(Clone, Debug, PartialEq)]
pub struct Muon {
    /// In [`NAMES`] order; NaN for a None `adam_weight_decay` or `rms_rate`.
    values: [f32; 11],
    nesterov: bool,
    exclude_embeddings: bool,
}

impl Muon {
    fn get(&self, name: &str) -> f32 {
        self.values[NAMES.iter().position(|n| *n == name).expect("a Muon option")]
    }

    /// Whether a variable takes the AdamW step (Keras' `_should_use_adamw`).
    pub fn uses_adamw(&self, var: &VarInfo<'_>) -> bool {
        var.shape.len() != 2 || (self.exclude_embeddings && var.name.to_lowercase().contains("embedding")) || var.layer_excluded
    }

    fn rms_rate(&self) -> Option<f32> {
        Some(self.get("rms_rate")).filter(|v| !v.is_nan())
    }

    /// The Muon step of a 2-D variable `[rows, cols]`.
    fn muon_step(&self, c: &MuonCoeffs, shape: &[usize], var: &mut [f32], grad: StepGrad, m: &mut [f32]) {
        let (rows, cols) = (shape[0], shape[1]);
        let mut big_g = vec![0.0f32; var.len()];
        drive::update(Identity, &MuonMomentum { c: *c, nesterov: self.nesterov }, var, &grad.g[..], [m, &mut big_g[..]]);
        let transposed = rows > cols;
        let (p, q) = if transposed { (cols, rows) } else { (rows, cols) };
        let mut x = vec![0.0f32; var.len()];
        if transposed {
            transpose(&big_g, rows, cols, &mut x);
        } else {
            x.copy_from_slice(&big_g);
        }
        newton_schulz(&mut x, p, q, self.get("ns_steps") as usize, [c.muon_a, c.muon_b, c.muon_c]);
        let update = if transposed {
            transpose(&x, p, q, &mut big_g);
            big_g
        } else {
            x
        };
        let scale = (rows.max(cols) as f32).sqrt();
        for (xv, &u) in var.iter_mut().zip(&update) {
            let step = c.lr * u;
            *xv = *xv - self.rms_rate().map_or(step, |r| (step * scale) * r);
        }
    }
}

/// Newton–Schulz on a row-major `[p, q]` matrix with `p <= q`, in Keras' operation order:
/// `X /= ‖X‖_F + 1e-7`, then `steps` times `A = X·Xᵀ`, `B = b·A + (c·A)·A`, `X = a·X + B·X`.
pub fn newton_schulz(x: &mut [f32], p: usize, q: usize, steps: usize, [a, b, c]: [f32; 3]) {
    assert_eq!(x.len(), p * q, "newton_schulz: shape");
    let norm = reduce::sum_of_squares(x).sqrt() + 1e-7;
    x.iter_mut().for_each(|v| *v = *v / norm);
    let (mut xt, mut am, mut ca, mut bm, mut bx) =
        (vec![0.0f32; p * q], vec![0.0f32; p * p], vec![0.0f32; p * p], vec![0.0f32; p * p], vec![0.0f32; p * q]);
    for _ in 0..steps {
        transpose(x, p, q, &mut xt);
        matmul(x, &xt, p, q, p, &mut am);
        ca.iter_mut().zip(&am).for_each(|(d, &v)| *d = c * v);
        matmul(&ca, &am, p, p, p, &mut bm);
        bm.iter_mut().zip(&am).for_each(|(d, &v)| *d = b * v + *d);
        matmul(&bm, x, p, p, q, &mut bx);
        x.iter_mut().zip(&bx).for_each(|(d, &v)| *d = a * *d + v);
    }
}

#[derive(Clone, Copy)]
pub struct MuonCoeffs {
    lr: f32,
    /// AdamW: `(lr·adam_lr_ratio)·sqrt(1-β2^t)/(1-β1^t)`.
    alpha: f32,
    one_minus_beta_1: f32,
    one_minus_beta_2: f32,
    epsilon: f32,
    momentum: f32,
    /// `μ - 1`, from the Python float.
    momentum_minus_1: f32,
    muon_a: f32,
    muon_b: f32,
    muon_c: f32,
}

impl UpdateRule for Muon {
    const CLASS_NAME: &'static str = "Muon";
    const KERAS3_FAMILY: bool = true;
    const CONFIG: &'static [Hyper] = &CONFIG;
    const WEIGHT_DECAY: Option<f32> = Some(0.004);
    type Coeffs = MuonCoeffs;

    fn from_options(o: &mut Options<'_>) -> Result<Self> {
        let mut muon = Muon { values: [0.0; 11], nesterov: o.flag(&CONFIG[9]), exclude_embeddings: o.flag(&CONFIG[10]) };
        for h in CONFIG.iter().filter(|h| !h.flag) {
            muon.set_hyper(h.name, o.number(h))?;
        }
        Ok(muon)
    }

    fn slots(&self) -> Vec<SlotSpec> {
        vec![SlotSpec::like_var("momentum", 0.0), SlotSpec::like_var("velocity", 0.0)]
    }

    fn slot_groups(&self) -> Vec<usize> {
        vec![2]
    }

    fn has_slot(&self, slot: usize, var: &VarInfo<'_>) -> bool {
        slot == 0 || self.uses_adamw(var)
    }

    fn weight_decay(&self, stage: Option<f32>, slots: &[Slot]) -> Option<f32> {
        if is_adamw(slots) {
            Some(self.get("adam_weight_decay")).filter(|v| !v.is_nan())
        } else {
            stage
        }
    }

    fn hyper_names(&self) -> &'static [&'static str] {
        &NAMES
    }

    fn hyper(&self, name: &str) -> Option<f32> {
        NAMES.iter().position(|n| *n == name).map(|i| self.values[i])
    }

    fn set_hyper(&mut self, name: &str, value: f32) -> Result<()> {
        let i = NAMES.iter().position(|n| *n == name).ok_or_else(|| Error::UnknownHyperparameter { name: name.into() })?;
        self.values[i] = match name {
            // NaN is None for these two.
            "adam_weight_decay" | "rms_rate" if value.is_nan() => value,
            "ns_steps" => {
                let v = finite(name, value)?;
                check(name, v, v >= 0.0 && v.fract() == 0.0, format!("`ns_steps` must be an integer >= 0. Received: ns_steps={v}"))?
            }
            _ => finite(name, value)?,
        };
        Ok(())
    }

    fn prepare(&self, ctx: &StepContext, _globals: &mut [f32]) -> MuonCoeffs {
        let t = (ctx.iteration + 1) as f32;
        let (b1, b2) = (self.get("adam_beta_1"), self.get("adam_beta_2"));
        let adam_lr = ctx.lr * self.get("adam_lr_ratio");
        MuonCoeffs {
            lr: ctx.lr,
            alpha: adam_lr * (1.0 - powf(b2, t)).sqrt() / (1.0 - powf(b1, t)),
            one_minus_beta_1: one_minus_py(b1),
            one_minus_beta_2: one_minus_py(b2),
            epsilon: self.get("epsilon"),
            momentum: self.get("momentum"),
            momentum_minus_1: -one_minus_py(self.get("momentum")),
            muon_a: self.get("muon_a"),
            muon_b: self.get("muon_b"),
            muon_c: self.get("muon_c"),
        }
    }

    fn apply_dense<P: DensePrelude>(&self, c: &MuonCoeffs, t: DenseStep<'_, P>) {
        if is_adamw(t.slots) {
            drive::update(t.pre, &Dense(&AdamW { c: *c }), t.var, t.grad, f32_slots::<2>(t.slots))
        } else {
            let grad = StepGrad::dense(t.pre, t.var, t.grad);
            let m = t.slots[0].f32_mut().expect("momentum is f32");
            self.muon_step(c, t.shape, t.var, grad, m)
        }
    }

    fn apply_sparse(&self, c: &MuonCoeffs, t: SparseStep<'_>) {
        if is_adamw(t.slots) {
            let k = WithEntries(&AdamW { c: *c });
            densified::<2>(t, |v| v * v, |var, g, g2, [m, v]| drive::update(Identity, &k, var, g, [m, v, g2]))
        } else {
            let grad = StepGrad::sparse(&t);
            let m = t.slots[0].f32_mut().expect("momentum is f32");
            self.muon_step(c, t.shape, t.var, grad, m)
        }
    }

    fn sums_duplicates(&self) -> bool {
        false
    }

    fn global_clip_densifies(&self) -> bool {
        true
    }
}

/// Whether a variable's slots are those of the AdamW step (it has a `velocity`).
fn is_adamw(slots: &[Slot]) -> bool {
    slots.get(1).is_some_and(|s| !matches!(s.data, SlotData::Absent))
}

/// Keras 3's `_adamw_update_step` (Adam's formula with `lr·adam_lr_ratio`).
struct AdamW {
    c: MuonCoeffs,
}

impl EntryKernel<2> for AdamW {
    #[inline(always)]
    fn lanes<L: Lanes, const SPARSE: bool>(&self, x: L, g: L, g2: L, [m, v]: [L; 2]) -> (L, [L; 2]) {
        let c = &self.c;
        let m = m + (g - m) * L::splat(c.one_minus_beta_1);
        let v = v + (g2 - v) * L::splat(c.one_minus_beta_2);
        (x - (m * L::splat(c.alpha)) / (v.sqrt() + L::splat(c.epsilon)), [m, v])
    }
}

/// `m += g + m·(μ-1)`, then `G = g + μ·m` (Nesterov) or `m`; slots `[m, G]`, the variable
/// unchanged.
#[derive(Clone, Copy)]
struct MuonMomentum {
    c: MuonCoeffs,
    nesterov: bool,
}

impl drive::LaneKernel<2> for MuonMomentum {
    #[inline(always)]
    fn lanes<L: Lanes>(&self, x: L, g: L, [m, _]: [L; 2]) -> (L, [L; 2]) {
        let m = m + (g + m * L::splat(self.c.momentum_minus_1));
        let big_g = if self.nesterov { g + L::splat(self.c.momentum) * m } else { m };
        (x, [m, big_g])
    }
}

#[cfg(test)]
mod tests {
    use super::{newton_schulz, Muon};
    use crate::registry::Options;
    use crate::rules::UpdateRule;
    use crate::{Gradient, Optimizer, Store, Tensor};

    /// Newton–Schulz in f64 with the same steps (the reference of the one-step test).
    fn newton_schulz_f64(x: &mut [f64], p: usize, q: usize, steps: usize, [a, b, c]: [f64; 3]) {
        let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt() + 1e-7;
        x.iter_mut().for_each(|v| *v /= norm);
        for _ in 0..steps {
            let am: Vec<f64> = (0..p * p).map(|ij| (0..q).map(|k| x[ij / p * q + k] * x[ij % p * q + k]).sum()).collect();
            let aa: Vec<f64> = (0..p * p).map(|ij| (0..p).map(|k| am[ij / p * p + k] * am[k * p + ij % p]).sum()).collect();
            let bm: Vec<f64> = (0..p * p).map(|i| b * am[i] + c * aa[i]).collect();
            let bx: Vec<f64> = (0..p * q).map(|ij| (0..p).map(|k| bm[ij / q * p + k] * x[k * q + ij % q]).sum()).collect();
            x.iter_mut().zip(&bx).for_each(|(v, w)| *v = a * *v + w);
        }
    }

    #[test]
    fn one_step_on_a_tall_matrix_and_on_a_vector() {
        // [3, 2]: rows > cols, so Newton–Schulz runs on the [2, 3] transpose.
        let x0 = [0.5f32, -1.0, 2.0, 0.25, 1.5, -0.75];
        let g = [0.2f32, -0.4, 0.05, 1.5, -0.9, 0.3];
        let mut store = Store::new();
        let w = store.insert(Tensor::new("dense/kernel", vec![3, 2], x0.to_vec()).unwrap());
        let b = store.insert(Tensor::new("dense/bias", vec![2], vec![1.0, -1.0]).unwrap());
        let muon = Muon::from_options(&mut Options::new(&[])).unwrap();
        let mut opt = Optimizer::new(muon, 0.01).unwrap();
        opt.apply_gradients(&mut store, &[(Some(Gradient::Dense(&g)), w), (Some(Gradient::Dense(&[0.5, -0.5])), b)]).unwrap();
        // m = g (m starts at 0); Nesterov G = g + 0.95 m = 1.95 g; X = NS(Gᵀ)ᵀ.
        let mu = 0.95f32 as f64;
        let gt: Vec<f64> = (0..6).map(|k| (1.0 + mu) * g[(k % 3) * 2 + k / 3] as f64).collect();
        let mut x = gt.clone();
        newton_schulz_f64(&mut x, 2, 3, 5, [3.4445f32 as f64, -4.775f32 as f64, 2.0315f32 as f64]);
        let got = &store.get(w).unwrap().data;
        for i in 0..6 {
            let want = x0[i] as f64 - 0.01 * x[(i % 2) * 3 + i / 2] * 3f64.sqrt() * 0.2f32 as f64;
            assert!((got[i] as f64 - want).abs() <= 1e-5 * want.abs().max(1.0), "x[{i}] {} vs {want}", got[i]);
        }
        assert_eq!(opt.slot(w, "momentum").unwrap(), g);
        assert!(opt.slot(w, "velocity").is_err());
        // The bias takes AdamW: t = 1, x -= lr·g/(|g| + eps) (0.1 g / (sqrt(0.001 g²) + eps) · sqrt(0.001)/0.1).
        let bias = &store.get(b).unwrap().data;
        assert!((bias[0] as f64 - (1.0 - 0.01)).abs() < 1e-6 && (bias[1] as f64 - (-1.0 + 0.01)).abs() < 1e-6, "{bias:?}");
        assert_eq!(opt.weight_names()[1..], ["Muon/dense/kernel/momentum:0", "Muon/dense/bias/momentum:0", "Muon/dense/bias/velocity:0"]);
    }

    #[test]
    fn newton_schulz_makes_singular_values_near_one() {
        let mut x: Vec<f32> = (0..12).map(|i| ((i * 7 % 5) as f32 - 2.0) * 0.3).collect();
        newton_schulz(&mut x, 3, 4, 5, [3.4445, -4.775, 2.0315]);
        let mut want: Vec<f64> = (0..12).map(|i| ((i * 7 % 5) as f64 - 2.0) * 0.3f32 as f64).collect();
        newton_schulz_f64(&mut want, 3, 4, 5, [3.4445f32 as f64, -4.775f32 as f64, 2.0315f32 as f64]);
        for (g, w) in x.iter().zip(&want) {
            assert!((*g as f64 - w).abs() < 1e-5, "{g} vs {w}");
        }
    }
}
