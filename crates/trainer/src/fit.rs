//! The training loop: `Sequential::fit`.

mod incident;
mod logs;
mod resume;

use crate::callbacks::{CallbackList, FitInfo};
use crate::distributed::DataParallel;
use crate::file::{EpochState, FitShape};
use crate::guard::GuardRun;
use crate::metrics::MetricTracker;
use crate::progress::EpochProgress;
use crate::sequential::on_runtime;
use crate::telemetry::{EpochTelemetry, StepAction};
use crate::weights::training_weights;
use crate::{
    BackupAndRestore, CallbackContext, Control, Error, FitOptions, History, Logs, Result,
    Sequential, TrainingState, Verbosity,
};
use keel_data::{batch_ranges, shuffled_indices, Dataset};
use rand::SeedableRng;
use std::time::Instant;

/// The generator behind shuffling and dropout in `fit`: ChaCha12, the algorithm of rand's
/// `StdRng` (so the same seed gives the same stream), but serializable for checkpoints
/// (ADR 0006).
pub(crate) type FitRng = rand_chacha::ChaCha12Rng;

impl Sequential {
    /// Trains the model, as Keras's `model.fit`, and returns the per-epoch [`History`].
    ///
    /// With `validation_split`, the last fraction of `data` is held out before any
    /// shuffling, as Keras does. The same `seed` gives the same History and weights.
    /// Epochs run from `initial_epoch` to `epochs`; [callbacks](crate::Callback) given in
    /// the options run at every hook and may stop training early.
    ///
    /// Every step's loss and gradient norms go through the [`Guard`](crate::Guard) before
    /// the update is applied; a step whose loss or gradients are non-finite is never
    /// applied. By default ([`Guard::new`](crate::Guard::new)) it ends `fit` with
    /// [`Error::NonFiniteLoss`] or [`Error::NonFiniteGradient`], naming the layer and op
    /// where the first non-finite value appeared; if a callback stops on it (as
    /// [`TerminateOnNaN`](crate::TerminateOnNaN) does), `fit` returns `Ok` with the epochs
    /// completed before. Either way the callbacks' `on_train_end` runs first. Other
    /// [policies](crate::Policy) skip the step or roll back to a snapshot.
    ///
    /// # Errors
    /// An uncompiled model, an option out of range (such as a `sample_weight` of the wrong
    /// length), data whose sample shape or targets do not fit the model and loss, a step the
    /// guard stops on (or too many of them), or an error from a callback (such as a monitored
    /// name the run does not log, reported before the first epoch).
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
        let runtime = self.runtime_for(options.runtime.take(), options.threads)?;
        on_runtime(runtime, || {
            self.fit_on_current_runtime(data, options, verbosity)
        })
    }

    /// [`fit`](Sequential::fit) with validated options, on the current runtime; a member of a
    /// data-parallel group that fails ends the group's run.
    fn fit_on_current_runtime(
        &mut self,
        data: &Dataset,
        mut options: FitOptions<'_>,
        verbosity: Verbosity,
    ) -> Result<History> {
        let mut parallel = options.data_parallel.take().map(DataParallel::new);
        let result = self.fit_as_member(data, options, verbosity, &mut parallel);
        if let (Err(e), Some(p)) = (&result, parallel.as_mut()) {
            p.group().abort(e);
        }
        result
    }

    /// [`fit`](Sequential::fit) on the current runtime, as a member of `parallel`'s group if
    /// given (which it hands back when done).
    fn fit_as_member<'a>(
        &mut self,
        data: &Dataset,
        mut options: FitOptions<'a>,
        verbosity: Verbosity,
        parallel: &mut Option<DataParallel<'a>>,
    ) -> Result<History> {
        if let Some(p) = parallel.as_mut() {
            let (rank, size) = (p.group().rank(), p.group().size());
            if rank >= size {
                return Err(Error::InvalidOption {
                    option: "data_parallel",
                    expected: "a group whose member's rank is below its size",
                    found: format!("rank {rank} of a group of {size}"),
                });
            }
        }
        let chief = parallel.as_ref().is_none_or(DataParallel::is_chief);
        let verbosity = if chief { verbosity } else { Verbosity::Silent };
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
        let means = self.metric_tracker(&train)?;
        let classes = self.output_shape().iter().product::<usize>().max(2);
        let weights = training_weights(&options, data, &train, classes)?;
        let callbacks = CallbackList::new(std::mem::take(&mut options.callbacks));
        let hooks = std::mem::take(&mut options.gradient_hooks);
        let batches = batch_ranges(train.len(), options.batch_size)?.count();
        let steps = options.steps_per_epoch.map_or(batches, |s| s.min(batches));
        let telemetry = EpochTelemetry::new(options.telemetry, self);
        let info = FitInfo {
            names: logs::log_names(
                &means,
                validation.is_some(),
                &callbacks,
                &telemetry,
                parallel.is_some(),
            ),
            epochs: options.epochs,
            steps,
            rank: parallel.as_ref().map_or(0, DataParallel::rank),
        };
        let shape = FitShape {
            train_samples: train.len(),
            batch_size: options.batch_size,
            steps,
            shuffle: options.shuffle,
        };
        let backup = options.backup.clone();
        let mut resume = options.resume.take();
        if let Some(b) = backup.as_ref().filter(|b| b.restores() && resume.is_none()) {
            if chief && b.path().exists() {
                resume = Some(TrainingState::load(b.path())?);
            }
        }
        if let Some(p) = parallel.as_mut() {
            let run = [
                train.len(),
                validation.as_ref().map_or(0, Dataset::len),
                options.batch_size,
                options.epochs,
                options.initial_epoch,
                steps,
                usize::from(options.shuffle),
            ];
            let sizes = self.named_params().into_iter().map(|(_, p)| p.len());
            let mut numbers: Vec<u64> = run.into_iter().chain(sizes).map(|n| n as u64).collect();
            numbers.push(options.seed);
            p.check_same_run(&numbers)?;
            resume = p.broadcast_state(resume)?;
        }
        if let Some(state) = &resume {
            resume::check_shape(state, &shape)?;
            state.apply_to(self)?;
            if state.epoch() >= options.epochs {
                return Ok(state.history().clone());
            }
        }
        let rng = FitRng::seed_from_u64(options.seed);
        if let Some(p) = parallel.as_mut() {
            p.broadcast_weights(self)?;
            p.check_in_step(self, &rng, || "before training".into())?;
        }
        let mut run = Run {
            parallel: parallel.take(),
            sync: SyncTime::default(),
            threads: keel_runtime::Runtime::with_current(keel_runtime::Runtime::step_tuner),
            guard: GuardRun::new(&options.guard, self),
            epoch_rng: rng.clone(),
            rng,
            backup,
            resume,
            shape,
            options,
            verbosity,
            train,
            validation,
            weights,
            callbacks,
            hooks,
            info,
            means,
            telemetry,
            history: History::default(),
            last_logs: Logs::new(),
        };
        let result = run.train(self);
        *parallel = run.parallel.take();
        let restored = run.guard.finish(self);
        let history = result.and_then(|history| restored.map(|()| history))?;
        if let Some(b) = run
            .backup
            .as_ref()
            .filter(|b| chief && b.deletes_checkpoint())
        {
            match std::fs::remove_file(b.path()) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::Io {
                        path: b.path().to_path_buf(),
                        source: e,
                    })
                }
                _ => {}
            }
        }
        Ok(history)
    }
}

