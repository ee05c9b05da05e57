//! Binary cross-entropy from logits, fused with the sigmoid for stability.

use super::sigmoid::sigmoid;
use super::{check_same_shape, last_axis};
use crate::{Op, Tensor, Var};
use ndarray::{Axis, Zip};

/// Per-sample mean over the last axis of `-t ln σ(z) - (1 - t) ln(1 - σ(z))`.
#[derive(Debug)]
pub struct SigmoidBinaryCrossEntropy {
    /// Targets in `[0, 1]`, shaped like the logits.
    pub targets: Tensor,
}
impl Op for SigmoidBinaryCrossEntropy {
    fn name(&self) -> &'static str {
        "sigmoid_binary_cross_entropy"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        let op = "sigmoid_binary_cross_entropy";
        let last = last_axis(op, x[0].shape());
        check_same_shape(
            op,
            ("logits", x[0].shape()),
            ("targets", self.targets.shape()),
        );
        // -t ln σ(z) - (1 - t) ln(1 - σ(z)) = max(z, 0) - z t + ln(1 + e^-|z|): no overflow,
        // and no ln of 0 (TensorFlow `sigmoid_cross_entropy_with_logits`).
        let elem = Zip::from(x[0])
            .and(&self.targets)
            .map_collect(|&z, &t| z.max(0.0) - z * t + (-z.abs()).exp().ln_1p());
        elem.sum_axis(Axis(last)) / x[0].shape()[last] as f32
    }
    fn backward(&self, x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        // d/dz [-t ln σ(z) - (1 - t) ln(1 - σ(z))] = σ(z) - t; the mean divides by k.
        let last = x[0].ndim() - 1;
        let k = x[0].shape()[last] as f32;
        let d = Zip::from(x[0])
            .and(&self.targets)
            .map_collect(|&z, &t| (sigmoid(z) - t) / k);
        vec![d * &g.view().insert_axis(Axis(last))]
    }
}

impl<'t> Var<'t> {
    /// Per-sample binary cross-entropy of logits against targets of the same shape,
    /// averaged over the last axis: `[batch, k] -> [batch]` (Keras
    /// `BinaryCrossentropy(from_logits=True)` before its mean over the batch).
    ///
    /// Each element is `max(z, 0) - z t + ln(1 + e^-|z|)`, which equals
    /// `-t ln σ(z) - (1 - t) ln(1 - σ(z))` but stays finite for any logit.
    ///
    /// # Panics
    /// If the logits are rank 0 or `targets` has a different shape (both are named).
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let z = tape.constant(tensor(&[1, 1], vec![0.0]));
    /// let loss = z.sigmoid_binary_cross_entropy(tensor(&[1, 1], vec![1.0])); // -ln σ(0) = ln 2
    /// assert!((loss.value()[[0]] - std::f32::consts::LN_2).abs() < 1e-6);
    /// ```
    pub fn sigmoid_binary_cross_entropy(self, targets: Tensor) -> Var<'t> {
        self.tape()
            .apply(SigmoidBinaryCrossEntropy { targets }, &[self])
    }
}

#[cfg(test)]
mod tests {
    use crate::{check_gradients, tensor, GradCheck, Tape};

    #[test]
    fn reference_values_and_gradient() {
        let tape = Tape::new();
        let z = tape.var(tensor(&[2, 2], vec![0.0, 2.0, -1.0, 3.0]));
        let t = tensor(&[2, 2], vec![1.0, 0.0, 1.0, 1.0]);
        let loss = z.sigmoid_binary_cross_entropy(t);
        // Element losses, -t ln σ(z) - (1 - t) ln(1 - σ(z)):
        //   z=0,t=1: ln 2 = 0.69314718          z=2,t=0: 2 + ln(1 + e^-2) = 2.12692801
        //   z=-1,t=1: ln(1 + e) = 1.31326169    z=3,t=1: ln(1 + e^-3) = 0.04858735
        // Means per row: 1.41003760 and 0.68092452.
        let l = loss.value();
        assert!((l[[0]] - 1.410_037_6).abs() < 1e-6);
        assert!((l[[1]] - 0.680_924_5).abs() < 1e-6);
        // (σ(z) - t) / 2 with σ(0) = 0.5, σ(2) = 0.88079708, σ(-1) = 0.26894142,
        // σ(3) = 0.95257413.
        let want = [-0.25, 0.440_398_54, -0.365_529_3, -0.023_712_94];
        for (a, b) in loss.backward().get(z).unwrap().iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn extreme_logits_stay_finite() {
        let tape = Tape::new();
        let z = tape.constant(tensor(&[2, 1], vec![-1000.0, 1000.0]));
        let loss = z.sigmoid_binary_cross_entropy(tensor(&[2, 1], vec![1.0, 0.0]));
        // Confidently wrong by 1000 logits: each loss is 1000 + ln(1 + e^-1000) = 1000.
        assert_eq!(loss.value().as_slice().unwrap(), &[1000.0, 1000.0]);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let z = tensor(&[2, 3], vec![0.5, -1.0, 2.0, 1.5, -0.7, 0.9]);
        let t = || tensor(&[2, 3], vec![1.0, 0.0, 1.0, 0.3, 0.0, 0.8]);
        let cfg = GradCheck::default();
        check_gradients(|_, v| v[0].sigmoid_binary_cross_entropy(t()), &[z], cfg).unwrap();
    }

    #[test]
    #[should_panic(expected = "sigmoid_binary_cross_entropy: logits [2, 1] and targets [2]")]
    fn shape_mismatch_names_both_shapes() {
        let tape = Tape::new();
        let z = tape.constant(tensor(&[2, 1], vec![0.0; 2]));
        let _ = z.sigmoid_binary_cross_entropy(tensor(&[2], vec![0.0; 2]));
    }
}
