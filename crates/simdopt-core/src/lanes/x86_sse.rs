//! x86_64 SSE2 lanes: four f32 in one `__m128` (SSE2 is part of every x86_64 CPU).

#![allow(unused_unsafe)] // the SSE intrinsics are safe fns on newer Rust, unsafe on older ones

use super::Lanes;
use crate::quant::codebook::{CodeTable, ENTRY_SHIFT, TABLE_SHIFT};
use core::arch::x86_64::*;
use core::ops::{Add, Div, Mul, Neg, Sub};

/// Four f32 lanes in one SSE register (SSE2 is part of every x86_64 CPU). Kernels written on
/// [`super::Array`] compile to scalar loads and shuffles on x86_64; these intrinsics give
/// plain `movups`/`mulps`/`divps`/`sqrtps` streams, each IEEE-exact like the scalar ops.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct F32x4(pub __m128);

macro_rules! binop {
    ($tr:ident, $f:ident, $intr:ident) => {
        impl $tr for F32x4 {
            type Output = Self;
            #[inline(always)]
            fn $f(self, o: Self) -> Self {
                F32x4(unsafe { $intr(self.0, o.0) })
            }
        }
    };
}
binop!(Add, add, _mm_add_ps);
binop!(Sub, sub, _mm_sub_ps);
binop!(Mul, mul, _mm_mul_ps);
binop!(Div, div, _mm_div_ps);

impl Neg for F32x4 {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        // Flips the sign bit, as f32 negation does (NaN payloads included).
        F32x4(unsafe { _mm_xor_ps(self.0, _mm_set1_ps(-0.0)) })
    }
}

