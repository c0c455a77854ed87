//! bfloat16 storage: the upper 16 bits of a float32. Rounding float32 → bfloat16 is
//! round-to-nearest-even on the dropped 16 bits, as torch's `c10::BFloat16` does (also for
//! subnormals, and overflow to ±inf); every NaN becomes torch's canonical quiet NaN `0x7fc0`
//! (sign and payload dropped). Widening is exact.
//!
//! The optimizer step's re-encode of a moment rounds stochastically instead ([`from_f32_dithered`]):
//! Adam's `v` decays by `beta_2 = 0.999` a step, and `0.999 * v` rounds back to `v` with 8
//! mantissa bits, so a moment without gradient would never decay. A dither `r` (16 bits) is added
//! to the dropped bits before truncating, which rounds up with probability (dropped bits) / 2^16:
//! the rounding is unbiased on average. `r` is a hash of the element's absolute index in its slot
//! and a seed of the step and slot ([`step_seed`]): the same bits on every build and however a
//! pass is split over threads. Conversions outside the step (initial fills, `setWeights`,
//! checkpoints) stay round-to-nearest-even: they happen once, where a bias does not accumulate,
//! and a value set is read back as set.

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

/// float32 → bfloat16 bits, rounded up when `dither` (`0..=0xffff`) plus the dropped 16 bits
/// carry: stochastic rounding. Magnitudes from the largest finite bfloat16 up (and ±inf, NaN)
/// are [`from_f32`]'s, so values overflow to ±inf exactly as with round-to-nearest-even.
#[inline(always)]
pub fn from_f32_dithered(x: f32, dither: u32) -> u16 {
    let b = x.to_bits();
    if b & 0x7fff_ffff >= LAST_FINITE {
        from_f32(x)
    } else {
        (b.wrapping_add(dither) >> 16) as u16
    }
}

/// The float32 bits of the largest finite bfloat16 (`0x7f7f`).
pub(crate) const LAST_FINITE: u32 = 0x7f7f_0000;

/// The dither (`0..=0xffff`) of element `index` of a slot, for the step's [`step_seed`]:
/// Marsaglia's xorshift32 triple (shifts and xors only: SSE2 has no 32-bit lane multiply, so the
/// lane versions compute the same bits, and this costs the bfloat16 passes least). A bijection of
/// `index ^ seed`, so with a random seed per step each element's dither is uniform from step to
/// step: the rounding is unbiased.
#[inline(always)]
pub fn dither(index: u32, seed: u32) -> u32 {
    xorshift(index ^ seed) & 0xffff
}

/// Marsaglia's xorshift32 step (13, 17, 5). Linear over xor: `xorshift(a ^ b) = xorshift(a) ^
/// xorshift(b)`, so the lanes of a vector at an index that is a multiple of its width `W` (then
/// `index + k = index ^ k` for `k < W`) take their dithers as one scalar hash `xorshift(index ^
/// seed)` xored with the constants [`LANE_HASHES`]`[k]`: the same bits as [`dither`] per lane.
#[inline(always)]
pub const fn xorshift(a: u32) -> u32 {
    let a = a ^ (a << 13);
    let a = a ^ (a >> 17);
    a ^ (a << 5)
}

/// `xorshift(k) & 0xffff` for the lane offsets `k` of an aligned vector (see [`xorshift`]).
pub const LANE_HASHES: [u32; 8] = {
    let mut h = [0; 8];
    let mut k = 0;
    while k < 8 {
        h[k] = xorshift(k as u32) & 0xffff;
        k += 1;
    }
    h
};

/// The seed of slot `slot`'s dither in the step after `iteration` calls (once per pass, so it
/// may multiply: a 64-bit finalizer that spreads consecutive steps over all 32 bits).
pub fn step_seed(iteration: u64, slot: usize) -> u32 {
    let z = iteration ^ ((slot as u64) << 48);
    let z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) as u32
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

