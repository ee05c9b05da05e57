//! Matrix product of two rank-2 tensors.

use crate::{Op, Tensor, Var};
use ndarray::Ix2;

/// `a @ b` for `a: [m, k]`, `b: [k, n]`.
#[derive(Debug)]
pub struct MatMul;

fn as_2d<'a>(op: &str, side: &str, t: &'a Tensor) -> ndarray::ArrayView2<'a, f32> {
    t.view()
        .into_dimensionality::<Ix2>()
        .unwrap_or_else(|_| panic!("{op}: {side} {:?} is not a matrix", t.shape()))
}

impl Op for MatMul {
    fn name(&self) -> &'static str {
        "matmul"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        let (a, b) = (as_2d("matmul", "lhs", x[0]), as_2d("matmul", "rhs", x[1]));
        assert_eq!(
            a.ncols(),
            b.nrows(),
            "matmul: lhs {:?} is incompatible with rhs {:?}",
            a.shape(),
            b.shape()
        );
        a.dot(&b).into_dyn()
    }
    fn backward(&self, x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        let (a, b) = (as_2d("matmul", "lhs", x[0]), as_2d("matmul", "rhs", x[1]));
        let g = as_2d("matmul", "gradient", g);
        // dL/dA = G Bᵀ, dL/dB = Aᵀ G.
        vec![g.dot(&b.t()).into_dyn(), a.t().dot(&g).into_dyn()]
    }
}

impl<'t> Var<'t> {
    /// Matrix product: `[m, k] @ [k, n] -> [m, n]`.
    ///
    /// # Panics
    /// If either operand is not rank 2 or the inner sizes differ (both shapes are named).
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let a = tape.constant(tensor(&[1, 2], vec![1.0, 2.0]));
    /// let b = tape.constant(tensor(&[2, 1], vec![3.0, 4.0]));
    /// assert_eq!(a.matmul(b).value()[[0, 0]], 11.0);
    /// ```
    pub fn matmul(self, rhs: Var<'t>) -> Var<'t> {
        self.tape().apply(MatMul, &[self, rhs])
    }
}

#[cfg(test)]
mod tests {
    use crate::{check_gradients, tensor, GradCheck, Tape};

    #[test]
    fn gradient_matches_finite_differences() {
        let a = tensor(&[2, 3], vec![0.5, -1.0, 2.0, 1.5, -0.7, 0.9]);
        let b = tensor(&[3, 2], vec![1.2, -0.8, 2.5, 0.1, -0.3, 0.7]);
        check_gradients(|_, v| v[0].matmul(v[1]), &[a, b], GradCheck::default()).unwrap();
    }

    #[test]
    #[should_panic(expected = "matmul: lhs [2, 3] is incompatible with rhs [2, 2]")]
    fn mismatched_inner_sizes_name_both_shapes() {
        let tape = Tape::new();
        let a = tape.constant(tensor(&[2, 3], vec![0.0; 6]));
        let b = tape.constant(tensor(&[2, 2], vec![0.0; 4]));
        let _ = a.matmul(b);
    }
}
