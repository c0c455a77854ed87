//! A slot's values as f32, whatever its storage: read (widened or dequantized) and written back
//! (rounded or quantized), whole (weight views, `set_weights`) or a window of its elements (the
//! sparse step on compressed slots, [`crate::step::rows::windows`]).
//!
//! A window is written back as a step leaves it: what the step did not change keeps its storage.
//! A bfloat16 element whose value is bit for bit the one read keeps its bits; so does an 8-bit
//! block, codes and absmax (quantized again from its own dequantized values, a block can move:
//! when its largest code is not the map's ±1, its absmax shrinks). What changed is stored as a
//! dense step stores it: bfloat16 rounded stochastically, 8-bit blocks quantized whole.

use core::ops::Range;

use super::bf16;
use super::blockwise::{dequantize_block, quantize_block};
use super::storage::{codebook, BLOCK};
use crate::slot::{Moment, SlotData};

/// The values of a slot as f32 into `out` (of the slot's length).
pub fn read_f32(data: &SlotData, out: &mut [f32]) {
    read_window(data, 0..out.len(), out)
}

/// Elements `at` of a slot as f32 into `out` (of `at`'s length). For 8-bit slots `at` starts on
/// a block and ends on one or at the slot's end.
pub fn read_window(data: &SlotData, at: Range<usize>, out: &mut [f32]) {
    assert_eq!(out.len(), at.len(), "a window's length");
    match data {
        SlotData::F32(v) => out.copy_from_slice(&v[at]),
        SlotData::I32(v) => out.iter_mut().zip(&v[at]).for_each(|(o, &x)| *o = x as f32),
        SlotData::Bf16(v) => out.iter_mut().zip(&v[at]).for_each(|(o, &h)| *o = bf16::to_f32(h)),
        SlotData::Int8(q, m) => {
            let blocks = whole_blocks(q.block, q.len(), &at);
            read_int8(codebook(*m), &q.codes[at], &q.absmax[blocks], q.block, out)
        }
        SlotData::Absent => assert!(out.is_empty(), "an absent slot has no values"),
    }
}

/// Sets a slot from f32 values (of its length), rounded to nearest or quantized to its storage
/// (`set_weights`: every 8-bit block quantized from the values given).
pub fn write_f32(data: &mut SlotData, x: &[f32]) {
    match data {
        SlotData::F32(v) => v.copy_from_slice(x),
        SlotData::I32(v) => v.iter_mut().zip(x).for_each(|(d, &s)| *d = s as i32),
        SlotData::Bf16(v) => v.iter_mut().zip(x).for_each(|(d, &s)| *d = bf16::from_f32(s)),
        SlotData::Int8(q, m) => {
            let cb = codebook(*m);
            for (b, (xs, qs)) in x.chunks(q.block).zip(q.codes.chunks_mut(q.block)).enumerate() {
                q.absmax[b] = quantize_block(cb, xs, qs);
            }
        }
        SlotData::Absent => {}
    }
}

/// Stores `x`, the values of elements `at` after a step, back into the slot: only what changed
/// (see the module). `seed` is the step's bfloat16 dither seed for this slot
/// ([`bf16::step_seed`]); an element's dither is that of its index in the slot, as in the dense
/// passes.
pub fn write_window(data: &mut SlotData, at: Range<usize>, x: &[f32], seed: u32) {
    // SAFETY: the parts are `data`'s, borrowed mutably for the whole call.
    unsafe { SlotParts::of(data).window(at).write(x, None, seed) }
}

/// A slot's storage as pointers, so that threads can step disjoint windows of it at once (the
/// sparse step on compressed slots, [`crate::step::rows::windows`]).
#[derive(Clone, Copy)]
pub(crate) enum SlotParts {
    F32(*mut f32, usize),
    I32(*mut i32, usize),
    Bf16(*mut u16, usize),
    Int8 { codes: *mut u8, absmax: *mut f32, len: usize, block: usize, moment: Moment },
    Absent,
}

// SAFETY: the parts are only dereferenced through `window`, whose caller keeps windows disjoint.
unsafe impl Send for SlotParts {}
unsafe impl Sync for SlotParts {}

impl SlotParts {
    pub(crate) fn of(data: &mut SlotData) -> Self {
        match data {
            SlotData::F32(v) => SlotParts::F32(v.as_mut_ptr(), v.len()),
            SlotData::I32(v) => SlotParts::I32(v.as_mut_ptr(), v.len()),
            SlotData::Bf16(v) => SlotParts::Bf16(v.as_mut_ptr(), v.len()),
            SlotData::Int8(q, m) => SlotParts::Int8 {
                codes: q.codes.as_mut_ptr(),
                absmax: q.absmax.as_mut_ptr(),
                len: q.codes.len(),
                block: q.block,
                moment: *m,
            },
            SlotData::Absent => SlotParts::Absent,
        }
    }

