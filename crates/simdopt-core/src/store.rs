//! Tensor storage: every variable (and any gradient a caller keeps on the core's side) is an
//! f32 buffer owned here. In the wasm build this is WASM linear memory, and JavaScript views the
//! buffers in place. Buffers never move while they live, so views stay valid until the memory
//! itself grows.

use crate::error::{Error, Result};
use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, IxDyn};

/// A handle to a tensor of a [`Store`]: slab index in the low 32 bits, generation in the high
/// 32 bits, so a handle to a disposed tensor never reaches a newer one in the same slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(pub u64);

impl TensorId {
    pub fn index(self) -> u32 {
        self.0 as u32
    }
    pub fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }
    pub fn from_parts(index: u32, generation: u32) -> Self {
        TensorId(((generation as u64) << 32) | index as u64)
    }
}

/// An f32 tensor: row-major values and a shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Tensor {
    pub fn new(name: impl Into<String>, shape: Vec<usize>, data: Vec<f32>) -> Result<Self> {
        if element_count(&shape) != Some(data.len()) {
            return Err(Error::ShapeMismatch { what: "tensor values".into(), expected: shape, got: vec![data.len()] });
        }
        Ok(Tensor { name: name.into(), shape, data })
    }

    /// A zero-filled tensor. A shape whose element count overflows, or whose values cannot be
    /// allocated, is an error (not an abort).
    pub fn zeros(name: impl Into<String>, shape: Vec<usize>) -> Result<Self> {
        let n = element_count(&shape).ok_or_else(|| Error::ShapeMismatch {
            what: "tensor shape (too many elements)".into(),
            expected: shape.clone(),
            got: vec![],
        })?;
        let mut data = Vec::new();
        data.try_reserve_exact(n)
            .map_err(|_| Error::InvalidState { message: format!("out of memory: cannot allocate a tensor of {n} values") })?;
        data.resize(n, 0.0);
        Ok(Tensor { name: name.into(), shape, data })
    }

    /// Rows of a sparse update: the first dimension (a scalar has none).
    pub fn rows(&self) -> Option<usize> {
        self.shape.first().copied()
    }
}

/// The number of elements of a shape, or `None` if it overflows `usize` or needs more than
/// `isize::MAX` bytes of f32 values.
pub fn element_count(shape: &[usize]) -> Option<usize> {
    let n = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))?;
    (n <= isize::MAX as usize / core::mem::size_of::<f32>()).then_some(n)
}

/// A variable's shape and values, and a gradient held in the store.
pub(crate) type VarAndGrad<'a> = (&'a [usize], &'a mut [f32], Option<&'a [f32]>);

struct Entry {
    generation: u32,
    tensor: Option<Tensor>,
}

/// A slab of tensors addressed by [`TensorId`].
#[derive(Default)]
pub struct Store {
    entries: Vec<Entry>,
    free: Vec<u32>,
}

impl Store {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a tensor and returns its handle.
    pub fn insert(&mut self, tensor: Tensor) -> TensorId {
        if let Some(index) = self.free.pop() {
            let e = &mut self.entries[index as usize];
            e.generation = e.generation.wrapping_add(1).max(1);
            e.tensor = Some(tensor);
            TensorId::from_parts(index, e.generation)
        } else {
            self.entries.push(Entry { generation: 1, tensor: Some(tensor) });
            TensorId::from_parts((self.entries.len() - 1) as u32, 1)
        }
    }

    /// Adds an ndarray as a tensor.
    pub fn insert_array(&mut self, name: impl Into<String>, array: ArrayD<f32>) -> TensorId {
        let shape = array.shape().to_vec();
        let data = if array.is_standard_layout() { array.into_raw_vec_and_offset().0 } else { array.iter().copied().collect() };
        self.insert(Tensor { name: name.into(), shape, data })
    }

    /// Removes a tensor, returning it.
    pub fn remove(&mut self, id: TensorId) -> Result<Tensor> {
        let t = self.entry_mut(id)?.tensor.take().expect("checked by entry_mut");
        self.free.push(id.index());
        Ok(t)
    }

    fn entry_mut(&mut self, id: TensorId) -> Result<&mut Entry> {
        match self.entries.get_mut(id.index() as usize) {
            Some(e) if e.generation == id.generation() && e.tensor.is_some() => Ok(e),
            _ => Err(Error::UnknownTensor { id: id.0 }),
        }
    }

