//! A compressed slot's raw storage: bfloat16 bits, or 8-bit codes and block absmax, as
//! checkpoints and `getWeights({ raw: true })` carry them (restored exactly).

use crate::slot::{Slot, SlotData};

/// A compressed slot's raw storage (checkpoints, `getWeights({ raw: true })`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RawSlot<'a> {
    Bf16(&'a [u16]),
    Int8 { codes: &'a [u8], absmax: &'a [f32] },
}

impl Slot {
    /// The raw storage of a compressed slot (`None` for f32 and int32 slots).
    pub fn raw(&self) -> Option<RawSlot<'_>> {
        match &self.data {
            SlotData::Bf16(v) => Some(RawSlot::Bf16(v)),
            SlotData::Int8(q, _) => Some(RawSlot::Int8 { codes: &q.codes, absmax: &q.absmax }),
            _ => None,
        }
    }

    /// Whether `raw` fits this slot: the same storage and lengths.
    pub fn fits_raw(&self, raw: &RawSlot<'_>) -> bool {
        match (&self.data, raw) {
            (SlotData::Bf16(v), RawSlot::Bf16(h)) => v.len() == h.len(),
            (SlotData::Int8(q, _), RawSlot::Int8 { codes, absmax }) => q.codes.len() == codes.len() && q.absmax.len() == absmax.len(),
            _ => false,
        }
    }

    /// Overwrites the raw storage (the caller checked [`Slot::fits_raw`]).
    pub fn set_raw(&mut self, raw: &RawSlot<'_>) {
        match (&mut self.data, raw) {
            (SlotData::Bf16(v), RawSlot::Bf16(h)) => v.copy_from_slice(h),
            (SlotData::Int8(q, _), RawSlot::Int8 { codes, absmax }) => {
                q.codes.copy_from_slice(codes);
                q.absmax.copy_from_slice(absmax);
            }
            _ => panic!("the raw storage does not fit the slot"),
        }
    }
}
