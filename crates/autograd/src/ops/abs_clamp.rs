//! The absolute value and clamping to a range, the pieces of robust and probability losses.

use crate::{Op, Tensor, Var};

/// `|x|`, element-wise.
#[derive(Debug)]
pub struct Abs;
impl Op for Abs {
    fn name(&self) -> &'static str {
        "abs"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        x[0].mapv(f32::abs)
    }
    fn backward(&self, x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        // sign(x), 0 at 0 (PyTorch's and TensorFlow's subgradient).
        vec![g * &x[0].mapv(|a| if a == 0.0 { 0.0 } else { a.signum() })]
    }
}

/// `min(max(x, low), high)`, element-wise.
#[derive(Debug)]
pub struct Clamp {
    /// The lower bound.
    pub low: f32,
    /// The upper bound.
    pub high: f32,
}
impl Op for Clamp {
    fn name(&self) -> &'static str {
        "clamp"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        x[0].mapv(|a| a.clamp(self.low, self.high))
    }
    fn backward(&self, x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        // 1 inside the range, 0 where the bound holds the value (as Keras's clip).
        let inside = x[0].mapv(|a| {
            if (self.low..=self.high).contains(&a) {
                1.0
            } else {
                0.0
            }
        });
        vec![g * &inside]
    }
}

impl<'t> Var<'t> {
    /// Element-wise absolute value. The gradient at exactly `0` is taken as `0`.
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let y = tape.constant(tensor(&[3], vec![-2.0, 0.0, 3.0])).abs();
    /// assert_eq!(y.value().as_slice().unwrap(), &[2.0, 0.0, 3.0]);
    /// ```
    pub fn abs(self) -> Var<'t> {
        self.tape().apply(Abs, &[self])
    }

    /// Element-wise clamping to `[low, high]` (Keras's `ops.clip`); the gradient is 1
    /// inside the range and 0 outside it.
    ///
    /// # Panics
    /// If `low > high` or either is NaN (a bug in the caller).
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let y = tape.constant(tensor(&[3], vec![-2.0, 0.5, 3.0])).clamp(0.0, 1.0);
    /// assert_eq!(y.value().as_slice().unwrap(), &[0.0, 0.5, 1.0]);
    /// ```
    pub fn clamp(self, low: f32, high: f32) -> Var<'t> {
        assert!(
            low <= high,
            "clamp: expected low <= high, found {low} > {high}"
        );
        self.tape().apply(Clamp { low, high }, &[self])
    }
}

#[cfg(test)]
mod tests {
    use crate::{tensor, Tape};

    #[test]
    fn gradients_are_the_sign_and_the_range_mask() {
        let tape = Tape::new();
        let x = tape.var(tensor(&[4], vec![-2.0, 0.0, 0.5, 3.0]));
        let g = (x.abs() + x.clamp(0.0, 1.0)).sum().backward();
        // abs: -1, 0, 1, 1; clamp: 0, 1, 1, 0.
        assert_eq!(g.get(x).unwrap(), &tensor(&[4], vec![-1.0, 1.0, 2.0, 1.0]));
    }
}
