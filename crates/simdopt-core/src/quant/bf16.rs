//! bfloat16 storage: the upper 16 bits of a float32. Rounding float32 → bfloat16 is
//! round-to-nearest-even on the dropped 16 bits, as torch's `c10::BFloat16` does (also for
//! subnormals, and overflow to ±inf); every NaN becomes torch's canonical quiet NaN `0x7fc0`
//! (sign and payload dropped). Widening is exact.

use crate::lanes::Lanes;

/// float32 → bfloat16 bits, round-to-nearest-even; NaN → `0x7fc0`.
#[inline(always)]
pub fn from_f32(x: f32) -> u16 {
    // Branch-free, so that the per-lane loop of `store` vectorises.
    let b = x.to_bits();
    let rounded = (b.wrapping_add(0x7fff + ((b >> 16) & 1)) >> 16) as u16;
    if b & 0x7fff_ffff > 0x7f80_0000 {
        0x7fc0
    } else {
        rounded
    }
}

/// bfloat16 bits → float32 (exact).
#[inline(always)]
pub fn to_f32(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}

/// Lanes widened from `L::WIDTH` bfloat16 values.
///
/// # Safety
/// `p` must be valid for reading `L::WIDTH` values.
#[inline(always)]
pub unsafe fn load<L: Lanes>(p: *const u16) -> L {
    L::load_bf16(p)
}

/// Rounds lanes to bfloat16 and stores them.
///
/// # Safety
/// `p` must be valid for writing `L::WIDTH` values.
#[inline(always)]
pub unsafe fn store<L: Lanes>(x: L, p: *mut u16) {
    x.store_bf16(p)
}

/// A tensor's values rounded to bfloat16.
pub fn from_slice(x: &[f32]) -> Vec<u16> {
    x.iter().map(|&v| from_f32(v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_to_nearest_even() {
        // 1 + 2^-8 is halfway between bf16 1.0 and 1.0078125: even (1.0) wins
        assert_eq!(from_f32(1.0 + 2f32.powi(-8)), 0x3f80);
        // 1.0078125 + 2^-8 is halfway to 1.015625: even (1.015625, mantissa ...10) wins
        assert_eq!(from_f32(1.0078125 + 2f32.powi(-8)), 0x3f82);
        // just above halfway rounds up
        assert_eq!(from_f32(f32::from_bits(0x3f80_8001)), 0x3f81);
        assert_eq!(from_f32(-2.5), 0xc020);
        assert_eq!(from_f32(f32::MAX), 0x7f80, "overflow to +inf as torch");
        assert_eq!(from_f32(f32::NEG_INFINITY), 0xff80);
        assert_eq!(from_f32(-f32::NAN), 0x7fc0);
        assert_eq!(from_f32(f32::from_bits(0x7f80_0001)), 0x7fc0, "signalling NaN stays NaN");
        assert_eq!(from_f32(1e-40), 0x0001, "subnormal 1e-40 = 0x000116c2 rounds to 0x0001");
        assert_eq!(from_f32(-0.0), 0x8000);
    }

    #[test]
    fn widening_is_exact_and_round_trips() {
        for h in (0u16..=0xffff).step_by(7) {
            let x = to_f32(h);
            if !x.is_nan() {
                assert_eq!(from_f32(x), h);
            }
        }
    }
}
