//! Portable lane packs: fixed-width arrays (vectorised by LLVM on targets without a lane type
//! of their own) and [`Pair`], two packs side by side.

use super::Lanes;
use core::ops::{Add, Div, Mul, Neg, Sub};

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
    #[inline(always)]
    unsafe fn gather_u8(t: &[f32; 256], idx: *const u8) -> Self {
        Pair(L::gather_u8(t, idx), L::gather_u8(t, idx.add(L::WIDTH)))
    }
    #[inline(always)]
    unsafe fn store_settled_u8(est: Self, v: Self, upper: &[f32; 256], out: *mut u8) {
        L::store_settled_u8(est.0, v.0, upper, out);
        L::store_settled_u8(est.1, v.1, upper, out.add(L::WIDTH));
    }
    #[inline(always)]
    unsafe fn store_table_codes(v: Self, t: &crate::quant::codebook::CodeTable, out: *mut u8) {
        L::store_table_codes_pair(v.0, v.1, t, out)
    }
    #[inline(always)]
    unsafe fn load_bf16(p: *const u16) -> Self {
        let (lo, hi) = L::load_bf16_pair(p);
        Pair(lo, hi)
    }
    #[inline(always)]
    unsafe fn store_bf16(self, p: *mut u16) {
        self.0.store_bf16(p);
        self.1.store_bf16(p.add(L::WIDTH));
    }
    #[inline(always)]
    unsafe fn store_bf16_dithered(self, p: *mut u16, index: u32, seed: u32) {
        L::store_bf16_dithered_pair(self.0, self.1, p, index, seed)
    }
}
