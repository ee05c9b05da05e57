//! Reordering axes: `permute` for any rank and `transpose` for matrices.

use crate::{Op, Tensor, Var};
use ndarray::IxDyn;

/// Output axis `i` is input axis `axes[i]` (as NumPy `transpose(x, axes)`).
#[derive(Debug)]
pub struct Permute {
    /// A permutation of `0..rank`.
    pub axes: Vec<usize>,
}
impl Op for Permute {
    fn name(&self) -> &'static str {
        "permute"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        let mut seen = vec![false; x[0].ndim()];
        let valid = self.axes.len() == seen.len()
            && self
                .axes
                .iter()
                .all(|&a| a < seen.len() && !std::mem::replace(&mut seen[a], true));
        assert!(
            valid,
            "permute: axes {:?} are not a permutation of the axes of shape {:?}",
            self.axes,
            x[0].shape()
        );
        permuted(x[0], &self.axes)
    }
    fn backward(&self, _x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        // Output axis i came from input axis axes[i], so input axis axes[i] takes g's axis i.
        let mut inverse = vec![0; self.axes.len()];
        for (i, &a) in self.axes.iter().enumerate() {
            inverse[a] = i;
        }
        vec![permuted(g, &inverse)]
    }
}

/// `t` with its axes reordered, copied into standard layout.
fn permuted(t: &Tensor, axes: &[usize]) -> Tensor {
    t.view()
        .permuted_axes(IxDyn(axes))
        .as_standard_layout()
        .into_owned()
}

impl<'t> Var<'t> {
    /// Reorders axes: output axis `i` is input axis `axes[i]`, so `[2, 3, 4]` permuted by
    /// `[2, 0, 1]` has shape `[4, 2, 3]`.
    ///
    /// # Panics
    /// If `axes` is not a permutation of `0..rank` (the axes and the shape are named).
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let x = tape.constant(tensor(&[2, 3, 4], vec![0.0; 24]));
    /// assert_eq!(x.permute(&[2, 0, 1]).shape(), vec![4, 2, 3]);
    /// ```
    pub fn permute(self, axes: &[usize]) -> Var<'t> {
        let op = Permute {
            axes: axes.to_vec(),
        };
        self.tape().apply(op, &[self])
    }

    /// The transpose of a matrix: `[m, n] -> [n, m]`.
    ///
    /// # Panics
    /// If the input is not rank 2 (its shape is named).
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let x = tape.constant(tensor(&[1, 2], vec![1.0, 2.0]));
    /// assert_eq!(*x.transpose().value(), tensor(&[2, 1], vec![1.0, 2.0]));
    /// ```
    pub fn transpose(self) -> Var<'t> {
        let shape = self.shape();
        assert_eq!(
            shape.len(),
            2,
            "transpose: input {shape:?} is not a matrix; use permute for other ranks"
        );
        self.permute(&[1, 0])
    }
}

#[cfg(test)]
mod tests {
    use crate::{check_gradients, tensor, GradCheck, Tape};

    #[test]
    fn transpose_swaps_indices() {
        let tape = Tape::new();
        let x = tape.constant(tensor(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
        let t = x.transpose().value();
        assert_eq!(t.shape(), &[3, 2]);
        assert_eq!(t[[2, 0]], 3.0);
        assert!(t.is_standard_layout());
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = tensor(&[2, 3, 2], (0..12).map(|i| i as f32 * 0.3 - 1.4).collect());
        let m = tensor(&[2, 3], vec![0.5, -1.0, 2.0, 1.5, -0.7, 0.9]);
        let cfg = GradCheck::default();
        check_gradients(
            |_, v| v[0].permute(&[2, 0, 1]),
            std::slice::from_ref(&x),
            cfg,
        )
        .unwrap();
        check_gradients(|_, v| v[0].permute(&[1, 2, 0]), &[x], cfg).unwrap();
        check_gradients(|_, v| v[0].transpose(), &[m], cfg).unwrap();
    }

    #[test]
    #[should_panic(
        expected = "permute: axes [0, 0] are not a permutation of the axes of shape [2, 3]"
    )]
    fn repeated_axis_names_the_shape() {
        let tape = Tape::new();
        let _ = tape
            .constant(tensor(&[2, 3], vec![0.0; 6]))
            .permute(&[0, 0]);
    }

    #[test]
    #[should_panic(expected = "transpose: input [4] is not a matrix")]
    fn transpose_of_a_vector_panics() {
        let tape = Tape::new();
        let _ = tape.constant(tensor(&[4], vec![0.0; 4])).transpose();
    }
}
