//! A 256-code map with everything the quantizer needs to find a value's code without searching.
//!
//! The code of a normalised value `v` (in [-1, 1]) is bitsandbytes' CPU rule: the first code
//! `c[r] >= v` (`std::lower_bound`), then whichever of `c[r-1]`, `c[r]` is nearer by float32
//! distances `|v - c[r-1]|`, `|c[r] - v|`, a tie going to `c[r-1]`; NaN gets code 0. That rule is
//! monotone in `v`, so it is fully described by 255 decision bins: `code(v)` = the number of bins
//! `b[j] <= v`, where `b[j]` is the smallest float32 that gets a code `>= j` (found once per map by
//! bisection over the float32s between `c[j-1]` and `c[j]`, with the rule's own float32 distances).
//!
//! Per element, [`Codebook::estimate`] computes the value's position in the map arithmetically:
//! within decade `i` the codes are evenly spaced, so the position is linear in `|v|`,
//! `|v| * slope[i] + offset[i]`; the lines join at the decade edges and their slopes fall from one
//! decade to the next, so the position is simply the *minimum* of the seven lines (no decade
//! selection). Bins sit on whole positions (those between decades a fifth of a step into the
//! upper decade), so `floor(position - 0.5)` is the exact code or the one below it; the estimate
//! rounds `position - 1` to the nearest integer instead (adding 2^23), which differs only at
//! exact half-integers, half a step from any bin, where either answer will do. The negative half
//! mirrors the positive one. [`Codebook::settle`] then compares the value with the one bin above
//! the estimate: `code = est + (v >= b[est + 1])`. The estimate is lane arithmetic; the settling
//! is one table read per element.

use super::dynamic_map::{self, decade_len, Linspace, DECADES};
use crate::lanes::Lanes;
use std::sync::OnceLock;

#[derive(Clone, Debug)]
pub struct Codebook {
    codes: [f32; 256],
    /// `upper[j] = b[j + 1]`, the smallest value whose code is above `j` (`upper[255] = +inf`).
    upper: [f32; 256],
    signed: bool,
    /// Decade `i`'s line, with the half-step shift of the estimate: `|v| * slope[i] + offset[i]`.
    slope: [f32; DECADES],
    offset: [f32; DECADES],
}

