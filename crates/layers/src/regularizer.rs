//! Weight regularizers: L1 and L2 penalties added to the training loss, as Keras's
//! `keras.regularizers`.
//!
//! The penalty is one fused tape op ([`Penalty`]) over a weight tensor: forward
//! `l1 · Σ|w| + l2 · Σw²` (accumulated in `f64`), backward `g · (l1 · sign(w) + 2 · l2 · w)`,
//! so a regularized layer adds one node and one pass over its weights per step.

use crate::{Error, Result};
use keel_autograd::{Op, Tensor, Var};
use ndarray::{IxDyn, Zip};
use serde::{Deserialize, Serialize};

/// A penalty on a weight tensor, added to the training loss (Keras's `L1`, `L2`, `L1L2`).
///
/// - `L1(l1)` adds `l1 · Σ|w|` (pushes weights to exactly zero: sparse weights);
/// - `L2(l2)` adds `l2 · Σw²` (Keras's formula: no `1/2` factor, so the gradient is
///   `2 · l2 · w`; shrinks large weights);
/// - `L1L2 { l1, l2 }` adds both.
///
/// Coefficients must be finite and `>= 0`; a layer checks them when it is built. Set one on
/// a [`Dense`](crate::Dense) layer with
/// [`kernel_regularizer`](crate::Dense::kernel_regularizer) or
/// [`bias_regularizer`](crate::Dense::bias_regularizer). The reported training loss
/// (and, as in Keras, the validation and `evaluate` loss) includes the penalty.
///
/// ```
/// use keel_autograd::{tensor, Tape};
/// use keel_layers::Regularizer;
/// let w = tensor(&[3], vec![1.0, -2.0, 0.5]);
/// assert_eq!(Regularizer::L1(0.1).value(&w), 0.1 * 3.5);
/// assert_eq!(Regularizer::L2(0.01).value(&w), 0.01 * 5.25);
/// let tape = Tape::new();
/// let x = tape.var(w);
/// let grads = Regularizer::L2(0.5).penalty(x).backward(); // d(0.5 Σw²)/dw = w
/// assert_eq!(grads.get(x).unwrap().as_slice().unwrap(), &[1.0, -2.0, 0.5]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Regularizer {
    /// `l1 · Σ|w|` (Keras `L1(l1)`; its default is `0.01`).
    L1(f32),
    /// `l2 · Σw²` (Keras `L2(l2)`; its default is `0.01`).
    L2(f32),
    /// `l1 · Σ|w| + l2 · Σw²` (Keras `L1L2(l1, l2)`).
    L1L2 {
        /// The L1 coefficient.
        l1: f32,
        /// The L2 coefficient.
        l2: f32,
    },
}

impl Regularizer {
    /// The `(l1, l2)` coefficients (0 for the term a variant does not have).
    ///
    /// ```
    /// use keel_layers::Regularizer;
    /// assert_eq!(Regularizer::L2(1e-4).coefficients(), (0.0, 1e-4));
    /// ```
    pub fn coefficients(self) -> (f32, f32) {
        match self {
            Regularizer::L1(l1) => (l1, 0.0),
            Regularizer::L2(l2) => (0.0, l2),
            Regularizer::L1L2 { l1, l2 } => (l1, l2),
        }
    }

    /// Checks that both coefficients are finite and `>= 0`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming `layer` and `parameter` (e.g.
    /// `"kernel_regularizer"`) and the value found.
    ///
    /// ```
    /// use keel_layers::Regularizer;
    /// assert!(Regularizer::L2(1e-4).validate("dense", "kernel_regularizer").is_ok());
    /// let err = Regularizer::L1(-1.0).validate("dense", "kernel_regularizer").unwrap_err();
    /// assert!(err.to_string().contains("kernel_regularizer"));
    /// ```
    pub fn validate(self, layer: &str, parameter: &'static str) -> Result<()> {
        let (l1, l2) = self.coefficients();
        if [l1, l2].iter().all(|c| c.is_finite() && *c >= 0.0) {
            return Ok(());
        }
        Err(Error::InvalidArgument {
            layer: layer.into(),
            parameter,
            expected: "a regularizer with finite coefficients >= 0",
            found: format!("{self:?}"),
        })
    }

    /// The penalty of `weights` as a rank-0 value on their tape, differentiable.
    pub fn penalty<'t>(self, weights: Var<'t>) -> Var<'t> {
        let (l1, l2) = self.coefficients();
        weights.tape().apply(Penalty { l1, l2 }, &[weights])
    }

    /// The penalty of `weights` as a number, without a tape (what
    /// [`penalty`](Regularizer::penalty) computes).
    pub fn value(self, weights: &Tensor) -> f32 {
        let (l1, l2) = self.coefficients();
        penalty_value(l1, l2, weights)
    }
}

