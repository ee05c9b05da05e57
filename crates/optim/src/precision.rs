//! Keras's rounding of hyper-parameter arithmetic, and the saturation that keeps squared
//! gradients finite.

/// `x` as the decimal the user wrote: the shortest decimal that rounds to `x`, read as `f64`.
///
/// Keras holds `beta_1 = 0.9` as a Python (double) float; Keel holds it as `f32`. The
/// shortest decimal of an `f32` is the literal it came from, so this recovers Keras's double.
pub(crate) fn as_written(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::from(x))
}

/// `1 − x` as Keras computes it: in double from the written `x`, rounded once to `f32`
/// (`1 − 0.999` is `0.001`, where `f32` arithmetic gives `0.00099998713`).
/// Allocates (it formats `x`): call it when a rule is built, not per step.
pub(crate) fn one_minus(x: f32) -> f32 {
    (1.0 - as_written(x)) as f32
}

/// `g²`, saturated at `f32::MAX` instead of overflowing to infinity (NaN stays NaN).
///
/// A finite gradient above 1.8e19 squares to infinity in `f32`, which makes a second-moment
/// estimate infinite and the next update NaN. Saturating keeps the estimate finite and
/// within a factor of the truth only for such gradients, whose steps Adam normalises anyway;
/// every gradient whose square is representable is unchanged, bit for bit.
#[inline(always)]
pub(crate) fn saturating_square(g: f32) -> f32 {
    let sq = g * g;
    if sq > f32::MAX {
        f32::MAX
    } else {
        sq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_minus_rounds_the_double_difference_once() {
        assert_eq!(one_minus(0.999), 0.001_f32);
        assert_eq!(one_minus(0.9), 0.1_f32);
        // The f32 difference is further off: what Keras does not compute.
        assert_ne!(1.0 - 0.999_f32, 0.001_f32);
    }

    #[test]
    fn squares_saturate_and_nan_survives() {
        assert_eq!(saturating_square(3.0), 9.0);
        assert_eq!(saturating_square(1e20), f32::MAX);
        assert_eq!(saturating_square(-f32::MAX), f32::MAX);
        assert!(saturating_square(f32::NAN).is_nan());
    }
}
