//! The hyperbolic tangent.

use crate::{Op, Tensor, Var};

/// `tanh(x)`, element-wise.
#[derive(Debug)]
pub struct Tanh;
impl Op for Tanh {
    fn name(&self) -> &'static str {
        "tanh"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        x[0].mapv(f32::tanh)
    }
    fn backward(&self, _x: &[&Tensor], y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        vec![g * &y.mapv(|t| 1.0 - t * t)] // d(tanh x)/dx = 1 - tanh²x: reuses the output
    }
}

impl<'t> Var<'t> {
    /// Element-wise hyperbolic tangent.
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let y = tape.constant(tensor(&[3], vec![-100.0, 0.0, 100.0])).tanh();
    /// assert_eq!(y.value().as_slice().unwrap(), &[-1.0, 0.0, 1.0]);
    /// ```
    pub fn tanh(self) -> Var<'t> {
        self.tape().apply(Tanh, &[self])
    }
}

#[cfg(test)]
mod tests {
    use crate::{check_gradients, tensor, GradCheck, Tape};

    #[test]
    fn gradient_at_zero_is_one() {
        let tape = Tape::new();
        let x = tape.var(tensor(&[], vec![0.0]));
        assert_eq!(x.tanh().backward().get(x).unwrap()[[]], 1.0);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let x = tensor(&[4], vec![-2.0, -0.5, 0.3, 1.5]);
        check_gradients(|_, v| v[0].tanh(), &[x], GradCheck::default()).unwrap();
    }
}
