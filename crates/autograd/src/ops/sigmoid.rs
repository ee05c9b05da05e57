//! The logistic function.

use crate::{Op, Tensor, Var};

/// `1 / (1 + e^-x)`, element-wise.
#[derive(Debug)]
pub struct Sigmoid;
impl Op for Sigmoid {
    fn name(&self) -> &'static str {
        "sigmoid"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        x[0].mapv(sigmoid)
    }
    fn backward(&self, _x: &[&Tensor], y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        vec![g * &y.mapv(|s| s * (1.0 - s))] // reuses the saved output
    }
}

/// Numerically safe logistic: never evaluates `exp` of a large positive number.
pub(crate) fn sigmoid(a: f32) -> f32 {
    if a >= 0.0 {
        1.0 / (1.0 + (-a).exp())
    } else {
        let e = a.exp();
        e / (1.0 + e)
    }
}

impl<'t> Var<'t> {
    /// Element-wise logistic function `1 / (1 + e^-x)`.
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let y = tape.constant(tensor(&[1], vec![0.0])).sigmoid();
    /// assert_eq!(y.value()[[0]], 0.5);
    /// ```
    pub fn sigmoid(self) -> Var<'t> {
        self.tape().apply(Sigmoid, &[self])
    }
}

#[cfg(test)]
mod tests {
    use crate::{check_gradients, tensor, GradCheck, Tape};

    #[test]
    fn value_is_stable_at_extremes() {
        let tape = Tape::new();
        let y = tape.constant(tensor(&[2], vec![-200.0, 200.0])).sigmoid();
        assert_eq!(y.value().as_slice().unwrap(), &[0.0, 1.0]);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let x = tensor(&[4], vec![-3.0, -0.5, 0.2, 2.5]);
        check_gradients(|_, v| v[0].sigmoid(), &[x], GradCheck::default()).unwrap();
    }
}
