//! Block-wise absmax quantization (8-bit optimizers paper, bitsandbytes' `quantize_blockwise` /
//! `dequantize_blockwise` on CPU): the tensor is cut into blocks of `block` elements (the last one
//! may be shorter); each block keeps its f32 absmax `max |x|` (NaN ignored, 0 for an all-zero
//! block) and one byte per element, the code of `x * (1 / absmax)` clamped to [-1, 1]
//! ([`Codebook::table`], or [`Codebook::estimate`] and [`Codebook::settle`]). An all-zero block
//! gets code 0 everywhere.
//! Dequantized, an element is `code[q] * absmax`.
//!
//! Non-finite values, as bitsandbytes: a NaN is left out of the absmax and gets code 0 (so it
//! comes back as `code[0] * absmax`, -0.99 absmax with the signed map, not NaN); an infinity
//! makes the absmax infinite, every finite value of its block then normalises to 0 and comes
//! back as 0 * inf = NaN. So a NaN or infinite moment does not stay confined to its element as
//! it does in f32 state: callers that care must check gradients first.
//!
//! These are the rules of bitsandbytes 0.49.2's CPU quantizer, whose codes the tests reproduce bit
//! for bit. (bitsandbytes 0.50's CPU quantizer first snaps `x / absmax` to a grid of 65,536 points
//! and takes that point's nearest code: see the tests for what that changes.)

use super::codebook::{CodeTable, Codebook};
use crate::lanes::{drive, drive_in, ElementKernel, Lanes, Wide, WideBytes, MAX_LANES};

const _: () = assert!(<Wide as Lanes>::WIDTH <= MAX_LANES);

/// A quantized tensor: one code per element, one absmax per block.
#[derive(Clone, Debug, PartialEq)]
pub struct Quantized {
    pub codes: Vec<u8>,
    pub absmax: Vec<f32>,
    pub block: usize,
}

impl Quantized {
    /// All codes 0 with absmax 0: every element dequantizes to (signed) zero, as bitsandbytes'
    /// 8-bit optimizer state starts.
    pub fn zeros(len: usize, block: usize) -> Quantized {
        assert!(block > 0, "block size must be positive");
        Quantized { codes: vec![0; len], absmax: vec![0.0; len.div_ceil(block)], block }
    }