impl Lanes for F32x4 {
    const WIDTH: usize = 4;
    #[inline(always)]
    fn splat(x: f32) -> Self {
        F32x4(unsafe { _mm_set1_ps(x) })
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        F32x4(_mm_loadu_ps(p))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        _mm_storeu_ps(p, self.0)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        F32x4(unsafe { _mm_sqrt_ps(self.0) })
    }
    #[inline(always)]
    fn abs(self) -> Self {
        F32x4(unsafe { _mm_andnot_ps(_mm_set1_ps(-0.0), self.0) })
    }
    #[inline(always)]
    fn max(self, o: Self) -> Self {
        // maxps(a, b) = a > b ? a : b, so maxps(o, self) = self < o ? o : self: the scalar rule.
        F32x4(unsafe { _mm_max_ps(o.0, self.0) })
    }
    #[inline(always)]
    fn min(self, o: Self) -> Self {
        // minps(a, b) = a < b ? a : b, so minps(o, self) = o < self ? o : self.
        F32x4(unsafe { _mm_min_ps(o.0, self.0) })
    }
    #[inline(always)]
    fn select_gt(self, o: Self, a: Self, b: Self) -> Self {
        unsafe {
            let m = _mm_cmpgt_ps(self.0, o.0);
            F32x4(_mm_or_ps(_mm_and_ps(m, a.0), _mm_andnot_ps(m, b.0)))
        }
    }
    #[inline(always)]
    fn map(self, f: impl Fn(f32) -> f32) -> Self {
        let mut x = [0.0f32; 4];
        unsafe {
            self.store(x.as_mut_ptr());
            F32x4(_mm_setr_ps(f(x[0]), f(x[1]), f(x[2]), f(x[3])))
        }
    }
    #[inline(always)]
    unsafe fn gather_u8(t: &[f32; 256], idx: *const u8) -> Self {
        let q = (idx as *const u32).read_unaligned();
        let at = |s: u32| *t.get_unchecked(((q >> s) & 0xff) as usize);
        F32x4(_mm_setr_ps(at(0), at(8), at(16), at(24)))
    }
    #[inline(always)]
    unsafe fn store_settled_u8(est: Self, v: Self, upper: &[f32; 256], out: *mut u8) {
        let e = _mm_and_si128(_mm_castps_si128(est.0), _mm_set1_epi32(0xff));
        // the four bytes of the estimates, one 32-bit word
        let packed = _mm_packus_epi16(_mm_packs_epi32(e, e), _mm_setzero_si128());
        let w = _mm_cvtsi128_si32(packed) as u32;
        let up = |s: u32| *upper.get_unchecked(((w >> s) & 0xff) as usize);
        let bins = _mm_setr_ps(up(0), up(8), up(16), up(24));
        let code = _mm_sub_epi32(e, _mm_castps_si128(_mm_cmpge_ps(v.0, bins)));
        let bytes = _mm_packus_epi16(_mm_packs_epi32(code, code), _mm_setzero_si128());
        (out as *mut i32).write_unaligned(_mm_cvtsi128_si32(bytes));
    }
    #[inline(always)]
    unsafe fn store_table_codes(v: Self, t: &CodeTable, out: *mut u8) {
        // as the wasm lanes (`table_codes` there), the table read lane by lane
        let v = _mm_castps_si128(v.0);
        let mut i = [0u32; 4];
        _mm_storeu_si128(i.as_mut_ptr() as *mut __m128i, _mm_srli_epi32(v, TABLE_SHIFT as i32));
        let at = |k: usize| *t.entry.get_unchecked(i[k] as usize) as i32;
        let e = _mm_setr_epi32(at(0), at(1), at(2), at(3));
        let reached = _mm_cmpgt_epi32(_mm_slli_epi32(v, ENTRY_SHIFT as i32), e);
        let code = _mm_xor_si128(_mm_sub_epi32(e, reached), _mm_srai_epi32(v, 31));
        let code = _mm_and_si128(code, _mm_set1_epi32(t.byte as i32));
        let bytes = _mm_packus_epi16(_mm_packs_epi32(code, code), _mm_setzero_si128());
        (out as *mut i32).write_unaligned(_mm_cvtsi128_si32(bytes));
    }
    #[inline(always)]
    unsafe fn load_bf16(p: *const u16) -> Self {
        let h = _mm_loadl_epi64(p as *const __m128i);
        F32x4(_mm_castsi128_ps(_mm_unpacklo_epi16(_mm_setzero_si128(), h)))
    }
    #[inline(always)]
    unsafe fn store_bf16(self, p: *mut u16) {
        let b = _mm_castps_si128(self.0);
        let lsb = _mm_and_si128(_mm_srli_epi32(b, 16), _mm_set1_epi32(1));
        let rounded = _mm_srli_epi32(_mm_add_epi32(b, _mm_add_epi32(_mm_set1_epi32(0x7fff), lsb)), 16);
        // NaN: |b| > 0x7f800000 as signed integers (|b| < 2^31)
        let nan = _mm_cmpgt_epi32(_mm_and_si128(b, _mm_set1_epi32(0x7fff_ffff)), _mm_set1_epi32(0x7f80_0000));
        let h = _mm_or_si128(_mm_and_si128(nan, _mm_set1_epi32(0x7fc0)), _mm_andnot_si128(nan, rounded));
        // sign-extend the halves so that the signed pack keeps their bits
        let h = _mm_srai_epi32(_mm_slli_epi32(h, 16), 16);
        _mm_storel_epi64(p as *mut __m128i, _mm_packs_epi32(h, h));
    }
    #[inline(always)]
    unsafe fn store_bf16_dithered(self, p: *mut u16, index: u32, seed: u32) {
        use crate::quant::bf16::{xorshift, LANE_HASHES, LAST_FINITE};
        let c = |x: u32| _mm_set1_epi32(x as i32);
        // `quant::bf16::dither` per lane: one scalar hash for the aligned index
        let [k0, k1, k2, k3, ..] = LANE_HASHES.map(|k| k as i32);
        let r = _mm_xor_si128(c((xorshift(index) ^ xorshift(seed)) & 0xffff), _mm_setr_epi32(k0, k1, k2, k3));
        // `quant::bf16::from_f32_dithered`: the dithered truncation, unless a lane is from the
        // largest finite bfloat16 up (or NaN), which is rare enough for a branch
        let b = _mm_castps_si128(self.0);
        let up = _mm_srli_epi32(_mm_add_epi32(b, r), 16);
        let magnitude = _mm_and_si128(b, c(0x7fff_ffff));
        // the sign bit set where the magnitude reaches LAST_FINITE
        let big = _mm_add_epi32(magnitude, c(0x8000_0000 - LAST_FINITE));
        let h = if _mm_movemask_ps(_mm_castsi128_ps(big)) != 0 {
            let lsb = _mm_and_si128(_mm_srli_epi32(b, 16), c(1));
            let nearest = _mm_srli_epi32(_mm_add_epi32(b, _mm_add_epi32(c(0x7fff), lsb)), 16);
            // signed compares of magnitudes (< 2^31)
            let last = _mm_cmpgt_epi32(magnitude, c(LAST_FINITE - 1));
            let h = _mm_or_si128(_mm_and_si128(last, nearest), _mm_andnot_si128(last, up));
            let nan = _mm_cmpgt_epi32(magnitude, c(0x7f80_0000));
            _mm_or_si128(_mm_and_si128(nan, c(0x7fc0)), _mm_andnot_si128(nan, h))
        } else {
            up
        };
        let h = _mm_srai_epi32(_mm_slli_epi32(h, 16), 16);
        _mm_storel_epi64(p as *mut __m128i, _mm_packs_epi32(h, h));
    }
}
