//! wasm `simd128` lanes: four f32 in one `v128`.

use super::Lanes;
use crate::quant::codebook::{CodeTable, ENTRY_SHIFT, TABLE_SHIFT};
use core::arch::wasm32::*;
use core::ops::{Add, Div, Mul, Neg, Sub};

/// Four f32 lanes in one wasm `v128`.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct F32x4(pub v128);

macro_rules! binop {
    ($tr:ident, $f:ident, $intr:ident) => {
        impl $tr for F32x4 {
            type Output = Self;
            #[inline(always)]
            fn $f(self, o: Self) -> Self {
                F32x4($intr(self.0, o.0))
            }
        }
    };
}
binop!(Add, add, f32x4_add);
binop!(Sub, sub, f32x4_sub);
binop!(Mul, mul, f32x4_mul);
binop!(Div, div, f32x4_div);

impl Neg for F32x4 {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        F32x4(f32x4_neg(self.0))
    }
}

impl Lanes for F32x4 {
    const WIDTH: usize = 4;
    #[inline(always)]
    fn splat(x: f32) -> Self {
        F32x4(f32x4_splat(x))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        F32x4(v128_load(p as *const v128))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        v128_store(p as *mut v128, self.0)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        F32x4(f32x4_sqrt(self.0))
    }
    #[inline(always)]
    fn abs(self) -> Self {
        F32x4(f32x4_abs(self.0))
    }
    #[inline(always)]
    fn max(self, o: Self) -> Self {
        // pmax(a, b) = a < b ? b : a, the scalar rule exactly.
        F32x4(f32x4_pmax(self.0, o.0))
    }
    #[inline(always)]
    fn min(self, o: Self) -> Self {
        // pmin(a, b) = b < a ? b : a.
        F32x4(f32x4_pmin(self.0, o.0))
    }
    #[inline(always)]
    fn select_gt(self, o: Self, a: Self, b: Self) -> Self {
        F32x4(v128_bitselect(a.0, b.0, f32x4_gt(self.0, o.0)))
    }
    #[inline(always)]
    fn map(self, f: impl Fn(f32) -> f32) -> Self {
        let v = self.0;
        F32x4(f32x4(
            f(f32x4_extract_lane::<0>(v)),
            f(f32x4_extract_lane::<1>(v)),
            f(f32x4_extract_lane::<2>(v)),
            f(f32x4_extract_lane::<3>(v)),
        ))
    }
    #[inline(always)]
    unsafe fn gather_u8(t: &[f32; 256], idx: *const u8) -> Self {
        // a byte load per code (no shifts and masks), then four table reads into the lanes
        let at = |k: usize| *t.get_unchecked(*idx.add(k) as usize);
        F32x4(f32x4(at(0), at(1), at(2), at(3)))
    }
    #[inline(always)]
    unsafe fn store_settled_u8(est: Self, v: Self, upper: &[f32; 256], out: *mut u8) {
        let e = v128_and(est.0, u32x4_splat(0xff));
        let up = |k: u32| *upper.get_unchecked(k as usize);
        let bins = f32x4(
            up(u32x4_extract_lane::<0>(e)),
            up(u32x4_extract_lane::<1>(e)),
            up(u32x4_extract_lane::<2>(e)),
            up(u32x4_extract_lane::<3>(e)),
        );
        // the mask is -1 where v reaches the bin: subtracting it adds one
        let code = i32x4_sub(e, f32x4_ge(v.0, bins));
        let bytes = u8x16_narrow_i16x8(u16x8_narrow_i32x4(code, code), code);
        v128_store32_lane::<0>(bytes, out as *mut u32);
    }
    #[inline(always)]
    unsafe fn store_table_codes(v: Self, t: &CodeTable, out: *mut u8) {
        let c = table_codes(v.0, t);
        let h = u16x8_narrow_i32x4(c, c);
        v128_store32_lane::<0>(u8x16_narrow_i16x8(h, h), out as *mut u32);
    }
    #[inline(always)]
    unsafe fn store_table_codes_pair(lo: Self, hi: Self, t: &CodeTable, out: *mut u8) {
        // eight codes narrowed together, one store
        let h = u16x8_narrow_i32x4(table_codes(lo.0, t), table_codes(hi.0, t));
        v128_store64_lane::<0>(u8x16_narrow_i16x8(h, h), out as *mut u64);
    }
    #[inline(always)]
    unsafe fn load_bf16(p: *const u16) -> Self {
        F32x4(i32x4_shl(u32x4_extend_low_u16x8(v128_load64_zero(p as *const u64)), 16))
    }
    #[inline(always)]
    unsafe fn store_bf16(self, p: *mut u16) {
        let b = self.0;
        let rounded = u32x4_shr(i32x4_add(b, i32x4_add(u32x4_splat(0x7fff), v128_and(u32x4_shr(b, 16), u32x4_splat(1)))), 16);
        let nan = u32x4_gt(v128_and(b, u32x4_splat(0x7fff_ffff)), u32x4_splat(0x7f80_0000));
        let h = v128_bitselect(u32x4_splat(0x7fc0), rounded, nan);
        v128_store64_lane::<0>(u16x8_narrow_i32x4(h, h), p as *mut u64);
    }
    #[inline(always)]
    unsafe fn store_bf16_dithered(self, p: *mut u16, index: u32, seed: u32) {
        let h = bf16_dithered(self.0, dithers(index, seed, 0));
        v128_store64_lane::<0>(u16x8_narrow_i32x4(h, h), p as *mut u64);
    }
    #[inline(always)]
    unsafe fn load_bf16_pair(p: *const u16) -> (Self, Self) {
        // each half-word into the upper half of a 32-bit lane (V8: punpcklwd/punpckhwd)
        let (z, h) = (u16x8_splat(0), v128_load(p as *const v128));
        (F32x4(u16x8_shuffle::<0, 8, 1, 9, 2, 10, 3, 11>(z, h)), F32x4(u16x8_shuffle::<4, 12, 5, 13, 6, 14, 7, 15>(z, h)))
    }
    #[inline(always)]
    unsafe fn store_bf16_dithered_pair(lo: Self, hi: Self, p: *mut u16, index: u32, seed: u32) {
        // one hash for the eight lanes (the index's is the same for every slot, the seed's the
        // same for every vector: LLVM computes each once), one test for the rare lanes, one store
        let t = (xorshift(index) ^ xorshift(seed)) & 0xffff;
        let (lo, hi) = (lo.0, hi.0);
        let (up_lo, up_hi) = (dithered_up(lo, lanes_dither(t, 0)), dithered_up(hi, lanes_dither(t, 4)));
        let (h_lo, h_hi) = if i32x4_bitmask(v128_or(reaches_last(lo), reaches_last(hi))) != 0 {
            (rare(lo, up_lo), rare(hi, up_hi))
        } else {
            (up_lo, up_hi)
        };
        v128_store(p as *mut v128, u16x8_narrow_i32x4(h_lo, h_hi));
    }
}

