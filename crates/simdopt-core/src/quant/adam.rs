//! Prototype: today's Adam (TF's fused dense kernel, the op order of `rules::adam`) with its `m`
//! and `v` slots stored as f32, bfloat16 or 8-bit block-wise codes (signed map for `m`, unsigned
//! for `v`, as bitsandbytes' 8-bit Adam). One update, three storages, through [`super::fused`].
//!
//! With f32 slots it is bit for bit the Adam rule's dense kernel. With compressed slots the update
//! itself is the same f32 arithmetic on the dequantized values, and the variable moves with the
//! unrounded new moments; only the stored moments are rounded (bfloat16: relative error ≤ 2^-9;
//! 8-bit: at most half a code step of the block's absmax, 0.7% of it at the top of the map). The
//! resulting drift from an f32-state trajectory is measured in `tests/quant_adam.rs`.
//!
//! Not yet here (integration with the staged core): gradient preludes (clipping), AMSGrad, sparse
//! gradients, and the policy of keeping small variables (under 4,096 elements) in f32.

use super::blockwise::Quantized;
use super::codebook::Codebook;
use super::fused::{update_bf16, update_f32, update_int8, SlotUpdate};
use crate::lanes::Lanes;
use crate::rules::powf;

/// Adam's hyperparameters (Keras names and defaults).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamHyper {
    pub learning_rate: f32,
    pub beta_1: f32,
    pub beta_2: f32,
    pub epsilon: f32,
}

impl Default for AdamHyper {
    fn default() -> Self {
        AdamHyper { learning_rate: 0.001, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 }
    }
}

/// One element-wise Adam step over a variable and its gradient.
pub struct AdamUpdate {
    alpha: f32,
    one_minus_beta_1: f32,
    one_minus_beta_2: f32,
    epsilon: f32,
    var: *mut f32,
    grad: *const f32,
}

impl AdamUpdate {
    /// Step `iteration` (Keras' `iterations` before the step). The scalars are `Adam::prepare`'s.
    pub fn new(h: &AdamHyper, iteration: u64, var: &mut [f32], grad: &[f32]) -> AdamUpdate {
        assert_eq!(var.len(), grad.len(), "gradient length");
        let s = (iteration + 1) as f32;
        let root = (1.0 - powf(h.beta_2, s)).sqrt();
        AdamUpdate {
            alpha: h.learning_rate * root / (1.0 - powf(h.beta_1, s)),
            one_minus_beta_1: 1.0 - h.beta_1,
            one_minus_beta_2: 1.0 - h.beta_2,
            epsilon: h.epsilon,
            var: var.as_mut_ptr(),
            grad: grad.as_ptr(),
        }
    }
}

impl SlotUpdate<2> for AdamUpdate {
    #[inline(always)]
    unsafe fn update<L: Lanes>(&self, i: usize, [m, v]: [L; 2]) -> [L; 2] {
        let g = L::load(self.grad.add(i));
        let m = m + (g - m) * L::splat(self.one_minus_beta_1);
        let v = v + (g * g - v) * L::splat(self.one_minus_beta_2);
        let x = L::load(self.var.add(i));
        (x - (m * L::splat(self.alpha)) / (v.sqrt() + L::splat(self.epsilon))).store(self.var.add(i));
        [m, v]
    }
}

/// Adam with f32 `m`, `v` (the reference storage).
pub fn step_f32(h: &AdamHyper, iteration: u64, var: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32]) {
    let n = var.len();
    assert!(m.len() == n && v.len() == n, "slot lengths");
    update_f32(&AdamUpdate::new(h, iteration, var, grad), [m, v]);
}

/// Adam with bfloat16 `m`, `v`.
pub fn step_bf16(h: &AdamHyper, iteration: u64, var: &mut [f32], grad: &[f32], m: &mut [u16], v: &mut [u16]) {
    let n = var.len();
    assert!(m.len() == n && v.len() == n, "slot lengths");
    update_bf16(&AdamUpdate::new(h, iteration, var, grad), [m, v]);
}

/// Adam with 8-bit block-wise `m` (signed map) and `v` (unsigned map).
pub fn step_int8(h: &AdamHyper, iteration: u64, var: &mut [f32], grad: &[f32], m: &mut Quantized, v: &mut Quantized) {
    let n = var.len();
    assert!(m.len() == n && v.len() == n, "slot lengths");
    update_int8(&AdamUpdate::new(h, iteration, var, grad), [(Codebook::signed(), m), (Codebook::unsigned(), v)]);
}