impl Codebook {
    /// bitsandbytes' `create_dynamic_map(signed=True)` (first moments).
    pub fn signed() -> &'static Codebook {
        static MAP: OnceLock<Codebook> = OnceLock::new();
        MAP.get_or_init(|| Codebook::dynamic(true, dynamic_map::build(true, Linspace::Avx)))
    }

    /// bitsandbytes' `create_dynamic_map(signed=False)` (second moments).
    pub fn unsigned() -> &'static Codebook {
        static MAP: OnceLock<Codebook> = OnceLock::new();
        MAP.get_or_init(|| Codebook::dynamic(false, dynamic_map::build(false, Linspace::Avx)))
    }

    /// A dynamic map with the given codes (a variant of the built one, such as bitsandbytes 0.49's
    /// CPU quantizer's, which overwrites `code[0]` with -1). Panics unless the codes are strictly
    /// ascending, in [-1, 1], with the dynamic map's decades (the estimate relies on them).
    pub fn dynamic(signed: bool, codes: [f32; 256]) -> Codebook {
        assert!(codes.windows(2).all(|w| w[0] < w[1]) && codes[0] >= -1.0 && codes[255] <= 1.0, "codes must ascend within [-1, 1]");
        let mut upper = [f32::INFINITY; 256];
        for j in 0..255 {
            upper[j] = first_with_right_code(codes[j], codes[j + 1]);
        }
        // Index of the first code of decade i: after the zero code (and the negative half).
        let mut start = if signed { 128 } else { 1 };
        let (mut slope, mut offset) = ([0.0; DECADES], [0.0; DECADES]);
        for i in 0..DECADES {
            let n = decade_len(signed, i) as f64;
            let decade = 10f64.powi(i as i32 - 6);
            // codes c_k = decade * (0.1 + (k + 0.5) * 0.9 / n), bins between them on whole steps:
            // code ~ start + (a / decade - 0.1) * n / 0.9, which is `start + n` at a = decade, where
            // the next decade's line starts.
            slope[i] = (n / (0.9 * decade)) as f32;
            // half a step low, and one more for rounding instead of flooring
            offset[i] = (start as f64 - n / 9.0 - 1.0) as f32;
            start += n as usize;
        }
        Codebook { codes, upper, signed, slope, offset }
    }

    pub fn codes(&self) -> &[f32; 256] {
        &self.codes
    }

    pub fn is_signed(&self) -> bool {
        self.signed
    }

    /// `upper[j]`: the smallest value whose code is above `j` (`+inf` for 255).
    pub fn upper_bins(&self) -> &[f32; 256] {
        &self.upper
    }

    /// The decision bins `b[1..=255]`.
    pub fn bins(&self) -> &[f32] {
        &self.upper[..255]
    }

    #[inline(always)]
    pub fn code(&self, q: u8) -> f32 {
        self.codes[q as usize]
    }

    /// The estimated codes of normalised values `v` (clamped to [-1, 1], or NaN): the exact code
    /// or the one below it, plus 2^23 (so that the low byte of each lane's bits is the code;
    /// NaN gets 0).
    #[inline(always)]
    pub fn estimate<L: Lanes>(&self, v: L) -> L {
        let a = v.abs();
        let mut position = a * L::splat(self.slope[0]) + L::splat(self.offset[0]);
        for i in 1..DECADES {
            position = position.min(a * L::splat(self.slope[i]) + L::splat(self.offset[i]));
        }
        // `0.max(NaN)` is 0 (the NaN is the ignored operand), so NaN estimates code 0.
        let position = L::splat(0.0).max(position).min(L::splat(254.0));
        // Negative values: code 253 - est mirrors est (254 - k mirrors code k, and the estimate
        // is the one below), 0 for the unsigned map, whose codes are all >= 0.
        let mirrored = (L::splat(if self.signed { 253.0 } else { 0.0 }) - position).max(L::splat(0.0));
        // Adding 2^23 rounds to the nearest integer: `round(x - 1) = floor(x - 0.5)` but at ties,
        // which the half-step margin absorbs (see the module docs).
        L::splat(0.0).select_gt(v, mirrored, position) + L::splat(MAGIC)
    }

    /// The code of `v` from its estimate (a lane of [`Codebook::estimate`]): one above when `v`
    /// reaches the bin above.
    #[inline(always)]
    pub fn settle(&self, est: f32, v: f32) -> u8 {
        let e = est.to_bits() as u8;
        e + (v >= self.upper[e as usize]) as u8
    }

    /// One value's code.
    #[inline]
    pub fn index_of(&self, v: f32) -> u8 {
        self.settle(self.estimate::<f32>(v), v)
    }
}

/// 2^23: `x + MAGIC` for `0 <= x < 256` is an integer whose low byte is `round(x)`.
const MAGIC: f32 = 8_388_608.0;

/// The smallest float32 `v` in `(lo, hi]` for which the rule picks `hi` over `lo`:
/// `|hi - v| < |v - lo|` in float32 (true at `v = hi`, and monotone in `v`).
fn first_with_right_code(lo: f32, hi: f32) -> f32 {
    let picks_hi = |v: f32| (hi - v).abs() < (v - lo).abs();
    let (mut below, mut at) = (order_key(lo), order_key(hi));
    while at - below > 1 {
        let mid = below + (at - below) / 2;
        if picks_hi(from_order_key(mid)) {
            at = mid;
        } else {
            below = mid;
        }
    }
    from_order_key(at)
}

/// Float32s as integers in the same order (-0.0 just below +0.0).
fn order_key(x: f32) -> i64 {
    let b = x.to_bits() as i32;
    (if b < 0 { b ^ 0x7fff_ffff } else { b }) as i64
}

fn from_order_key(k: i64) -> f32 {
    let b = k as i32;
    f32::from_bits((if b < 0 { b ^ 0x7fff_ffff } else { b }) as u32)
}

