//! Matrix product of two rank-2 tensors.

use crate::{matmul_into, Op, Tensor, Var};
use ndarray::{Array2, Ix2};

/// `a @ b` for `a: [m, k]`, `b: [k, n]`.
#[derive(Debug)]
pub struct MatMul;

pub(crate) fn as_2d<'a>(op: &str, side: &str, t: &'a Tensor) -> ndarray::ArrayView2<'a, f32> {
    t.view()
        .into_dimensionality::<Ix2>()
        .unwrap_or_else(|_| panic!("{op}: {side} {:?} is not a matrix", t.shape()))
}

/// `a @ b` into a new matrix.
pub(crate) fn product(
    a: ndarray::ArrayView2<'_, f32>,
    b: ndarray::ArrayView2<'_, f32>,
) -> Array2<f32> {
    let (m, n) = (a.nrows(), b.ncols());
    // A pooled buffer: `matmul_into` without accumulation overwrites every element.
    let mut out = Array2::from_shape_vec((m, n), crate::pool::take(m * n)).expect("m * n elements");
    matmul_into(a, b, out.view_mut(), false);
    out
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
        product(a, b).into_dyn()
    }
    fn backward(&self, x: &[&Tensor], y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        crate::op::every_gradient(self, x, y, g)
    }
    fn backward_needed(
        &self,
        x: &[&Tensor],
        _y: &Tensor,
        g: &Tensor,
        needed: &[bool],
    ) -> Vec<Option<Tensor>> {
        let (a, b) = (as_2d("matmul", "lhs", x[0]), as_2d("matmul", "rhs", x[1]));
        let g = as_2d("matmul", "gradient", g);
        // dL/dA = G Bᵀ, dL/dB = Aᵀ G; transposes are strided views, not copies.
        vec![
            needed[0].then(|| product(g, b.t()).into_dyn()),
            needed[1].then(|| product(a.t(), g).into_dyn()),
        ]
    }
}

impl<'t> Var<'t> {
    /// Matrix product: `[m, k] @ [k, n] -> [m, n]`, on every core for large operands.
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
    fn a_constant_operand_gets_no_gradient_computed() {
        let tape = Tape::new();
        let x = tape.constant(tensor(&[1, 2], vec![1.0, 2.0]));
        let w = tape.var(tensor(&[2, 1], vec![3.0, 4.0]));
        let grads = x.matmul(w).backward();
        assert_eq!(grads.get(w).unwrap(), &tensor(&[2, 1], vec![1.0, 2.0]));
        assert!(grads.get(x).is_none());
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
