//! A tiny lane abstraction so every kernel is written once and runs as SIMD (wasm `simd128`, or
//! fixed-width arrays that LLVM vectorises natively) and as plain scalar code for the tail.
//!
//! Every operation is lane-wise and IEEE-exact (`+ - * /`, `sqrt`), and `min`/`max` use one
//! fixed NaN rule, so a SIMD lane and the scalar path give bit-identical results. Nothing here
//! contracts to fused multiply-add.

use crate::quant::codebook::CodeTable;
use core::ops::{Add, Div, Mul, Neg, Sub};

/// A pack of `WIDTH` f32 values with lane-wise arithmetic.
pub trait Lanes: Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self> + Neg<Output = Self> {
    const WIDTH: usize;
    fn splat(x: f32) -> Self;
    /// # Safety
    /// `p` must be valid for reading `WIDTH` f32 values.
    unsafe fn load(p: *const f32) -> Self;
    /// # Safety
    /// `p` must be valid for writing `WIDTH` f32 values.
    unsafe fn store(self, p: *mut f32);
    fn sqrt(self) -> Self;
    fn abs(self) -> Self;
    /// `if self < other { other } else { self }` (Eigen's/`std::max` rule: a NaN in `other` is ignored).
    fn max(self, other: Self) -> Self;
    /// `if other < self { other } else { self }` (`std::min` rule).
    fn min(self, other: Self) -> Self;
    /// Lane-wise `if self > other { a } else { b }`.
    fn select_gt(self, other: Self, a: Self, b: Self) -> Self;
    /// Applies a scalar function to every lane (for `pow`, which has no SIMD instruction).
    fn map(self, f: impl Fn(f32) -> f32) -> Self;

    // Byte and half-word lanes of the compressed optimizer state (`quant`). The defaults go lane
    // by lane through memory; SIMD builds widen and narrow in registers.

    /// Lanes `table[idx[k]]` (an 8-bit code's value).
    ///
    /// # Safety
    /// `idx` must be valid for reading `WIDTH` bytes.
    #[inline(always)]
    unsafe fn gather_u8(table: &[f32; 256], idx: *const u8) -> Self {
        let mut x = [0.0f32; MAX_LANES];
        for k in 0..Self::WIDTH {
            x[k] = table[*idx.add(k) as usize];
        }
        Self::load(x.as_ptr())
    }

    /// Stores `WIDTH` bytes: the low byte of each lane's bits of `est`, plus one where
    /// `v >= upper[that byte]` (an 8-bit code settled against the bin above its estimate).
    ///
    /// # Safety
    /// `out` must be valid for writing `WIDTH` bytes.
    #[inline(always)]
    unsafe fn store_settled_u8(est: Self, v: Self, upper: &[f32; 256], out: *mut u8) {
        let (mut e, mut x) = ([0.0f32; MAX_LANES], [0.0f32; MAX_LANES]);
        est.store(e.as_mut_ptr());
        v.store(x.as_mut_ptr());
        for k in 0..Self::WIDTH {
            let b = e[k].to_bits() as u8;
            *out.add(k) = b + (x[k] >= upper[b as usize]) as u8;
        }
    }

    /// Stores `WIDTH` bytes: the 8-bit codes of normalised values `v` (any float32: the table
    /// clamps to the map's range and codes NaN as 0) by table ([`CodeTable::code`]; SIMD builds
    /// compute the index and the code in lanes, the table read lane by lane).
    ///
    /// # Safety
    /// `out` must be valid for writing `WIDTH` bytes.
    #[inline(always)]
    unsafe fn store_table_codes(v: Self, t: &CodeTable, out: *mut u8) {
        let mut vs = [0.0f32; MAX_LANES];
        v.store(vs.as_mut_ptr());
        for k in 0..Self::WIDTH {
            *out.add(k) = t.code(vs[k]);
        }
    }

    /// [`Lanes::store_table_codes`] of `lo` then `hi` ([`Pair`]'s store: the wasm SIMD build
    /// narrows the eight codes together and stores them at once).
    ///
    /// # Safety
    /// `out` must be valid for writing `2 * WIDTH` bytes.
    #[inline(always)]
    unsafe fn store_table_codes_pair(lo: Self, hi: Self, t: &CodeTable, out: *mut u8) {
        Self::store_table_codes(lo, t, out);
        Self::store_table_codes(hi, t, out.add(Self::WIDTH));
    }

