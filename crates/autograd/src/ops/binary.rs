//! Element-wise add, sub, mul and div with numpy broadcasting, and their operators.
//!
//! Backward passes return gradients in the broadcast output shape; the tape reduces them
//! to each input's shape in one place ([`sum_to_shape`](crate::sum_to_shape)).

use crate::{broadcast_shape, Op, Tensor, Var};
use std::ops::{Add, Div, Mul, Neg, Sub};

fn check_broadcast(op: &str, a: &Tensor, b: &Tensor) {
    if broadcast_shape(a.shape(), b.shape()).is_none() {
        panic!(
            "{op}: lhs {:?} does not broadcast with rhs {:?}",
            a.shape(),
            b.shape()
        );
    }
}

/// `a + b`.
#[derive(Debug)]
pub struct AddOp;
impl Op for AddOp {
    fn name(&self) -> &'static str {
        "add"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        check_broadcast("add", x[0], x[1]);
        x[0] + x[1]
    }
    fn backward(&self, _x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        vec![g.clone(), g.clone()]
    }
}

/// `a - b`.
#[derive(Debug)]
pub struct SubOp;
impl Op for SubOp {
    fn name(&self) -> &'static str {
        "sub"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        check_broadcast("sub", x[0], x[1]);
        x[0] - x[1]
    }
    fn backward(&self, _x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        vec![g.clone(), -g]
    }
}

/// `a * b`, element-wise.
#[derive(Debug)]
pub struct MulOp;
impl Op for MulOp {
    fn name(&self) -> &'static str {
        "mul"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        check_broadcast("mul", x[0], x[1]);
        x[0] * x[1]
    }
    fn backward(&self, x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        vec![g * x[1], g * x[0]]
    }
}

/// `a / b`, element-wise.
#[derive(Debug)]
pub struct DivOp;
impl Op for DivOp {
    fn name(&self) -> &'static str {
        "div"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        check_broadcast("div", x[0], x[1]);
        x[0] / x[1]
    }
    fn backward(&self, x: &[&Tensor], y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        // d(a/b)/da = 1/b; d(a/b)/db = -a/b^2 = -y/b.
        let ga = g / x[1];
        let gb = -(&ga * y);
        vec![ga, gb]
    }
}

macro_rules! binary_operator {
    ($trait:ident, $method:ident, $op:ident) => {
        impl<'t> $trait for Var<'t> {
            type Output = Var<'t>;
            /// Element-wise with numpy broadcasting.
            ///
            /// # Panics
            /// If the shapes do not broadcast, or the two values live on different tapes.
            fn $method(self, rhs: Var<'t>) -> Var<'t> {
                assert!(
                    std::ptr::eq(self.tape(), rhs.tape()),
                    "{}: operands live on different tapes",
                    stringify!($method)
                );
                self.tape().apply($op, &[self, rhs])
            }
        }
    };
}
binary_operator!(Add, add, AddOp);
binary_operator!(Sub, sub, SubOp);
binary_operator!(Mul, mul, MulOp);
binary_operator!(Div, div, DivOp);

impl<'t> Neg for Var<'t> {
    type Output = Var<'t>;
    /// Element-wise negation.
    fn neg(self) -> Var<'t> {
        self.tape().apply(super::scalar::NegOp, &[self])
    }
}

#[cfg(test)]
mod tests {
    use crate::{check_gradients, tensor, GradCheck, Tape};

    fn ab() -> (crate::Tensor, crate::Tensor) {
        let a = tensor(&[2, 3], vec![0.5, -1.0, 2.0, 1.5, -0.7, 0.9]);
        let b = tensor(&[3], vec![1.2, -0.8, 2.5]);
        (a, b)
    }

    #[test]
    fn values_broadcast_like_numpy() {
        let tape = Tape::new();
        let (a, b) = ab();
        let s = tape.constant(a) + tape.constant(b);
        assert_eq!(s.value()[[1, 2]], 0.9 + 2.5);
    }

    #[test]
    fn gradients_match_finite_differences_with_broadcasting() {
        let (a, b) = ab();
        let cfg = GradCheck::default();
        check_gradients(|_, v| v[0] + v[1], &[a.clone(), b.clone()], cfg).unwrap();
        check_gradients(|_, v| v[0] - v[1], &[a.clone(), b.clone()], cfg).unwrap();
        check_gradients(|_, v| v[0] * v[1], &[a.clone(), b.clone()], cfg).unwrap();
        check_gradients(|_, v| v[0] / v[1], &[a.clone(), b.clone()], cfg).unwrap();
        // Broadcasting on the left operand and over a kept size-1 axis.
        let col = tensor(&[2, 1], vec![0.3, -1.1]);
        check_gradients(|_, v| v[1] * v[0], &[a, col], cfg).unwrap();
    }

    #[test]
    fn a_value_used_twice_accumulates() {
        let tape = Tape::new();
        let x = tape.var(tensor(&[1], vec![3.0]));
        let g = (x * x + x).backward();
        assert_eq!(g.get(x).unwrap()[[0]], 7.0); // d(x^2 + x)/dx = 2x + 1
    }

    #[test]
    #[should_panic(expected = "does not broadcast")]
    fn incompatible_shapes_panic_with_both_shapes() {
        let tape = Tape::new();
        let _ =
            tape.constant(tensor(&[3], vec![0.0; 3])) + tape.constant(tensor(&[4], vec![0.0; 4]));
    }
}
