//! A tiny lane abstraction so every kernel is written once and runs as SIMD (wasm `simd128`, or
//! fixed-width arrays that LLVM vectorises natively) and as plain scalar code for the tail.
//!
//! Every operation is lane-wise and IEEE-exact (`+ - * /`, `sqrt`), and `min`/`max` use one
//! fixed NaN rule, so a SIMD lane and the scalar path give bit-identical results. Nothing here
//! contracts to fused multiply-add.

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
}

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

/// Fixed-width arrays: LLVM turns these lane loops into the host's vector instructions.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct Array<const N: usize>(pub [f32; N]);

macro_rules! array_binop {
    ($tr:ident, $f:ident, $op:tt) => {
        impl<const N: usize> $tr for Array<N> {
            type Output = Self;
            #[inline(always)]
            fn $f(self, o: Self) -> Self {
                let mut r = self.0;
                for i in 0..N {
                    r[i] = self.0[i] $op o.0[i];
                }
                Array(r)
            }
        }
    };
}
array_binop!(Add, add, +);
array_binop!(Sub, sub, -);
array_binop!(Mul, mul, *);
array_binop!(Div, div, /);

impl<const N: usize> Neg for Array<N> {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        self.map(|x| -x)
    }
}

impl<const N: usize> Array<N> {
    #[inline(always)]
    fn zip(self, o: Self, f: impl Fn(f32, f32) -> f32) -> Self {
        let mut r = self.0;
        for i in 0..N {
            r[i] = f(self.0[i], o.0[i]);
        }
        Array(r)
    }
}

impl<const N: usize> Lanes for Array<N> {
    const WIDTH: usize = N;
    #[inline(always)]
    fn splat(x: f32) -> Self {
        Array([x; N])
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Array(core::ptr::read_unaligned(p as *const [f32; N]))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        core::ptr::write_unaligned(p as *mut [f32; N], self.0)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        self.map(Lanes::sqrt)
    }
    #[inline(always)]
    fn abs(self) -> Self {
        self.map(Lanes::abs)
    }
    #[inline(always)]
    fn max(self, o: Self) -> Self {
        self.zip(o, Lanes::max)
    }
    #[inline(always)]
    fn min(self, o: Self) -> Self {
        self.zip(o, Lanes::min)
    }
    #[inline(always)]
    fn select_gt(self, o: Self, a: Self, b: Self) -> Self {
        let mut r = b.0;
        for i in 0..N {
            if self.0[i] > o.0[i] {
                r[i] = a.0[i];
            }
        }
        Array(r)
    }
    #[inline(always)]
    fn map(self, f: impl Fn(f32) -> f32) -> Self {
        let mut r = self.0;
        for x in r.iter_mut() {
            *x = f(*x);
        }
        Array(r)
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm_simd {
    use super::Lanes;
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
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unused_unsafe)] // the SSE intrinsics are safe fns on newer Rust, unsafe on older ones
mod x86_sse {
    use super::Lanes;
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
    }
}

/// Two lane packs side by side (lanes `0..W` then `W..2W`): eight lanes from two 4-lane registers,
/// so that native kernels keep the 8-wide stepping while the vectors stay in registers.
#[derive(Clone, Copy)]
pub struct Pair<L>(pub L, pub L);

macro_rules! pair_binop {
    ($tr:ident, $f:ident) => {
        impl<L: Lanes> $tr for Pair<L> {
            type Output = Self;
            #[inline(always)]
            fn $f(self, o: Self) -> Self {
                Pair($tr::$f(self.0, o.0), $tr::$f(self.1, o.1))
            }
        }
    };
}
pair_binop!(Add, add);
pair_binop!(Sub, sub);
pair_binop!(Mul, mul);
pair_binop!(Div, div);

impl<L: Lanes> Neg for Pair<L> {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        Pair(-self.0, -self.1)
    }
}

impl<L: Lanes> Lanes for Pair<L> {
    const WIDTH: usize = 2 * L::WIDTH;
    #[inline(always)]
    fn splat(x: f32) -> Self {
        Pair(L::splat(x), L::splat(x))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Pair(L::load(p), L::load(p.add(L::WIDTH)))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        self.0.store(p);
        self.1.store(p.add(L::WIDTH));
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        Pair(self.0.sqrt(), self.1.sqrt())
    }
    #[inline(always)]
    fn abs(self) -> Self {
        Pair(self.0.abs(), self.1.abs())
    }
    #[inline(always)]
    fn max(self, o: Self) -> Self {
        Pair(self.0.max(o.0), self.1.max(o.1))
    }
    #[inline(always)]
    fn min(self, o: Self) -> Self {
        Pair(self.0.min(o.0), self.1.min(o.1))
    }
    #[inline(always)]
    fn select_gt(self, o: Self, a: Self, b: Self) -> Self {
        Pair(self.0.select_gt(o.0, a.0, b.0), self.1.select_gt(o.1, a.1, b.1))
    }
    #[inline(always)]
    fn map(self, f: impl Fn(f32) -> f32) -> Self {
        Pair(self.0.map(&f), self.1.map(&f))
    }
}

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
pub(crate) use crate::drive::{for_each as drive, ElementKernel};

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