/// Everything one `fit` carries from step to step.
pub(crate) struct Run<'a> {
    options: FitOptions<'a>,
    verbosity: Verbosity,
    train: Dataset,
    validation: Option<Dataset>,
    weights: Option<Vec<f32>>,
    callbacks: CallbackList<'a>,
    hooks: Vec<Box<dyn crate::GradientHook + 'a>>,
    info: FitInfo,
    rng: FitRng,
    /// The RNG as the current epoch began (a checkpoint inside the epoch stores it).
    epoch_rng: FitRng,
    backup: Option<BackupAndRestore>,
    /// The checkpoint to go on from, until `train` takes it.
    resume: Option<TrainingState>,
    shape: FitShape,
    means: MetricTracker,
    telemetry: EpochTelemetry,
    guard: GuardRun,
    history: History,
    last_logs: Logs,
    /// Whether steps are shared between threads (see `keel_runtime::StepTuner`).
    threads: keel_runtime::StepTuner,
    /// This process's group, in data-parallel training.
    parallel: Option<DataParallel<'a>>,
    /// The epoch's time in the group's gradient sums.
    sync: SyncTime,
}

/// Time spent summing gradients over a data-parallel group, and waiting for the slowest
/// member before each sum, over an epoch's steps.
#[derive(Debug, Default)]
struct SyncTime {
    sum: std::time::Duration,
    wait: std::time::Duration,
    steps: u32,
}

