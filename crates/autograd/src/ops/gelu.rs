//! The Gaussian error linear unit, exact (erf) form.

use crate::{Op, Tensor, Var};
use std::f32::consts::FRAC_1_SQRT_2;

/// `x · Φ(x)`, element-wise, with `Φ` the standard normal CDF: Keras's `gelu` with its
/// default `approximate=False`.
#[derive(Debug)]
pub struct Gelu;
impl Op for Gelu {
    fn name(&self) -> &'static str {
        "gelu"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        x[0].mapv(gelu)
    }
    fn backward(&self, x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        // Not invertible from the output (gelu has a minimum near x = -0.75): from the input.
        vec![g * &x[0].mapv(gelu_derivative)]
    }
}

/// `Φ(x) = erfc(-x / √2) / 2`: `erfc` rather than `1 + erf`, which would cancel to nothing
/// for negative `x` (JAX, hence Keras on JAX, takes the same form).
fn normal_cdf(a: f32) -> f32 {
    0.5 * libm::erfcf(-a * FRAC_1_SQRT_2)
}

/// `x · Φ(x)`.
pub(crate) fn gelu(a: f32) -> f32 {
    a * normal_cdf(a)
}

/// `Φ(x) + x · φ(x)`, with `φ(x) = e^(-x²/2) / √(2π)` the standard normal density.
pub(crate) fn gelu_derivative(a: f32) -> f32 {
    const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;
    normal_cdf(a) + a * FRAC_1_SQRT_2PI * (-0.5 * a * a).exp()
}

impl<'t> Var<'t> {
    /// Element-wise Gaussian error linear unit `x · Φ(x) = x · (1 + erf(x / √2)) / 2`, the
    /// exact form (Keras's `gelu` default, `approximate=False`; not the tanh approximation).
    ///
    /// `erf` is computed in `f32` by the `libm` crate (a port of musl's `erfcf`).
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let y = tape.constant(tensor(&[3], vec![-1.0, 0.0, 2.0])).gelu().value();
    /// assert!((y[[0]] + 0.158_655_26).abs() < 1e-7);
    /// assert_eq!(y[[1]], 0.0);
    /// assert!((y[[2]] - 1.954_499_7).abs() < 1e-6);
    /// ```
    pub fn gelu(self) -> Var<'t> {
        self.tape().apply(Gelu, &[self])
    }
}

#[cfg(test)]
mod tests {
    use super::{gelu, gelu_derivative};
    use crate::{check_gradients, tensor, GradCheck};

    /// `x · Φ(x)` for `x = -6, -3, -1, -0.5, 0.25, 1, 3`, computed in double precision
    /// (`0.5 * x * math.erfc(-x / math.sqrt(2))` in Python).
    const REFERENCE: [(f32, f64); 7] = [
        (-6.0, -5.919525870226207e-09),
        (-3.0, -0.004049694094890287),
        (-1.0, -0.15865525393145707),
        (-0.5, -0.15426876936299344),
        (0.25, 0.14967658142073093),
        (1.0, 0.8413447460685429),
        (3.0, 2.99595030590511),
    ];

    #[test]
    fn value_matches_double_precision_including_the_negative_tail() {
        for (x, want) in REFERENCE {
            let got = f64::from(gelu(x));
            let rel = (got - want).abs() / want.abs();
            // Rounding x/√2 to f32 (as JAX does) is amplified by about x² in erfc's tail.
            let tolerance = 3e-7 * (1.0 + f64::from(x * x));
            assert!(
                rel < tolerance,
                "gelu({x}) = {got}, want {want} (relative error {rel})"
            );
        }
        assert_eq!(gelu(0.0), 0.0);
        assert_eq!(gelu(-20.0), -0.0); // Φ(-20) underflows f32 to 0
        assert_eq!(gelu(20.0), 20.0);
    }

    #[test]
    fn derivative_has_the_closed_form_values() {
        assert_eq!(gelu_derivative(0.0), 0.5);
        assert_eq!(gelu_derivative(20.0), 1.0);
        assert_eq!(gelu_derivative(-20.0), 0.0);
        // Φ(x) + x·φ(x) in double precision, the negative tail included.
        for (x, want) in [
            (-12.0, -2.5578956616748956e-31),
            (-6.0, -3.5468709453902015e-08),
            (-2.0, -0.0852318010781969),
            (1.0, 1.0833154705876864),
        ] {
            let got = f64::from(gelu_derivative(x));
            let rel = (got - want).abs() / f64::abs(want);
            assert!(
                rel < 1e-6,
                "gelu'({x}) = {got}, want {want} (relative error {rel})"
            );
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let x = tensor(&[5], vec![-2.5, -0.75, 0.0, 0.3, 1.5]);
        check_gradients(|_, v| v[0].gelu(), &[x], GradCheck::default()).unwrap();
    }
}
