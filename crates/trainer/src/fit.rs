//! The training loop: `Sequential::fit`.

use crate::callbacks::{CallbackList, FitInfo};
use crate::metrics::MetricTracker;
use crate::progress::EpochProgress;
use crate::sequential::params_of;
use crate::weights::training_weights;
use crate::{CallbackContext, Control, Error, FitOptions, History, Logs, Result, Sequential};
use keel_autograd::{tensor, Tape};
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
    /// Epochs run from `initial_epoch` to `epochs`; [callbacks](crate::Callback) given in
    /// the options run at every hook and may stop training early.
    ///
    /// A batch whose loss is NaN or infinite is never applied. By default it ends `fit` with
    /// [`Error::NonFiniteLoss`]; if a callback stops on it (as
    /// [`TerminateOnNaN`](crate::TerminateOnNaN) does), `fit` returns `Ok` with the epochs
    /// completed before. Either way the callbacks' `on_train_end` runs first.
    ///
    /// # Errors
    /// An uncompiled model, an option out of range (such as a `sample_weight` of the wrong
    /// length), data whose sample shape or targets do not fit the model and loss, a loss that
    /// becomes non-finite, or an error from a callback (such as a monitored name the run
    /// does not log, reported before the first epoch).
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
    pub fn fit(&mut self, data: &Dataset, mut options: FitOptions<'_>) -> Result<History> {
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
        let mut means = self.metric_tracker(&train)?;
        let classes = self.output_shape().iter().product::<usize>().max(2);
        let weights = training_weights(&options, data, &train, classes)?;
        let mut callbacks = CallbackList::new(std::mem::take(&mut options.callbacks));
        let batches = batch_ranges(train.len(), options.batch_size)?.count();
        let steps = options.steps_per_epoch.map_or(batches, |s| s.min(batches));
        let info = FitInfo {
            names: log_names(&means, validation.is_some(), &callbacks),
            epochs: options.epochs,
            steps,
        };
        let mut rng = StdRng::seed_from_u64(options.seed);
        let mut history = History::default();
        let mut last_logs = Logs::new();
        let first = options.initial_epoch;
        let mut stop = callbacks
            .train_begin(&mut CallbackContext::during_fit(self, &info, first))?
            == Control::Stop;
        for epoch in first..options.epochs {
            if stop
                || callbacks
                    .epoch_begin(epoch, &mut CallbackContext::during_fit(self, &info, epoch))?
                    == Control::Stop
            {
                break;
            }
            let start = Instant::now();
            let order: Vec<usize> = if options.shuffle {
                shuffled_indices(train.len(), &mut rng)
            } else {
                (0..train.len()).collect()
            };
            let progress = EpochProgress::start(verbosity, epoch, options.epochs, steps);
            means.reset();
            for (step, range) in batch_ranges(train.len(), options.batch_size)?
                .take(steps)
                .enumerate()
            {
                let mut ctx = CallbackContext::during_fit(self, &info, epoch);
                if callbacks.batch_begin(step, &mut ctx)? == Control::Stop {
                    stop = true;
                    break;
                }
                let indices = &order[range];
                let batch_weights: Option<Vec<f32>> = weights
                    .as_ref()
                    .map(|w| indices.iter().map(|&i| w[i]).collect());
                let batch = crate::batching::gather_pooled(&train, indices);
                let n = batch.len();
                match self.train_step(batch, batch_weights, &mut rng, &mut means) {
                    Ok(loss) => means.add_loss(loss, n),
                    Err(Error::NonFiniteLoss { value, .. }) => {
                        // The update was skipped. A callback that stops here (TerminateOnNaN)
                        // ends fit with the History so far; otherwise it is an error. Either
                        // way on_train_end runs (EarlyStopping may restore its best weights);
                        // its own error is reported only when fit would succeed.
                        let mut logs = Logs::from(means.logs(""));
                        logs.insert("loss", f64::from(value));
                        let mut ctx = CallbackContext::during_fit(self, &info, epoch);
                        let graceful = callbacks.batch_end(step, &logs, &mut ctx)? == Control::Stop;
                        let ended = callbacks.train_end(&last_logs, &mut ctx);
                        if graceful {
                            return ended.map(|()| history);
                        }
                        return Err(Error::NonFiniteLoss {
                            value,
                            epoch: epoch + 1,
                            step: step + 1,
                        });
                    }
                    Err(other) => return Err(other),
                }
                progress.step(step + 1, means.samples(), || means.logs(""));
                if !callbacks.is_empty() {
                    let logs = Logs::from(means.logs(""));
                    let mut ctx = CallbackContext::during_fit(self, &info, epoch);
                    if callbacks.batch_end(step, &logs, &mut ctx)? == Control::Stop {
                        stop = true;
                        break;
                    }
                }
            }
            let mut logs = Logs::from(means.logs(""));
            if let (Some(v), 0) = (&validation, (epoch + 1) % options.validation_freq) {
                let scores = self.evaluate_means(v, options.validation_batch_size)?;
                for (name, value) in scores.logs("val_") {
                    logs.insert(name, value);
                }
            }
            let seconds = start.elapsed().as_secs_f64();
            let mut ctx = CallbackContext::during_fit(self, &info, epoch);
            if callbacks.epoch_end(epoch, &mut logs, &mut ctx)? == Control::Stop {
                stop = true;
            }
            progress.finish(logs.as_slice(), seconds);
            history.push(epoch, logs.as_slice(), seconds);
            last_logs = logs;
        }
        let last = history.epochs().last().map_or(first, |&e| e);
        callbacks.train_end(
            &last_logs,
            &mut CallbackContext::during_fit(self, &info, last),
        )?;
        Ok(history)
    }

    /// One forward, backward and update on `batch`, its per-sample losses scaled by
    /// `weights` if given; adds its outputs to `metrics` and returns the mean loss. A
    /// non-finite loss is an error and leaves the weights untouched.
    fn train_step(
        &mut self,
        batch: Batch,
        weights: Option<Vec<f32>>,
        rng: &mut StdRng,
        metrics: &mut MetricTracker,
    ) -> Result<f32> {
        let compiled = self
            .compiled
            .as_ref()
            .ok_or(Error::NotCompiled { operation: "fit" })?;
        let (loss, mut grads) = {
            let tape = Tape::new();
            let mut ctx = Ctx::new(Mode::Train, rng);
            let (output, activation) = self.forward_split(tape.constant(batch.x), &mut ctx);
            let per_sample = compiled.loss.per_sample(output, activation, &batch.y);
            let loss = match weights {
                // sum(w_i * l_i) / batch_size: Keras 3's "sum_over_batch_size" (weights.rs).
                Some(w) => (per_sample * tape.constant(tensor(&[w.len()], w))).mean(),
                None => per_sample.mean(),
            };
            metrics.update(&output.value(), &batch.y);
            (loss.scalar(), loss.backward())
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
        Ok(loss)
    }
}

/// Every name the epoch logs can hold, sorted: the training means, their `val_` twins when
/// validating, and what callbacks add.
fn log_names(means: &MetricTracker, validating: bool, callbacks: &CallbackList<'_>) -> Vec<String> {
    let mut names: Vec<String> = means.logs("").into_iter().map(|(n, _)| n).collect();
    if validating {
        names.extend(means.logs("val_").into_iter().map(|(n, _)| n));
    }
    names.extend(callbacks.logs_added());
    names.sort();
    names.dedup();
    names
}
