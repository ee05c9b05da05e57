//! The rectified linear unit and its leaky variant.

use crate::{Op, Tensor, Var};

/// `max(x, 0)`, element-wise.
#[derive(Debug)]
pub struct Relu;
impl Op for Relu {
    fn name(&self) -> &'static str {
        "relu"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        x[0].mapv(|a| a.max(0.0))
    }
    fn backward(&self, _x: &[&Tensor], y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        // Slope 1 where the output is positive, else 0 (0 at the kink, as Keras and PyTorch).
        vec![g * &y.mapv(|s| if s > 0.0 { 1.0 } else { 0.0 })]
    }
}

/// `x` where `x > 0`, else `alpha * x`, element-wise.
#[derive(Debug)]
pub struct LeakyRelu {
    /// The slope for negative inputs.
    pub alpha: f32,
}
impl Op for LeakyRelu {
    fn name(&self) -> &'static str {
        "leaky_relu"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        x[0].mapv(|a| if a > 0.0 { a } else { self.alpha * a })
    }
    fn backward(&self, x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        // From the input, not the output: a negative alpha would flip the output's sign.
        vec![g * &x[0].mapv(|a| if a > 0.0 { 1.0 } else { self.alpha })]
    }
}

impl<'t> Var<'t> {
    /// Element-wise rectified linear unit `max(x, 0)`.
    ///
    /// The gradient at exactly `0` is taken as `0`.
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let y = tape.constant(tensor(&[3], vec![-1.0, 0.0, 2.0])).relu();
    /// assert_eq!(y.value().as_slice().unwrap(), &[0.0, 0.0, 2.0]);
    /// ```
    pub fn relu(self) -> Var<'t> {
        self.tape().apply(Relu, &[self])
    }

    /// Element-wise leaky ReLU: `x` for `x > 0`, else `alpha * x` (Keras `LeakyReLU`,
    /// whose default `negative_slope` is `0.3`).
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let y = tape.constant(tensor(&[2], vec![-2.0, 3.0])).leaky_relu(0.25);
    /// assert_eq!(y.value().as_slice().unwrap(), &[-0.5, 3.0]);
    /// ```
    pub fn leaky_relu(self, alpha: f32) -> Var<'t> {
        self.tape().apply(LeakyRelu { alpha }, &[self])
    }
}

#[cfg(test)]
mod tests {
    use crate::{check_gradients, tensor, GradCheck, Tape};

    #[test]
    fn gradients_are_the_slopes() {
        let tape = Tape::new();
        let x = tape.var(tensor(&[3], vec![-1.0, 0.0, 2.0]));
        let g = (x.relu() + x.leaky_relu(0.1)).backward();
        // relu: 0, 0, 1; leaky: 0.1, 0.1, 1 (x = 0 takes the negative branch in both).
        assert_eq!(g.get(x).unwrap(), &tensor(&[3], vec![0.1, 0.1, 2.0]));
    }

    #[test]
    fn gradient_matches_finite_differences_away_from_the_kink() {
        let x = tensor(&[4], vec![-2.0, -0.5, 0.3, 1.5]);
        let cfg = GradCheck::default();
        check_gradients(|_, v| v[0].relu(), std::slice::from_ref(&x), cfg).unwrap();
        check_gradients(|_, v| v[0].leaky_relu(0.2), &[x], cfg).unwrap();
    }
}
