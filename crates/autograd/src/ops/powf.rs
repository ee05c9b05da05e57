//! Raising to a constant real power.

use crate::{Op, Tensor, Var};

/// `x^p` for a constant exponent `p`, element-wise.
#[derive(Debug)]
pub struct Powf {
    /// The exponent.
    pub p: f32,
}
impl Op for Powf {
    fn name(&self) -> &'static str {
        "powf"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        x[0].mapv(|a| a.powf(self.p))
    }
    fn backward(&self, x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        // d(x^p)/dx = p x^(p-1). Not p·y/x, which is 0/0 at x = 0.
        let p = self.p;
        vec![g * &x[0].mapv(|a| p * a.powf(p - 1.0))]
    }
}

impl<'t> Var<'t> {
    /// Element-wise power `x^p` with a constant real exponent.
    ///
    /// Follows [`f32::powf`]: a negative base with a non-integer exponent gives NaN.
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let y = tape.constant(tensor(&[2], vec![4.0, 9.0])).powf(1.5);
    /// assert_eq!(y.value().as_slice().unwrap(), &[8.0, 27.0]);
    /// ```
    pub fn powf(self, p: f32) -> Var<'t> {
        self.tape().apply(Powf { p }, &[self])
    }
}

#[cfg(test)]
mod tests {
    use crate::{check_gradients, tensor, GradCheck, Tape};

    #[test]
    fn square_has_gradient_two_x() {
        let tape = Tape::new();
        let x = tape.var(tensor(&[3], vec![-1.5, 0.0, 3.0]));
        let g = x.powf(2.0).backward();
        assert_eq!(g.get(x).unwrap(), &tensor(&[3], vec![-3.0, 0.0, 6.0]));
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let x = tensor(&[4], vec![0.5, 1.0, 2.5, 4.0]);
        let cfg = GradCheck::default();
        check_gradients(|_, v| v[0].powf(2.5), std::slice::from_ref(&x), cfg).unwrap();
        check_gradients(|_, v| v[0].powf(-0.5), &[x], cfg).unwrap();
    }
}
