//! The options of `fit`, as a builder with Keras's names and defaults.

use crate::error::invalid_option as invalid;
use crate::{
    BackupAndRestore, Callback, Collective, GradientHook, Guard, Result, Telemetry, TrainingState,
    Verbosity,
};
use keel_data::Dataset;
use std::collections::BTreeMap;

/// Options of [`Sequential::fit`](crate::Sequential::fit), with Keras's names and defaults.
///
/// ```
/// use keel_trainer::{EarlyStopping, FitOptions};
/// let options = FitOptions::new()
///     .epochs(10)
///     .batch_size(32)
///     .validation_split(0.1)
///     .seed(7)
///     .class_weight([(0, 1.0), (1, 5.0)])
///     .callback(EarlyStopping::new("val_loss").patience(3));
/// assert_eq!(options.batch_size, 32);
/// assert_eq!(options.callbacks.len(), 1);
/// ```
///
/// The lifetime `'a` lets callbacks borrow (a `&mut EarlyStopping` to read afterwards, or
/// closures that capture locals); it is inferred.
pub struct FitOptions<'a> {
    /// Passes over the training data. Defaults to 1.
    pub epochs: usize,
    /// Samples per gradient step. Defaults to 32.
    pub batch_size: usize,
    /// The last fraction of the data held out for validation, in `[0, 1)`. Defaults to 0.
    pub validation_split: f32,
    /// A separate validation set; takes precedence over `validation_split`.
    pub validation_data: Option<Dataset>,
    /// Reshuffle the training samples before each epoch. Defaults to `true`.
    pub shuffle: bool,
    /// Seeds shuffling and dropout. Defaults to 0.
    pub seed: u64,
    /// Keras's `verbose`: 0 silent, 1 progress bar, 2 one line per epoch. Defaults to 1.
    pub verbose: u8,
    /// Samples per batch when validating, at most: fewer when a layer's output would
    /// exceed 16 MiB a batch (a convnet's first activation is ~86 KB a sample). Defaults
    /// to 1024 (only the summation order depends on it).
    pub validation_batch_size: usize,
    /// The epoch to start from (0-based), to resume a run: epochs `initial_epoch..epochs`
    /// run, and the History numbers them so. Defaults to 0.
    pub initial_epoch: usize,
    /// A weight per class (missing classes weigh 1) that scales each sample's loss.
    /// Defaults to none.
    pub class_weight: Option<BTreeMap<u32, f32>>,
    /// A weight per sample of the data given to `fit` (validation part included) that
    /// scales its loss. Defaults to none.
    pub sample_weight: Option<Vec<f32>>,
    /// Validate every this many epochs: after epochs `e` (0-based) where
    /// `(e + 1) % validation_freq == 0`. Defaults to 1.
    pub validation_freq: usize,
    /// At most this many batches per epoch. Defaults to all.
    pub steps_per_epoch: Option<usize>,
    /// The callbacks, called in order. Defaults to none.
    pub callbacks: Vec<Box<dyn Callback + 'a>>,
    /// The gradient hooks, called in order on every step's gradients before clipping and
    /// the guard. Defaults to none.
    pub gradient_hooks: Vec<Box<dyn GradientHook + 'a>>,
    /// What happens to a step whose loss or gradients are non-finite or whose gradient norm
    /// spikes. Defaults to [`Guard::new`]: stop at the first non-finite step.
    pub guard: Guard,
    /// Gradient norms, learning rate, clip rate and guard counts in the History and the
    /// progress bar. Defaults to [`Telemetry::Off`].
    pub telemetry: Telemetry,
    /// Writes full training-state checkpoints and resumes from them. Defaults to none.
    pub backup: Option<BackupAndRestore>,
    /// A checkpoint to continue from (takes precedence over `initial_epoch` and over a
    /// backup's file). Defaults to none.
    pub resume: Option<TrainingState>,
    /// The runtime to train on (threads and buffers). Defaults to the model's runtime (see
    /// [`Sequential::with_runtime`](crate::Sequential::with_runtime)), else the default one.
    pub runtime: Option<keel_runtime::Runtime>,
    /// Train on exactly this many threads, on a runtime made for this `fit`. Defaults to
    /// none; [`runtime`](FitOptions::runtime) takes precedence.
    pub threads: Option<usize>,
    /// Trains as one member of a data-parallel group (see
    /// [`data_parallel`](FitOptions::data_parallel)). Defaults to none.
    pub data_parallel: Option<&'a mut (dyn Collective + 'static)>,
}