fn penalty_value(l1: f32, l2: f32, w: &Tensor) -> f32 {
    let (l1, l2) = (f64::from(l1), f64::from(l2));
    let (mut abs, mut squares) = (0.0f64, 0.0f64);
    for &x in w {
        let x = f64::from(x);
        abs += x.abs();
        squares += x * x;
    }
    // Only the terms in use, so that an unused term cannot turn an overflow into NaN.
    let mut total = 0.0;
    if l1 != 0.0 {
        total += l1 * abs;
    }
    if l2 != 0.0 {
        total += l2 * squares;
    }
    total as f32
}

/// `l1 · Σ|w| + l2 · Σw²` of one tensor, as a rank-0 tensor: the op behind
/// [`Regularizer::penalty`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Penalty {
    /// The L1 coefficient.
    pub l1: f32,
    /// The L2 coefficient.
    pub l2: f32,
}

impl Op for Penalty {
    fn name(&self) -> &'static str {
        "regularization"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        Tensor::from_elem(IxDyn(&[]), penalty_value(self.l1, self.l2, x[0]))
    }
    fn backward(&self, x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        // d|w|/dw = sign(w) (0 at 0, as TensorFlow's abs); d(w²)/dw = 2w.
        let (g, l1, l2) = (g[[]], self.l1, self.l2);
        let mut out = keel_runtime::buffers::tensor_for_overwrite(x[0].shape());
        Zip::from(&mut out).and(x[0]).for_each(|o, &w| {
            let sign = if w > 0.0 {
                1.0
            } else if w < 0.0 {
                -1.0
            } else {
                0.0
            };
            *o = g * (l1 * sign + 2.0 * l2 * w);
        });
        vec![out]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_autograd::{check_gradients, tensor, GradCheck, Tape};

    fn weights() -> Tensor {
        // Away from 0, where |w| has its kink.
        tensor(&[2, 3], vec![0.5, -1.2, 2.0, -0.3, 0.8, -2.5])
    }

    #[test]
    fn values_follow_keras_formulas() {
        // Σ|w| = 7.3, Σw² = 0.25 + 1.44 + 4 + 0.09 + 0.64 + 6.25 = 12.67.
        let w = weights();
        assert!((Regularizer::L1(0.1).value(&w) - 0.73).abs() < 1e-6);
        assert!((Regularizer::L2(0.1).value(&w) - 1.267).abs() < 1e-6);
        let both = Regularizer::L1L2 { l1: 0.1, l2: 0.1 }.value(&w);
        assert!((both - 1.997).abs() < 1e-6);
        let tape = Tape::new();
        let p = Regularizer::L2(0.1).penalty(tape.constant(w));
        assert_eq!(p.shape(), Vec::<usize>::new());
        assert!((p.scalar() - 1.267).abs() < 1e-6);
    }

    #[test]
    fn gradient_is_l1_sign_plus_twice_l2_w() {
        let tape = Tape::new();
        let w = tape.var(tensor(&[3], vec![2.0, -1.0, 0.0]));
        let reg = Regularizer::L1L2 { l1: 0.5, l2: 0.25 };
        let grads = (reg.penalty(w) * 2.0).backward();
        // 2 · (0.5 · sign(w) + 0.5 · w) = [3, -2, 0]; the kink at 0 has slope 0.
        assert_eq!(grads.get(w).unwrap().as_slice().unwrap(), &[3.0, -2.0, 0.0]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        for reg in [
            Regularizer::L1(0.3),
            Regularizer::L2(0.7),
            Regularizer::L1L2 { l1: 0.2, l2: 0.4 },
        ] {
            check_gradients(|_, v| reg.penalty(v[0]), &[weights()], GradCheck::default())
                .unwrap_or_else(|e| panic!("{reg:?}: {e}"));
        }
    }

    #[test]
    fn negative_or_non_finite_coefficients_are_rejected() {
        for bad in [
            Regularizer::L1(-0.1),
            Regularizer::L2(f32::NAN),
            Regularizer::L1L2 {
                l1: 0.1,
                l2: f32::INFINITY,
            },
        ] {
            let msg = bad.validate("dense", "bias_regularizer").unwrap_err();
            let msg = msg.to_string();
            assert!(
                msg.contains("dense") && msg.contains("bias_regularizer"),
                "{msg}"
            );
        }
        assert!(Regularizer::L1(0.0).validate("dense", "x").is_ok());
    }
}
