//! The dynamic ("tree") quantization maps of the 8-bit optimizers paper (Dettmers et al. 2022),
//! built as bitsandbytes' `create_dynamic_map(signed, max_exponent_bits=7, total_bits=8)` builds
//! them: for each decade `10^(i-6)`, `i = 0..7`, the means of neighbouring points of a float32
//! `torch.linspace(0.1, 1, n_i + 1)` (`n_i = 2^i` signed, `2^(i+1)` unsigned) scaled by the decade
//! (negated too when signed), plus 0 and 1, sorted: 256 float32 codes in [-1, 1].
//!
//! torch's float32 `linspace` rounds differently per CPU kernel: its AVX2 and AVX-512 kernels
//! (every x86-64 CPU of the last decade, and what bitsandbytes' fixtures were made with) fuse
//! the multiply-add of `start + step * i`, its plain C++ kernel does not. [`Linspace::Avx`]
//! reproduces the former (the default maps), [`Linspace::Plain`] the latter; both are checked
//! against torch in the tests. The two differ in the last bit of some codes. (`f32::mul_add` is
//! exact on every target, wasm's software `fmaf` included.)

/// Which of torch's float32 `linspace` CPU kernels the map is built with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Linspace {
    /// torch's AVX2 / AVX-512 kernels (`ATEN_CPU_CAPABILITY=avx2|avx512`), fused multiply-add.
    Avx,
    /// torch's plain C++ kernel (`ATEN_CPU_CAPABILITY=default`).
    Plain,
}

/// Decades of the map (bitsandbytes' `max_exponent_bits`).
pub const DECADES: usize = 7;

/// Number of codes of a decade: `2^i` signed, `2^(i+1)` unsigned.
pub const fn decade_len(signed: bool, i: usize) -> usize {
    if signed {
        1 << i
    } else {
        1 << (i + 1)
    }
}

/// The 256 codes, ascending.
pub fn build(signed: bool, linspace: Linspace) -> [f32; 256] {
    let mut data: Vec<f32> = Vec::with_capacity(256);
    for i in 0..DECADES {
        let points = linspace_f32(0.1, 1.0, decade_len(signed, i) + 1, linspace);
        // `10 ** (i - 6)`: a Python float (an int for i = 6) that torch casts to float32.
        let scale = 10f64.powi(i as i32 - 6) as f32;
        for w in points.windows(2) {
            let mean = (w[0] + w[1]) / 2.0;
            data.push(scale * mean);
            if signed {
                data.push(-scale * mean);
            }
        }
    }
    data.push(0.0);
    data.push(1.0);
    assert_eq!(data.len(), 256, "the dynamic map has 256 codes");
    data.sort_by(f32::total_cmp);
    let mut codes = [0.0f32; 256];
    codes.copy_from_slice(&data);
    codes
}

/// float32 `torch.linspace(start, end, steps)` on CPU: `start + step * i` for the first half,
/// `end - step * (steps - 1 - i)` for the second, `step = (end - start) / (steps - 1)` in float32,
/// the multiply-add fused in the AVX kernels (checked against torch for every size the maps use).
fn linspace_f32(start: f32, end: f32, steps: usize, kernel: Linspace) -> Vec<f32> {
    let step = (end - start) / (steps - 1) as f32;
    let mul_add = |a: f32, b: f32, c: f32| if kernel == Linspace::Avx { a.mul_add(b, c) } else { a * b + c };
    (0..steps).map(|i| if i < steps / 2 { mul_add(step, i as f32, start) } else { mul_add(-step, (steps - i - 1) as f32, end) }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_have_the_papers_shape() {
        for signed in [true, false] {
            let c = build(signed, Linspace::Avx);
            assert!(c.windows(2).all(|w| w[0] < w[1]), "strictly ascending");
            assert_eq!(c[255], 1.0);
            let zero = c.iter().position(|&x| x == 0.0).unwrap();
            assert_eq!(zero, if signed { 127 } else { 0 });
            // smallest positive code: the mean of the first decade's first interval, 1e-6 * 0.55 signed
            assert!((c[zero + 1] - if signed { 5.5e-7 } else { 3.25e-7 }).abs() < 1e-12, "{}", c[zero + 1]);
        }
    }

    #[test]
    fn signed_map_is_symmetric_but_for_zero_and_one() {
        let c = build(true, Linspace::Avx);
        for k in 0..127 {
            assert_eq!(c[k], -c[254 - k]);
        }
    }
}
