//! The natural exponential.

use crate::{Op, Tensor, Var};

/// `e^x`, element-wise.
#[derive(Debug)]
pub struct Exp;
impl Op for Exp {
    fn name(&self) -> &'static str {
        "exp"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        x[0].mapv(f32::exp)
    }
    fn backward(&self, _x: &[&Tensor], y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        vec![g * y] // d(e^x)/dx = e^x: reuses the saved output
    }
}

impl<'t> Var<'t> {
    /// Element-wise natural exponential `e^x`.
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let y = tape.constant(tensor(&[2], vec![0.0, 1.0])).exp().value();
    /// assert_eq!(y[[0]], 1.0);
    /// assert!((y[[1]] - std::f32::consts::E).abs() < 1e-6);
    /// ```
    pub fn exp(self) -> Var<'t> {
        self.tape().apply(Exp, &[self])
    }
}

#[cfg(test)]
mod tests {
    use crate::{check_gradients, tensor, GradCheck, Tape};

    #[test]
    fn gradient_is_the_value() {
        let tape = Tape::new();
        let x = tape.var(tensor(&[2], vec![-1.0, 2.0]));
        let y = x.exp();
        assert_eq!(y.backward().get(x).unwrap(), &*y.value());
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let x = tensor(&[4], vec![-2.0, -0.5, 0.3, 1.5]);
        check_gradients(|_, v| v[0].exp(), &[x], GradCheck::default()).unwrap();
    }
}
