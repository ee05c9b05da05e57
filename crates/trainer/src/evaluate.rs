//! Inference: `evaluate` and `predict`.

use crate::loss::TargetKind;
use crate::metric::{count_correct, RunningMeans};
use crate::{Error, Result, Scores, Sequential};
use keel_autograd::{Tape, Tensor};
use keel_data::{batch_ranges, Dataset, TargetsView};
use keel_layers::{Ctx, Mode};
use ndarray::{Axis, IxDyn};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Samples per forward pass in `evaluate` and `predict`: large batches amortise per-op cost,
/// and only the order of summation depends on it.
const INFERENCE_BATCH: usize = 1024;

impl Sequential {
    /// The loss and every compiled metric on `data`, as Keras's `model.evaluate`.
    ///
    /// # Errors
    /// An uncompiled model, or data whose sample shape or targets do not fit.
    pub fn evaluate(&self, data: &Dataset) -> Result<Scores> {
        self.check_data(data)?;
        let compiled = self.compiled.as_ref().ok_or(Error::NotCompiled {
            operation: "evaluate",
        })?;
        Ok(Scores::from_logs(
            self.evaluate_means(data, INFERENCE_BATCH)?
                .logs(&compiled.metrics, ""),
        ))
    }

    pub(crate) fn evaluate_means(&self, data: &Dataset, batch_size: usize) -> Result<RunningMeans> {
        let compiled = self.compiled.as_ref().ok_or(Error::NotCompiled {
            operation: "evaluate",
        })?;
        let mut means = RunningMeans::default();
        let mut rng = StdRng::seed_from_u64(0); // unused in Eval mode
        let indices: Vec<usize> = (0..data.len()).collect();
        for range in batch_ranges(data.len(), batch_size)? {
            let batch = data.gather(&indices[range]);
            let n = batch.len();
            let tape = Tape::new();
            let mut ctx = Ctx::new(Mode::Eval, &mut rng);
            let (output, activation) = self.forward_split(tape.constant(batch.x), &mut ctx);
            let loss = compiled
                .loss
                .per_sample(output, activation, &batch.y)
                .mean()
                .scalar();
            means.add(
                loss,
                count_correct(&output.value(), activation, &batch.y),
                n,
            );
        }
        Ok(means)
    }

    /// The model's outputs for every sample of `data` (targets are ignored): `[n, ..output_shape]`.
    ///
    /// # Errors
    /// Data whose sample shape does not match the model's input.
    pub fn predict(&self, data: &Dataset) -> Result<Tensor> {
        self.check_input_shape(data.sample_shape())?;
        let mut shape = vec![data.len()];
        shape.extend_from_slice(self.output_shape());
        let mut out = Tensor::zeros(IxDyn(&shape));
        let mut rng = StdRng::seed_from_u64(0);
        let indices: Vec<usize> = (0..data.len()).collect();
        for range in batch_ranges(data.len(), INFERENCE_BATCH)? {
            let batch = data.gather(&indices[range.clone()]);
            let tape = Tape::new();
            let mut ctx = Ctx::new(Mode::Eval, &mut rng);
            let (logits, activation) = self.forward_split(tape.constant(batch.x), &mut ctx);
            let y = activation.apply(logits).value();
            out.slice_axis_mut(Axis(0), (range.start..range.end).into())
                .assign(&y);
        }
        Ok(out)
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
        self.check()?;
        self.check_input_shape(data.sample_shape())?;
        if let Some(compiled) = &self.compiled {
            let kind = match data.targets() {
                TargetsView::Classes(labels) => TargetKind::Classes {
                    max_label: labels.iter().copied().max(),
                },
                TargetsView::Dense(rows) => TargetKind::Dense {
                    columns: rows.ncols(),
                },
            };
            compiled
                .loss
                .check(self.output_shape(), self.output_activation(), kind)?;
        }
        Ok(())
    }
}
