//! Mean squared error, composed from `sub`, `mul` and `mean_axis`.
//!
//! There is no `Op` here: the composition is exact and stable, so it needs no fused
//! backward (convention 2). The targets enter the tape as a constant leaf.

use super::{check_same_shape, last_axis};
use crate::{Tensor, Var};

impl<'t> Var<'t> {
    /// Per-sample mean squared error against targets of the same shape, averaged over the
    /// last axis: `[batch, k] -> [batch]` (Keras `MeanSquaredError` before its mean over
    /// the batch).
    ///
    /// The shapes must match exactly: `[batch, 1]` predictions against `[batch]` targets
    /// would otherwise broadcast to `[batch, batch]` and silently train on the wrong loss.
    ///
    /// # Panics
    /// If the input is rank 0 or `targets` has a different shape (both are named).
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let y = tape.constant(tensor(&[2, 2], vec![1.0, 2.0, 0.0, 0.0]));
    /// let loss = y.mean_squared_error(tensor(&[2, 2], vec![1.0, 0.0, 3.0, 1.0]));
    /// assert_eq!(loss.value().as_slice().unwrap(), &[2.0, 5.0]); // (0+4)/2, (9+1)/2
    /// ```
    pub fn mean_squared_error(self, targets: Tensor) -> Var<'t> {
        let op = "mean_squared_error";
        let shape = self.shape();
        let last = last_axis(op, &shape);
        check_same_shape(op, ("predictions", &shape), ("targets", targets.shape()));
        let diff = self - self.tape().constant(targets);
        (diff * diff).mean_axis(last, false)
    }
}

#[cfg(test)]
mod tests {
    use crate::{check_gradients, tensor, GradCheck, Tape};

    #[test]
    fn gradient_is_two_over_k_times_the_error() {
        let tape = Tape::new();
        let y = tape.var(tensor(&[1, 2], vec![1.0, 2.0]));
        let g = y
            .mean_squared_error(tensor(&[1, 2], vec![0.0, 0.5]))
            .backward();
        // d/dy_j (1/2) Σ (y - t)^2 = (y_j - t_j): [1.0, 1.5].
        assert_eq!(g.get(y).unwrap(), &tensor(&[1, 2], vec![1.0, 1.5]));
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let y = tensor(&[2, 3], vec![0.5, -1.0, 2.0, 1.5, -0.7, 0.9]);
        let t = || tensor(&[2, 3], vec![1.0, 0.0, 1.0, 0.3, 0.0, 0.8]);
        let cfg = GradCheck::default();
        check_gradients(|_, v| v[0].mean_squared_error(t()), &[y], cfg).unwrap();
    }

    #[test]
    #[should_panic(expected = "mean_squared_error: predictions [2, 1] and targets [2]")]
    fn shape_mismatch_names_both_shapes() {
        let tape = Tape::new();
        let y = tape.constant(tensor(&[2, 1], vec![0.0; 2]));
        let _ = y.mean_squared_error(tensor(&[2], vec![0.0; 2]));
    }
}
