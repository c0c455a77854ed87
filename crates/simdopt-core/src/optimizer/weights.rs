//! The optimizer's weight list in Keras' order (`iterations`, optimizer-wide weights, EMA
//! averages, accumulators, then each variable's slots): names, values, shapes, `set_weights`,
//! and the compressed slots' storage and raw form.

use super::*;

impl Optimizer {
    /// Number of weights: iterations, global weights, then slots.
    pub fn weight_count(&self) -> usize {
        1 + self.weights.len()
    }

    /// Keras names of the weights (`Adam/iter:0`, `Adam/w/m:0`, ...).
    pub fn weight_names(&self) -> Vec<String> {
        let globals = self.rule.global_weights();
        std::iter::once(format!("{}/iter:0", self.name))
            .chain(self.weights.iter().map(|w| match *w {
                WeightRef::Global(i) => format!("{}/{}:0", self.name, globals[i].name),
                WeightRef::Average(v) => format!("{}/{}/average:0", self.name, self.states[v].var_name),
                WeightRef::Extra(e) => format!("{}/{}:0", self.name, self.extras[e].name),
                WeightRef::Accumulator(v) => format!("{}/{}/gradient_accumulator:0", self.name, self.states[v].var_name),
                WeightRef::Slot { var, slot } => format!("{}/{}/{}:0", self.name, self.states[var].var_name, self.slot_specs[slot].name),
            }))
            .collect()
    }

    /// The value of weight `i >= 1` (weight 0 is `iterations`).
    pub fn weight(&self, i: usize) -> Option<&[f32]> {
        match *self.weights.get(i.checked_sub(1)?)? {
            WeightRef::Global(g) => Some(core::slice::from_ref(&self.globals[g])),
            WeightRef::Average(v) => self.states[v].average.as_deref(),
            WeightRef::Accumulator(v) => self.states[v].accumulator.as_deref(),
            WeightRef::Slot { var, slot } => self.states[var].slots[slot].f32(),
            WeightRef::Extra(e) => Some(&self.extras[e].values),
        }
    }

    /// The shape of weight `i >= 1` as the optimizer stores it: a slot's own shape (Adafactor's
    /// factors, placeholders `[]`), an optimizer-wide weight's. None for the Keras 3 stage
    /// buffers (EMA average, gradient accumulator): they have their variable's shape.
    pub fn weight_shape(&self, i: usize) -> Option<&[usize]> {
        match *self.weights.get(i.checked_sub(1)?)? {
            WeightRef::Global(_) => Some(&[]),
            WeightRef::Slot { var, slot } => Some(&self.states[var].slots[slot].shape),
            WeightRef::Extra(e) => Some(&self.extras[e].shape),
            WeightRef::Average(_) | WeightRef::Accumulator(_) => None,
        }
    }

    /// The value of weight `i >= 1` when it is stored as int32 (a slot declared
    /// `SlotDtype::I32`); [`Optimizer::weight`] is None for it.
    pub fn weight_i32(&self, i: usize) -> Option<&[i32]> {
        match *self.weights.get(i.checked_sub(1)?)? {
            WeightRef::Slot { var, slot } => match &self.states[var].slots[slot].data {
                SlotData::I32(d) => Some(d),
                _ => None,
            },
            _ => None,
        }
    }

    fn weight_mut(&mut self, i: usize) -> Option<&mut [f32]> {
        match *self.weights.get(i.checked_sub(1)?)? {
            WeightRef::Global(g) => Some(core::slice::from_mut(&mut self.globals[g])),
            WeightRef::Average(v) => self.states[v].average.as_deref_mut(),
            WeightRef::Accumulator(v) => self.states[v].accumulator.as_deref_mut(),
            WeightRef::Slot { var, slot } => self.states[var].slots[slot].f32_mut(),
            WeightRef::Extra(e) => Some(&mut self.extras[e].values),
        }
    }