impl std::fmt::Debug for FitOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FitOptions")
            .field("epochs", &self.epochs)
            .field("batch_size", &self.batch_size)
            .field("validation_split", &self.validation_split)
            .field("validation_data", &self.validation_data)
            .field("shuffle", &self.shuffle)
            .field("seed", &self.seed)
            .field("verbose", &self.verbose)
            .field("validation_batch_size", &self.validation_batch_size)
            .field("initial_epoch", &self.initial_epoch)
            .field("class_weight", &self.class_weight)
            .field("sample_weight", &self.sample_weight.as_ref().map(Vec::len))
            .field("validation_freq", &self.validation_freq)
            .field("steps_per_epoch", &self.steps_per_epoch)
            .field("callbacks", &self.callbacks.len())
            .field("gradient_hooks", &self.gradient_hooks.len())
            .field("guard", &self.guard)
            .field("telemetry", &self.telemetry)
            .field("backup", &self.backup)
            .field(
                "resume",
                &self.resume.as_ref().map(|s| (s.epoch(), s.batch())),
            )
            .field("runtime", &self.runtime)
            .field("threads", &self.threads)
            .field(
                "data_parallel",
                &self.data_parallel.as_ref().map(|g| (g.rank(), g.size())),
            )
            .finish()
    }
}

impl Default for FitOptions<'_> {
    fn default() -> Self {
        FitOptions {
            epochs: 1,
            batch_size: 32,
            validation_split: 0.0,
            validation_data: None,
            shuffle: true,
            seed: 0,
            verbose: 1,
            validation_batch_size: 1024,
            initial_epoch: 0,
            class_weight: None,
            sample_weight: None,
            validation_freq: 1,
            steps_per_epoch: None,
            callbacks: Vec::new(),
            gradient_hooks: Vec::new(),
            guard: Guard::new(),
            telemetry: Telemetry::Off,
            backup: None,
            resume: None,
            runtime: None,
            threads: None,
            data_parallel: None,
        }
    }
}

impl<'a> FitOptions<'a> {
    /// The defaults.
    pub fn new() -> Self {
        FitOptions::default()
    }

    /// Sets the number of epochs.
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// Sets the batch size.
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Holds out the last `fraction` of the data for validation (Keras semantics: no shuffle first).
    pub fn validation_split(mut self, fraction: f32) -> Self {
        self.validation_split = fraction;
        self
    }

    /// Validates on `data` at the end of every epoch.
    pub fn validation_data(mut self, data: Dataset) -> Self {
        self.validation_data = Some(data);
        self
    }

    /// Sets whether training samples are reshuffled every epoch.
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// Sets the seed of shuffling and dropout.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets Keras's verbosity: 0, 1 or 2.
    pub fn verbose(mut self, verbose: u8) -> Self {
        self.verbose = verbose;
        self
    }

    /// Sets the validation batch size.
    pub fn validation_batch_size(mut self, batch_size: usize) -> Self {
        self.validation_batch_size = batch_size;
        self
    }

    /// Starts at epoch `epoch` (0-based), to resume a run, as Keras's `initial_epoch`.
    pub fn initial_epoch(mut self, epoch: usize) -> Self {
        self.initial_epoch = epoch;
        self
    }

    /// Weighs each training sample's loss by its class's weight (Keras's `class_weight`):
    /// the class is the label, the argmax of a one-hot row, or a single target rounded.
    /// Classes not listed weigh 1. Cannot be combined with `sample_weight`, as in Keras.
    pub fn class_weight(mut self, weights: impl IntoIterator<Item = (u32, f32)>) -> Self {
        self.class_weight = Some(weights.into_iter().collect());
        self
    }