    /// Elements `at` (whole blocks, for 8-bit slots), written back with [`Window::write`].
    ///
    /// # Safety
    /// The slot these parts were made of outlives `'a` and is neither moved nor resized meanwhile,
    /// and no other reference to elements `at` (for 8-bit slots, to their blocks) is used while
    /// the window lives.
    pub(crate) unsafe fn window<'a>(self, at: Range<usize>) -> Window<'a> {
        use core::slice::from_raw_parts_mut as slice;
        let within = |len: usize| assert!(at.start <= at.end && at.end <= len, "a window within its slot");
        match self {
            SlotParts::F32(p, len) => {
                within(len);
                Window::F32(slice(p.add(at.start), at.len()))
            }
            SlotParts::I32(p, len) => {
                within(len);
                Window::I32(slice(p.add(at.start), at.len()))
            }
            SlotParts::Bf16(p, len) => {
                within(len);
                Window::Bf16(slice(p.add(at.start), at.len()), at.start)
            }
            SlotParts::Int8 { codes, absmax, len, block, moment } => {
                within(len);
                let blocks = whole_blocks(block, len, &at);
                let (codes, absmax) = (slice(codes.add(at.start), at.len()), slice(absmax.add(blocks.start), blocks.len()));
                Window::Int8 { codes, absmax, block, moment }
            }
            SlotParts::Absent => {
                assert!(at.is_empty(), "an absent slot has no values");
                Window::Absent
            }
        }
    }
}

