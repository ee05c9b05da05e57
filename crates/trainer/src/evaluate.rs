//! Inference: `evaluate` and `predict`.

use crate::metrics::{target_kind, MetricTracker};
use crate::sequential::on_runtime;
use crate::{Error, Result, Scores, Sequential};
use keel_autograd::{Tape, Tensor};
use keel_data::{batch_ranges, Dataset};
use keel_layers::{Ctx, Mode};
use ndarray::{Axis, IxDyn};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::ops::ControlFlow;

/// Samples per forward pass in `evaluate` and `predict` at most: large batches amortise
/// per-op cost, and only the order of summation depends on it.
pub(crate) const INFERENCE_BATCH: usize = 1024;

/// The most bytes one layer's output may take in a default inference pass. Past a few
/// megabytes a pass over a tensor takes a millisecond or more, against microseconds of
/// per-op cost, so a larger batch saves no time and only holds more memory: a convnet's
/// first activation is ~86 KB a sample (26×26×32 values), 88 MB at 1024 samples, and the
/// patches gathered for the next layer larger still.
const INFERENCE_LAYER_BYTES: usize = 16 << 20;

impl Sequential {
    /// Samples per forward pass for inference when the caller did not choose:
    /// `at_most`, fewer when the model's widest layer output would exceed 16 MiB a pass
    /// (never fewer than 1). An MLP on MNIST keeps 1024; W4's convnet runs 193.
    pub(crate) fn inference_batch(&self, at_most: usize) -> usize {
        let widest = self
            .layer_output_shapes()
            .iter()
            .chain([self.input_shape().to_vec()].iter())
            .map(|shape| shape.iter().product::<usize>())
            .max()
            .unwrap_or(1)
            .max(1);
        let fits = INFERENCE_LAYER_BYTES / (widest * std::mem::size_of::<f32>());
        at_most.min(fits).max(1)
    }
}

impl Sequential {
    /// The loss and every compiled metric on `data`, as Keras's `model.evaluate`, by Keras
    /// name ("loss", "accuracy", "f1_score", ...). Every value is over the whole of `data`:
    /// the loss and accuracies are means weighted by batch size, and precision, recall and
    /// F1 come from the confusion matrix of all of it. The loss includes the layers'
    /// regularization penalties, as Keras's does.
    ///
    /// # Errors
    /// An uncompiled model, or data whose sample shape or targets do not fit the model, the
    /// loss or a metric.
    ///
    /// ```
    /// use keel_data::{Dataset, Targets};
    /// use keel_layers::{Activation, Dense};
    /// use keel_optim::Adam;
    /// use keel_trainer::{Average, Loss, Metric, Sequential};
    /// # fn main() -> keel_trainer::Result<()> {
    /// let x = ndarray::array![[1.0f32, 0.0], [0.0, 1.0], [2.0, 1.0]].into_dyn();
    /// let data = Dataset::from_f32(x, Targets::Classes(vec![0, 1, 0]))?;
    /// let mut model = Sequential::new([2]).add(Dense::new(2).activation(Activation::Softmax));
    /// let metrics = [Metric::Accuracy, Metric::Precision, Metric::F1Score { average: Average::Macro }];
    /// model.compile(Adam::new(1e-3), Loss::SparseCategoricalCrossentropy, &metrics)?;
    /// let scores = model.evaluate(&data)?;
    /// let names: Vec<&str> = scores.iter().map(|(name, _)| name).collect();
    /// assert_eq!(names, ["accuracy", "f1_score", "loss", "precision"]);
    /// # Ok(()) }
    /// ```
    ///
    /// Prints its result line as Keras's `evaluate` does by default (`verbose=1`); see
    /// [`evaluate_verbose`](Sequential::evaluate_verbose) to silence it.
    pub fn evaluate(&self, data: &Dataset) -> Result<Scores> {
        self.evaluate_verbose(data, 1)
    }

    /// [`evaluate`](Sequential::evaluate) with Keras's `verbose`: 0 prints nothing, 1 the
    /// completed bar with the scores (`313/313 [====] 1s 2ms/step - accuracy: … - loss: …`),
    /// 2 the same line without the bar.
    ///
    /// # Errors
    /// As [`evaluate`](Sequential::evaluate), and [`Error::InvalidOption`] for a `verbose`
    /// other than 0, 1 or 2.
    pub fn evaluate_verbose(&self, data: &Dataset, verbose: u8) -> Result<Scores> {
        if verbose > 2 {
            return Err(Error::InvalidOption {
                option: "verbose",
                expected: "0, 1 or 2",
                found: verbose.to_string(),
            });
        }
        self.check_data(data)?;
        let start = std::time::Instant::now();
        let batch = self.inference_batch(INFERENCE_BATCH);
        let means = on_runtime(self.runtime_for(None, None)?, || {
            self.evaluate_means(data, batch)
        })?;
        let logs = means.logs("");
        if verbose > 0 {
            let steps = data.len().div_ceil(batch);
            let seconds = start.elapsed().as_secs_f64();
            let line = crate::progress::final_line(steps, seconds, &logs, verbose == 1);
            println!("{line}");
        }
        Ok(Scores::from_logs(logs))
    }

