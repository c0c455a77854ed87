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
//! the estimate: `code = est + (v >= b[est + 1])`, one table read per element.
//!
//! The maps with a zero code (the dynamic maps, and bitsandbytes 0.49's signed CPU map) code
//! by table instead ([`CodeTable`]): the upper half-word of `v`'s bits indexes the code of a
//! small bucket of float32s, and one compare with the bin above settles it, as above. The table
//! covers every float32, so it also does the clamp to the map's range and NaN's code 0.

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
    /// The lanes' constants (see [`LaneConsts`]).
    lane: LaneConsts,
    /// Codes by table, for the maps where it holds ([`CodeTable`]).
    table: Option<CodeTable>,
}

/// Mantissa bits of `|v|` in a [`CodeTable`] bucket's index: the unsigned map's top decade has
/// 128 codes in [0.1, 1] (bins 0.007 apart), the buckets of [0.5, 1) are 2^-8 wide.
pub const TABLE_MANTISSA_BITS: u32 = 7;
/// The right shift from the bits of `v` to its bucket: a bucket is the float32s that share their
/// upper half-word (sign, exponent and top [`TABLE_MANTISSA_BITS`] mantissa bits).
pub const TABLE_SHIFT: u32 = 23 - TABLE_MANTISSA_BITS;
/// Buckets in a [`CodeTable`]: one per upper half-word, the negative ones from `BUCKETS / 2` on.
pub const BUCKETS: usize = 1 << (32 - TABLE_SHIFT);

/// The code of a normalised value by table: `v` falls in the bucket of the float32s that share
/// its upper half-word, and no bucket holds two bins, so one read gives the code: the bucket's
/// [`entry`](CodeTable::entry) holds its code and the low bits of its bin, the one place in the
/// bucket where the code steps away from the zero code. The lanes shift the bits of `v` left by
/// [`ENTRY_SHIFT`] (the sign bit falls out) so that its low bits line up with the bin's, and one
/// signed compare (`|v| >= bin`) settles the code (see [`CodeTable::code`]).
///
/// The table covers every float32 (65,536 buckets, 256 KiB), so the lanes need no clamp, no
/// `abs` and no NaN test, only the index `bits(v) >> 16`: the buckets beyond ±1 hold the code of
/// ±1 (the clamp to the map's range; `x / absmax` passes 1 by a rounding at most, or is ±inf
/// where `1 / absmax` overflows), those below the first bin the zero code, and NaN's code 0. The
/// negative buckets are the positive ones mirrored but for float32 ties, which put some of their
/// bins on the other side of a bucket's edge.
#[derive(Clone, Debug)]
pub struct CodeTable {
    /// By bucket, `bits(v) >> TABLE_SHIFT`: `byte | (bin - 1) << ENTRY_SHIFT`, where `bin` is the
    /// low [`TABLE_SHIFT`] bits of the bucket's bin (`1 << TABLE_SHIFT` if it has none: no value
    /// reaches it), and bit 31 the bucket's lowest bit, as in `bits(v) << ENTRY_SHIFT`, so that
    /// the two compare as signed integers. A positive bucket's `byte` is the code of its values
    /// below the bin, one more from the bin on (`byte - reached`); a negative bucket's code is the
    /// low byte of the complement `!(byte - reached)`, so its `byte` is 255 minus the code of its
    /// values below the bin (in magnitude), one less from the bin on.
    pub entry: Box<[u32]>,
    /// 0xff, as a run-time value (see [`LaneConsts`]).
    pub byte: u32,
}

/// The left shift that lines up the bits of `v` below its bucket with a [`CodeTable::entry`]'s
/// bin: the bucket's lowest bit goes to the sign bit.
pub const ENTRY_SHIFT: u32 = 31 - TABLE_SHIFT;

impl CodeTable {
    /// The code of `v` (any float32: the map's clamp and NaN's code 0 are in the table); the
    /// lanes do the same.
    #[inline(always)]
    pub fn code(&self, v: f32) -> u8 {
        let b = v.to_bits();
        let t = self.entry[(b >> TABLE_SHIFT) as usize];
        // the lanes' mask: -1 where |v| reaches the bucket's bin
        let reached = -(((b << ENTRY_SHIFT) as i32 > t as i32) as i32);
        // one more where reached; for negative values the complement (the low byte is the code)
        ((t as i32 - reached) ^ ((b as i32) >> 31)) as u8
    }
}

