//! Compressed optimizer state (issue 16): 8-bit block-wise dynamic quantization as in the 8-bit
//! optimizers paper (Dettmers et al. 2022) and bitsandbytes, and bfloat16 storage.
//!
//! - [`dynamic_map`]: the signed/unsigned dynamic code maps, built as bitsandbytes builds them.
//! - [`codebook`]: a map with its nearest-code decision bins and the arithmetic index estimate.
//! - [`blockwise`]: block-wise absmax quantize/dequantize (bitsandbytes' CPU rule, exactly).
//! - [`bf16`]: float32 ⇄ bfloat16, round-to-nearest-even as torch does.
//! - [`fused`]: dequantize → update in f32 → requantize inside one pass over a tensor.
//! - [`adam`]: prototype Adam kernels with f32, bfloat16 and 8-bit slots on top of it.
//!
//! Block size: 256 (bitsandbytes' optimizer block), not the paper's 2048: with 2048 a block's
//! absmax leaves many more second moments below the map's 7 decades, where they round to 0 and
//! Adam's step for them grows (`tests/quant_adam.rs` measures it), and 256 costs no more time.
//! Slot bytes per element: `1 + 4 / 256` = 1.016, so Adam's two slots take 2.03 bytes a parameter.
//!
//! Integration with the staged core (not done here): [`fused::SlotUpdate`] maps onto the core's
//! `LaneKernel` (the update then gets the variable and gradient lanes from the driver instead of
//! loading them); the three drivers of [`fused`] become storage variants of the core's driver,
//! chosen by the slot's dtype; variables under 4,096 elements keep f32 slots (the paper's rule).

pub mod adam;
pub mod bf16;
pub mod blockwise;
pub mod codebook;
pub mod dynamic_map;
pub mod fused;

pub use blockwise::Quantized;
pub use codebook::Codebook;
