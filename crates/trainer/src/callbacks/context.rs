//! `CallbackContext`: what a callback may read and change while `fit` runs.

use crate::{Error, Result, Sequential};

/// What `fit` knows before training that callbacks may need.
#[derive(Debug, Default)]
pub(crate) struct FitInfo {
    /// Every name the epoch logs can hold, sorted (training, `val_`, callback-added).
    pub(crate) names: Vec<String>,
    /// The `epochs` option: the epoch training stops before.
    pub(crate) epochs: usize,
    /// Batches per epoch (after `steps_per_epoch`).
    pub(crate) steps: usize,
    /// This process's rank in data-parallel training (0 otherwise).
    pub(crate) rank: usize,
}

/// A callback's access to the model being trained and to the run (Keras's `self.model` and
/// `self.params`).
///
/// `fit` makes one for every hook call. To drive a callback by hand (in a test, say), make
/// one with [`CallbackContext::new`]:
///
/// ```
/// use keel_layers::Dense;
/// use keel_optim::Sgd;
/// use keel_trainer::{CallbackContext, Loss, Sequential};
/// # fn main() -> keel_trainer::Result<()> {
/// let mut model = Sequential::new([2]).add(Dense::new(1));
/// model.compile(Sgd::new(0.1), Loss::MeanSquaredError, &[])?;
/// let names = ["loss".to_string(), "val_loss".to_string()];
/// let mut ctx = CallbackContext::new(&mut model).with_metric_names(&names);
/// ctx.set_learning_rate(0.05)?;
/// assert_eq!(ctx.learning_rate()?, 0.05);
/// assert_eq!(ctx.metric_names(), names);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct CallbackContext<'m> {
    model: &'m mut Sequential,
    names: &'m [String],
    epoch: usize,
    epochs: usize,
    steps: usize,
    rank: usize,
}

impl<'m> CallbackContext<'m> {
    /// A context for `model`, with no known metric names (a monitored name is then checked
    /// against the logs alone), epoch 0, and 0 epochs and steps.
    pub fn new(model: &'m mut Sequential) -> Self {
        CallbackContext {
            model,
            names: &[],
            epoch: 0,
            epochs: 0,
            steps: 0,
            rank: 0,
        }
    }

    /// Sets the names the epoch logs can hold (what [`metric_names`](Self::metric_names)
    /// returns).
    pub fn with_metric_names(mut self, names: &'m [String]) -> Self {
        self.names = names;
        self
    }

    /// The context `fit` passes to hooks during `epoch`.
    pub(crate) fn during_fit(model: &'m mut Sequential, info: &'m FitInfo, epoch: usize) -> Self {
        CallbackContext {
            model,
            names: &info.names,
            epoch,
            epochs: info.epochs,
            steps: info.steps,
            rank: info.rank,
        }
    }

    /// This process's rank in data-parallel training
    /// ([`FitOptions::data_parallel`](crate::FitOptions::data_parallel)); 0 otherwise.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// Whether this process writes files and prints: rank 0 (every process is, outside
    /// data-parallel training). A callback that writes files writes them only here.
    pub fn is_chief(&self) -> bool {
        self.rank == 0
    }

    /// Prints `message` on a line of its own, on the process that prints
    /// ([`is_chief`](Self::is_chief)): what a callback's verbose messages go through, so a
    /// data-parallel run prints each once.
    pub fn say(&self, message: impl std::fmt::Display) {
        if self.is_chief() {
            println!("{message}");
        }
    }

    /// The model being trained.
    pub fn model(&self) -> &Sequential {
        self.model
    }

    /// The model being trained, mutably (e.g. to restore weights through
    /// [`Sequential::named_params_mut`]).
    pub fn model_mut(&mut self) -> &mut Sequential {
        self.model
    }

    /// The learning rate the next step will use.
    ///
    /// # Errors
    /// [`Error::NotCompiled`] for a model without an optimizer.
    pub fn learning_rate(&self) -> Result<f32> {
        let compiled = self.model.compiled.as_ref().ok_or(Error::NotCompiled {
            operation: "reading the learning rate",
        })?;
        Ok(compiled.optimizer.learning_rate())
    }

    /// Changes the learning rate from the next step on.
    ///
    /// # Errors
    /// [`Error::NotCompiled`] for a model without an optimizer; an optimizer error unless
    /// `learning_rate` is finite and `>= 0` (the rate is then unchanged).
    pub fn set_learning_rate(&mut self, learning_rate: f32) -> Result<()> {
        let compiled = self.model.compiled.as_mut().ok_or(Error::NotCompiled {
            operation: "setting the learning rate",
        })?;
        Ok(compiled.optimizer.set_learning_rate(learning_rate)?)
    }

    /// For a callback that will set the learning rate: [`Error::ScheduledLearningRate`]
    /// when a schedule drives it, so the callback fails as training begins rather than
    /// epochs later, when it first changes the rate.
    pub(crate) fn require_constant_rate(&self, callback: &'static str) -> Result<()> {
        let schedule = self.model.optimizer().and_then(|o| o.schedule());
        match schedule {
            Some(s) => Err(Error::ScheduledLearningRate {
                callback,
                schedule: s.name(),
            }),
            None => Ok(()),
        }
    }

    /// Every name the epoch logs of this run can hold, sorted: `loss` and the compiled
    /// metrics, their `val_` twins when validating (present only on epochs that validate,
    /// see `validation_freq`), and the names callbacks add. Empty when unknown.
    pub fn metric_names(&self) -> &[String] {
        self.names
    }

    /// The current epoch (0-based, absolute: it starts at `initial_epoch`).
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// The `epochs` option: training stops before this epoch.
    pub fn epochs(&self) -> usize {
        self.epochs
    }

    /// The number of batches per epoch.
    pub fn steps(&self) -> usize {
        self.steps
    }
}