/// The rule by binary search over the codes, as bitsandbytes 0.49's CPU quantizer does it: the
/// slow reference the arithmetic index is tested against.
#[cfg(any(test, feature = "scalar-hook"))]
#[doc(hidden)]
pub fn nearest_code_by_search(codes: &[f32; 256], v: f32) -> u8 {
    let v = v.clamp(-1.0, 1.0); // NaN stays NaN, as with std::clamp
    let right = codes.partition_point(|&c| c < v);
    if right == 0 {
        return 0;
    }
    if right == 256 {
        return 255;
    }
    let (l, r) = (codes[right - 1], codes[right]);
    if (r - v).abs() < (v - l).abs() {
        right as u8
    } else {
        (right - 1) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps() -> Vec<Codebook> {
        let mut cpu_signed = *Codebook::signed().codes();
        cpu_signed[0] = -1.0;
        let mut cpu_unsigned = *Codebook::unsigned().codes();
        cpu_unsigned[0] = -1.0;
        vec![
            Codebook::signed().clone(),
            Codebook::unsigned().clone(),
            Codebook::dynamic(true, cpu_signed),
            Codebook::dynamic(false, cpu_unsigned),
        ]
    }

    /// Every value within 64 float32 steps of every bin, code and decade edge, and a sweep.
    fn probes(cb: &Codebook) -> Vec<f32> {
        let mut centres: Vec<f32> = cb.bins().iter().chain(cb.codes.iter()).copied().collect();
        centres.extend((0..8).map(|i| 10f32.powi(i - 7)));
        centres.extend([0.0, -0.0, 1.0, -1.0, 1e-30, -1e-30]);
        let mut out = vec![f32::NAN, f32::MIN_POSITIVE, -f32::MIN_POSITIVE, 1e-45, -1e-45];
        for c in centres {
            for d in -64i64..=64 {
                let v = from_order_key(order_key(c) + d);
                if (-1.0..=1.0).contains(&v) {
                    out.push(v);
                }
            }
        }
        let mut k = order_key(-1.0);
        while k <= order_key(1.0) {
            out.push(from_order_key(k));
            k += 40_009;
        }
        out
    }

    #[test]
    fn arithmetic_index_equals_the_search() {
        for cb in maps() {
            for v in probes(&cb) {
                assert_eq!(cb.index_of(v), nearest_code_by_search(&cb.codes, v), "v = {v:e} ({:#x}), signed {}", v.to_bits(), cb.signed);
            }
        }
    }

    #[test]
    fn wide_lanes_give_the_same_codes() {
        for cb in maps() {
            let probes = probes(&cb);
            let mut codes = vec![0u8; probes.len()];
            // absmax 1: the values are quantized as they are, through the build's widest lanes
            crate::quant::blockwise::quantize_with_absmax(&cb, &probes, 1.0, &mut codes);
            for (&v, &q) in probes.iter().zip(&codes) {
                assert_eq!(q, nearest_code_by_search(&cb.codes, v), "v = {v:e}");
            }
        }
    }

    #[test]
    fn bins_separate_neighbouring_codes() {
        for cb in maps() {
            for j in 1..256 {
                let b = cb.upper[j - 1];
                assert!(cb.codes[j - 1] < b && b <= cb.codes[j]);
                assert_eq!(nearest_code_by_search(&cb.codes, b) as usize, j);
                assert_eq!(nearest_code_by_search(&cb.codes, from_order_key(order_key(b) - 1)) as usize, j - 1);
            }
        }
    }

    #[test]
    fn codes_map_to_themselves_and_nan_to_zero() {
        for cb in maps() {
            for (j, &c) in cb.codes.iter().enumerate() {
                assert_eq!(cb.index_of(c) as usize, j);
            }
            assert_eq!(cb.index_of(f32::NAN), 0);
        }
    }

    /// All float32s in [-1, 1] (about 2.1e9 per map), against the rule walked in ascending order
    /// (the lower-bound index only moves up): `cargo test --release -p simdopt-core -- --ignored exhaustive`.
    #[test]
    #[ignore]
    fn exhaustive_arithmetic_index_equals_the_rule() {
        for cb in maps() {
            let c = &cb.codes;
            let mut right = 0;
            for k in order_key(-1.0)..=order_key(1.0) {
                let v = from_order_key(k);
                while right < 256 && c[right] < v {
                    right += 1;
                }
                let expect = match right {
                    0 => 0,
                    256 => 255,
                    r if (c[r] - v).abs() < (v - c[r - 1]).abs() => r as u8,
                    r => (r - 1) as u8,
                };
                if cb.index_of(v) != expect {
                    panic!("v = {v:e} ({:#x}), signed {}: {} vs {expect}", v.to_bits(), cb.signed, cb.index_of(v));
                }
            }
        }
    }
}