    /// Lanes widened exactly from bfloat16 bits (`h << 16`).
    ///
    /// # Safety
    /// `p` must be valid for reading `WIDTH` values.
    #[inline(always)]
    unsafe fn load_bf16(p: *const u16) -> Self {
        let mut x = [0.0f32; MAX_LANES];
        for k in 0..Self::WIDTH {
            x[k] = f32::from_bits((*p.add(k) as u32) << 16);
        }
        Self::load(x.as_ptr())
    }

    /// Stores the lanes rounded to bfloat16 (nearest even; every NaN becomes `0x7fc0`).
    ///
    /// # Safety
    /// `p` must be valid for writing `WIDTH` values.
    #[inline(always)]
    unsafe fn store_bf16(self, p: *mut u16) {
        let mut x = [0.0f32; MAX_LANES];
        self.store(x.as_mut_ptr());
        for k in 0..Self::WIDTH {
            *p.add(k) = crate::quant::bf16::from_f32(x[k]);
        }
    }

    /// Stores the lanes rounded to bfloat16 stochastically: lane `k` as element `index + k` of a
    /// slot whose step seed is `seed` (`quant::bf16::from_f32_dithered`, `dither`). `index` is
    /// a multiple of `WIDTH` (the SIMD lanes take their dithers from one hash, see
    /// `quant::bf16::xorshift`).
    ///
    /// # Safety
    /// `p` must be valid for writing `WIDTH` values.
    #[inline(always)]
    unsafe fn store_bf16_dithered(self, p: *mut u16, index: u32, seed: u32) {
        use crate::quant::bf16::{dither, from_f32_dithered};
        let mut x = [0.0f32; MAX_LANES];
        self.store(x.as_mut_ptr());
        for k in 0..Self::WIDTH {
            *p.add(k) = from_f32_dithered(x[k], dither(index.wrapping_add(k as u32), seed));
        }
    }

    /// Two lane packs widened from `2 * WIDTH` bfloat16 values ([`Pair`]'s load: one load of
    /// eight half-words in the SIMD builds).
    ///
    /// # Safety
    /// `p` must be valid for reading `2 * WIDTH` values.
    #[inline(always)]
    unsafe fn load_bf16_pair(p: *const u16) -> (Self, Self) {
        (Self::load_bf16(p), Self::load_bf16(p.add(Self::WIDTH)))
    }

    /// [`Lanes::store_bf16_dithered`] of `lo` then `hi` (elements `index..index + 2 * WIDTH`,
    /// `index` a multiple of `2 * WIDTH`): [`Pair`]'s store.
    ///
    /// # Safety
    /// `p` must be valid for writing `2 * WIDTH` values.
    #[inline(always)]
    unsafe fn store_bf16_dithered_pair(lo: Self, hi: Self, p: *mut u16, index: u32, seed: u32) {
        lo.store_bf16_dithered(p, index, seed);
        hi.store_bf16_dithered(p.add(Self::WIDTH), index.wrapping_add(Self::WIDTH as u32), seed);
    }
}

/// The most lanes of any lane type (the per-lane defaults' buffers).
pub const MAX_LANES: usize = 8;