    /// The loss and metrics of the compiled model on `data`, in batches of `batch_size`.
    pub(crate) fn evaluate_means(
        &self,
        data: &Dataset,
        batch_size: usize,
    ) -> Result<MetricTracker> {
        if self.compiled.is_none() {
            return Err(Error::NotCompiled {
                operation: "evaluate",
            });
        }
        let mut tracker = self.metric_tracker(data)?;
        self.evaluate_into(data, 0..data.len(), batch_size, &mut tracker)?;
        Ok(tracker)
    }

    /// Adds the outputs of every batch of `data`'s samples `rows` (in Eval mode) to
    /// `tracker`, and their loss when the model is compiled. No rows add nothing.
    pub(crate) fn evaluate_into(
        &self,
        data: &Dataset,
        rows: std::ops::Range<usize>,
        batch_size: usize,
        tracker: &mut MetricTracker,
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        // The regularization penalty, added to every batch's loss as Keras 3 does for
        // validation and `evaluate` too (the weights do not change in between).
        let penalty = {
            let tape = Tape::no_grad();
            self.regularization_loss(&tape).map_or(0.0, |p| p.scalar())
        };
        let mut rng = StdRng::seed_from_u64(0); // unused in Eval mode
        let indices: Vec<usize> = rows.collect();
        for range in batch_ranges(indices.len(), batch_size)? {
            let batch = crate::batching::gather_pooled(data, &indices[range]);
            let n = batch.len();
            let tape = Tape::no_grad();
            let mut ctx = Ctx::new(Mode::Eval, &mut rng);
            if self.compiled.is_some() {
                let pass = self
                    .forward_loss(&tape, batch.x, &batch.y, None, &mut ctx, |_, _| {
                        ControlFlow::Continue(())
                    })?
                    .expect("nothing stops the pass");
                tracker.add_loss(pass.data_loss.scalar() + penalty, n);
                tracker.update(&pass.output.value(), &batch.y);
            } else {
                let (output, _) = self.forward_split(self.input_var(&tape, batch.x), &mut ctx);
                tracker.update(&output.value(), &batch.y);
            }
        }
        Ok(())
    }

    /// The model's outputs for every sample of `data` (targets are ignored): `[n, ..output_shape]`.
    /// Runs up to 1024 samples per forward pass (fewer for models whose layer outputs are
    /// large, such as convnets: at most 16 MiB a layer); see
    /// [`predict_batched`](Sequential::predict_batched) to choose.
    ///
    /// # Errors
    /// A layer that could not be built, or data that is empty or whose sample shape does not
    /// match the model's input.
    pub fn predict(&self, data: &Dataset) -> Result<Tensor> {
        self.predict_batched(data, self.inference_batch(INFERENCE_BATCH))
    }

    /// [`predict`](Sequential::predict) with `batch_size` samples per forward pass, as
    /// Keras's `model.predict(x, batch_size=32)`. Smaller batches use less memory; the
    /// outputs do not depend on it beyond rounding.
    ///
    /// ```
    /// use keel_data::{Dataset, Targets};
    /// use keel_layers::{Activation, Dense};
    /// use keel_trainer::Sequential;
    /// # fn main() -> keel_trainer::Result<()> {
    /// let x = ndarray::Array2::from_shape_fn((10, 2), |(i, j)| (i * 2 + j) as f32).into_dyn();
    /// let data = Dataset::from_f32(x, Targets::Classes(vec![0; 10]))?;
    /// let model = Sequential::new([2]).add(Dense::new(3).activation(Activation::Softmax));
    /// let probabilities = model.predict_batched(&data, 4)?;
    /// assert_eq!(probabilities.shape(), &[10, 3]);
    /// assert!(model.predict_batched(&data, 0).is_err());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// A `batch_size` of 0, a layer that could not be built, or data that is empty or whose
    /// sample shape does not match the model's input.
    pub fn predict_batched(&self, data: &Dataset, batch_size: usize) -> Result<Tensor> {
        if batch_size == 0 {
            return Err(Error::InvalidOption {
                option: "batch_size",
                expected: "at least 1",
                found: "0".into(),
            });
        }
        self.check_samples(data)?;
        let mut shape = vec![data.len()];
        shape.extend_from_slice(self.output_shape());
        let ranges = batch_ranges(data.len(), batch_size)?;
        let mut out = Tensor::zeros(IxDyn(&shape));
        let mut rng = StdRng::seed_from_u64(0);
        let indices: Vec<usize> = (0..data.len()).collect();
        on_runtime(self.runtime_for(None, None)?, || {
            for range in ranges {
                let batch = crate::batching::gather_pooled(data, &indices[range.clone()]);
                let tape = Tape::no_grad();
                let mut ctx = Ctx::new(Mode::Eval, &mut rng);
                let (logits, activation) =
                    self.forward_split(self.input_var(&tape, batch.x), &mut ctx);
                let y = activation.apply(logits).value();
                out.slice_axis_mut(Axis(0), (range.start..range.end).into())
                    .assign(&y);
            }
        });
        Ok(out)
    }