    pub fn len(&self) -> usize {
        self.codes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// Bytes of storage per element (codes plus absmax).
    pub fn bytes_per_element(&self) -> f64 {
        (self.codes.len() + 4 * self.absmax.len()) as f64 / self.codes.len().max(1) as f64
    }
}

/// Quantizes `x` block by block.
pub fn quantize(cb: &Codebook, x: &[f32], block: usize) -> Quantized {
    let mut q = Quantized::zeros(x.len(), block);
    for (b, (xs, qs)) in x.chunks(block).zip(q.codes.chunks_mut(block)).enumerate() {
        q.absmax[b] = quantize_block(cb, xs, qs);
    }
    q
}

/// Dequantizes into `out` (of the tensor's length).
pub fn dequantize(cb: &Codebook, q: &Quantized, out: &mut [f32]) {
    assert_eq!(out.len(), q.codes.len(), "output length");
    for (b, (qs, os)) in q.codes.chunks(q.block).zip(out.chunks_mut(q.block)).enumerate() {
        dequantize_block(cb, qs, q.absmax[b], os);
    }
}

/// Dequantizes one block's `codes` with its absmax `m` into `out` (of their length).
pub fn dequantize_block(cb: &Codebook, codes: &[u8], m: f32, out: &mut [f32]) {
    assert_eq!(out.len(), codes.len(), "block lengths");
    drive(&Dequantize { cb, codes: codes.as_ptr(), absmax: m, out: out.as_mut_ptr() }, codes.len());
}

/// Quantizes one block into `codes` and returns its absmax.
pub fn quantize_block(cb: &Codebook, x: &[f32], codes: &mut [u8]) -> f32 {
    let m = absmax(x);
    quantize_with_absmax(cb, x, m, codes);
    m
}

/// Quantizes one block whose absmax `m` is known.
pub fn quantize_with_absmax(cb: &Codebook, x: &[f32], m: f32, codes: &mut [u8]) {
    assert_eq!(x.len(), codes.len(), "block lengths");
    if m == 0.0 {
        codes.fill(0);
    } else if let Some(table) = cb.table() {
        drive_in::<WideBytes, _>(&QuantizeByTable { table, x: x.as_ptr(), inv: 1.0 / m, codes: codes.as_mut_ptr() }, x.len());
    } else {
        drive(&Quantize { cb, x: x.as_ptr(), inv: 1.0 / m, codes: codes.as_mut_ptr() }, x.len());
    }
}

/// `max |x|` from 0, NaN ignored (`std::max(m, fabs(x))`, as bitsandbytes).
pub fn absmax(x: &[f32]) -> f32 {
    block_absmax(x)
}

/// Stores the codes of `x * inv` clamped to [-1, 1] (maps without a [`CodeTable`]): from their
/// estimates, settled against the bin above ([`Lanes::store_settled_u8`]).
///
/// # Safety
/// `q` must be valid for writing `L::WIDTH` bytes.
#[inline(always)]
pub unsafe fn store_codes_of<L: Lanes>(cb: &Codebook, x: L, inv: L, q: *mut u8) {
    let v = cb.clamped(x * inv);
    L::store_settled_u8(cb.estimate(v), v, cb.upper_bins(), q);
}

/// Lanes of `cb.code(q[k])`.
///
/// # Safety
/// `q` must be valid for reading `L::WIDTH` bytes.
#[inline(always)]
pub unsafe fn load_codes<L: Lanes>(cb: &Codebook, q: *const u8) -> L {
    L::gather_u8(cb.codes(), q)
}

/// `max |x|` from 0 over a block, NaN ignored, in register lanes (max is exact and order-free,
/// so every build gives the same value). Four accumulators: with one, each vector waited for the
/// max before it (four cycles a vector on x86), the 8-bit step's longest chain. Out of line:
/// inlined in each kernel's 8-bit pass, its loops made the scalar wasm binary 10% larger.
#[inline(never)]
pub fn block_absmax(x: &[f32]) -> f32 {
    const ACC: usize = 4;
    let w = <Wide as Lanes>::WIDTH;
    let mut acc = [Wide::splat(0.0); ACC];
    let mut i = 0;
    if !crate::drive::scalar_forced() {
        // SAFETY: every load is within `x` (`i + ACC * w <= x.len()`, then `i + w <= x.len()`).
        unsafe {
            while i + ACC * w <= x.len() {
                for (k, a) in acc.iter_mut().enumerate() {
                    *a = a.max(Wide::load(x.as_ptr().add(i + k * w)).abs());
                }
                i += ACC * w;
            }
            while i + w <= x.len() {
                acc[0] = acc[0].max(Wide::load(x.as_ptr().add(i)).abs());
                i += w;
            }
        }
    }
    // no accumulator holds NaN (each ignores it), so the order of these maxes does not matter
    let acc = acc[0].max(acc[1]).max(acc[2].max(acc[3]));
    let mut lanes = [0.0f32; MAX_LANES];
    // SAFETY: `MAX_LANES >= Wide::WIDTH`.
    unsafe { acc.store(lanes.as_mut_ptr()) };
    let m = lanes[..w].iter().fold(0.0f32, |m, &a| Lanes::max(m, a));
    x[i..].iter().fold(m, |m, &a| Lanes::max(m, a.abs()))
}

struct Quantize<'a> {
    cb: &'a Codebook,
    x: *const f32,
    inv: f32,
    codes: *mut u8,
}

impl ElementKernel for Quantize<'_> {
    #[inline(always)]
    unsafe fn step<L: Lanes>(&self, i: usize) {
        store_codes_of(self.cb, L::load(self.x.add(i)), L::splat(self.inv), self.codes.add(i));
    }
}

struct QuantizeByTable<'a> {
    table: &'a CodeTable,
    x: *const f32,
    inv: f32,
    codes: *mut u8,
}

