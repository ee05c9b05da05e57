//! Softmax and log-softmax along any axis, computed without overflow.
//!
//! Both subtract the maximum along the axis first: softmax is invariant to that shift,
//! and afterwards every exponent is `<= 0`, so `e^x` cannot overflow and the sum is `>= 1`.

use super::check_axis;
use crate::{Op, Tensor, Var};
use ndarray::Axis;

/// `e^x / Σ e^x` along `axis`.
#[derive(Debug)]
pub struct Softmax {
    /// The axis along which the outputs sum to 1.
    pub axis: usize,
}
impl Op for Softmax {
    fn name(&self) -> &'static str {
        "softmax"
    }
    fn axis(&self) -> Option<usize> {
        Some(self.axis)
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        check_axis("softmax", x[0].shape(), self.axis);
        let e = (x[0] - &max_along(x[0], self.axis)).mapv_into(f32::exp);
        let sum = e.sum_axis(Axis(self.axis)).insert_axis(Axis(self.axis));
        e / &sum
    }
    fn backward(&self, _x: &[&Tensor], y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        // Along the axis, y_i = e^x_i / S with S = Σ_k e^x_k, so dy_i/dx_j = y_i (δ_ij - y_j)
        // and dL/dx_j = Σ_i g_i y_i (δ_ij - y_j) = y_j (g_j - Σ_i g_i y_i).
        let dot = (g * y)
            .sum_axis(Axis(self.axis))
            .insert_axis(Axis(self.axis));
        vec![y * &(g - &dot)]
    }
}

/// `x - ln Σ e^x` along `axis`.
#[derive(Debug)]
pub struct LogSoftmax {
    /// The axis along which `e^output` sums to 1.
    pub axis: usize,
}
impl Op for LogSoftmax {
    fn name(&self) -> &'static str {
        "log_softmax"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        check_axis("log_softmax", x[0].shape(), self.axis);
        log_softmax_along(x[0], self.axis)
    }
    fn backward(&self, _x: &[&Tensor], y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        // Along the axis, y_i = x_i - ln S, so dy_i/dx_j = δ_ij - e^x_j / S = δ_ij - softmax_j
        // and dL/dx_j = g_j - softmax_j Σ_i g_i, with softmax = e^y (reuses the output).
        let total = g.sum_axis(Axis(self.axis)).insert_axis(Axis(self.axis));
        vec![g - &(y.mapv(f32::exp) * &total)]
    }
}

/// The maximum along `axis`, with the axis kept (size 1) so that it broadcasts back.
fn max_along(x: &Tensor, axis: usize) -> Tensor {
    x.fold_axis(Axis(axis), f32::NEG_INFINITY, |&m, &v| m.max(v))
        .insert_axis(Axis(axis))
}

/// `x - m - ln Σ e^(x - m)` along `axis`, with `m` the maximum along `axis`: the stable
/// log-softmax the fused cross-entropy losses share. `axis` must be valid.
pub(crate) fn log_softmax_along(x: &Tensor, axis: usize) -> Tensor {
    let shifted = x - &max_along(x, axis);
    let log_sum = shifted
        .mapv(f32::exp)
        .sum_axis(Axis(axis))
        .mapv_into(f32::ln)
        .insert_axis(Axis(axis));
    shifted - &log_sum
}

impl<'t> Var<'t> {
    /// Softmax `e^x_i / Σ_j e^x_j` along `axis` (Keras uses the last axis): every lane
    /// along `axis` becomes a probability distribution. Computed stably for any input size.
    ///
    /// # Panics
    /// If `axis` is not an axis of the input's shape.
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let x = tape.constant(tensor(&[2, 2], vec![0.0, 0.0, 1000.0, 1000.0]));
    /// let y = x.softmax(1);
    /// assert_eq!(y.value().as_slice().unwrap(), &[0.5, 0.5, 0.5, 0.5]);
    /// ```
    pub fn softmax(self, axis: usize) -> Var<'t> {
        self.tape().apply(Softmax { axis }, &[self])
    }

    /// Log-softmax `x_i - ln Σ_j e^x_j` along `axis`, computed stably: finite even where
    /// `softmax(x).log()` would be `ln 0 = -inf`.
    ///
    /// # Panics
    /// If `axis` is not an axis of the input's shape.
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let y = tape.constant(tensor(&[2], vec![0.0, -200.0])).log_softmax(0);
    /// assert_eq!(y.value().as_slice().unwrap(), &[0.0, -200.0]);
    /// ```
    pub fn log_softmax(self, axis: usize) -> Var<'t> {
        self.tape().apply(LogSoftmax { axis }, &[self])
    }
}

#[cfg(test)]
mod tests {
    use crate::{check_gradients, tensor, GradCheck, Tape};

    #[test]
    fn values_match_the_definition() {
        // softmax([1, 2, 3]) = e^k / (e + e^2 + e^3) = [0.09003057, 0.24472847, 0.66524096];
        // log_softmax = k - ln(e + e^2 + e^3) = k - 3.40760596.
        let tape = Tape::new();
        let x = tape.constant(tensor(&[3], vec![1.0, 2.0, 3.0]));
        let (p, lp) = (x.softmax(0).value(), x.log_softmax(0).value());
        let want = [0.090_030_57, 0.244_728_47, 0.665_240_96];
        for k in 0..3 {
            assert!((p[[k]] - want[k]).abs() < 1e-6);
            assert!((lp[[k]] - (k as f32 + 1.0 - 3.407_606)).abs() < 1e-6);
        }
    }

    #[test]
    fn reduces_along_the_requested_axis() {
        let tape = Tape::new();
        let x = tape.constant(tensor(&[2, 2], vec![0.0, 5.0, 0.0, 5.0]));
        // Along axis 0 each column holds equal values, so every entry is 1/2.
        assert_eq!(x.softmax(0).value().as_slice().unwrap(), &[0.5; 4]);
    }

    #[test]
    fn gradients_match_finite_differences_on_every_axis() {
        let x = tensor(&[2, 3], vec![0.5, -1.0, 2.0, 1.5, -0.7, 0.9]);
        let cfg = GradCheck::default();
        check_gradients(|_, v| v[0].softmax(1), std::slice::from_ref(&x), cfg).unwrap();
        check_gradients(|_, v| v[0].softmax(0), std::slice::from_ref(&x), cfg).unwrap();
        check_gradients(|_, v| v[0].log_softmax(1), std::slice::from_ref(&x), cfg).unwrap();
        check_gradients(|_, v| v[0].log_softmax(0), &[x], cfg).unwrap();
    }

    #[test]
    #[should_panic(expected = "softmax: axis 2 is out of range for shape [2, 3]")]
    fn bad_axis_names_the_shape() {
        let tape = Tape::new();
        let _ = tape.constant(tensor(&[2, 3], vec![0.0; 6])).softmax(2);
    }
}
