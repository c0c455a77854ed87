//! Stage "unscale" (Keras 3): every gradient is divided by `loss_scale_factor` first (the loss
//! was multiplied by it). Fused into the update pass as [`super::GradPrelude::unscale`].

use crate::lanes::Lanes;

/// `g / loss_scale_factor` (a division, as Keras does, not a multiplication by the inverse).
#[inline(always)]
pub fn unscale<L: Lanes>(g: L, factor: Option<f32>) -> L {
    match factor {
        Some(s) => g / L::splat(s),
        None => g,
    }
}

/// Unscales sparse values in place (they are copied into scratch space before any stage).
pub fn unscale_slice(values: &mut [f32], factor: Option<f32>) {
    if let Some(s) = factor {
        for v in values {
            *v = *v / s;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn divides_rather_than_multiplying_by_the_inverse() {
        // 1/3 is not exact: x * (1/3) and x / 3 differ for some x (0.3 is one).
        let x = 3.0f32 * 0.1;
        assert_ne!(x * (1.0 / 3.0), x / 3.0);
        assert_eq!(super::unscale(x, Some(3.0)), x / 3.0);
        let mut v = [x, 3.0];
        super::unscale_slice(&mut v, Some(3.0));
        assert_eq!(v, [x / 3.0, 1.0]);
    }
}