impl Lanes for f32 {
    const WIDTH: usize = 1;
    #[inline(always)]
    fn splat(x: f32) -> Self {
        x
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        *p
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        *p = self
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
    #[inline(always)]
    fn abs(self) -> Self {
        f32::from_bits(self.to_bits() & 0x7fff_ffff)
    }
    #[inline(always)]
    fn max(self, other: Self) -> Self {
        if self < other {
            other
        } else {
            self
        }
    }
    #[inline(always)]
    fn min(self, other: Self) -> Self {
        if other < self {
            other
        } else {
            self
        }
    }
    #[inline(always)]
    fn select_gt(self, other: Self, a: Self, b: Self) -> Self {
        if self > other {
            a
        } else {
            b
        }
    }
    #[inline(always)]
    fn map(self, f: impl Fn(f32) -> f32) -> Self {
        f(self)
    }
}

mod packs;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm_simd;
#[cfg(target_arch = "x86_64")]
mod x86_sse;

pub use packs::{Array, Pair};

/// The widest lane type of this build: wasm `v128` with `simd128`, 8 lanes natively (two SSE
/// registers on x86_64, fixed-width arrays elsewhere), plain `f32` on wasm without SIMD (so the
/// fallback build contains no SIMD instruction).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub type Wide = wasm_simd::F32x4;
#[cfg(all(target_arch = "wasm32", not(target_feature = "simd128")))]
pub type Wide = f32;
#[cfg(target_arch = "x86_64")]
pub type Wide = Pair<x86_sse::F32x4>;
#[cfg(not(any(target_arch = "wasm32", target_arch = "x86_64")))]
pub type Wide = Array<8>;

/// The lanes of the compressed passes' bodies (`quant`): eight in the wasm SIMD build (two
/// `v128`: eight bfloat16 values are one load and one store, eight 8-bit codes one narrow and
/// one store), else [`Wide`].
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(crate) type WideBytes = Pair<wasm_simd::F32x4>;
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
pub(crate) type WideBytes = Wide;

/// `REDUCE_WIDTH` lanes for the reductions, in registers where the build has SIMD.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(crate) type Reduce = Pair<wasm_simd::F32x4>;
#[cfg(target_arch = "x86_64")]
pub(crate) type Reduce = Pair<x86_sse::F32x4>;
#[cfg(not(any(all(target_arch = "wasm32", target_feature = "simd128"), target_arch = "x86_64")))]
pub(crate) type Reduce = Array<REDUCE_WIDTH>;

/// Width used by the fixed-order reductions: the same on every build, so sums agree bit for bit.
pub const REDUCE_WIDTH: usize = 8;

#[cfg(feature = "scalar-hook")]
#[doc(hidden)]
pub use crate::drive::force_scalar;
/// The raw element driver, for the core's passes that are not optimizer kernels (`quant`).
pub(crate) use crate::drive::{for_each as drive, for_each_in as drive_in, ElementKernel};

/// Σ x² in one fixed order on every build: `REDUCE_WIDTH` interleaved partial sums (lane j sums
/// elements j, j+W, j+2W, ...), combined pairwise, then the tail added in order.
pub fn sum_of_squares(x: &[f32], clip_value: Option<f32>) -> f32 {
    let body = x.len() - x.len() % REDUCE_WIDTH;
    let mut s = SumOfSquares::new(clip_value);
    s.add(&x[..body]);
    s.finish(&x[body..])
}

/// [`sum_of_squares`] fed in pieces (a gradient streamed a chunk at a time): the interleaved
/// partial sums are carried from piece to piece, so the result is the same bits as
/// [`sum_of_squares`] of the whole input.
#[derive(Clone, Copy)]
pub struct SumOfSquares {
    partial: [f32; REDUCE_WIDTH],
    clip_value: Option<f32>,
}

impl SumOfSquares {
    pub fn new(clip_value: Option<f32>) -> Self {
        SumOfSquares { partial: [0.0; REDUCE_WIDTH], clip_value }
    }

    /// Adds the next piece of the input's body: a multiple of `REDUCE_WIDTH` elements.
    pub fn add(&mut self, x: &[f32]) {
        assert!(x.len() % REDUCE_WIDTH == 0, "a piece of the body is a multiple of REDUCE_WIDTH elements");
        match self.clip_value {
            // The kernels' clip (`Lanes::min`/`max`, TF's rule): a NaN gradient stays NaN, so the
            // norm is NaN as in TF (`f32::min` would drop the NaN and give a finite norm).
            Some(c) => add_squares(&mut self.partial, x, |v| Lanes::max(Lanes::min(v, Reduce::splat(c)), Reduce::splat(-c))),
            None => add_squares(&mut self.partial, x, |v| v),
        }
    }

    /// The sum: the partial sums combined pairwise, then `tail` (the input's last
    /// `len % REDUCE_WIDTH` elements) added in order.
    pub fn finish(&self, tail: &[f32]) -> f32 {
        let a = &self.partial;
        let mut s = ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
        for &v in tail {
            let v = match self.clip_value {
                Some(c) => Lanes::max(Lanes::min(v, c), -c),
                None => v,
            };
            s = s + v * v;
        }
        s
    }
}

const _: () = assert!(<Reduce as Lanes>::WIDTH == REDUCE_WIDTH);

#[inline(always)]
fn add_squares(partial: &mut [f32; REDUCE_WIDTH], x: &[f32], wide: impl Fn(Reduce) -> Reduce) {
    const W: usize = REDUCE_WIDTH;
    // SAFETY: `partial` holds W == Reduce::WIDTH values; the loop reads `x[i..i + W]` with
    // `i + W <= x.len()`.
    let mut acc = unsafe { Reduce::load(partial.as_ptr()) };
    let mut i = 0;
    while i + W <= x.len() {
        let v = wide(unsafe { Reduce::load(x.as_ptr().add(i)) });
        acc = acc + v * v;
        i += W;
    }
    unsafe { acc.store(partial.as_mut_ptr()) };
}