    /// Weighs each sample's loss (Keras's `sample_weight`): one finite weight `>= 0` per
    /// sample of the data given to `fit`, in order (the `validation_split` part's weights
    /// are unused; validation is unweighted).
    pub fn sample_weight(mut self, weights: impl Into<Vec<f32>>) -> Self {
        self.sample_weight = Some(weights.into());
        self
    }

    /// Validates every `freq` epochs (Keras's `validation_freq`). Epochs that do not
    /// validate have no `val_` logs (`NaN` in the History).
    pub fn validation_freq(mut self, freq: usize) -> Self {
        self.validation_freq = freq;
        self
    }

    /// Runs at most `steps` batches per epoch (each epoch still reshuffles and starts from
    /// the beginning of the data, unlike Keras, which continues where the last epoch left off).
    pub fn steps_per_epoch(mut self, steps: usize) -> Self {
        self.steps_per_epoch = Some(steps);
        self
    }

    /// Adds a [`GradientHook`], which sees and may change every step's gradients after the
    /// backward pass, before clipping and the non-finite guard (see its example).
    pub fn gradient_hook(mut self, hook: impl GradientHook + 'a) -> Self {
        self.gradient_hooks.push(Box::new(hook));
        self
    }

    /// Adds a callback (Keras's `callbacks=[...]`, one at a time). Pass `&mut callback` to
    /// read its state after `fit`.
    pub fn callback(mut self, callback: impl Callback + 'a) -> Self {
        self.callbacks.push(Box::new(callback));
        self
    }

    /// Adds several boxed callbacks, as Keras's `callbacks=[...]`.
    pub fn callbacks(
        mut self,
        callbacks: impl IntoIterator<Item = Box<dyn Callback + 'a>>,
    ) -> Self {
        self.callbacks.extend(callbacks);
        self
    }

    /// Sets the [`Guard`]: what happens to non-finite steps and gradient-norm spikes.
    /// `Guard::recommended()` switches everything on.
    ///
    /// ```
    /// use keel_trainer::{FitOptions, Guard, Telemetry};
    /// let options = FitOptions::new().guard(Guard::recommended()).telemetry(Telemetry::Epochs);
    /// assert_eq!(options.guard, Guard::recommended());
    /// ```
    pub fn guard(mut self, guard: Guard) -> Self {
        self.guard = guard;
        self
    }

    /// Sets what [`Telemetry`] `fit` records.
    pub fn telemetry(mut self, telemetry: Telemetry) -> Self {
        self.telemetry = telemetry;
        self
    }

    /// Backs up the whole training state while training and resumes from the backup when
    /// the same `fit` starts again (see [`BackupAndRestore`]).
    pub fn backup_and_restore(mut self, backup: BackupAndRestore) -> Self {
        self.backup = Some(backup);
        self
    }

    /// Writes the whole training state to `path` at the end of every epoch, atomically, and
    /// keeps it (never resumes from it by itself: see [`resume`](FitOptions::resume)).
    pub fn checkpoint(self, path: impl Into<std::path::PathBuf>) -> Self {
        self.backup_and_restore(
            BackupAndRestore::at_path(path)
                .delete_checkpoint(false)
                .restore(false),
        )
    }

    /// Continues the run `state` was taken from (see [`TrainingState`]): its weights,
    /// optimizer state, History, callback states, RNG and position; epochs up to `epochs`
    /// run. The model must be built and compiled as that run's was, and `fit` given the same
    /// data and options; what differs is an [`Error::CheckpointMismatch`](crate::Error::CheckpointMismatch).
    pub fn resume(mut self, state: TrainingState) -> Self {
        self.resume = Some(state);
        self
    }

