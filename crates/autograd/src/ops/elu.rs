//! The exponential linear unit.

use crate::{Op, Tensor, Var};

/// `x` where `x > 0`, else `alpha · (e^x - 1)`, element-wise.
#[derive(Debug)]
pub struct Elu {
    /// The value the output approaches as `x → -∞` is `-alpha`.
    pub alpha: f32,
}
impl Op for Elu {
    fn name(&self) -> &'static str {
        "elu"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        x[0].mapv(|a| elu(a, self.alpha))
    }
    fn backward(&self, x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        // From the input: `y + alpha` would lose the small slope of large negative inputs.
        let alpha = self.alpha;
        vec![g * &x[0].mapv(|a| if a > 0.0 { 1.0 } else { alpha * a.exp() })]
    }
}

/// `x` for `x > 0`, else `alpha · expm1(x)` (exact near 0, as Keras on JAX).
pub(crate) fn elu(a: f32, alpha: f32) -> f32 {
    if a > 0.0 {
        a
    } else {
        alpha * a.exp_m1()
    }
}

impl<'t> Var<'t> {
    /// Element-wise exponential linear unit: `x` for `x > 0`, else `alpha · (e^x - 1)`
    /// (Keras `elu`, whose default `alpha` is `1.0`).
    ///
    /// The gradient at exactly `0` is `alpha`, the left-hand slope (as JAX's).
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let y = tape.constant(tensor(&[2], vec![-1.0, 2.0])).elu(1.0).value();
    /// assert!((y[[0]] - (std::f32::consts::E.recip() - 1.0)).abs() < 1e-7);
    /// assert_eq!(y[[1]], 2.0);
    /// ```
    pub fn elu(self, alpha: f32) -> Var<'t> {
        self.tape().apply(Elu { alpha }, &[self])
    }
}

#[cfg(test)]
mod tests {
    use crate::{check_gradients, tensor, GradCheck, Tape};

    #[test]
    fn value_and_slope_on_both_sides() {
        let tape = Tape::new();
        let x = tape.var(tensor(&[4], vec![-30.0, -1e-4, 0.0, 3.0]));
        let y = x.elu(0.5);
        let v = y.value();
        assert_eq!(v[[0]], -0.5);
        // expm1 keeps the digits that e^x - 1 would cancel.
        assert!((v[[1]] - -4.999_75e-5).abs() < 1e-11, "{}", v[[1]]);
        assert_eq!((v[[2]], v[[3]]), (0.0, 3.0));
        let g = y.sum().backward();
        let g = g.get(x).unwrap();
        assert!(g[[0]] > 0.0 && g[[0]] < 1e-13, "{}", g[[0]]);
        assert_eq!((g[[2]], g[[3]]), (0.5, 1.0));
    }

    #[test]
    fn gradient_matches_finite_differences_away_from_the_kink() {
        let x = tensor(&[4], vec![-2.0, -0.5, 0.3, 1.5]);
        let cfg = GradCheck::default();
        check_gradients(|_, v| v[0].elu(1.0), std::slice::from_ref(&x), cfg).unwrap();
        check_gradients(|_, v| v[0].elu(0.3), &[x], cfg).unwrap();
    }
}
