//! Softmax cross-entropy against integer class labels, fused for stability.

use crate::{Op, Tensor, Var};
use ndarray::Ix2;

/// Per-sample `logsumexp(z_i) - z_i[y_i]` for logits `z: [batch, classes]`.
#[derive(Debug)]
pub struct SparseSoftmaxCrossEntropy {
    /// One class index per sample, each `< classes`.
    pub labels: Vec<u32>,
}
impl Op for SparseSoftmaxCrossEntropy {
    fn name(&self) -> &'static str {
        "sparse_softmax_cross_entropy"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        self.check(x[0]);
        // Row by row over plain slices, with no temporary tensor: ln Σ e^(z - max) minus
        // (z_y - max). This runs on every training step, where the generic log-softmax's
        // broadcasts and temporaries, or per-row dynamic-rank views, cost more than the
        // arithmetic.
        let logits = x[0].as_standard_layout();
        let losses = rows(&logits)
            .zip(&self.labels)
            .map(|(z, &y)| {
                let max = row_max(z);
                let sum: f32 = z.iter().map(|&v| (v - max).exp()).sum();
                sum.ln() - (z[y as usize] - max)
            })
            .collect();
        crate::tensor(&[self.labels.len()], losses)
    }
    fn backward(&self, x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        // loss_i = ln Σ_k e^z_ik - z_i,y_i, so dloss_i/dz_ij = softmax(z_i)_j - [j = y_i].
        // One pass per row into a pooled buffer: this runs on every training step.
        let logits = x[0].as_standard_layout();
        let classes = logits.shape()[1];
        let mut d = crate::pool::tensor_for_overwrite(logits.shape());
        let out = d.as_slice_mut().expect("a fresh tensor is contiguous");
        for (i, ((row, z), &y)) in out
            .chunks_exact_mut(classes.max(1))
            .zip(rows(&logits))
            .zip(&self.labels)
            .enumerate()
        {
            let max = row_max(z);
            let mut sum = 0.0;
            for (r, &v) in row.iter_mut().zip(z) {
                *r = (v - max).exp();
                sum += *r;
            }
            let scale = g[i] / sum;
            row.iter_mut().for_each(|e| *e *= scale);
            row[y as usize] -= g[i];
        }
        vec![d]
    }
}

/// The rows of a standard-layout `[batch, classes]` tensor as slices.
fn rows<'a>(
    logits: &'a ndarray::CowArray<'_, f32, ndarray::IxDyn>,
) -> std::slice::ChunksExact<'a, f32> {
    let classes = logits.shape()[1].max(1);
    logits
        .as_slice()
        .expect("standard layout is contiguous")
        .chunks_exact(classes)
}

fn row_max(z: &[f32]) -> f32 {
    z.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v))
}

impl SparseSoftmaxCrossEntropy {
    fn check(&self, logits: &Tensor) {
        let op = "sparse_softmax_cross_entropy";
        let shape = logits.shape();
        assert!(
            logits.view().into_dimensionality::<Ix2>().is_ok(),
            "{op}: logits {shape:?} are not [batch, classes]"
        );
        assert_eq!(
            self.labels.len(),
            shape[0],
            "{op}: {} labels for logits {shape:?}: need one label per sample",
            self.labels.len()
        );
        if let Some((i, y)) = self
            .labels
            .iter()
            .enumerate()
            .find(|(_, &y)| y as usize >= shape[1])
        {
            panic!("{op}: label {y} of sample {i} is out of range for logits {shape:?}");
        }
    }
}

impl<'t> Var<'t> {
    /// Per-sample softmax cross-entropy of logits `[batch, classes]` against integer
    /// `labels`: `loss_i = ln Σ_j e^z_ij - z_i,labels[i]`, shape `[batch]` (Keras
    /// `SparseCategoricalCrossentropy(from_logits=True)` before its mean).
    ///
    /// Fused and stable: it never forms `ln(softmax)`, so it stays finite for any logits.
    /// Weight the losses if needed, then reduce with [`Var::mean`].
    ///
    /// # Panics
    /// If the logits are not rank 2, `labels.len()` is not the batch size, or a label is
    /// `>= classes` (the labels and the logits' shape are named).
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let z = tape.constant(tensor(&[1, 2], vec![0.0, 0.0]));
    /// let loss = z.sparse_softmax_cross_entropy(&[1]); // ln 2: a coin flip
    /// assert!((loss.value()[[0]] - std::f32::consts::LN_2).abs() < 1e-6);
    /// ```
    pub fn sparse_softmax_cross_entropy(self, labels: &[u32]) -> Var<'t> {
        let op = SparseSoftmaxCrossEntropy {
            labels: labels.to_vec(),
        };
        self.tape().apply(op, &[self])
    }
}

#[cfg(test)]
mod tests {
    use crate::{check_gradients, tensor, GradCheck, Tape};

    #[test]
    fn reference_values_and_gradient() {
        let tape = Tape::new();
        let z = tape.var(tensor(&[2, 3], vec![1.0, 2.0, 3.0, 0.0, 0.0, 0.0]));
        let loss = z.sparse_softmax_cross_entropy(&[2, 1]);
        // Sample 0: ln(e^1 + e^2 + e^3) - 3 = 3.40760596 - 3 = 0.40760596.
        // Sample 1: ln(3 e^0) - 0 = ln 3 = 1.09861229.
        let l = loss.value();
        assert!((l[[0]] - 0.407_605_96).abs() < 1e-6);
        assert!((l[[1]] - 1.098_612_3).abs() < 1e-6);
        // dloss/dz = softmax - onehot: softmax([1, 2, 3]) = [0.09003057, 0.24472847,
        // 0.66524096], and 1/3 everywhere for equal logits.
        let g = loss.backward();
        let want = [
            0.090_030_57,
            0.244_728_47,
            -0.334_759_04,
            1. / 3.,
            -2. / 3.,
            1. / 3.,
        ];
        for (a, b) in g.get(z).unwrap().iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn huge_logits_stay_finite() {
        let tape = Tape::new();
        let z = tape.constant(tensor(&[1, 2], vec![1000.0, 0.0]));
        // ln(e^1000 + e^0) - 0 = 1000 + ln(1 + e^-1000) = 1000 in f32.
        assert_eq!(z.sparse_softmax_cross_entropy(&[1]).value()[[0]], 1000.0);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let z = tensor(&[2, 3], vec![0.5, -1.0, 2.0, 1.5, -0.7, 0.9]);
        let cfg = GradCheck::default();
        check_gradients(|_, v| v[0].sparse_softmax_cross_entropy(&[2, 0]), &[z], cfg).unwrap();
    }

    #[test]
    #[should_panic(expected = "label 3 of sample 1 is out of range for logits [2, 3]")]
    fn out_of_range_label_names_it_and_the_shape() {
        let tape = Tape::new();
        let z = tape.constant(tensor(&[2, 3], vec![0.0; 6]));
        let _ = z.sparse_softmax_cross_entropy(&[0, 3]);
    }

    #[test]
    #[should_panic(expected = "1 labels for logits [2, 3]")]
    fn label_count_mismatch_names_both() {
        let tape = Tape::new();
        let z = tape.constant(tensor(&[2, 3], vec![0.0; 6]));
        let _ = z.sparse_softmax_cross_entropy(&[0]);
    }
}