// bfloat16 stochastic rounding (`quant::bf16::from_f32_dithered`, `dither`) on `v128` lanes.
use crate::quant::bf16::{xorshift, LANE_HASHES, LAST_FINITE};

/// The dithers of lanes `first..first + 4` of a vector at `index` (a multiple of 4 + `first`).
#[inline(always)]
fn dithers(index: u32, seed: u32, first: usize) -> v128 {
    lanes_dither((xorshift(index) ^ xorshift(seed)) & 0xffff, first)
}

/// `t` (the hash of an aligned index, see `quant::bf16::xorshift`) xored with the constants of
/// lanes `first..first + 4`.
#[inline(always)]
fn lanes_dither(t: u32, first: usize) -> v128 {
    let k = |j: usize| LANE_HASHES[first + j];
    v128_xor(u32x4_splat(t), u32x4(k(0), k(1), k(2), k(3)))
}

/// The dithered truncation `(b + r) >> 16`.
#[inline(always)]
fn dithered_up(b: v128, r: v128) -> v128 {
    u32x4_shr(i32x4_add(b, r), 16)
}

/// The sign bit set in lanes from the largest finite bfloat16 up (±inf and NaN included): the
/// upper half-word of `|b|` plus `0x81` reaches `0x8000` (an add and a bitmask, not a compare,
/// which LLVM turns unsigned: several instructions in V8; the mask is not `abs`'s for the same
/// reason).
#[inline(always)]
fn reaches_last(b: v128) -> v128 {
    i32x4_add(v128_and(b, u32x4_splat(0x7fff_0000)), u32x4_splat(0x8000_0000 - LAST_FINITE))
}

