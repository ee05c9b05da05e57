//! The sigmoid linear unit (swish).

use super::sigmoid::sigmoid;
use crate::{Op, Tensor, Var};

/// `x · sigmoid(x)`, element-wise.
#[derive(Debug)]
pub struct Silu;
impl Op for Silu {
    fn name(&self) -> &'static str {
        "silu"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        x[0].mapv(|a| a * sigmoid(a))
    }
    fn backward(&self, x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        // s + x·s·(1 - s) = s·(1 + x·(1 - s)); silu is not invertible from its output.
        vec![
            g * &x[0].mapv(|a| {
                let s = sigmoid(a);
                s * (1.0 + a * (1.0 - s))
            }),
        ]
    }
}

impl<'t> Var<'t> {
    /// Element-wise sigmoid linear unit `x · sigmoid(x)`, also called swish (Keras `silu`
    /// and `swish`, one function under two names).
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let y = tape.constant(tensor(&[3], vec![-200.0, 0.0, 2.0])).silu().value();
    /// assert_eq!((y[[0]], y[[1]]), (-0.0, 0.0));
    /// assert!((y[[2]] - 2.0 / (1.0 + (-2.0f32).exp())).abs() < 1e-6);
    /// ```
    pub fn silu(self) -> Var<'t> {
        self.tape().apply(Silu, &[self])
    }
}

#[cfg(test)]
mod tests {
    use crate::{check_gradients, tensor, GradCheck, Tape};

    #[test]
    fn gradient_at_zero_is_one_half_and_saturates() {
        let tape = Tape::new();
        let x = tape.var(tensor(&[3], vec![-200.0, 0.0, 200.0]));
        let g = x.silu().sum().backward();
        assert_eq!(g.get(x).unwrap().as_slice().unwrap(), &[0.0, 0.5, 1.0]);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let x = tensor(&[5], vec![-3.0, -1.2, 0.0, 0.4, 2.5]);
        check_gradients(|_, v| v[0].silu(), &[x], GradCheck::default()).unwrap();
    }
}
