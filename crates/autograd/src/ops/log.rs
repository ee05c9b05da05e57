//! The natural logarithm.

use crate::{Op, Tensor, Var};

/// `ln(x)`, element-wise.
#[derive(Debug)]
pub struct Log;
impl Op for Log {
    fn name(&self) -> &'static str {
        "log"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        x[0].mapv(f32::ln)
    }
    fn backward(&self, x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        vec![g / x[0]] // d(ln x)/dx = 1/x
    }
}

impl<'t> Var<'t> {
    /// Element-wise natural logarithm `ln(x)`.
    ///
    /// Follows IEEE semantics: `ln(0) = -inf` and `ln(x) = NaN` for `x < 0`. To take the
    /// log of probabilities, prefer [`Var::log_softmax`] or a fused loss such as
    /// [`Var::sparse_softmax_cross_entropy`], which stay finite.
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let y = tape.constant(tensor(&[2], vec![1.0, std::f32::consts::E])).log().value();
    /// assert_eq!(y[[0]], 0.0);
    /// assert!((y[[1]] - 1.0).abs() < 1e-6);
    /// ```
    pub fn log(self) -> Var<'t> {
        self.tape().apply(Log, &[self])
    }
}

#[cfg(test)]
mod tests {
    use crate::{check_gradients, tensor, GradCheck, Tape};

    #[test]
    fn gradient_is_the_reciprocal() {
        let tape = Tape::new();
        let x = tape.var(tensor(&[2], vec![0.5, 4.0]));
        let g = x.log().backward();
        assert_eq!(g.get(x).unwrap(), &tensor(&[2], vec![2.0, 0.25]));
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let x = tensor(&[4], vec![0.5, 1.0, 2.5, 7.0]);
        check_gradients(|_, v| v[0].log(), &[x], GradCheck::default()).unwrap();
    }
}