/// Elements of a slot's storage (an 8-bit window's codes with its blocks' absmax).
pub(crate) enum Window<'a> {
    F32(&'a mut [f32]),
    I32(&'a mut [i32]),
    /// With the first element's index in the slot: its dither's.
    Bf16(&'a mut [u16], usize),
    Int8 {
        codes: &'a mut [u8],
        absmax: &'a mut [f32],
        block: usize,
        moment: Moment,
    },
    Absent,
}

impl Window<'_> {
    /// The window's values as f32 into `out` (of its length).
    pub(crate) fn read(&self, out: &mut [f32]) {
        match self {
            Window::F32(v) => out.copy_from_slice(v),
            Window::I32(v) => out.iter_mut().zip(v.iter()).for_each(|(o, &x)| *o = x as f32),
            Window::Bf16(v, _) => out.iter_mut().zip(v.iter()).for_each(|(o, &h)| *o = bf16::to_f32(h)),
            Window::Int8 { codes, absmax, block, moment } => read_int8(codebook(*moment), codes, absmax, *block, out),
            Window::Absent => assert!(out.is_empty(), "an absent slot has no values"),
        }
    }

    /// Stores `x`, the window's values after a step, where they changed (see the module).
    /// `before`: the window's values as [`Window::read`] gave them before the step, if the
    /// caller kept them (an 8-bit window then compares with them instead of decoding its codes
    /// again).
    pub(crate) fn write(self, x: &[f32], before: Option<&[f32]>, seed: u32) {
        match self {
            Window::Bf16(v, first) => {
                assert_eq!(x.len(), v.len(), "a window's length");
                for (i, (d, &s)) in (first..).zip(v.iter_mut().zip(x)) {
                    if bf16::to_f32(*d).to_bits() != s.to_bits() {
                        *d = bf16::from_f32_dithered(s, bf16::dither(i as u32, seed));
                    }
                }
            }
            Window::Int8 { codes, absmax, block, moment } => {
                assert_eq!(x.len(), codes.len(), "a window's length");
                assert!(block <= BLOCK, "8-bit slots use blocks of BLOCK");
                assert!(before.map_or(true, |b| b.len() == x.len()), "a window's values before the step");
                let (cb, mut decoded) = (codebook(moment), [0.0f32; BLOCK]);
                for (b, ((xs, qs), m)) in x.chunks(block).zip(codes.chunks_mut(block)).zip(absmax).enumerate() {
                    let held = match before {
                        Some(before) => &before[b * block..b * block + xs.len()],
                        None => {
                            dequantize_block(cb, qs, *m, &mut decoded[..xs.len()]);
                            &decoded[..xs.len()]
                        }
                    };
                    if xs.iter().zip(held).any(|(a, h)| a.to_bits() != h.to_bits()) {
                        *m = quantize_block(cb, xs, qs);
                    }
                }
            }
            Window::F32(v) => v.copy_from_slice(x),
            Window::I32(v) => v.iter_mut().zip(x).for_each(|(d, &s)| *d = s as i32),
            Window::Absent => assert!(x.is_empty(), "an absent slot has no values"),
        }
    }
}

/// Blocks of 8-bit codes dequantized into `out`.
fn read_int8(cb: &super::Codebook, codes: &[u8], absmax: &[f32], block: usize, out: &mut [f32]) {
    assert_eq!(out.len(), codes.len(), "a window's length");
    for ((qs, os), &m) in codes.chunks(block).zip(out.chunks_mut(block)).zip(absmax) {
        dequantize_block(cb, qs, m, os);
    }
}

/// The blocks of window `at` of an 8-bit slot of `len` elements, which must cover whole blocks
/// (its last may be the slot's partial one).
fn whole_blocks(block: usize, len: usize, at: &Range<usize>) -> Range<usize> {
    assert!(at.start % block == 0 && (at.end % block == 0 || at.end == len), "an 8-bit window covers whole blocks");
    at.start / block..at.end.div_ceil(block)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::blockwise::{dequantize, quantize};
    use crate::quant::{Codebook, Quantized};
    use crate::slot::{Moment, Slot, SlotSpec, SlotStorage};

    #[test]
    fn windows_store_back_only_what_the_step_changed() {
        // 8-bit codes below the map's top: a block of them, dequantized and quantized again,
        // takes a smaller absmax and other codes, so keeping them shows the block was not
        // requantized.
        let n = 5 * BLOCK + 40;
        let codes: Vec<u8> = (0..n).map(|i| (i * 89 % 200) as u8).collect();
        let absmax: Vec<f32> = (0..n.div_ceil(BLOCK)).map(|b| 0.5 + b as f32).collect();
        let q = Quantized { codes: codes.clone(), absmax: absmax.clone(), block: BLOCK };
        let mut again = vec![0.0; n];
        dequantize(Codebook::unsigned(), &q, &mut again);
        assert_ne!(quantize(Codebook::unsigned(), &again, BLOCK).codes, codes, "the test's codes move when requantized");
        let mut data = SlotData::Int8(q, Moment::NonNegative);
        // Blocks 2 and 3, and the partial last one; the step changes elements of block 3.
        for at in [2 * BLOCK..4 * BLOCK, 5 * BLOCK..n] {
            let mut x = vec![0.0; at.len()];
            read_window(&data, at.clone(), &mut x);
            assert_eq!(x, again[at.clone()], "the window reads as the whole slot does");
            let changed = (at.start == 2 * BLOCK).then_some(BLOCK + 3..BLOCK + 67);
            if let Some(r) = changed.clone() {
                x[r].iter_mut().for_each(|v| *v *= 0.75);
            }
            write_window(&mut data, at.clone(), &x, 7);
            let SlotData::Int8(q, _) = &data else { panic!("int8 still") };
            for (k, xs) in x.chunks(BLOCK).enumerate() {
                let (b, r) = (at.start / BLOCK + k, at.start + k * BLOCK..(at.start + (k + 1) * BLOCK).min(n));
                if b == 3 {
                    let mut want = vec![0; r.len()];
                    let m = quantize_block(Codebook::unsigned(), xs, &mut want);
                    assert_eq!((&q.codes[r], q.absmax[b]), (&want[..], m), "the changed block, requantized");
                } else {
                    assert_eq!((&q.codes[r.clone()], q.absmax[b]), (&codes[r], absmax[b]), "block {b} unchanged");
                }
            }
        }
        // bfloat16: the changed elements dithered by their index in the slot, the rest kept
        // (a NaN's payload too, which rounding would quiet).
        let held: Vec<u16> = (0..n).map(|i| if i == 9 { 0x7f81 } else { bf16::from_f32(i as f32 * 0.37 - 100.0) }).collect();
        let mut data = SlotData::Bf16(held.clone());
        let at = 5..20;
        let mut x = vec![0.0; at.len()];
        read_window(&data, at.clone(), &mut x);
        x[7] *= 1.5;
        write_window(&mut data, at, &x, 7);
        let mut want = held.clone();
        want[12] = bf16::from_f32_dithered(x[7], bf16::dither(12, 7));
        assert_ne!(want[12], held[12]);
        assert_eq!(data, SlotData::Bf16(want));
    }

    #[test]
    fn windows_off_the_blocks_are_refused() {
        let mut data = SlotData::Int8(Quantized::zeros(3 * BLOCK + 5, BLOCK), Moment::Signed);
        for at in [1..BLOCK, 0..BLOCK + 1] {
            let x = vec![0.0; at.len()];
            let read = std::panic::catch_unwind(|| read_window(&data, at.clone(), &mut x.clone()));
            assert!(read.is_err(), "{at:?}");
            let write = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| write_window(&mut data, at.clone(), &x, 0)));
            assert!(write.is_err(), "{at:?}");
        }
    }

    #[test]
    fn f32_views_and_raw_round_trip() {
        let n = 4100; // 4,096 or more: compressed
        let x: Vec<f32> = (0..n).map(|i| ((i * 7 % 23) as f32 - 11.0) * 1e-3).collect();
        let mut s = Slot::stored(&SlotSpec::moment("m", 0.0, Moment::Signed), &[n], SlotStorage::Int8).unwrap();
        assert_eq!(s.len(), n);
        write_f32(&mut s.data, &x);
        let mut y = vec![0.0; n];
        read_f32(&s.data, &mut y);
        assert!(x.iter().zip(&y).all(|(a, b)| (a - b).abs() <= 0.011 * 1e-2), "within half a code step of the absmax");
        let mut t = Slot::stored(&SlotSpec::moment("m", 0.0, Moment::Signed), &[n], SlotStorage::Int8).unwrap();
        let raw = s.raw().unwrap();
        assert!(t.fits_raw(&raw));
        t.set_raw(&raw);
        assert_eq!(t, s);
    }
}
