//! The softplus function, `log(1 + e^x)`.

use super::sigmoid::sigmoid;
use crate::{Op, Tensor, Var};

/// `log(1 + e^x)`, element-wise, computed as `max(x, 0) + log1p(e^-|x|)`.
#[derive(Debug)]
pub struct Softplus;
impl Op for Softplus {
    fn name(&self) -> &'static str {
        "softplus"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        x[0].mapv(softplus)
    }
    fn backward(&self, x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        vec![g * &x[0].mapv(sigmoid)] // d/dx log(1 + e^x) = sigmoid(x)
    }
}

/// `max(x, 0) + log1p(e^-|x|)`: never overflows, and keeps the digits of tiny outputs
/// (`log1p(e^x) ≈ e^x` for very negative `x`), as JAX's `logaddexp(x, 0)`.
pub(crate) fn softplus(a: f32) -> f32 {
    a.max(0.0) + (-a.abs()).exp().ln_1p()
}

impl<'t> Var<'t> {
    /// Element-wise softplus `log(1 + e^x)`, in a form that neither overflows for large `x`
    /// nor rounds to `0` for very negative `x` (Keras `softplus`).
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let y = tape.constant(tensor(&[3], vec![-100.0, 0.0, 100.0])).softplus().value();
    /// assert_eq!(y[[0]], (-100.0f32).exp()); // e^-100 ≈ 3.7e-44, a subnormal f32, not 0
    /// assert_eq!(y[[1]], std::f32::consts::LN_2);
    /// assert_eq!(y[[2]], 100.0);
    /// ```
    pub fn softplus(self) -> Var<'t> {
        self.tape().apply(Softplus, &[self])
    }
}

#[cfg(test)]
mod tests {
    use crate::{check_gradients, tensor, GradCheck, Tape};

    #[test]
    fn value_is_stable_at_extremes() {
        let tape = Tape::new();
        let x = tape.var(tensor(&[3], vec![-90.0, 1000.0, -1000.0]));
        let y = x.softplus();
        let v = y.value();
        // e^-90 ≈ 8.19e-40, a subnormal f32: kept, not rounded to 0.
        assert!(v[[0]] > 8.1e-40 && v[[0]] < 8.3e-40, "{}", v[[0]]);
        assert_eq!((v[[1]], v[[2]]), (1000.0, 0.0));
        let g = y.sum().backward();
        assert_eq!(&g.get(x).unwrap().as_slice().unwrap()[1..], &[1.0, 0.0]);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let x = tensor(&[5], vec![-4.0, -0.8, 0.0, 0.6, 3.0]);
        check_gradients(|_, v| v[0].softplus(), &[x], GradCheck::default()).unwrap();
    }
}
