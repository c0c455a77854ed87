//! Adam over raw slices (the fixture replays and the benches): the Adam rule's own dense kernel
//! (TF's fused kernel, `rules::adam`) with its `m` and `v` slots stored as f32, bfloat16 or 8-bit
//! block-wise codes (signed map for `m`, unsigned for `v`, as bitsandbytes' 8-bit Adam), through
//! [`super::storage::update_slots`], as the optimizer runs them.
//!
//! With f32 slots it is bit for bit the Adam rule's dense kernel. With compressed slots the update
//! itself is the same f32 arithmetic on the dequantized values, and the variable moves with the
//! unrounded new moments; only the stored moments are rounded (bfloat16: relative error ≤ 2^-9;
//! 8-bit: at most half a code step of the block's absmax, 0.7% of it at the top of the map). The
//! resulting drift from an f32-state trajectory is measured in `tests/quant_adam.rs`.

use super::blockwise::Quantized;
use super::storage::update_slots;
use crate::drive::GradIn;
use crate::rules::adam::dense_kernel;
use crate::rules::{Adam, StepContext, UpdateRule};
use crate::slot::{Moment, Slot, SlotData};
use crate::step::clip::Identity;

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

/// One step with the slots in `slots` (Keras' `iterations` before the step is `iteration`).
fn step(h: &AdamHyper, iteration: u64, var: &mut [f32], grad: &[f32], slots: &mut [Slot; 2]) {
    let n = var.len();
    assert!(grad.len() == n && slots.iter().all(|s| s.len() == n), "slot and gradient lengths");
    let rule = Adam::new(h.beta_1, h.beta_2, h.epsilon, false).expect("finite hyperparameters");
    let c = rule.prepare(&StepContext { iteration, lr: h.learning_rate, decay: 0.0 }, &mut []);
    update_slots::<_, _, 2>(Identity, &dense_kernel(c), var, GradIn::Values(grad), slots, iteration);
}

fn slot(data: SlotData) -> Slot {
    Slot { shape: Vec::new(), data }
}

/// Adam with f32 `m`, `v` (the reference storage).
pub fn step_f32(h: &AdamHyper, iteration: u64, var: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32]) {
    let mut s = [slot(SlotData::F32(m.to_vec())), slot(SlotData::F32(v.to_vec()))];
    step(h, iteration, var, grad, &mut s);
    super::values::read_f32(&s[0].data, m);
    super::values::read_f32(&s[1].data, v);
}

/// Adam with bfloat16 `m`, `v`.
pub fn step_bf16(h: &AdamHyper, iteration: u64, var: &mut [f32], grad: &[f32], m: &mut Vec<u16>, v: &mut Vec<u16>) {
    let mut s = [slot(SlotData::Bf16(core::mem::take(m))), slot(SlotData::Bf16(core::mem::take(v)))];
    step(h, iteration, var, grad, &mut s);
    let [SlotData::Bf16(a), SlotData::Bf16(b)] = s.map(|s| s.data) else { unreachable!("stays bfloat16") };
    (*m, *v) = (a, b);
}

/// Adam with 8-bit block-wise `m` (signed map) and `v` (unsigned map).
pub fn step_int8(h: &AdamHyper, iteration: u64, var: &mut [f32], grad: &[f32], m: &mut Quantized, v: &mut Quantized) {
    let take = |q: &mut Quantized| core::mem::replace(q, Quantized::zeros(0, 1));
    let mut s = [slot(SlotData::Int8(take(m), Moment::Signed)), slot(SlotData::Int8(take(v), Moment::NonNegative))];
    step(h, iteration, var, grad, &mut s);
    let [SlotData::Int8(a, _), SlotData::Int8(b, _)] = s.map(|s| s.data) else { unreachable!("stays 8-bit") };
    (*m, *v) = (a, b);
}
