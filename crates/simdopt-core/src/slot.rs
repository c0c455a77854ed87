//! Optimizer state: what a rule declares per variable ([`SlotSpec`]: name, initial value, shape,
//! storage type) and how the core stores it ([`Slot`]). Storage is a typed enum, so that a
//! compressed storage type (bfloat16, blockwise int8) can be added behind it without changing
//! the rules that keep f32 slots.

use std::borrow::Cow;

use crate::error::{Error, Result};

/// The shape of a slot, relative to its variable's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotShape {
    /// The variable's shape (Adam's `m`, `v`, ...).
    LikeVar,
    /// One value (`shape == []`).
    Scalar,
    /// The variable's shape without its last axis (Adafactor's row factor, the mean over axis
    /// -1). A variable of rank < 2 gets a scalar placeholder (0) instead, as Keras does (Keras
    /// makes it int32; here it keeps the slot's storage, so that every weight reads as f32).
    FactoredRows,
    /// The variable's shape without its second-to-last axis (Adafactor's column factor, the mean
    /// over axis -2). A variable of rank < 2 gets a scalar placeholder instead (as `FactoredRows`).
    FactoredCols,
}

/// How a slot's values are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotDtype {
    F32,
    /// Keras' integer variables (placeholders and counters).
    I32,
}

impl SlotDtype {
    pub fn name(self) -> &'static str {
        match self {
            SlotDtype::F32 => "float32",
            SlotDtype::I32 => "int32",
        }
    }
}

/// A per-variable slot (or an optimizer-wide scalar weight): Keras name, initial value, shape
/// and storage.
#[derive(Clone, Debug, PartialEq)]
pub struct SlotSpec {
    pub name: Cow<'static, str>,
    pub init: f32,
    pub shape: SlotShape,
    pub dtype: SlotDtype,
}

impl SlotSpec {
    /// An f32 slot of the variable's shape (what every TF 2.4 rule has).
    pub const fn like_var(name: &'static str, init: f32) -> Self {
        SlotSpec { name: Cow::Borrowed(name), init, shape: SlotShape::LikeVar, dtype: SlotDtype::F32 }
    }

    /// An f32 scalar.
    pub const fn scalar(name: &'static str, init: f32) -> Self {
        SlotSpec { name: Cow::Borrowed(name), init, shape: SlotShape::Scalar, dtype: SlotDtype::F32 }
    }

    /// The shape and storage of this slot for a variable of shape `var`.
    pub fn layout(&self, var: &[usize]) -> (Vec<usize>, SlotDtype) {
        let r = var.len();
        match self.shape {
            SlotShape::LikeVar => (var.to_vec(), self.dtype),
            SlotShape::Scalar => (Vec::new(), self.dtype),
            SlotShape::FactoredRows | SlotShape::FactoredCols if r < 2 => (Vec::new(), self.dtype),
            SlotShape::FactoredRows => (var[..r - 1].to_vec(), self.dtype),
            SlotShape::FactoredCols => {
                let mut s = var[..r - 2].to_vec();
                s.push(var[r - 1]);
                (s, self.dtype)
            }
        }
    }
}

/// The values of one slot.
#[derive(Clone, Debug, PartialEq)]
pub enum SlotData {
    F32(Vec<f32>),
    I32(Vec<i32>),
    /// A slot this variable does not have (an external rule creates slots one by one, so a
    /// variable may lack a slot another one has).
    Absent,
}

/// One slot of one variable: its shape and values.
#[derive(Clone, Debug, PartialEq)]
pub struct Slot {
    pub shape: Vec<usize>,
    pub data: SlotData,
}

impl Slot {
    /// A slot of `spec` for a variable of shape `var`, filled with its initial value. Running
    /// out of memory is an error, not an abort.
    pub fn new(spec: &SlotSpec, var: &[usize]) -> Result<Self> {
        let (shape, dtype) = spec.layout(var);
        let len = shape.iter().product::<usize>();
        let data = match dtype {
            SlotDtype::F32 => SlotData::F32(filled(len, spec.init)?),
            SlotDtype::I32 => SlotData::I32(filled(len, spec.init as i32)?),
        };
        Ok(Slot { shape, data })
    }

    /// A placeholder for a slot the variable does not have.
    pub fn absent() -> Self {
        Slot { shape: Vec::new(), data: SlotData::Absent }
    }

    /// The storage type (`None` when absent).
    pub fn dtype(&self) -> Option<SlotDtype> {
        match self.data {
            SlotData::F32(_) => Some(SlotDtype::F32),
            SlotData::I32(_) => Some(SlotDtype::I32),
            SlotData::Absent => None,
        }
    }

    pub fn len(&self) -> usize {
        match &self.data {
            SlotData::F32(v) => v.len(),
            SlotData::I32(v) => v.len(),
            SlotData::Absent => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The f32 values, or `None` for another storage type.
    pub fn f32(&self) -> Option<&[f32]> {
        match &self.data {
            SlotData::F32(v) => Some(v),
            _ => None,
        }
    }

    pub fn f32_mut(&mut self) -> Option<&mut [f32]> {
        match &mut self.data {
            SlotData::F32(v) => Some(v),
            _ => None,
        }
    }
}

/// The f32 values of the first `S` slots, for a rule's kernels. Panics if one is stored
/// otherwise: a rule only asks for the slots it declared as f32.
pub fn f32_slots<const S: usize>(slots: &mut [Slot]) -> [&mut [f32]; S] {
    let mut it = slots.iter_mut();
    core::array::from_fn(|_| it.next().and_then(Slot::f32_mut).expect("the rule declared these slots as f32"))
}

/// `len` copies of `v`, or an error if the memory cannot be had (instead of an abort).
pub fn filled<T: Copy>(len: usize, v: T) -> Result<Vec<T>> {
    let mut out = Vec::new();
    out.try_reserve_exact(len).map_err(|_| out_of_memory(len))?;
    out.resize(len, v);
    Ok(out)
}

pub fn out_of_memory(len: usize) -> Error {
    Error::InvalidState { message: format!("out of memory: cannot allocate {len} values") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factored_slots_drop_one_of_the_last_two_axes() {
        let rows = SlotSpec { shape: SlotShape::FactoredRows, ..SlotSpec::like_var("r", 0.0) };
        let cols = SlotSpec { shape: SlotShape::FactoredCols, ..SlotSpec::like_var("c", 0.0) };
        assert_eq!(rows.layout(&[2, 3, 4]), (vec![2, 3], SlotDtype::F32));
        assert_eq!(cols.layout(&[2, 3, 4]), (vec![2, 4], SlotDtype::F32));
        assert_eq!(rows.layout(&[5]), (vec![], SlotDtype::F32));
        assert_eq!(SlotSpec::scalar("u", 1.0).layout(&[7, 7]), (vec![], SlotDtype::F32));
        let s = Slot::new(&cols, &[3, 5]).unwrap();
        assert_eq!((s.shape.clone(), s.f32().unwrap().len()), (vec![5], 5));
        let dummy = Slot::new(&rows, &[5]).unwrap();
        assert_eq!((dummy.dtype(), dummy.f32()), (Some(SlotDtype::F32), Some(&[0.0f32][..])));
        let int = SlotSpec { dtype: SlotDtype::I32, ..rows };
        assert_eq!((Slot::new(&int, &[5]).unwrap().dtype(), Slot::new(&int, &[5]).unwrap().len()), (Some(SlotDtype::I32), 1));
    }
}
