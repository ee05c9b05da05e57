//! Multiplication by a fixed dropout mask.

use crate::{broadcast_shape, Op, Tensor, Var};

/// `x * mask` for a constant `mask` that is not differentiated.
#[derive(Debug)]
pub struct DropoutMask {
    /// Zeros for dropped units and the keep-scale `1 / (1 - rate)` for kept ones.
    pub mask: Tensor,
}
impl Op for DropoutMask {
    fn name(&self) -> &'static str {
        "dropout_mask"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        let fits = broadcast_shape(x[0].shape(), self.mask.shape())
            .is_some_and(|s| s.as_slice() == x[0].shape());
        assert!(
            fits,
            "dropout_mask: mask {:?} does not broadcast to input {:?}",
            self.mask.shape(),
            x[0].shape()
        );
        self.times_mask(x[0])
    }
    fn backward(&self, _x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        vec![self.times_mask(g)]
    }
}

impl DropoutMask {
    /// `t * mask`, into a pooled buffer when the shapes are equal (the usual case).
    fn times_mask(&self, t: &Tensor) -> Tensor {
        if t.shape() != self.mask.shape() {
            return t * &self.mask;
        }
        let mut out = crate::pool::tensor_for_overwrite(t.shape());
        let (t, mask) = (t.as_standard_layout(), self.mask.as_standard_layout());
        crate::elementwise::zip3(
            out.as_slice_mut().expect("a fresh tensor is contiguous"),
            t.as_slice().expect("standard layout"),
            mask.as_slice().expect("standard layout"),
            crate::elementwise::multiply,
        );
        out
    }
}

impl Drop for DropoutMask {
    /// Returns the mask's buffer to the pool with the rest of the step's tensors.
    fn drop(&mut self) {
        crate::pool::recycle(std::mem::take(&mut self.mask));
    }
}

impl<'t> Var<'t> {
    /// `x * mask` for a constant mask: the training-time half of inverted dropout.
    ///
    /// The caller draws the mask and scales kept units by `1 / (1 - rate)`, so that the
    /// expected output equals the input and evaluation needs no rescaling. The mask may
    /// have the input's shape or broadcast to it (Keras `noise_shape`).
    ///
    /// # Panics
    /// If `mask` does not broadcast to the input's shape (both shapes are named).
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let x = tape.constant(tensor(&[4], vec![1.0, 2.0, 3.0, 4.0]));
    /// let y = x.dropout_mask(tensor(&[4], vec![2.0, 0.0, 2.0, 0.0])); // rate 0.5
    /// assert_eq!(y.value().as_slice().unwrap(), &[2.0, 0.0, 6.0, 0.0]);
    /// ```
    pub fn dropout_mask(self, mask: Tensor) -> Var<'t> {
        self.tape().apply(DropoutMask { mask }, &[self])
    }
}

#[cfg(test)]
mod tests {
    use crate::{check_gradients, tensor, GradCheck, Tape};

    #[test]
    fn gradient_is_the_mask() {
        let tape = Tape::new();
        let x = tape.var(tensor(&[3], vec![1.0, 2.0, 3.0]));
        let mask = tensor(&[3], vec![0.0, 1.25, 1.25]);
        let g = x.dropout_mask(mask.clone()).backward();
        assert_eq!(g.get(x).unwrap(), &mask);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let x = tensor(&[2, 3], vec![0.5, -1.0, 2.0, 1.5, -0.7, 0.9]);
        let cfg = GradCheck::default();
        let mask = || tensor(&[2, 3], vec![2.0, 0.0, 2.0, 0.0, 0.0, 2.0]);
        check_gradients(
            |_, v| v[0].dropout_mask(mask()),
            std::slice::from_ref(&x),
            cfg,
        )
        .unwrap();
        let per_column = || tensor(&[3], vec![0.0, 2.0, 2.0]);
        check_gradients(|_, v| v[0].dropout_mask(per_column()), &[x], cfg).unwrap();
    }

    #[test]
    #[should_panic(expected = "dropout_mask: mask [2, 3] does not broadcast to input [3]")]
    fn a_larger_mask_names_both_shapes() {
        let tape = Tape::new();
        let x = tape.constant(tensor(&[3], vec![0.0; 3]));
        let _ = x.dropout_mask(tensor(&[2, 3], vec![1.0; 6]));
    }
}
