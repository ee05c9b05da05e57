//! Clipping by the global norm, shared by `GlobalNorm`, AutoClip and ZClip.

use super::norm::NORM_EPS;
use super::Plan;

/// Scale every gradient by `max / (norm + 1e-6)` when `norm > max` (PyTorch
/// `clip_grad_norm_`); keep them when `norm` is NaN or infinite.
pub(crate) fn plan(max: f64, norm: f64) -> Plan<'static> {
    match factor(max, norm) {
        Some(s) => Plan::Scale(s),
        None => Plan::Keep,
    }
}

/// The scale `max / (norm + 1e-6)` that brings `norm` down to `max`, if `norm` is finite and
/// above `max` (a norm equal to the threshold is left alone rather than scaled by
/// `1 - 1e-6 / max`, as the ZClip reference does; Keras's `clip_by_norm` agrees).
pub(crate) fn factor(max: f64, norm: f64) -> Option<f64> {
    (norm.is_finite() && norm > max).then(|| max / (norm + NORM_EPS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factor_is_pytorch_clip_grad_norm() {
        // 6.5 / (13 + 1e-6)
        assert_eq!(factor(6.5, 13.0), Some(6.5 / (13.0 + 1e-6)));
        assert_eq!(factor(13.5, 13.0), None);
        assert_eq!(factor(13.0, 13.0), None);
        assert_eq!(factor(1.0, f64::INFINITY), None);
        assert_eq!(factor(1.0, f64::NAN), None);
    }
}
