//! Means, composed from [`Var::sum`] and [`Var::sum_axis`] and a scalar multiply.
//!
//! There is no `Op` here: `mean = sum / n` needs no backward of its own.

use crate::Var;

impl<'t> Var<'t> {
    /// The mean of all elements, as a rank-0 value of shape `[]`.
    ///
    /// The mean of an empty tensor is NaN (`0 / 0`), as in NumPy and Keras.
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let m = tape.constant(tensor(&[2, 2], vec![1.0, 2.0, 3.0, 4.0])).mean();
    /// assert_eq!(m.scalar(), 2.5);
    /// ```
    pub fn mean(self) -> Var<'t> {
        let n = self.value().len();
        self.sum() * (1.0 / n as f32)
    }

    /// The mean along `axis`, which is removed or (with `keep_dims`) kept with size 1.
    ///
    /// # Panics
    /// If `axis` is not an axis of the input's shape.
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let x = tape.constant(tensor(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]));
    /// assert_eq!(x.mean_axis(1, false).value().as_slice().unwrap(), &[1.5, 3.5]);
    /// ```
    pub fn mean_axis(self, axis: usize, keep_dims: bool) -> Var<'t> {
        let shape = self.shape();
        super::check_axis("mean_axis", &shape, axis);
        self.sum_axis(axis, keep_dims) * (1.0 / shape[axis] as f32)
    }
}

#[cfg(test)]
mod tests {
    use crate::{check_gradients, tensor, GradCheck, Tape};

    #[test]
    fn gradient_of_a_mean_is_one_over_n() {
        let tape = Tape::new();
        let x = tape.var(tensor(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]));
        let g = x.mean().backward();
        assert_eq!(g.get(x).unwrap(), &tensor(&[2, 2], vec![0.25; 4]));
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = tensor(&[2, 3], vec![0.5, -1.0, 2.0, 1.5, -0.7, 0.9]);
        let cfg = GradCheck::default();
        check_gradients(|_, v| v[0].mean(), std::slice::from_ref(&x), cfg).unwrap();
        check_gradients(
            |_, v| v[0].mean_axis(0, false),
            std::slice::from_ref(&x),
            cfg,
        )
        .unwrap();
        check_gradients(|_, v| v[0].mean_axis(1, true), &[x], cfg).unwrap();
    }

    #[test]
    #[should_panic(expected = "mean_axis: axis 2 is out of range for shape [2, 2]")]
    fn bad_axis_names_the_shape() {
        let tape = Tape::new();
        let _ = tape
            .constant(tensor(&[2, 2], vec![0.0; 4]))
            .mean_axis(2, false);
    }
}