/// Rounds lanes to bfloat16 stochastically ([`from_f32_dithered`]; lane `k` is element
/// `index + k` of the slot) and stores them.
///
/// # Safety
/// `p` must be valid for writing `L::WIDTH` values.
#[inline(always)]
pub unsafe fn store_dithered<L: Lanes>(x: L, p: *mut u16, index: u32, seed: u32) {
    x.store_bf16_dithered(p, index, seed)
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
    fn dithered_rounding_is_one_of_the_neighbours_and_keeps_non_finite() {
        let x = f32::from_bits(0x3f80_4000); // a quarter of the way from 0x3f80 to 0x3f81
        assert_eq!(from_f32_dithered(x, 0), 0x3f80);
        assert_eq!(from_f32_dithered(x, 0xbfff), 0x3f80);
        assert_eq!(from_f32_dithered(x, 0xc000), 0x3f81);
        assert_eq!(from_f32_dithered(1.0, 0xffff), 0x3f80, "exact values stay");
        assert_eq!(from_f32_dithered(f32::from_bits(0x7f7f_0001), 0xffff), 0x7f7f, "no overflow that RNE would not do");
        assert_eq!(from_f32_dithered(f32::from_bits(0xff7f_0001), 0xffff), 0xff7f);
        assert_eq!(from_f32_dithered(f32::MAX, 0), 0x7f80, "RNE's overflow kept");
        assert_eq!(from_f32_dithered(f32::from_bits(0x7f7e_0001), 0xffff), 0x7f7f, "below the last interval: dithered");
        assert_eq!(from_f32_dithered(f32::INFINITY, 0xffff), 0x7f80);
        assert_eq!(from_f32_dithered(f32::NEG_INFINITY, 0xffff), 0xff80);
        assert_eq!(from_f32_dithered(f32::from_bits(0x7f80_0001), 0), 0x7fc0);
        assert_eq!(from_f32_dithered(-f32::NAN, 0xffff), 0x7fc0);
    }

    #[test]
    fn dithered_rounding_is_unbiased() {
        // 0.999 rounds to 1.0 (0x3f80) with RNE; dithered over many elements, the mean is 0.999.
        let seed = step_seed(7, 1);
        let n = 1 << 16;
        let mean = (0..n).map(|i| to_f32(from_f32_dithered(0.999, dither(i, seed))) as f64).sum::<f64>() / n as f64;
        assert!((mean - 0.999).abs() < 2e-4, "mean {mean}");
        assert_eq!(from_f32(0.999), 0x3f80);
        // and the dither covers its range evenly
        let mut hist = [0u32; 16];
        (0..n).for_each(|i| hist[(dither(i, seed) >> 12) as usize] += 1);
        assert!(hist.iter().all(|&c| (3800..4400).contains(&c)), "{hist:?}");
        assert_ne!(step_seed(7, 0), step_seed(7, 1));
        assert_ne!(step_seed(7, 0), step_seed(8, 0));
    }

    #[test]
    fn aligned_lanes_take_their_dither_from_one_hash() {
        // The lanes' shortcut equals the per-element hash, for any seed and aligned index.
        let seeds = [0, 1, 0xffff_ffff, step_seed(3, 0), step_seed(12345, 2)];
        for seed in seeds {
            for base in [0u32, 8, 16, 4096, 0x7fff_fff8, 0xffff_fff8] {
                for (k, &h) in LANE_HASHES.iter().enumerate() {
                    assert_eq!((xorshift(base ^ seed) & 0xffff) ^ h, dither(base + k as u32, seed), "base {base} lane {k}");
                }
            }
        }
        assert_eq!(LANE_HASHES[0], 0);
        for (a, b) in [(1, 2), (0xdead_beef, 0x1234_5678), (0xffff_ffff, 7)] {
            assert_eq!(xorshift(a ^ b), xorshift(a) ^ xorshift(b), "linear over xor");
        }
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
