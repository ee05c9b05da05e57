//! The training loop: `Sequential::fit`.

use crate::metric::{count_correct, RunningMeans};
use crate::progress::EpochProgress;
use crate::sequential::params_of;
use crate::{Error, FitOptions, History, Result, Sequential};
use keel_autograd::Tape;
use keel_data::{batch_ranges, shuffled_indices, Batch, Dataset};
use keel_layers::{Ctx, Mode};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::time::Instant;

impl Sequential {
    /// Trains the model, as Keras's `model.fit`, and returns the per-epoch [`History`].
    ///
    /// With `validation_split`, the last fraction of `data` is held out before any
    /// shuffling, as Keras does. The same `seed` gives the same History and weights.
    ///
    /// # Errors
    /// An uncompiled model, an option out of range, data whose sample shape or targets do
    /// not fit the model and loss, or a loss that becomes non-finite (the offending update
    /// is not applied).
    ///
    /// ```
    /// use keel_data::{Dataset, Targets};
    /// use keel_layers::{Activation, Dense};
    /// use keel_optim::Adam;
    /// use keel_trainer::{FitOptions, Loss, Metric, Sequential};
    /// # fn main() -> keel_trainer::Result<()> {
    /// let x = ndarray::Array2::from_shape_fn((64, 2), |(i, j)| ((i * 7 + j * 3) % 5) as f32).into_dyn();
    /// let y: Vec<u32> = (0..64).map(|i| (i % 2) as u32).collect();
    /// let data = Dataset::from_f32(x, Targets::Classes(y))?;
    /// let mut model = Sequential::new([2]).add(Dense::new(2).activation(Activation::Softmax));
    /// model.compile(Adam::new(1e-2), Loss::SparseCategoricalCrossentropy, &[Metric::Accuracy])?;
    /// let history = model.fit(&data, FitOptions::new().epochs(2).verbose(0))?;
    /// assert_eq!(history.get("loss").unwrap().len(), 2);
    /// # Ok(()) }
    /// ```
    pub fn fit(&mut self, data: &Dataset, options: FitOptions) -> Result<History> {
        let verbosity = options.validate()?;
        if self.compiled.is_none() {
            return Err(Error::NotCompiled { operation: "fit" });
        }
        self.check_data(data)?;
        let (train, validation) = match (&options.validation_data, options.validation_split) {
            (Some(v), _) => (data.clone(), Some(v.clone())),
            (None, split) if split > 0.0 => {
                let (t, v) = data.split_validation(split)?;
                (t, Some(v))
            }
            _ => (data.clone(), None),
        };
        if let Some(v) = &validation {
            self.check_data(v)?;
        }
        let metrics = self
            .compiled
            .as_ref()
            .map(|c| c.metrics.clone())
            .unwrap_or_default();
        let mut rng = StdRng::seed_from_u64(options.seed);
        let mut history = History::default();
        for epoch in 0..options.epochs {
            let start = Instant::now();
            let order: Vec<usize> = if options.shuffle {
                shuffled_indices(train.len(), &mut rng)
            } else {
                (0..train.len()).collect()
            };
            let ranges: Vec<_> = batch_ranges(train.len(), options.batch_size)?.collect();
            let progress = EpochProgress::start(verbosity, epoch, options.epochs, ranges.len());
            let mut means = RunningMeans::default();
            for (step, range) in ranges.into_iter().enumerate() {
                let batch = train.gather(&order[range]);
                let n = batch.len();
                let (loss, correct) = self.train_step(batch, &mut rng).map_err(|e| match e {
                    Error::NonFiniteLoss { value, .. } => Error::NonFiniteLoss {
                        value,
                        epoch: epoch + 1,
                        step: step + 1,
                    },
                    other => other,
                })?;
                means.add(loss, correct, n);
                progress.step(step + 1, || means.logs(&metrics, ""));
            }
            let mut logs = means.logs(&metrics, "");
            if let Some(v) = &validation {
                logs.extend(
                    self.evaluate_means(v, options.validation_batch_size)?
                        .logs(&metrics, "val_"),
                );
            }
            let seconds = start.elapsed().as_secs_f64();
            progress.finish(&logs, seconds);
            history.push(epoch, &logs, seconds);
        }
        Ok(history)
    }

    /// One forward, backward and update on `batch`; returns the mean loss and the number of
    /// correct predictions. A non-finite loss is an error and leaves the weights untouched.
    fn train_step(&mut self, batch: Batch, rng: &mut StdRng) -> Result<(f32, usize)> {
        let compiled = self
            .compiled
            .as_ref()
            .ok_or(Error::NotCompiled { operation: "fit" })?;
        let (loss, correct, mut grads) = {
            let tape = Tape::new();
            let mut ctx = Ctx::new(Mode::Train, rng);
            let (output, activation) = self.forward_split(tape.constant(batch.x), &mut ctx);
            let loss = compiled
                .loss
                .per_sample(output, activation, &batch.y)
                .mean();
            let correct = count_correct(&output.value(), activation, &batch.y);
            (loss.scalar(), correct, loss.backward())
        };
        if !loss.is_finite() {
            return Err(Error::NonFiniteLoss {
                value: loss,
                epoch: 0,
                step: 0,
            });
        }
        let compiled = self
            .compiled
            .as_mut()
            .ok_or(Error::NotCompiled { operation: "fit" })?;
        compiled
            .optimizer
            .step(params_of(&mut self.layers), &mut grads)?;
        Ok((loss, correct))
    }
}