    /// Trains on `runtime`: its threads, its buffer arena. Two models can train at once on
    /// two runtimes (or share one).
    ///
    /// ```
    /// use keel_trainer::FitOptions;
    /// let runtime = keel_runtime::Runtime::builder().threads(2).build().unwrap();
    /// let options = FitOptions::new().runtime(runtime);
    /// assert_eq!(options.runtime.unwrap().threads(), 2);
    /// ```
    pub fn runtime(mut self, runtime: keel_runtime::Runtime) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// Trains on exactly `threads` threads (the calling thread and `threads - 1` helpers),
    /// never fewer: Keel does not adapt a count the user set. Without it, `fit` uses the
    /// default runtime (`KEEL_NUM_THREADS`, else the CPUs the process may use) and runs
    /// steps on one thread while sharing them measures slower. Zero is an error at `fit`.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// Trains as one member of `group`, data parallel (PyTorch's DDP, Keras's
    /// `MultiWorkerMirroredStrategy`): every member runs the same `fit` and takes its share
    /// of each batch, and the members' gradients are summed before every update, so all
    /// hold the same model throughout. `batch_size` is the global batch, split between the
    /// members; with the same seed the run matches one process's up to the order of sums.
    ///
    /// - Member 0's weights are given to all at the start; weights and random state are
    ///   compared by checksum at the start and after every epoch.
    /// - The loss, gradients, batch-normalization moving statistics and metrics are the
    ///   whole batch's; the guard, clipping, callbacks' stop decisions and validation (each
    ///   member evaluates its share of the validation samples, the counts are summed)
    ///   decide on them identically everywhere.
    /// - Only member 0 prints progress and writes checkpoints, `CSVLogger` rows and
    ///   `ModelCheckpoint` files ([`CallbackContext::is_chief`](crate::CallbackContext::is_chief)).
    /// - An error on one member ends the group's run ([`Collective::abort`]).
    ///
    /// `keel-distributed` provides a group over MPI; [`ThreadGroup`](crate::ThreadGroup) one
    /// between threads.
    pub fn data_parallel(mut self, group: &'a mut (dyn Collective + 'static)) -> Self {
        self.data_parallel = Some(group);
        self
    }

    /// Checks every option's range.
    pub(crate) fn validate(&self) -> Result<Verbosity> {
        if self.epochs == 0 {
            return invalid("epochs", "at least 1", "0".into());
        }
        if self.batch_size == 0 {
            return invalid("batch_size", "at least 1", "0".into());
        }
        if self.validation_batch_size == 0 {
            return invalid("validation_batch_size", "at least 1", "0".into());
        }
        if !(0.0..1.0).contains(&self.validation_split) {
            return invalid(
                "validation_split",
                "in [0, 1)",
                self.validation_split.to_string(),
            );
        }
        if self.initial_epoch >= self.epochs {
            return invalid(
                "initial_epoch",
                "less than epochs",
                format!("{} with epochs = {}", self.initial_epoch, self.epochs),
            );
        }
        if self.validation_freq == 0 {
            return invalid("validation_freq", "at least 1", "0".into());
        }
        if let Some(b) = &self.backup {
            if b.frequency() == crate::SaveFreq::Steps(0) {
                return invalid("save_freq", "at least 1 step", "0".into());
            }
        }
        if self.threads == Some(0) {
            return invalid("threads", "at least 1", "0".into());
        }
        if self.steps_per_epoch == Some(0) {
            return invalid("steps_per_epoch", "at least 1", "0".into());
        }
        if let (Some(_), Some(classes)) = (&self.sample_weight, &self.class_weight) {
            return invalid(
                "class_weight",
                "unset when sample_weight is given (Keras cannot use both)",
                format!("weights for {} classes", classes.len()),
            );
        }
        self.guard.validate()?;
        match self.verbose {
            0 => Ok(Verbosity::Silent),
            1 => Ok(Verbosity::ProgressBar),
            2 => Ok(Verbosity::OneLinePerEpoch),
            v => invalid("verbose", "0, 1 or 2", v.to_string()),
        }
    }
}
