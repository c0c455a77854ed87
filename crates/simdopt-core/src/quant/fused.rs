//! The fused building block: one pass over a tensor in which each element's slots are read from
//! their storage (f32, bfloat16 or 8-bit codes), updated in f32 by the rule, and written back in
//! that storage. The rule's update ([`SlotUpdate`]) is written once; the storage is the driver's.
//!
//! 8-bit slots go block by block, in two passes over the block as bitsandbytes' 8-bit optimizers
//! do: the new absmax of a block is the max of its *new* values, so pass 1 dequantizes, updates
//! (the variable included, with the unrounded new state) and keeps the block's new values in a
//! block-sized scratch (in cache, never the tensor in f32) while taking their absmax; pass 2
//! quantizes the scratch with it.

use super::bf16;
use super::blockwise::{load_codes, quantize_with_absmax, MaxAcc, Quantized};
use super::codebook::Codebook;
use crate::lanes::{drive, ElementKernel, Lanes};

/// An element-wise update of `S` slots.
pub trait SlotUpdate<const S: usize> {
    /// Updates elements `i..i + L::WIDTH`: gets the slots' current values, returns their new ones
    /// (and reads/writes the rule's own buffers, such as the variable and gradient, itself).
    ///
    /// # Safety
    /// Every buffer the update holds must be valid for `L::WIDTH` elements from `i`.
    unsafe fn update<L: Lanes>(&self, i: usize, slots: [L; S]) -> [L; S];
}

/// f32 slots (today's storage).
pub fn update_f32<K: SlotUpdate<S>, const S: usize>(k: &K, slots: [&mut [f32]; S]) {
    let n = common_len(slots.iter().map(|s| s.len()));
    drive(&F32Slots { k, slots: slots.map(|s| s.as_mut_ptr()) }, n)
}

/// bfloat16 slots: widened exactly, updated in f32, rounded to nearest even on the way back.
pub fn update_bf16<K: SlotUpdate<S>, const S: usize>(k: &K, slots: [&mut [u16]; S]) {
    let n = common_len(slots.iter().map(|s| s.len()));
    drive(&Bf16Slots { k, slots: slots.map(|s| s.as_mut_ptr()) }, n)
}

/// 8-bit block-wise slots, each with its code map (all with the same block size).
pub fn update_int8<K: SlotUpdate<S>, const S: usize>(k: &K, mut slots: [(&Codebook, &mut Quantized); S]) {
    let n = common_len(slots.iter().map(|(_, q)| q.len()));
    let block = slots.first().map_or(1, |(_, q)| q.block);
    assert!(slots.iter().all(|(_, q)| q.block == block), "slots of one tensor share a block size");
    let mut scratch = vec![0.0f32; S * block.min(n)];
    let mut start = 0;
    for b in 0..n.div_ceil(block) {
        let len = block.min(n - start);
        let accs: [MaxAcc; S] = core::array::from_fn(|_| MaxAcc::default());
        let pass1 = Int8Pass1 {
            k,
            start,
            codes: core::array::from_fn(|s| slots[s].1.codes[start..].as_ptr()),
            maps: core::array::from_fn(|s| slots[s].0),
            absmax: core::array::from_fn(|s| slots[s].1.absmax[b]),
            scratch: core::array::from_fn(|s| scratch[s * len..].as_mut_ptr()),
            accs: &accs,
        };
        drive(&pass1, len);
        for (s, (cb, q)) in slots.iter_mut().enumerate() {
            let m = accs[s].get();
            q.absmax[b] = m;
            quantize_with_absmax(cb, &scratch[s * len..(s + 1) * len], m, &mut q.codes[start..start + len]);
        }
        start += len;
    }
}

fn common_len(mut lens: impl Iterator<Item = usize>) -> usize {
    let n = lens.next().unwrap_or(0);
    assert!(lens.all(|l| l == n), "slots of one tensor have its length");
    n
}

struct F32Slots<'a, K, const S: usize> {
    k: &'a K,
    slots: [*mut f32; S],
}

impl<K: SlotUpdate<S>, const S: usize> ElementKernel for F32Slots<'_, K, S> {
    #[inline(always)]
    unsafe fn step<L: Lanes>(&self, i: usize) {
        let new = self.k.update(i, self.slots.map(|p| L::load(p.add(i))));
        for (x, p) in new.into_iter().zip(self.slots) {
            x.store(p.add(i));
        }
    }
}

struct Bf16Slots<'a, K, const S: usize> {
    k: &'a K,
    slots: [*mut u16; S],
}

impl<K: SlotUpdate<S>, const S: usize> ElementKernel for Bf16Slots<'_, K, S> {
    #[inline(always)]
    unsafe fn step<L: Lanes>(&self, i: usize) {
        let new = self.k.update(i, self.slots.map(|p| bf16::load::<L>(p.add(i))));
        for (x, p) in new.into_iter().zip(self.slots) {
            bf16::store(x, p.add(i));
        }
    }
}

/// Pass 1 over one block (`i` is block-relative; the update sees tensor indices).
struct Int8Pass1<'a, K, const S: usize> {
    k: &'a K,
    start: usize,
    codes: [*const u8; S],
    maps: [&'a Codebook; S],
    absmax: [f32; S],
    scratch: [*mut f32; S],
    accs: &'a [MaxAcc; S],
}

impl<K: SlotUpdate<S>, const S: usize> ElementKernel for Int8Pass1<'_, K, S> {
    #[inline(always)]
    unsafe fn step<L: Lanes>(&self, i: usize) {
        let old: [L; S] = core::array::from_fn(|s| load_codes::<L>(self.maps[s], self.codes[s].add(i)) * L::splat(self.absmax[s]));
        let new = self.k.update(self.start + i, old);
        for s in 0..S {
            new[s].store(self.scratch[s].add(i));
            self.accs[s].add(new[s]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::blockwise::{dequantize, quantize};

    /// `s = 0.5 * s + g[i]` for one slot.
    struct Decay<'a>(&'a [f32]);

    impl SlotUpdate<1> for Decay<'_> {
        unsafe fn update<L: Lanes>(&self, i: usize, [s]: [L; 1]) -> [L; 1] {
            [s * L::splat(0.5) + L::load(self.0.as_ptr().add(i))]
        }
    }

    #[test]
    fn int8_update_equals_dequantize_update_quantize() {
        let cb = Codebook::signed();
        let n = 1000;
        let g: Vec<f32> = (0..n).map(|i| ((i * 37 % 101) as f32 - 50.0) * 1e-2).collect();
        let start: Vec<f32> = (0..n).map(|i| ((i * 13 % 29) as f32 - 14.0) * 1e-1).collect();
        let mut q = quantize(cb, &start, 256);
        let mut f = vec![0.0; n];
        dequantize(cb, &q, &mut f);
        for (x, gi) in f.iter_mut().zip(&g) {
            *x = *x * 0.5 + gi;
        }
        update_int8(&Decay(&g), [(cb, &mut q)]);
        assert_eq!(q, quantize(cb, &f, 256));
    }

    #[test]
    fn bf16_update_rounds_the_f32_result() {
        let g = [1.0f32, -3.0, 1e-3, 7.5, 0.1];
        let mut s: Vec<u16> = bf16::from_slice(&[0.3, 0.7, -1.1, 2.0, 1e-8]);
        let expect: Vec<u16> = s.iter().zip(&g).map(|(&h, &gi)| bf16::from_f32(bf16::to_f32(h) * 0.5 + gi)).collect();
        update_bf16(&Decay(&g), [&mut s]);
        assert_eq!(s, expect);
    }
}