    /// Keras' `set_weights`: `iterations`, then every other weight in order. Checks the count and
    /// every size before writing anything.
    pub fn set_weights(&mut self, iterations: u64, rest: &[&[f32]]) -> Result<()> {
        if rest.len() + 1 != self.weight_count() {
            return Err(Error::WeightCount { optimizer: self.name.clone(), expected: self.weight_count(), got: rest.len() + 1 });
        }
        for (k, w) in rest.iter().enumerate() {
            let (expected, integer) = match self.weights[k] {
                WeightRef::Slot { var, slot } => {
                    let s = &self.states[var].slots[slot];
                    (s.len(), s.dtype() == Some(SlotDtype::I32))
                }
                _ => (self.weight(k + 1).map_or(0, <[f32]>::len), false),
            };
            if w.len() != expected {
                return Err(Error::WeightShape { index: k + 1, expected, got: w.len() });
            }
            // NaN and infinities would spread over a whole 8-bit block (see `quant::blockwise`).
            let compressed =
                matches!(self.weights[k], WeightRef::Slot { var, slot } if self.states[var].slots[slot].storage() == SlotStorage::Int8);
            if compressed && w.iter().any(|v| !v.is_finite()) {
                return Err(Error::InvalidState { message: format!("weight {} is an 8-bit slot: its values must be finite", k + 1) });
            }
            if integer && w.iter().any(|v| v.fract() != 0.0 || v.abs() > i32::MAX as f32) {
                return Err(Error::InvalidState { message: format!("weight {} is int32: its values must be integers", k + 1) });
            }
        }
        for (k, w) in rest.iter().enumerate() {
            match self.weights[k] {
                WeightRef::Slot { var, slot } => values::write_f32(&mut self.states[var].slots[slot].data, w),
                _ => self.weight_mut(k + 1).expect("counted").copy_from_slice(w),
            }
        }
        self.iterations = iterations;
        Ok(())
    }

    /// How the rule's moment slots are stored.
    pub fn slot_storage(&self) -> SlotStorage {
        self.slot_storage
    }

    /// Stores the rule's moment slots as `storage` (issue 16): only before the optimizer has
    /// slots, and only for a class whose slots are all moments (else a typed error naming the
    /// classes that support it). On error nothing changes.
    pub fn set_slot_storage(&mut self, storage: SlotStorage) -> Result<()> {
        if storage == self.slot_storage {
            return Ok(());
        }
        if storage != SlotStorage::Float32 && !supports_compressed_slots(&self.rule.slots(), self.class_name()) {
            return Err(Error::UnsupportedSlotDtype {
                optimizer: self.name.clone(),
                class_name: self.class_name().to_string(),
                dtype: storage.name().to_string(),
                supported: crate::registry::compressed_slot_classes(),
            });
        }
        if !self.states.is_empty() {
            return Err(Error::InvalidState {
                message: format!("optimizer '{}': the slot storage must be set before it has slots", self.name),
            });
        }
        self.slot_storage = storage;
        Ok(())
    }

    /// Weight `i >= 1` as f32 values: the weight itself, or a compressed slot widened or
    /// dequantized into a buffer that the next call reuses.
    pub fn weight_view(&mut self, i: usize) -> Option<&[f32]> {
        let Some(&WeightRef::Slot { var, slot }) = self.weights.get(i.checked_sub(1)?) else { return self.weight(i) };
        let s = &self.states[var].slots[slot];
        if s.raw().is_none() {
            return s.f32();
        }
        self.view.clear();
        self.view.resize(s.len(), 0.0);
        values::read_f32(&s.data, &mut self.view);
        Some(&self.view)
    }

    /// The raw storage of weight `i` if it is a compressed slot.
    pub fn raw_weight(&self, i: usize) -> Option<RawSlot<'_>> {
        match *self.weights.get(i.checked_sub(1)?)? {
            WeightRef::Slot { var, slot } => self.states[var].slots[slot].raw(),
            _ => None,
        }
    }

    /// Overwrites compressed slots with raw storage (a checkpoint's codes and scales): every
    /// entry is checked against its weight before anything is written.
    pub fn set_raw_weights(&mut self, raws: &[(usize, RawSlot<'_>)]) -> Result<()> {
        for (i, raw) in raws {
            let fits = match self.weights.get(i.wrapping_sub(1)) {
                Some(&WeightRef::Slot { var, slot }) => self.states[var].slots[slot].fits_raw(raw),
                _ => false,
            };
            let finite = match raw {
                RawSlot::Int8 { absmax, .. } => absmax.iter().all(|a| a.is_finite() && *a >= 0.0),
                RawSlot::Bf16(_) => true,
            };
            if !fits || !finite {
                return Err(Error::InvalidState {
                    message: format!("weight {i}: the raw slot values do not fit its storage (dtype, length or scales)"),
                });
            }
        }
        for (i, raw) in raws {
            if let WeightRef::Slot { var, slot } = self.weights[i - 1] {
                self.states[var].slots[slot].set_raw(raw);
            }
        }
        Ok(())
    }
}
