//! Clipping by value: clamp every element.

use keel_autograd::Tensor;

/// Clamps every element of `grad` to `[-c, c]` in one pass. Returns the sum of squares after
/// clamping and whether any element was out of range. NaN elements stay NaN.
pub(crate) fn clamp(grad: &mut Tensor, c: f32) -> (f64, bool) {
    let mut sum = 0.0f64;
    let mut changed = false;
    for x in grad.iter_mut() {
        changed |= x.abs() > c;
        *x = x.clamp(-c, c);
        sum += f64::from(*x) * f64::from(*x);
    }
    (sum, changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_autograd::tensor;

    #[test]
    fn clamps_and_reports_the_change() {
        let mut g = tensor(&[3], vec![-3.0, 0.5, 2.0]);
        assert_eq!(clamp(&mut g, 1.0), (1.0 + 0.25 + 1.0, true));
        assert_eq!(g, tensor(&[3], vec![-1.0, 0.5, 1.0]));
        assert_eq!(clamp(&mut g, 1.0), (2.25, false));
    }
}