/// Constants of the lane code, kept as run-time values: V8 rebuilds a splatted wasm constant
/// at every use inside a loop (three instructions each), where a splat of a loaded value is
/// hoisted out of the loop and stays in a register or spill slot.
#[derive(Clone, Copy, Debug)]
pub struct LaneConsts {
    pub one: f32,
    /// The lowest normalised value worth coding: -1, or 0 for the unsigned map (every value
    /// up to 0 gets its code 0, so negative values need no mirroring there).
    pub low: f32,
    /// The highest position (254).
    pub last: f32,
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
        let low = if !signed && codes[0] == 0.0 { 0.0 } else { -1.0 };
        let lane = LaneConsts { one: 1.0, low, last: 254.0 };
        let mut cb = Codebook { codes, upper, signed, slope, offset, lane, table: None };
        cb.table = cb.code_table();
        cb
    }

    /// The [`CodeTable`] of this map, if it holds: the dynamic map's zero code (the unsigned map
    /// from 0 up: its values are clamped to [0, 1]), and at most one bin of a sign per bucket.
    fn code_table(&self) -> Option<CodeTable> {
        let z = self.zero_index();
        if self.codes[z] != 0.0 || (!self.signed && self.lane.low != 0.0) {
            return None;
        }
        let next = |x: f32| f32::from_bits(x.to_bits() + 1);
        // the magnitudes from which the code steps away from zero, ascending: the positive
        // bins, and for negative values the float above each negative bin's magnitude (none for
        // the unsigned map, which codes every value up to 0 as 0)
        let pos: Vec<f32> = self.upper[z..255].to_vec();
        let neg: Vec<f32> = if self.signed { (0..z).rev().map(|j| next(-self.upper[j])).collect() } else { vec![] };
        let count = |bins: &[f32], x: f32| bins.partition_point(|&b| b <= x);
        let (half, inf) = (BUCKETS / 2, f32::INFINITY.to_bits() >> TABLE_SHIFT);
        let out_of_reach = 1 << TABLE_SHIFT;
        let mut entry = vec![0u32; BUCKETS];
        for (h, bins) in [&pos, &neg].into_iter().enumerate() {
            for i in 0..half {
                let bits = (i as u32) << TABLE_SHIFT;
                let (byte, bin_bits) = if i as u32 > inf {
                    // NaN: code 0 (a negative bucket's byte is its complement's)
                    (if h == 0 { 0 } else { 255 }, out_of_reach)
                } else {
                    let (lo, last) = (f32::from_bits(bits), f32::from_bits(bits + (1 << TABLE_SHIFT) - 1));
                    let n = count(bins, lo);
                    // a positive bucket's code below the bin
                    let code = z + n;
                    let bin_bits = match i as u32 == inf {
                        // inf gets ±1's code, the rest of its bucket is NaN: code 0 (the positive
                        // bucket's code 255 steps to 256, whose low byte is 0; -1's code is 0)
                        true if h == 0 => 1,
                        true => out_of_reach,
                        false => match count(bins, last) - n {
                            0 => out_of_reach,
                            1 => bins[n].to_bits() - bits,
                            _ => return None,
                        },
                    };
                    // negative values: `!(byte - reached)`, whose low byte is `255 - byte + reached`
                    // (the code `z - n` below the bin)
                    let byte = if h == 0 { code } else { 255 - z + n };
                    if byte > 255 || (h == 0 && i as u32 == inf && code != 255) {
                        return None;
                    }
                    (byte, bin_bits)
                };
                entry[h * half + i] = (bits & 1 << TABLE_SHIFT) << ENTRY_SHIFT | (bin_bits - 1) << ENTRY_SHIFT | byte as u32;
            }
        }
        Some(CodeTable { entry: entry.into_boxed_slice(), byte: 0xff })
    }

    /// The [`CodeTable`] of this map, if it has one.
    #[inline(always)]
    pub fn table(&self) -> Option<&CodeTable> {
        self.table.as_ref()
    }

    /// Index of the code 0.0 in a dynamic map.
    fn zero_index(&self) -> usize {
        if self.signed {
            127
        } else {
            0
        }
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

    /// The positions of normalised values `v` (clamped to [-1, 1], or NaN) in the map: of `|v|`,
    /// in [0, 254], 0 for NaN (see the module docs).
    #[inline(always)]
    pub fn position<L: Lanes>(&self, v: L) -> L {
        let a = v.abs();
        let mut position = a * L::splat(self.slope[0]) + L::splat(self.offset[0]);
        for i in 1..DECADES {
            position = position.min(a * L::splat(self.slope[i]) + L::splat(self.offset[i]));
        }
        // `0.max(NaN)` is 0 (the NaN is the ignored operand), so NaN estimates code 0.
        L::splat(0.0).max(position).min(L::splat(self.lane.last))
    }

    /// The estimated codes of normalised values `v` (clamped to [-1, 1], or NaN): the exact code
    /// or the one below it, plus 2^23 (so that the low byte of each lane's bits is the code;
    /// NaN gets 0).
    #[inline(always)]
    pub fn estimate<L: Lanes>(&self, v: L) -> L {
        self.estimate_from(self.position(v), v)
    }

    /// [`Codebook::estimate`] from the values' positions.
    #[inline(always)]
    pub fn estimate_from<L: Lanes>(&self, position: L, v: L) -> L {
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

    /// `v` clamped to the map's range: [-1, 1], or [0, 1] for the unsigned map, which codes
    /// every value up to 0 as 0 (NaN stays NaN).
    #[inline(always)]
    pub fn clamped<L: Lanes>(&self, v: L) -> L {
        v.min(L::splat(self.lane.one)).max(L::splat(self.lane.low))
    }

    /// One value's code.
    #[inline]
    pub fn index_of(&self, v: f32) -> u8 {
        match &self.table {
            Some(t) => t.code(v),
            None => self.settle(self.estimate::<f32>(v), v),
        }
    }
}

/// 2^23: `x + MAGIC` for `0 <= x < 256` is an integer whose low byte is `round(x)`.
pub const MAGIC: f32 = 8_388_608.0;
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
        let settled = |cb: &Codebook| Codebook { table: None, ..cb.clone() };
        vec![
            Codebook::signed().clone(),
            Codebook::unsigned().clone(),
            Codebook::dynamic(true, cpu_signed),
            Codebook::dynamic(false, cpu_unsigned),
            // the tabled maps' estimates, settled
            settled(Codebook::signed()),
            settled(Codebook::unsigned()),
            settled(&Codebook::dynamic(true, cpu_signed)),
        ]
    }

    #[test]
    fn tables_for_maps_with_a_zero_code() {
        let maps = maps();
        assert!(maps[0].table.is_some() && maps[1].table.is_some());
        // bitsandbytes 0.49's CPU maps (code 0 = -1): the signed one keeps its zero code
        assert!(maps[2].table.is_some() && maps[3].table.is_none());
        assert!(maps[..3].iter().all(|cb| cb.table.as_ref().unwrap().entry.len() == BUCKETS));
    }

    /// Every bucket of the tables, whole float32 range: its first and last float32, and the
    /// floats either side of its middle (a bucket without a bin has one code throughout; those
    /// with a bin the exhaustive test walks), one at a time and in lanes, against the rule on the
    /// clamped value; the infinities, quiet and signalling NaNs of both signs among them.
    #[test]
    fn every_bucket_codes_as_the_clamped_value() {
        for cb in &maps()[..3] {
            let values: Vec<f32> = (0..BUCKETS as u32)
                .flat_map(|i| {
                    let b = i << TABLE_SHIFT;
                    [b, b + 1, b + 0x7fff, b + 0x8000, b + 0xffff].map(f32::from_bits)
                })
                .collect();
            let mut codes = vec![0u8; values.len()];
            crate::quant::blockwise::quantize_with_absmax(cb, &values, 1.0, &mut codes);
            for (&v, &q) in values.iter().zip(&codes) {
                let expect = nearest_code_by_search(&cb.codes, v);
                assert_eq!(cb.index_of(v), expect, "v = {v:e} ({:#x}), signed {}", v.to_bits(), cb.signed);
                assert_eq!(q, expect, "lanes: v = {v:e} ({:#x}), signed {}", v.to_bits(), cb.signed);
            }
            for v in [f32::INFINITY, 1.0 + f32::EPSILON, 3.0e38] {
                assert_eq!(cb.index_of(v), 255);
                assert_eq!(cb.index_of(-v), 0, "-1's code, or 0's for the unsigned map");
            }
            for nan in [0x7fc0_0000, 0x7f80_0001, 0xffc0_0000, 0xff80_0001, 0x7fff_ffff].map(f32::from_bits) {
                assert_eq!(cb.index_of(nan), 0, "{:#x}", nan.to_bits());
            }
        }
    }

    /// The table against the rule at every bin (both signs), a float either side, and a sweep
    /// of random floats in [-1, 1]: `cargo test --release -p simdopt-core -- --ignored random_table`
    /// (`SIMDOPT_TABLE_PROBES`, default 1e8 per map).
    #[test]
    #[ignore]
    fn random_table_codes_equal_the_search() {
        let n: u64 = std::env::var("SIMDOPT_TABLE_PROBES").ok().and_then(|s| s.parse().ok()).unwrap_or(100_000_000);
        for cb in &maps()[..3] {
            let (mut state, mut chunk, mut codes) = (0x9e37_79b9_7f4a_7c15u64, vec![0.0f32; 1 << 16], vec![0u8; 1 << 16]);
            let mut done = 0;
            while done < n {
                for v in chunk.iter_mut() {
                    // xorshift64*: bits of a float in [-1, 1] (every binade alike), or a value near a bin
                    state ^= state >> 12;
                    state ^= state << 25;
                    state ^= state >> 27;
                    let r = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
                    let bits = (r >> 32) as u32;
                    *v = if r & 1 == 0 {
                        // mostly from 2^-25 up (below, everything is the zero code)
                        let low = if r & 6 == 0 { 0 } else { 0x3300_0000 };
                        f32::from_bits((low + bits % (0x3f80_0001 - low)) | (bits & 0x8000_0000))
                    } else {
                        let b = cb.upper[(r >> 8) as usize % 255];
                        from_order_key(order_key(b) + ((r >> 16) % 9) as i64 - 4) * if r & 2 == 0 { 1.0 } else { -1.0 }
                    };
                }
                crate::quant::blockwise::quantize_with_absmax(cb, &chunk, 1.0, &mut codes);
                for (&v, &q) in chunk.iter().zip(&codes) {
                    let expect = nearest_code_by_search(&cb.codes, v);
                    assert_eq!(q, expect, "lanes: v = {v:e} ({:#x}), signed {}", v.to_bits(), cb.signed);
                    assert_eq!(cb.index_of(v), expect, "v = {v:e} ({:#x}), signed {}", v.to_bits(), cb.signed);
                }
                done += chunk.len() as u64;
            }
        }
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

    /// All float32s in [-1, 1] (about 2.1e9 per map, one value at a time and in lanes), by
    /// table and settled, against the rule walked in ascending order
    /// (the lower-bound index only moves up): `cargo test --release -p simdopt-core -- --ignored exhaustive`.
    #[test]
    #[ignore]
    fn exhaustive_arithmetic_index_equals_the_rule() {
        for cb in maps() {
            let c = &cb.codes;
            let mut right = 0;
            let (mut chunk, mut expected, mut codes) = (vec![], vec![], vec![]);
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
                // and through the build's widest lanes, a chunk at a time
                chunk.push(v);
                expected.push(expect);
                if chunk.len() == 1 << 16 || k == order_key(1.0) {
                    codes.resize(chunk.len(), 0);
                    crate::quant::blockwise::quantize_with_absmax(&cb, &chunk, 1.0, &mut codes);
                    if let Some(i) = (0..chunk.len()).find(|&i| codes[i] != expected[i]) {
                        panic!("lanes: v = {:e}, signed {}: {} vs {}", chunk[i], cb.signed, codes[i], expected[i]);
                    }
                    chunk.clear();
                    expected.clear();
                }
            }
        }
    }
}