impl ElementKernel for QuantizeByTable<'_> {
    #[inline(always)]
    unsafe fn step<L: Lanes>(&self, i: usize) {
        // no clamp: the table's buckets beyond ±1 hold the clamp's codes
        L::store_table_codes(L::load(self.x.add(i)) * L::splat(self.inv), self.table, self.codes.add(i));
    }
}

struct Dequantize<'a> {
    cb: &'a Codebook,
    codes: *const u8,
    absmax: f32,
    out: *mut f32,
}

impl ElementKernel for Dequantize<'_> {
    #[inline(always)]
    unsafe fn step<L: Lanes>(&self, i: usize) {
        (load_codes::<L>(self.cb, self.codes.add(i)) * L::splat(self.absmax)).store(self.out.add(i));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::codebook::nearest_code_by_search;

    #[test]
    fn round_trip_is_within_half_a_code_step() {
        let cb = Codebook::signed();
        let x: Vec<f32> = (0..1000).map(|i| ((i * 7919 % 1000) as f32 - 500.0) * 1e-3).collect();
        let q = quantize(cb, &x, 256);
        assert_eq!(q.absmax.len(), 4);
        let mut y = vec![0.0; x.len()];
        dequantize(cb, &q, &mut y);
        for (b, (xs, ys)) in x.chunks(256).zip(y.chunks(256)).enumerate() {
            let m = q.absmax[b];
            assert_eq!(m, xs.iter().fold(0.0f32, |a, v| a.max(v.abs())));
            for (&a, &d) in xs.iter().zip(ys) {
                let code = nearest_code_by_search(cb.codes(), a * (1.0 / m));
                assert_eq!(d, cb.code(code) * m);
                assert!((a - d).abs() <= 0.0071 * m, "{a} {d}");
            }
        }
    }

    #[test]
    fn block_absmax_is_the_scalar_fold_at_every_length() {
        let x: Vec<f32> = (0..300)
            .map(|i| match i % 23 {
                5 => f32::NAN,
                9 => -0.0,
                _ => ((i * 7919 % 601) as f32 - 300.0) * 1e-3,
            })
            .collect();
        for len in 0..x.len() {
            for start in [0, 1, 3] {
                let xs = &x[start.min(len)..len];
                let expect = xs.iter().fold(0.0f32, |m, &a| Lanes::max(m, a.abs()));
                assert_eq!(block_absmax(xs).to_bits(), expect.to_bits(), "len {len} from {start}");
            }
        }
        // the largest in each accumulator's lanes in turn
        for k in 0..64 {
            let mut y = vec![0.25f32; 64];
            y[k] = -0.5;
            assert_eq!(block_absmax(&y), 0.5, "at {k}");
        }
    }

    #[test]
    fn zero_block_and_nan() {
        let cb = Codebook::unsigned();
        let q = quantize(cb, &[0.0; 5], 4);
        assert_eq!(q, Quantized { codes: vec![0; 5], absmax: vec![0.0, 0.0], block: 4 });
        let q = quantize(cb, &[0.5, f32::NAN, 0.25], 4);
        assert_eq!(q.absmax, vec![0.5]);
        assert_eq!(q.codes[1], 0);
        assert_eq!(q.codes[0], 255);
    }

    #[test]
    fn non_finite_values_spread_over_their_block_as_documented() {
        let cb = Codebook::signed();
        let q = quantize(cb, &[f32::NAN, 0.5, -0.25], 8);
        let mut y = [0.0; 3];
        dequantize(cb, &q, &mut y);
        assert_eq!(y[0], cb.code(0) * 0.5, "NaN comes back as code[0] * absmax");
        let q = quantize(cb, &[f32::INFINITY, 1.0, 0.0], 8);
        assert_eq!(q.absmax, vec![f32::INFINITY]);
        dequantize(cb, &q, &mut y);
        assert!(y[1].is_nan() && y[2].is_nan(), "{y:?}");
        assert_eq!(y[0], f32::NEG_INFINITY, "inf * (1 / inf) is NaN: code 0, -0.99 * inf");
    }
}
