//! Compressed optimizer state (issue 16): 8-bit block-wise dynamic quantization as in the 8-bit
//! optimizers paper (Dettmers et al. 2022) and bitsandbytes, and bfloat16 storage.
//!
//! - [`dynamic_map`]: the signed/unsigned dynamic code maps, built as bitsandbytes builds them.
//! - [`codebook`]: a map with its nearest-code decision bins and the arithmetic index estimate.
//! - [`blockwise`]: block-wise absmax quantize/dequantize (bitsandbytes' CPU rule, exactly).
//! - [`bf16`]: float32 ⇄ bfloat16, round-to-nearest-even as torch does.
//! - `bf16_pass`: the step's pass over bfloat16 slots (fused, vectorised, stochastic rounding).
//! - [`storage`]: compressed slots in the optimizer step: the rule's lane kernel with its slots
//!   read and written in bfloat16 or 8-bit codes inside the same pass.
//! - [`values`]: a slot's values as f32, whole or a window (weight views, `set_weights`, the
//!   sparse step's windows).
//! - [`raw`]: a compressed slot's raw storage (checkpoints, raw weights).
//! - [`adam`]: Adam over raw slices with f32, bfloat16 and 8-bit slots (the fixture replays and
//!   the benches), through [`storage`].
//!
//! Block size: 256 (bitsandbytes' optimizer block), not the paper's 2048: with 2048 a block's
//! absmax leaves many more second moments below the map's 7 decades, where they round to 0 and
//! Adam's step for them grows (`tests/quant_adam.rs` measures it), and 256 costs no more time.
//! Slot bytes per element: `1 + 4 / 256` = 1.016, so Adam's two slots take 2.03 bytes a parameter.
//!
//! Which slots: those a rule declares as moments ([`crate::slot::Moment`]), when the optimizer's
//! [`crate::slot::SlotStorage`] asks; variables under 4,096 elements keep f32 slots (the paper's
//! rule).

pub mod adam;
pub mod bf16;
mod bf16_pass;
pub mod blockwise;
pub mod codebook;
pub mod dynamic_map;
pub mod raw;
pub mod storage;
pub mod values;

pub use blockwise::Quantized;
pub use codebook::Codebook;
pub use raw::RawSlot;
pub use storage::BLOCK;
