//! Cross-replica gradient aggregation: the element-wise sum (or mean) of N replicas' gradient
//! buffers, as the all-reduce of TensorFlow's `MirroredStrategy` computes it. (Not Keras'
//! `gradient_aggregator` hook of an optimizer, a user function that the facade runs before the
//! step; the core has no type of that name.)
//!
//! The sum runs in one fixed order on every build: element `i` is
//! `((x₀[i] + x₁[i]) + x₂[i]) + … + x_{N-1}[i]` (replica order, left to right), and a mean then
//! divides that sum by N (TensorFlow divides the sum; it does not scale by `1/N`). Every element
//! is independent, so the SIMD lanes and the scalar tail give bit-identical results and the wasm
//! SIMD, wasm scalar and native builds agree bit for bit.

use crate::drive::{for_each, ElementKernel};
use crate::error::{Error, Result};
use crate::lanes::Lanes;

/// How replicas' values combine (TensorFlow's `ReduceOp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOp {
    Sum,
    Mean,
}

/// `out = reduce(inputs)`, element-wise in replica order. Every input must have `out.len()`
/// values; there must be at least one input.
pub fn reduce_into(out: &mut [f32], inputs: &[&[f32]], op: ReduceOp) -> Result<()> {
    check_replicas(inputs.len())?;
    for (r, x) in inputs.iter().enumerate() {
        if x.len() != out.len() {
            return Err(Error::ShapeMismatch { what: format!("gradient of replica {r}"), expected: vec![out.len()], got: vec![x.len()] });
        }
    }
    let k = ReduceKernel { src: |r: usize| inputs[r].as_ptr(), replicas: inputs.len(), out: out.as_mut_ptr(), mean: op == ReduceOp::Mean };
    for_each(&k, out.len());
    Ok(())
}

/// `out = reduce(replica 0..replicas)` where replica `r`'s values are
/// `src[r * stride + offset..][..out.len()]`: the layout of a staging buffer that holds each
/// replica's gradients for all variables one replica after the other.
pub fn reduce_strided_into(out: &mut [f32], src: &[f32], replicas: usize, stride: usize, offset: usize, op: ReduceOp) -> Result<()> {
    check_replicas(replicas)?;
    let end = offset.checked_add(out.len());
    let need = (replicas - 1).checked_mul(stride).and_then(|x| x.checked_add(end?));
    let fits = matches!((end, need), (Some(e), Some(n)) if e <= stride && n <= src.len());
    if !fits {
        return Err(Error::InvalidState {
            message: format!(
                "staging buffer of {} values cannot hold {replicas} replicas of {} values at offset {offset} with stride {stride}",
                src.len(),
                out.len()
            ),
        });
    }
    let base = src.as_ptr();
    // SAFETY (of the pointers the kernel forms): checked above, r * stride + offset + out.len() <= src.len().
    let k = ReduceKernel {
        src: |r: usize| unsafe { base.add(r * stride + offset) },
        replicas,
        out: out.as_mut_ptr(),
        mean: op == ReduceOp::Mean,
    };
    for_each(&k, out.len());
    Ok(())
}

fn check_replicas(n: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::InvalidState { message: "nothing to aggregate: no replica gradients".into() });
    }
    Ok(())
}

/// `out[i] = (Σ_r src(r)[i]) [/ replicas]`; `src(r)` must be valid for `out`'s length and must
/// not overlap `out`.
struct ReduceKernel<S: Fn(usize) -> *const f32> {
    src: S,
    replicas: usize,
    out: *mut f32,
    mean: bool,
}

impl<S: Fn(usize) -> *const f32> ElementKernel for ReduceKernel<S> {
    #[inline(always)]
    unsafe fn step<L: Lanes>(&self, i: usize) {
        let mut acc = L::load((self.src)(0).add(i));
        for r in 1..self.replicas {
            acc = acc + L::load((self.src)(r).add(i));
        }
        if self.mean {
            acc = acc / L::splat(self.replicas as f32);
        }
        acc.store(self.out.add(i));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(inputs: &[Vec<f32>], op: ReduceOp) -> Vec<f32> {
        (0..inputs[0].len())
            .map(|i| {
                let mut s = inputs[0][i];
                for x in &inputs[1..] {
                    s = s + x[i];
                }
                if op == ReduceOp::Mean {
                    s / inputs.len() as f32
                } else {
                    s
                }
            })
            .collect()
    }

    fn inputs(replicas: usize, n: usize) -> Vec<Vec<f32>> {
        // Values whose sum depends on the order (large and small magnitudes mixed).
        (0..replicas)
            .map(|r| (0..n).map(|i| ((i * 7919 + r * 104729) % 1000) as f32 * if r % 2 == 0 { 1e7 } else { 1e-3 } - 3.5e6).collect())
            .collect()
    }

    #[test]
    fn sums_in_replica_order_bit_for_bit() {
        for replicas in 1..6 {
            for n in [0, 1, 3, 8, 9, 17, 100] {
                let xs = inputs(replicas, n);
                let refs: Vec<&[f32]> = xs.iter().map(Vec::as_slice).collect();
                for op in [ReduceOp::Sum, ReduceOp::Mean] {
                    let mut out = vec![0.0; n];
                    reduce_into(&mut out, &refs, op).unwrap();
                    let want = reference(&xs, op);
                    assert_eq!(out.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), want.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
                }
            }
        }
    }

    #[test]
    fn strided_matches_slices() {
        let (replicas, a, b) = (3, 13, 5);
        let stride = a + b;
        let xs = inputs(replicas, stride);
        let flat: Vec<f32> = xs.concat();
        for (offset, len) in [(0, a), (a, b)] {
            let parts: Vec<Vec<f32>> = xs.iter().map(|x| x[offset..offset + len].to_vec()).collect();
            let mut out = vec![0.0; len];
            reduce_strided_into(&mut out, &flat, replicas, stride, offset, ReduceOp::Sum).unwrap();
            assert_eq!(out, reference(&parts, ReduceOp::Sum));
        }
    }

    #[test]
    fn one_replica_is_the_identity_and_keeps_negative_zero() {
        let x = [-0.0f32, 1.5, f32::NAN];
        let mut out = [9.0f32; 3];
        reduce_into(&mut out, &[&x], ReduceOp::Sum).unwrap();
        assert_eq!(out[0].to_bits(), (-0.0f32).to_bits());
        assert_eq!(out[1], 1.5);
        assert!(out[2].is_nan());
    }

    #[test]
    fn refuses_bad_inputs() {
        let mut out = [0.0f32; 2];
        assert!(matches!(reduce_into(&mut out, &[], ReduceOp::Sum), Err(Error::InvalidState { .. })));
        assert!(matches!(reduce_into(&mut out, &[&[1.0, 2.0], &[1.0]], ReduceOp::Sum), Err(Error::ShapeMismatch { .. })));
        assert!(reduce_strided_into(&mut out, &[0.0; 5], 3, 2, 0, ReduceOp::Sum).is_err());
        assert!(reduce_strided_into(&mut out, &[0.0; 6], 3, 2, 1, ReduceOp::Sum).is_err());
        assert!(reduce_strided_into(&mut out, &[0.0; 6], 3, 2, 0, ReduceOp::Sum).is_ok());
    }
}
