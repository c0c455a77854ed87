//! Compressed optimizer state (issue 16): 8-bit block-wise dynamic quantization as in the 8-bit
//! optimizers paper (Dettmers et al. 2022) and bitsandbytes, and bfloat16 storage.
//!
//! - [`dynamic_map`]: the signed/unsigned dynamic code maps, built as bitsandbytes builds them.
//! - [`codebook`]: a map with its nearest-code decision bins and the arithmetic index estimate.
//! - [`blockwise`]: block-wise absmax quantize/dequantize (bitsandbytes' CPU rule, exactly).
//! - [`bf16`]: float32 ⇄ bfloat16, round-to-nearest-even as torch does.
//! - [`fused`]: dequantize → update in f32 → requantize inside one pass over a tensor.
//! - [`adam`]: prototype Adam kernels with f32, bfloat16 and 8-bit slots on top of it.

pub mod adam;
pub mod bf16;
pub mod blockwise;
pub mod codebook;
pub mod dynamic_map;
pub mod fused;

pub use blockwise::Quantized;
pub use codebook::Codebook;
