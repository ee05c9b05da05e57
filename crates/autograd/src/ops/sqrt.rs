//! The square root.

use crate::{Op, Tensor, Var};

/// `√x`, element-wise.
#[derive(Debug)]
pub struct Sqrt;
impl Op for Sqrt {
    fn name(&self) -> &'static str {
        "sqrt"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        x[0].mapv(f32::sqrt)
    }
    fn backward(&self, _x: &[&Tensor], y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        vec![g / &(y * 2.0)] // d(√x)/dx = 1 / (2√x): reuses the saved output
    }
}

impl<'t> Var<'t> {
    /// Element-wise square root `√x`.
    ///
    /// `√x` is NaN for `x < 0`, and its gradient is infinite at `x = 0`.
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let y = tape.constant(tensor(&[2], vec![4.0, 9.0])).sqrt();
    /// assert_eq!(y.value().as_slice().unwrap(), &[2.0, 3.0]);
    /// ```
    pub fn sqrt(self) -> Var<'t> {
        self.tape().apply(Sqrt, &[self])
    }
}

#[cfg(test)]
mod tests {
    use crate::{check_gradients, tensor, GradCheck, Tape};

    #[test]
    fn gradient_is_half_the_reciprocal_root() {
        let tape = Tape::new();
        let x = tape.var(tensor(&[2], vec![4.0, 0.25]));
        let g = x.sqrt().backward();
        assert_eq!(g.get(x).unwrap(), &tensor(&[2], vec![0.25, 1.0])); // 1/(2·2), 1/(2·0.5)
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let x = tensor(&[4], vec![0.5, 1.0, 2.5, 7.0]);
        check_gradients(|_, v| v[0].sqrt(), &[x], GradCheck::default()).unwrap();
    }
}
