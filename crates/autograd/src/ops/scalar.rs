//! Negation and operations with an `f32` constant: `x + c`, `x * c`, `c - x`, `x / c`.

use crate::{Op, Tensor, Var};
use std::ops::{Add, Div, Mul, Sub};

/// `-x`.
#[derive(Debug)]
pub struct NegOp;
impl Op for NegOp {
    fn name(&self) -> &'static str {
        "neg"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        -x[0]
    }
    fn backward(&self, _x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        vec![-g]
    }
}

/// `x + c` for a constant `c`.
#[derive(Debug)]
pub struct AddScalar(pub f32);
impl Op for AddScalar {
    fn name(&self) -> &'static str {
        "add_scalar"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        x[0] + self.0
    }
    fn backward(&self, _x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        vec![g.clone()]
    }
}

/// `x * c` for a constant `c`.
#[derive(Debug)]
pub struct MulScalar(pub f32);
impl Op for MulScalar {
    fn name(&self) -> &'static str {
        "mul_scalar"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        x[0] * self.0
    }
    fn backward(&self, _x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        vec![g * self.0]
    }
}

impl<'t> Add<f32> for Var<'t> {
    type Output = Var<'t>;
    /// Adds a constant to every element.
    fn add(self, c: f32) -> Var<'t> {
        self.tape().apply(AddScalar(c), &[self])
    }
}

impl<'t> Sub<f32> for Var<'t> {
    type Output = Var<'t>;
    /// Subtracts a constant from every element.
    fn sub(self, c: f32) -> Var<'t> {
        self.tape().apply(AddScalar(-c), &[self])
    }
}

impl<'t> Mul<f32> for Var<'t> {
    type Output = Var<'t>;
    /// Multiplies every element by a constant.
    fn mul(self, c: f32) -> Var<'t> {
        self.tape().apply(MulScalar(c), &[self])
    }
}

impl<'t> Div<f32> for Var<'t> {
    type Output = Var<'t>;
    /// Divides every element by a constant.
    fn div(self, c: f32) -> Var<'t> {
        self.tape().apply(MulScalar(1.0 / c), &[self])
    }
}

impl<'t> Sub<Var<'t>> for f32 {
    type Output = Var<'t>;
    /// `c - x`, element-wise.
    fn sub(self, x: Var<'t>) -> Var<'t> {
        -x + self
    }
}

#[cfg(test)]
mod tests {
    use crate::{check_gradients, tensor, GradCheck};

    #[test]
    fn gradients_match_finite_differences() {
        let x = tensor(&[3], vec![0.5, -1.0, 2.0]);
        let cfg = GradCheck::default();
        check_gradients(|_, v| -v[0], std::slice::from_ref(&x), cfg).unwrap();
        check_gradients(|_, v| v[0] + 2.0, std::slice::from_ref(&x), cfg).unwrap();
        check_gradients(|_, v| v[0] - 2.0, std::slice::from_ref(&x), cfg).unwrap();
        check_gradients(|_, v| v[0] * 3.0, std::slice::from_ref(&x), cfg).unwrap();
        check_gradients(|_, v| v[0] / 4.0, std::slice::from_ref(&x), cfg).unwrap();
        check_gradients(|_, v| 1.0 - v[0], &[x], cfg).unwrap();
    }
}
