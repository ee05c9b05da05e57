//! Reshaping in row-major (C) order.

use crate::{Op, Tensor, Var};

/// The same elements in row-major order under a new shape.
#[derive(Debug)]
pub struct Reshape {
    /// The output shape; its element count must equal the input's.
    pub shape: Vec<usize>,
}
impl Op for Reshape {
    fn name(&self) -> &'static str {
        "reshape"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        assert_eq!(
            x[0].len(),
            self.shape.iter().product::<usize>(),
            "reshape: input {:?} cannot be reshaped to {:?}: element counts differ",
            x[0].shape(),
            self.shape
        );
        row_major(x[0], &self.shape)
    }
    fn backward(&self, x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        vec![row_major(g, x[0].shape())] // reshaping moves no element: undo it
    }
}

/// `t`'s elements in logical row-major order under `shape`, whatever `t`'s memory layout.
fn row_major(t: &Tensor, shape: &[usize]) -> Tensor {
    // Into a pooled buffer: flattening each input batch is on every training step's path.
    let mut out = crate::pool::tensor_for_overwrite(shape);
    match (out.as_slice_mut(), t.as_slice()) {
        (Some(dst), Some(src)) => dst.copy_from_slice(src),
        _ => out.iter_mut().zip(t.iter()).for_each(|(d, &s)| *d = s),
    }
    out
}

impl<'t> Var<'t> {
    /// The same elements, read in row-major order, under `shape` (as NumPy `reshape`).
    ///
    /// # Panics
    /// If `shape` holds a different number of elements than the input (both shapes are
    /// named).
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let x = tape.constant(tensor(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
    /// let y = x.reshape(&[3, 2]);
    /// assert_eq!(y.value()[[1, 0]], 3.0);
    /// ```
    pub fn reshape(self, shape: &[usize]) -> Var<'t> {
        let op = Reshape {
            shape: shape.to_vec(),
        };
        self.tape().apply(op, &[self])
    }
}

#[cfg(test)]
mod tests {
    use crate::{check_gradients, tensor, GradCheck, Tape};

    #[test]
    fn reads_a_transposed_value_in_logical_order() {
        let tape = Tape::new();
        let x = tape.constant(tensor(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]));
        let flat = x.transpose().reshape(&[4]);
        assert_eq!(flat.value().as_slice().unwrap(), &[1.0, 3.0, 2.0, 4.0]);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let x = tensor(&[2, 3], vec![0.5, -1.0, 2.0, 1.5, -0.7, 0.9]);
        let cfg = GradCheck::default();
        check_gradients(
            |_, v| v[0].reshape(&[3, 1, 2]),
            std::slice::from_ref(&x),
            cfg,
        )
        .unwrap();
        check_gradients(|_, v| v[0].reshape(&[6]), &[x], cfg).unwrap();
    }

    #[test]
    #[should_panic(expected = "reshape: input [2, 3] cannot be reshaped to [4, 2]")]
    fn mismatched_counts_name_both_shapes() {
        let tape = Tape::new();
        let _ = tape
            .constant(tensor(&[2, 3], vec![0.0; 6]))
            .reshape(&[4, 2]);
    }
}
