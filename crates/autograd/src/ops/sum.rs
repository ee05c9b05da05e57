//! Summation over all elements or along one axis.

use super::check_axis;
use crate::{Op, Tensor, Var};
use ndarray::{Axis, IxDyn};

/// The sum of all elements, as a rank-0 tensor.
#[derive(Debug)]
pub struct Sum;
impl Op for Sum {
    fn name(&self) -> &'static str {
        "sum"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        Tensor::from_elem(IxDyn(&[]), x[0].sum())
    }
    fn backward(&self, x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        // Every element contributes with slope 1: copy the scalar gradient to the input shape.
        vec![Tensor::from_elem(x[0].raw_dim(), g[[]])]
    }
}

/// The sum along `axis`, which is removed or (with `keep_dims`) kept with size 1.
#[derive(Debug)]
pub struct SumAxis {
    /// The axis summed over.
    pub axis: usize,
    /// Whether the output keeps `axis` with size 1.
    pub keep_dims: bool,
}
impl Op for SumAxis {
    fn name(&self) -> &'static str {
        "sum_axis"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        check_axis("sum_axis", x[0].shape(), self.axis);
        let s = x[0].sum_axis(Axis(self.axis));
        if self.keep_dims {
            s.insert_axis(Axis(self.axis))
        } else {
            s
        }
    }
    fn backward(&self, x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        // Copy each lane's gradient back along the summed axis.
        let g = if self.keep_dims {
            g.view()
        } else {
            g.view().insert_axis(Axis(self.axis))
        };
        let expanded = g
            .broadcast(x[0].raw_dim())
            .expect("sum_axis: gradient broadcasts back along the summed axis");
        vec![expanded.to_owned()]
    }
}

impl<'t> Var<'t> {
    /// The sum of all elements, as a rank-0 value of shape `[]`.
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let s = tape.constant(tensor(&[2, 2], vec![1.0, 2.0, 3.0, 4.0])).sum();
    /// assert_eq!(s.shape(), Vec::<usize>::new());
    /// assert_eq!(s.scalar(), 10.0);
    /// ```
    pub fn sum(self) -> Var<'t> {
        self.tape().apply(Sum, &[self])
    }

    /// The sum along `axis`: `[2, 3]` summed along axis 1 gives `[2]`, or `[2, 1]` with
    /// `keep_dims`.
    ///
    /// # Panics
    /// If `axis` is not an axis of the input's shape.
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let x = tape.constant(tensor(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
    /// assert_eq!(x.sum_axis(0, false).value().as_slice().unwrap(), &[5.0, 7.0, 9.0]);
    /// assert_eq!(x.sum_axis(1, true).shape(), vec![2, 1]);
    /// ```
    pub fn sum_axis(self, axis: usize, keep_dims: bool) -> Var<'t> {
        self.tape().apply(SumAxis { axis, keep_dims }, &[self])
    }
}

#[cfg(test)]
mod tests {
    use crate::{check_gradients, tensor, GradCheck, Tape};

    #[test]
    fn gradient_of_a_sum_is_ones() {
        let tape = Tape::new();
        let x = tape.var(tensor(&[2, 3], vec![0.5; 6]));
        let g = (x.sum() * 2.0).backward();
        assert_eq!(g.get(x).unwrap(), &tensor(&[2, 3], vec![2.0; 6]));
    }

    #[test]
    fn sum_axis_values() {
        let tape = Tape::new();
        let x = tape.constant(tensor(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
        assert_eq!(
            x.sum_axis(1, false).value().as_slice().unwrap(),
            &[6.0, 15.0]
        );
        assert_eq!(x.sum_axis(0, true).shape(), vec![1, 3]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = tensor(&[2, 3, 2], (0..12).map(|i| i as f32 * 0.3 - 1.4).collect());
        let cfg = GradCheck::default();
        check_gradients(|_, v| v[0].sum(), std::slice::from_ref(&x), cfg).unwrap();
        for axis in 0..3 {
            check_gradients(
                |_, v| v[0].sum_axis(axis, false),
                std::slice::from_ref(&x),
                cfg,
            )
            .unwrap();
            check_gradients(
                |_, v| v[0].sum_axis(axis, true),
                std::slice::from_ref(&x),
                cfg,
            )
            .unwrap();
        }
    }

    #[test]
    #[should_panic(expected = "sum_axis: axis 1 is out of range for shape [4]")]
    fn bad_axis_names_the_shape() {
        let tape = Tape::new();
        let _ = tape.constant(tensor(&[4], vec![0.0; 4])).sum_axis(1, false);
    }
}
