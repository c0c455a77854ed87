//! A small dense matmul for rules that need one (Newton–Schulz iterations on 2-D variables),
//! with one operation order in every build: each output element is
//! `((0 + a[i,0]·b[0,j]) + a[i,1]·b[1,j]) + …` in increasing `k`, exactly as the plain triple
//! loop computes it. The loops are blocked for cache (tiles of rows of `A` and of columns of
//! `B`, and runs of `k` taken in increasing order into the same accumulators), and the inner
//! loop runs along a row of `B`, whose columns are independent sums: lanes over them (SIMD or
//! not) change nothing in any element's order. Rust never contracts to fused multiply-add.

/// Rows of `A` (and of `C`) per tile.
const ROWS: usize = 16;
/// Columns of `B` (and of `C`) per tile.
const COLS: usize = 256;
/// `k` per run.
const DEPTH: usize = 64;

/// `c = a · b` for row-major `a: [m, k]`, `b: [k, n]`, `c: [m, n]`.
pub fn matmul(a: &[f32], b: &[f32], m: usize, k: usize, n: usize, c: &mut [f32]) {
    assert!(a.len() == m * k && b.len() == k * n && c.len() == m * n, "matmul: shapes");
    c.fill(0.0);
    for i0 in (0..m).step_by(ROWS) {
        for j0 in (0..n).step_by(COLS) {
            let j1 = (j0 + COLS).min(n);
            for k0 in (0..k).step_by(DEPTH) {
                for i in i0..(i0 + ROWS).min(m) {
                    let c_row = &mut c[i * n + j0..i * n + j1];
                    for kk in k0..(k0 + DEPTH).min(k) {
                        let a_ik = a[i * k + kk];
                        for (cv, bv) in c_row.iter_mut().zip(&b[kk * n + j0..kk * n + j1]) {
                            *cv = *cv + a_ik * *bv;
                        }
                    }
                }
            }
        }
    }
}

/// `out = aᵀ` for row-major `a: [m, n]` (`out: [n, m]`).
pub fn transpose(a: &[f32], m: usize, n: usize, out: &mut [f32]) {
    assert!(a.len() == m * n && out.len() == m * n, "transpose: shapes");
    for i in 0..m {
        for j in 0..n {
            out[j * m + i] = a[i * n + j];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut c = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0f32;
                for kk in 0..k {
                    s = s + a[i * k + kk] * b[kk * n + j];
                }
                c[i * n + j] = s;
            }
        }
        c
    }

    fn data(len: usize, seed: usize) -> Vec<f32> {
        // Mixed magnitudes and signs: a different summation order gives different bits.
        (0..len).map(|i| (((i * 7919 + seed * 104_729) % 2003) as f32 - 1001.0) * if (i + seed) % 5 == 0 { 10.0 } else { 1e-3 }).collect()
    }

    #[test]
    fn equals_the_triple_loop_bit_for_bit_across_tile_edges() {
        for &(m, k, n) in &[(1, 1, 1), (3, 5, 7), (17, 65, 9), (40, 130, 300), (16, 64, 256)] {
            let (a, b) = (data(m * k, 1), data(k * n, 2));
            let mut c = vec![f32::NAN; m * n];
            matmul(&a, &b, m, k, n, &mut c);
            let want = naive(&a, &b, m, k, n);
            assert_eq!(
                c.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                want.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                "{m}x{k}x{n}"
            );
        }
        // The order is visible: summing k downwards differs for this data.
        let (m, k, n) = (4, 130, 4);
        let (a, b) = (data(m * k, 1), data(k * n, 2));
        let reversed = (0..k).rev().fold(0.0f32, |s, kk| s + a[kk] * b[kk * n]);
        assert_ne!(reversed.to_bits(), naive(&a, &b, m, k, n)[0].to_bits());
    }

    #[test]
    fn transpose_swaps_axes() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // [[1, 2, 3], [4, 5, 6]]
        let mut t = [0.0; 6];
        transpose(&a, 2, 3, &mut t);
        assert_eq!(t, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }
}