impl SyncTime {
    /// The means per step, in milliseconds: summing, waiting.
    fn mean_ms(&self) -> (f64, f64) {
        let per_step =
            |d: std::time::Duration| d.as_secs_f64() * 1e3 / f64::from(self.steps.max(1));
        (per_step(self.sum), per_step(self.wait))
    }
}

/// The epoch log of a data-parallel run: the mean time per step spent summing gradients
/// over the group (their preparation and swaps included), in milliseconds.
pub(crate) const SYNC_LOG: &str = "sync_ms";
/// The epoch log of a data-parallel run: the mean time per step spent waiting for the
/// slowest member before the sum, in milliseconds.
pub(crate) const WAIT_LOG: &str = "sync_wait_ms";

/// How an epoch ended.
enum EpochEnd {
    /// Completed (and recorded); `true` when a callback asked to stop.
    Completed(bool),
    /// Training ended inside the epoch with this result (callbacks' `on_train_end` ran).
    Ended(Result<History>),
}

impl Run<'_> {
    fn ctx<'m>(info: &'m FitInfo, model: &'m mut Sequential, epoch: usize) -> CallbackContext<'m> {
        CallbackContext::during_fit(model, info, epoch)
    }

    /// Whether training stops: `control` here, or any member's in data-parallel training
    /// (every member must leave the loop at the same step).
    fn stops(&mut self, control: Control) -> Result<bool> {
        let stop = control == Control::Stop;
        match &mut self.parallel {
            Some(p) => p.any("decide whether to stop", stop),
            None => Ok(stop),
        }
    }

    /// Whether this process writes files (rank 0 of a data-parallel group).
    fn is_chief(&self) -> bool {
        self.parallel.as_ref().is_none_or(DataParallel::is_chief)
    }

    fn train(&mut self, model: &mut Sequential) -> Result<History> {
        let resume = self.resume.take();
        let first = resume
            .as_ref()
            .map_or(self.options.initial_epoch, TrainingState::epoch);
        let control = self
            .callbacks
            .train_begin(&mut Self::ctx(&self.info, model, first))?;
        let mut stop = self.stops(control)?;
        let mut inside = match resume {
            Some(state) => self.restore(model, state)?,
            None => None,
        };
        for epoch in first..self.options.epochs {
            if stop {
                break;
            }
            let control = self
                .callbacks
                .epoch_begin(epoch, &mut Self::ctx(&self.info, model, epoch))?;
            if self.stops(control)? {
                break;
            }
            match self.epoch(model, epoch, inside.take())? {
                EpochEnd::Completed(s) => stop = s,
                EpochEnd::Ended(result) => return result,
            }
        }
        let last = self.history.epochs().last().map_or(first, |&e| e);
        self.callbacks
            .train_end(&self.last_logs, &mut Self::ctx(&self.info, model, last))?;
        Ok(std::mem::take(&mut self.history))
    }

    fn epoch(
        &mut self,
        model: &mut Sequential,
        epoch: usize,
        resume: Option<(usize, EpochState)>,
    ) -> Result<EpochEnd> {
        let start = Instant::now();
        let resumed = resume.is_some();
        let first_batch = match resume {
            Some((batch, state)) => {
                self.epoch_rng = state.rng_at_start;
                self.telemetry = state.telemetry;
                batch
            }
            None => {
                self.epoch_rng.clone_from(&self.rng);
                0
            }
        };
        let order: Vec<usize> = match (self.options.shuffle, resumed) {
            (true, false) => shuffled_indices(self.train.len(), &mut self.rng),
            (true, true) => shuffled_indices(self.train.len(), &mut self.epoch_rng.clone()),
            (false, _) => (0..self.train.len()).collect(),
        };
        let ranges: Vec<_> = batch_ranges(self.train.len(), self.options.batch_size)?
            .take(self.info.steps)
            .collect();
        let mut progress =
            EpochProgress::start(self.verbosity, epoch, self.options.epochs, ranges.len());
        self.sync = SyncTime::default();
        if !resumed {
            self.means.reset();
            self.telemetry.reset();
            self.guard.begin_epoch(model, &self.rng, &self.means)?;
        }
        let mut stop = false;
        let mut b = first_batch;
        while b < ranges.len() {
            if self.guard.is_poisoned(b) {
                self.telemetry.skipped();
                self.record(epoch, b, None, StepAction::Skipped);
                b += 1;
                continue;
            }
            if let Some(p) = &mut self.parallel {
                p.group().set_position(epoch, b);
            }
            let mut ctx = Self::ctx(&self.info, model, epoch);
            let control = self.callbacks.batch_begin(b, &mut ctx)?;
            if self.stops(control)? {
                stop = true;
                break;
            }
            let n = ranges[b].len();
            // A member trains on its share of the batch; one with no rows (a last batch
            // smaller than the group) runs the batch's first sample with a weight of 0.
            let share = match &self.parallel {
                Some(p) => p.share(n),
                None => 0..n,
            };
            let (first_row, rows) = (share.start, share.len());
            let taken = if rows == 0 { 0..1 } else { share };
            let indices = &order[ranges[b].clone()][taken];
            let batch_weights: Option<Vec<f32>> = self
                .weights
                .as_ref()
                .map(|w| indices.iter().map(|&i| w[i]).collect());
            let rng_before = self.rng.clone();
            let (train, rng, hooks, means, guard, telemetry) = (
                &self.train,
                &mut self.rng,
                &mut self.hooks,
                &mut self.means,
                &mut self.guard,
                &mut self.telemetry,
            );
            let weights = batch_weights.clone();
            let share = self.parallel.as_mut().map(|group| crate::step::Share {
                group,
                first_row,
                rows,
                global: n,
            });
            self.threads.before_step();
            let started = Instant::now();
            let batch = crate::batching::gather_pooled(train, indices);
            let step =
                model.train_step(batch, weights, rng, hooks, means, guard, telemetry, share)?;
            self.threads.after_step(started.elapsed());
            if let Some(p) = &self.parallel {
                let (sum, wait) = p.last_sync();
                self.sync.sum += sum;
                self.sync.wait += wait;
                self.sync.steps += 1;
            }
            let next = match &step.trigger {
                None => {
                    self.means.add_loss(step.loss, n);
                    self.guard
                        .after_applied(model, &self.rng, &self.means, b + 1)?;
                    self.record(epoch, b, Some(&step), StepAction::Applied);
                    b + 1
                }
                Some(_) => {
                    let incident = incident::Incident {
                        epoch,
                        batch: b,
                        indices,
                        first_row,
                        weights: batch_weights,
                        rng_before,
                        step: &step,
                    };
                    match self.handle(model, incident, &progress)? {
                        incident::Next::Batch(next) => next,
                        incident::Next::End(result) => return Ok(EpochEnd::Ended(result)),
                    }
                }
            };
            progress.step(b + 1, self.means.samples(), || {
                let mut logs = self.means.logs("");
                logs.extend(self.telemetry.progress_logs());
                logs
            });
            if !self.callbacks.is_empty() || self.parallel.is_some() {
                let logs = self.batch_logs();
                let mut ctx = Self::ctx(&self.info, model, epoch);
                let control = self.callbacks.batch_end(b, &logs, &mut ctx)?;
                if self.stops(control)? {
                    stop = true;
                    break;
                }
            }
            self.after_step(model, epoch * self.info.steps + b + 1, epoch, next)?;
            b = next;
        }
        if let Some(p) = &mut self.parallel {
            p.sum_metrics(&mut self.means)?;
        }
        let mut logs = Logs::from(self.means.logs(""));
        for (name, value) in self.telemetry.epoch_logs() {
            logs.insert(name, value);
        }
        if self.parallel.is_some() {
            let (sum, wait) = self.sync.mean_ms();
            logs.insert(SYNC_LOG.to_string(), sum);
            logs.insert(WAIT_LOG.to_string(), wait);
        }
        if let (Some(v), 0) = (&self.validation, (epoch + 1) % self.options.validation_freq) {
            let batch = model.inference_batch(self.options.validation_batch_size);
            // A group shares the validation samples out and sums the counts.
            let scores = match &mut self.parallel {
                Some(p) => p.evaluate(model, v, batch)?,
                None => model.evaluate_means(v, batch)?,
            };
            for (name, value) in scores.logs("val_") {
                logs.insert(name, value);
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        progress.steps_done();
        let mut ctx = Self::ctx(&self.info, model, epoch);
        let control = self.callbacks.epoch_end(epoch, &mut logs, &mut ctx)?;
        if self.stops(control)? {
            stop = true;
        }
        progress.finish(logs.as_slice(), seconds);
        self.history.push(epoch, logs.as_slice(), seconds);
        self.last_logs = logs;
        self.after_epoch(model, epoch)?;
        if let Some(p) = &mut self.parallel {
            p.check_in_step(model, &self.rng, || {
                format!("at the end of epoch {}", epoch + 1)
            })?;
        }
        Ok(EpochEnd::Completed(stop))
    }
}