    /// The live handle in slab slot `index`, if any.
    pub fn id_at(&self, index: u32) -> Option<TensorId> {
        let e = self.entries.get(index as usize)?;
        e.tensor.as_ref().map(|_| TensorId::from_parts(index, e.generation))
    }

    pub fn contains(&self, id: TensorId) -> bool {
        self.get(id).is_ok()
    }

    pub fn get(&self, id: TensorId) -> Result<&Tensor> {
        match self.entries.get(id.index() as usize) {
            Some(Entry { generation, tensor: Some(t) }) if *generation == id.generation() => Ok(t),
            _ => Err(Error::UnknownTensor { id: id.0 }),
        }
    }

    pub fn get_mut(&mut self, id: TensorId) -> Result<&mut Tensor> {
        Ok(self.entry_mut(id)?.tensor.as_mut().expect("checked by entry_mut"))
    }

    /// An ndarray view of a tensor.
    pub fn view(&self, id: TensorId) -> Result<ArrayViewD<'_, f32>> {
        let t = self.get(id)?;
        Ok(ArrayViewD::from_shape(IxDyn(&t.shape), &t.data).expect("shape checked at insert"))
    }

    /// A mutable ndarray view of a tensor.
    pub fn view_mut(&mut self, id: TensorId) -> Result<ArrayViewMutD<'_, f32>> {
        let t = self.get_mut(id)?;
        Ok(ArrayViewMutD::from_shape(IxDyn(&t.shape), &mut t.data).expect("shape checked at insert"))
    }

    /// Number of live tensors.
    pub fn len(&self) -> usize {
        self.entries.len() - self.free.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A variable's shape and values for an update, and the values of another tensor of the
    /// store that holds its gradient (a distinct tensor).
    pub(crate) fn var_and_grad(&mut self, var: TensorId, grad: Option<TensorId>) -> Result<VarAndGrad<'_>> {
        self.entry_mut(var)?;
        let (vi, gi) = (var.index() as usize, grad.map(|g| g.index() as usize));
        if gi == Some(vi) {
            return Err(Error::InvalidState { message: "a gradient tensor cannot be its own variable".into() });
        }
        if let Some(g) = grad {
            self.get(g)?;
        }
        // Two disjoint borrows of the slab: split it between the two indices.
        let (lo, hi) = self.entries.split_at_mut(vi);
        let (v_entry, hi) = hi.split_first_mut().expect("checked by entry_mut");
        let g = gi.map(|gi| if gi < vi { &lo[gi] } else { &hi[gi - vi - 1] });
        let t = v_entry.tensor.as_mut().expect("checked by entry_mut");
        let g = g.map(|e| e.tensor.as_ref().expect("checked by get").data.as_slice());
        Ok((&t.shape, &mut t.data, g))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposed_handle_never_reaches_a_newer_tensor() {
        let mut s = Store::new();
        let a = s.insert(Tensor::new("a", vec![2], vec![1.0, 2.0]).unwrap());
        s.remove(a).unwrap();
        let b = s.insert(Tensor::new("b", vec![1], vec![3.0]).unwrap());
        assert_eq!(a.index(), b.index());
        assert!(matches!(s.get(a), Err(Error::UnknownTensor { .. })));
        assert_eq!(s.get(b).unwrap().data, vec![3.0]);
    }

    #[test]
    fn shape_must_match_values() {
        assert!(Tensor::new("x", vec![2, 2], vec![1.0; 3]).is_err());
    }

    #[test]
    fn overflowing_or_huge_shapes_are_errors() {
        // The product wraps around to 0 in usize: must not be taken for an empty tensor.
        let wraps = vec![1usize << (usize::BITS / 2), 1usize << (usize::BITS / 2)];
        assert!(Tensor::new("x", wraps.clone(), vec![]).is_err());
        assert!(matches!(Tensor::zeros("x", wraps), Err(Error::ShapeMismatch { .. })));
        assert!(Tensor::zeros("x", vec![usize::MAX / 2]).is_err());
        assert_eq!(Tensor::zeros("x", vec![2, 0, 3]).unwrap().data.len(), 0);
    }
}