/// The rounding of lanes where [`reaches_last`] may be set: round-to-nearest-even from the
/// largest finite bfloat16 up (so values overflow as they do without dither), NaN to `0x7fc0`.
/// (Inlined: a call in the loop would make V8 spill the live vectors around it.)
#[inline(always)]
fn rare(b: v128, up: v128) -> v128 {
    let c = u32x4_splat;
    let nearest = u32x4_shr(i32x4_add(b, i32x4_add(c(0x7fff), v128_and(u32x4_shr(b, 16), c(1)))), 16);
    // signed compares of magnitudes (< 2^31)
    let magnitude = v128_and(b, c(0x7fff_ffff));
    let last = i32x4_gt(magnitude, c(LAST_FINITE - 1));
    let nan = i32x4_gt(magnitude, c(0x7f80_0000));
    v128_bitselect(c(0x7fc0), v128_bitselect(nearest, up, last), nan)
}

/// [`dithered_up`], or [`rare`] where a lane needs it.
#[inline(always)]
fn bf16_dithered(b: v128, r: v128) -> v128 {
    let up = dithered_up(b, r);
    if i32x4_bitmask(reaches_last(b)) != 0 {
        rare(b, up)
    } else {
        up
    }
}

/// `CodeTable::code` in lanes, as i32 lanes in [0, 255]: the index and the code in lanes, the
/// one table read lane by lane.
#[inline(always)]
unsafe fn table_codes(v: v128, t: &CodeTable) -> v128 {
    // the bucket is the upper half-word, sign included: the table clamps, and codes NaN
    let e = read_lanes(t.entry.as_ptr(), u32x4_shr(v, TABLE_SHIFT));
    // -1 where |v| reaches the bucket's bin (the sign bit shifts out), so one more; negative
    // values take the complement (the low byte only: the bin's bits go with the final mask)
    let reached = i32x4_gt(i32x4_shl(v, ENTRY_SHIFT), e);
    let code = v128_xor(i32x4_sub(e, reached), i32x4_shr(v, 31));
    v128_and(code, u32x4_splat(t.byte))
}

/// Lanes `p[idx[k]]`, read lane by lane (`load32_lane`: V8 inserts straight from memory). The
/// indices go through memory, not `extract_lane`: on x86 an extract and an insert both take the
/// shuffle port, and a store with four loads takes none.
///
/// # Safety
/// `p.wrapping_add(idx[k])` must be valid for reading for every lane `k`.
#[inline(always)]
unsafe fn read_lanes(p: *const u32, idx: v128) -> v128 {
    let mut lanes = core::mem::MaybeUninit::<v128>::uninit();
    // volatile: so that LLVM keeps the store and the loads rather than turning them back into
    // extracts
    core::ptr::write_volatile(lanes.as_mut_ptr(), idx);
    let at = |k: usize| p.wrapping_add(core::ptr::read_volatile((lanes.as_ptr() as *const u32).add(k)) as usize);
    let x = v128_load32_zero(at(0));
    let x = v128_load32_lane::<1>(x, at(1));
    let x = v128_load32_lane::<2>(x, at(2));
    v128_load32_lane::<3>(x, at(3))
}
