//! Softmax cross-entropy against dense target distributions, fused for stability.

use super::softmax::log_softmax_along;
use super::{check_same_shape, last_axis};
use crate::{Op, Tensor, Var};
use ndarray::Axis;

/// Per-sample `-Σ_j t_ij log_softmax(z_i)_j`, with classes on the last axis.
#[derive(Debug)]
pub struct SoftmaxCrossEntropy {
    /// Target distributions (one-hot or soft), shaped like the logits.
    pub targets: Tensor,
}
impl Op for SoftmaxCrossEntropy {
    fn name(&self) -> &'static str {
        "softmax_cross_entropy"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        let op = "softmax_cross_entropy";
        let last = last_axis(op, x[0].shape());
        check_same_shape(
            op,
            ("logits", x[0].shape()),
            ("targets", self.targets.shape()),
        );
        -(log_softmax_along(x[0], last) * &self.targets).sum_axis(Axis(last))
    }
    fn backward(&self, x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        // loss = -Σ_j t_j (z_j - ln S) with S = Σ_k e^z_k, so
        // dloss/dz_k = -t_k + (Σ_j t_j) e^z_k / S = softmax_k Σ_j t_j - t_k.
        // Σ_j t_j is 1 for a distribution, but soft or unnormalised targets need it kept.
        let last = x[0].ndim() - 1;
        let mass = self.targets.sum_axis(Axis(last)).insert_axis(Axis(last));
        let p = log_softmax_along(x[0], last).mapv_into(f32::exp);
        vec![(p * &mass - &self.targets) * &g.view().insert_axis(Axis(last))]
    }
}

impl<'t> Var<'t> {
    /// Per-sample softmax cross-entropy of logits `[batch, classes]` against target
    /// distributions of the same shape: `loss_i = -Σ_j t_ij log_softmax(z_i)_j`, shape
    /// `[batch]` (Keras `CategoricalCrossentropy(from_logits=True)` before its mean).
    ///
    /// Targets may be one-hot or soft (label smoothing). More generally the class axis is
    /// the last axis, and the loss has the logits' shape without it. Fused and stable.
    ///
    /// # Panics
    /// If the logits are rank 0 or `targets` has a different shape (both are named).
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let z = tape.constant(tensor(&[1, 2], vec![0.0, 0.0]));
    /// let loss = z.softmax_cross_entropy(tensor(&[1, 2], vec![0.0, 1.0])); // ln 2
    /// assert!((loss.value()[[0]] - std::f32::consts::LN_2).abs() < 1e-6);
    /// ```
    pub fn softmax_cross_entropy(self, targets: Tensor) -> Var<'t> {
        self.tape().apply(SoftmaxCrossEntropy { targets }, &[self])
    }
}

#[cfg(test)]
mod tests {
    use crate::{check_gradients, tensor, GradCheck, Tape};

    #[test]
    fn reference_values_and_gradient() {
        let tape = Tape::new();
        let z = tape.var(tensor(&[2, 3], vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0]));
        let t = tensor(&[2, 3], vec![0.0, 0.0, 1.0, 0.5, 0.0, 0.5]);
        let loss = z.softmax_cross_entropy(t);
        // log_softmax([1, 2, 3]) = k - ln(e^1 + e^2 + e^3) = k - 3.40760596.
        // One-hot on class 2: 3.40760596 - 3 = 0.40760596.
        // Soft [0.5, 0, 0.5]: 0.5 (3.40760596 - 1) + 0.5 (3.40760596 - 3) = 1.40760596.
        let l = loss.value();
        assert!((l[[0]] - 0.407_605_96).abs() < 1e-6);
        assert!((l[[1]] - 1.407_606).abs() < 1e-6);
        // softmax([1, 2, 3]) = [0.09003057, 0.24472847, 0.66524096]; gradient = softmax - t.
        let want = [
            0.090_030_57,
            0.244_728_47,
            -0.334_759_04,
            -0.409_969_43,
            0.244_728_47,
            0.165_240_96,
        ];
        let g = loss.backward();
        for (a, b) in g.get(z).unwrap().iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn gradient_matches_finite_differences_for_soft_and_unnormalised_targets() {
        let z = tensor(&[2, 3], vec![0.5, -1.0, 2.0, 1.5, -0.7, 0.9]);
        let t = || tensor(&[2, 3], vec![0.2, 0.3, 0.5, 0.9, 0.6, 0.0]);
        let cfg = GradCheck::default();
        check_gradients(|_, v| v[0].softmax_cross_entropy(t()), &[z], cfg).unwrap();
    }

    #[test]
    #[should_panic(expected = "softmax_cross_entropy: logits [2, 3] and targets [2, 4]")]
    fn shape_mismatch_names_both_shapes() {
        let tape = Tape::new();
        let z = tape.constant(tensor(&[2, 3], vec![0.0; 6]));
        let _ = z.softmax_cross_entropy(tensor(&[2, 4], vec![0.0; 8]));
    }
}