    /// The model's outputs for the samples of `x`, shape `[n, ..input_shape]`, without
    /// labels: Keras's `model.predict(x)`. Runs 1024 samples per forward pass.
    ///
    /// ```
    /// use keel_layers::{Activation, Dense};
    /// use keel_trainer::{argmax_rows, Sequential};
    /// # fn main() -> keel_trainer::Result<()> {
    /// let model = Sequential::new([2]).add(Dense::new(3).activation(Activation::Softmax));
    /// let x = ndarray::array![[1.0f32, 0.0], [0.0, 1.0]].into_dyn();
    /// let probabilities = model.predict_samples(x)?;
    /// assert_eq!(probabilities.shape(), &[2, 3]);
    /// assert_eq!(argmax_rows(&probabilities)?.len(), 2);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// Samples that are not of the model's input shape, no samples, non-finite values, or a
    /// layer that could not be built.
    pub fn predict_samples(&self, x: ndarray::ArrayD<f32>) -> Result<Tensor> {
        let n = x.shape().first().copied().unwrap_or(0);
        // Placeholder labels: `predict` never reads them.
        let data = Dataset::from_f32(x, keel_data::Targets::Classes(vec![0; n]))?;
        self.predict(&data)
    }

    /// Checks that the model was built, and that `data` has samples of its input shape.
    fn check_samples(&self, data: &Dataset) -> Result<()> {
        self.check()?;
        if data.is_empty() {
            return Err(keel_data::Error::Empty.into());
        }
        self.check_input_shape(data.sample_shape())
    }

    fn check_input_shape(&self, found: &[usize]) -> Result<()> {
        if found != self.input_shape() {
            return Err(Error::InputShape {
                expected: self.input_shape().to_vec(),
                found: found.to_vec(),
            });
        }
        Ok(())
    }

    /// Checks that `data` fits the model's input and, once compiled, its loss.
    pub(crate) fn check_data(&self, data: &Dataset) -> Result<()> {
        self.check_samples(data)?;
        if let Some(compiled) = &self.compiled {
            compiled.loss.check(
                self.output_shape(),
                self.output_activation(),
                target_kind(data),
            )?;
            self.metric_tracker(data)?; // every compiled metric can read these targets
        }
        Ok(())
    }
}

/// The index of the largest value of each row of `outputs` (shape `[n, classes]`): the
/// predicted class of each sample, as `np.argmax(model.predict(x), axis=-1)`. Ties go to the first; a NaN row gives its first
/// NaN's index.
///
/// ```
/// let outputs = ndarray::array![[0.1f32, 0.7, 0.2], [0.5, 0.3, 0.2]].into_dyn();
/// assert_eq!(keel_trainer::argmax_rows(&outputs).unwrap(), vec![1, 0]);
/// ```
///
/// # Errors
/// Outputs that are not of shape `[n, classes]` with at least one class.
pub fn argmax_rows(outputs: &Tensor) -> Result<Vec<usize>> {
    let (rows, width) = match outputs.shape() {
        &[rows, width] if width > 0 => (rows, width),
        shape => {
            return Err(Error::InvalidOption {
                option: "outputs",
                expected: "shape [n, classes] with at least one class",
                found: format!("shape {shape:?}"),
            })
        }
    };
    let flat = outputs.as_standard_layout();
    let flat = flat.as_slice().expect("standard layout is contiguous");
    Ok(flat
        .chunks(width)
        .take(rows)
        .map(|row| {
            row.iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |(best, max), (i, &v)| {
                    if v.is_nan() && !max.is_nan() || v > max {
                        (i, v)
                    } else {
                        (best, max)
                    }
                })
                .0
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_layers::{Activation, Conv2D, Dense, Flatten, MaxPooling2D, Reshape};

    #[test]
    fn the_default_inference_batch_shrinks_only_for_wide_activations() {
        let mlp = Sequential::new([28, 28])
            .add(Flatten::new())
            .add(Dense::new(512).activation(Activation::Relu))
            .add(Dense::new(10));
        assert_eq!(mlp.inference_batch(INFERENCE_BATCH), INFERENCE_BATCH);
        let convnet = Sequential::new([28, 28])
            .add(Reshape::new([28, 28, 1]))
            .add(Conv2D::new(32, (3, 3)).activation(Activation::Relu))
            .add(MaxPooling2D::new((2, 2)))
            .add(Flatten::new())
            .add(Dense::new(10));
        // 26 * 26 * 32 values a sample: 16 MiB hold 193 samples.
        assert_eq!(convnet.inference_batch(INFERENCE_BATCH), 193);
        assert_eq!(convnet.inference_batch(32), 32);
        let huge = Sequential::new([4096, 4096]).add(Flatten::new());
        assert_eq!(huge.inference_batch(INFERENCE_BATCH), 1);
    }
}
