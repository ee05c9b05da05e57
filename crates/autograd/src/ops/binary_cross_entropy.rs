//! Binary cross-entropy on probabilities, clipped as Keras clips them.

use super::{check_same_shape, last_axis};
use crate::{Op, Tensor, Var};
use ndarray::{Axis, Zip};

/// Keras `backend.epsilon()`: probabilities are clipped to `[EPSILON, 1 - EPSILON]`.
pub const EPSILON: f32 = 1e-7;

/// Per-sample mean over the last axis of `-t ln p - (1 - t) ln(1 - p)`, `p` clipped.
#[derive(Debug)]
pub struct BinaryCrossEntropy {
    /// Targets in `[0, 1]`, shaped like the probabilities.
    pub targets: Tensor,
}
impl Op for BinaryCrossEntropy {
    fn name(&self) -> &'static str {
        "binary_cross_entropy"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        let op = "binary_cross_entropy";
        let last = last_axis(op, x[0].shape());
        check_same_shape(
            op,
            ("probabilities", x[0].shape()),
            ("targets", self.targets.shape()),
        );
        let elem = Zip::from(x[0]).and(&self.targets).map_collect(|&p, &t| {
            let p = p.clamp(EPSILON, 1.0 - EPSILON);
            -(t * p.ln() + (1.0 - t) * (1.0 - p).ln())
        });
        elem.sum_axis(Axis(last)) / x[0].shape()[last] as f32
    }
    fn backward(&self, x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        // d/dp [-t ln p - (1 - t) ln(1 - p)] = (1 - t)/(1 - p) - t/p inside the clip range
        // and 0 where p was clipped (TensorFlow's `clip_by_value` gradient); the mean
        // divides by k.
        let last = x[0].ndim() - 1;
        let k = x[0].shape()[last] as f32;
        let d = Zip::from(x[0]).and(&self.targets).map_collect(|&p, &t| {
            if (EPSILON..=1.0 - EPSILON).contains(&p) {
                ((1.0 - t) / (1.0 - p) - t / p) / k
            } else {
                0.0
            }
        });
        vec![d * &g.view().insert_axis(Axis(last))]
    }
}

impl<'t> Var<'t> {
    /// Per-sample binary cross-entropy of probabilities `p` against targets of the same
    /// shape, averaged over the last axis: `[batch, k] -> [batch]` (Keras
    /// `BinaryCrossentropy(from_logits=False)` before its mean over the batch).
    ///
    /// As Keras does, `p` is first clipped to `[1e-7, 1 - 1e-7]` ([`EPSILON`]), so a
    /// confidently wrong prediction costs about `ln(1e7) ≈ 16.1` rather than infinity; the
    /// gradient is zero where `p` was clipped. Prefer
    /// [`Var::sigmoid_binary_cross_entropy`] on logits, which needs no clipping.
    ///
    /// # Panics
    /// If the input is rank 0 or `targets` has a different shape (both are named).
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let p = tape.constant(tensor(&[1, 2], vec![0.5, 0.5]));
    /// let loss = p.binary_cross_entropy(tensor(&[1, 2], vec![1.0, 0.0])); // -ln 0.5 = ln 2
    /// assert!((loss.value()[[0]] - std::f32::consts::LN_2).abs() < 1e-6);
    /// ```
    pub fn binary_cross_entropy(self, targets: Tensor) -> Var<'t> {
        self.tape().apply(BinaryCrossEntropy { targets }, &[self])
    }
}

#[cfg(test)]
mod tests {
    use crate::{check_gradients, tensor, GradCheck, Tape};

    #[test]
    fn reference_values_and_gradient() {
        let tape = Tape::new();
        let p = tape.var(tensor(&[2, 2], vec![0.8, 0.4, 0.0, 1.0]));
        let t = tensor(&[2, 2], vec![1.0, 0.0, 1.0, 1.0]);
        let loss = p.binary_cross_entropy(t);
        // Row 0: (-ln 0.8 - ln 0.6) / 2 = (0.22314355 + 0.51082562) / 2 = 0.36698459.
        // Row 1 is clipped: p = 0 -> 1e-7 costs -ln(1e-7) = 16.11809565, and p = 1 ->
        // 1 - 1e-7 (0.99999988 in f32) costs 1.2e-7; the mean is 8.0590479.
        let l = loss.value();
        assert!((l[[0]] - 0.366_984_6).abs() < 1e-6);
        assert!((l[[1]] - 8.059_048).abs() < 1e-4);
        // (-t/p + (1 - t)/(1 - p)) / 2: -1/0.8/2 = -0.625 and 1/0.6/2 = 0.8333333;
        // clipped elements get no gradient.
        let want = [-0.625, 0.833_333_3, 0.0, 0.0];
        for (a, b) in loss.backward().get(p).unwrap().iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        // Probabilities inside (0.2, 0.8), so that p ± eps stays far from the clip range.
        let p = tensor(&[2, 3], vec![0.3, 0.6, 0.25, 0.7, 0.45, 0.55]);
        let t = || tensor(&[2, 3], vec![1.0, 0.0, 1.0, 0.3, 0.0, 0.8]);
        let cfg = GradCheck::default();
        check_gradients(|_, v| v[0].binary_cross_entropy(t()), &[p], cfg).unwrap();
    }

    #[test]
    #[should_panic(expected = "binary_cross_entropy: probabilities [3] and targets [3, 1]")]
    fn shape_mismatch_names_both_shapes() {
        let tape = Tape::new();
        let p = tape.constant(tensor(&[3], vec![0.5; 3]));
        let _ = p.binary_cross_entropy(tensor(&[3, 1], vec![0.0; 3]));
    }
}
