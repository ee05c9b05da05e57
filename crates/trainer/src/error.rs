//! The trainer's error type, wrapping the errors of the crates below it.

use crate::{GuardEvent, Location};
use std::fmt;
use std::path::PathBuf;

/// What can go wrong while building, training, evaluating, saving or loading a model.
///
/// `Debug` prints the same sentence as `Display`, so `fn main() -> keel::Result<()>` shows
/// the message rather than a struct; match on the variants for the details.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A layer could not be built or configured.
    #[error(transparent)]
    Layer(#[from] keel_layers::Error),
    /// The optimizer rejected its configuration or a step.
    #[error(transparent)]
    Optim(#[from] keel_optim::Error),
    /// A dataset could not be read or is malformed.
    #[error(transparent)]
    Data(#[from] keel_data::Error),
    /// A runtime setting (thread count, `KEEL_NUM_THREADS`) is invalid.
    #[error(transparent)]
    Runtime(#[from] keel_runtime::Error),
    /// `fit` or `evaluate` was called before `compile`.
    #[error(
        "the model is not compiled: call compile(optimizer, loss, metrics) before {operation}"
    )]
    NotCompiled {
        /// What was attempted.
        operation: &'static str,
    },
    /// An option is out of its range.
    #[error("{option} must be {expected}, found {found}")]
    InvalidOption {
        /// The option's Keras name.
        option: &'static str,
        /// The allowed values, in words.
        expected: &'static str,
        /// The value given.
        found: String,
    },
    /// The data's per-sample shape does not match the model's input.
    #[error(
        "input shape mismatch: the model expects samples of shape {expected:?}, found {found:?}"
    )]
    InputShape {
        /// The model's input shape.
        expected: Vec<usize>,
        /// The dataset's sample shape.
        found: Vec<usize>,
    },
    /// The targets do not fit the loss or the output layer.
    #[error("{loss}: expected {expected}, found {found}")]
    Targets {
        /// The loss's Keras name (a custom loss's own).
        loss: String,
        /// What the loss needs.
        expected: String,
        /// What was given.
        found: String,
    },
    /// The targets do not fit a compiled metric (or the classes of the output).
    #[error("{metric}: expected {expected}, found {found}")]
    MetricTargets {
        /// The metric's Keras name.
        metric: String,
        /// What the metric needs.
        expected: String,
        /// What was given.
        found: String,
    },
    /// A chart of a History could not be drawn.
    #[error("{path}: cannot plot the history: {problem}")]
    Plot {
        /// The chart file.
        path: PathBuf,
        /// What went wrong.
        problem: String,
    },
    /// Training produced a non-finite loss (the update was not applied).
    #[error(
        "the loss became non-finite ({value}) at epoch {epoch}, step {step}{}",
        at(location)
    )]
    NonFiniteLoss {
        /// The loss value.
        value: f32,
        /// The 1-based epoch.
        epoch: usize,
        /// The 1-based step in that epoch.
        step: usize,
        /// Where the first non-finite value appeared, when found.
        location: Option<Location>,
    },
    /// Training produced non-finite gradients from a finite loss (the update was not applied).
    #[error(
        "the gradients became non-finite at epoch {epoch}, step {step} (loss {loss}){}",
        at(location)
    )]
    NonFiniteGradient {
        /// The 1-based epoch.
        epoch: usize,
        /// The 1-based step in that epoch.
        step: usize,
        /// The step's (finite) loss.
        loss: f32,
        /// Where the first non-finite gradient appeared, when found.
        location: Option<Location>,
    },
    /// A step from finite gradients left a weight or optimizer slot non-finite and the guard
    /// does not roll back ([`Trigger::NonFiniteUpdate`](crate::Trigger::NonFiniteUpdate)).
    /// The step was applied: the model holds the non-finite values; do not save it.
    #[error(
        "the optimizer step at epoch {epoch}, step {step} made the {part} of parameter \
         `{param}` non-finite: expected finite values after a step from finite gradients; \
         lower the learning rate or scale the inputs, or train with Guard::recommended() to \
         roll such steps back"
    )]
    NonFiniteUpdate {
        /// The parameter's name.
        param: String,
        /// `"weights"`, or the optimizer slot, such as ``"slot `v`"``.
        part: String,
        /// The 1-based epoch.
        epoch: usize,
        /// The 1-based step in that epoch.
        step: usize,
    },
    /// The global gradient norm spiked and the guard's spike policy is
    /// [`Policy::Stop`](crate::Policy::Stop) (the update was not applied).
    #[error(
        "the gradient norm spiked to {norm:e} (z-score {zscore:.1}) at epoch {epoch}, step {step}"
    )]
    GradientSpike {
        /// The global gradient norm before clipping.
        norm: f32,
        /// Its z-score over the guard's window.
        zscore: f32,
        /// The 1-based epoch.
        epoch: usize,
        /// The 1-based step in that epoch.
        step: usize,
    },
    /// The guard kept skipping or rolling back until its limit, and stopped training.
    #[error("training kept diverging: {limit} ({count}) reached; last: {event}")]
    GuardExhausted {
        /// The limit reached: `"max_rollbacks"` or `"max_consecutive_skips"`.
        limit: &'static str,
        /// Its value.
        count: usize,
        /// The last incident, and what was done with the weights.
        event: Box<GuardEvent>,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A Keel file (model or weights) is not in the format this version reads, or does
    /// not fit the model.
    #[error("{path}: {problem}")]
    Format {
        /// The file (`<model>` or `<weights>` for bytes that came from no file).
        path: PathBuf,
        /// What is wrong, saying what was expected and what was found.
        problem: crate::FormatProblem,
    },
    /// A weight is NaN or infinite, so the model is not saved (an earlier good file is
    /// never replaced by a broken one).
    #[error(
        "refusing to save: {name} holds a non-finite weight ({value}), expected finite numbers"
    )]
    NonFiniteWeight {
        /// The parameter path.
        name: String,
        /// The first bad value.
        value: f32,
    },
    /// A custom layer has no configuration, so the model cannot be saved whole.
    #[error("layer {index} ({kind}) has no serializable config; save its weights instead")]
    UnserializableLayer {
        /// The layer's position.
        index: usize,
        /// The layer's kind.
        kind: &'static str,
    },
    /// `sample_weight` does not hold one weight per sample of the data given to `fit`.
    #[error(
        "sample_weight must hold one weight per sample of the data: expected {expected}, found {found}"
    )]
    SampleWeightLength {
        /// The number of samples in the data.
        expected: usize,
        /// The number of weights given.
        found: usize,
    },
    /// A callback argument is out of its range.
    #[error("{callback}: {argument} must be {expected}, found {found}")]
    InvalidCallbackArgument {
        /// The callback's Keras name in snake case ("early_stopping").
        callback: &'static str,
        /// The argument's Keras name.
        argument: &'static str,
        /// The allowed values, in words.
        expected: &'static str,
        /// The value given.
        found: String,
    },
    /// A callback names a metric (as its `monitor` or in a file-name pattern) that training
    /// does not log.
    #[error(
        "{callback}: {role} '{name}' is not available; available metrics are: {}",
        available.join(", ")
    )]
    UnknownMetric {
        /// The callback's Keras name in snake case.
        callback: &'static str,
        /// Where the name was used: "monitor" or "filepath placeholder".
        role: &'static str,
        /// The name given.
        name: String,
        /// Every name that is logged, sorted.
        available: Vec<String>,
    },
    /// No layer of the model has the name given.
    #[error("no layer named '{name}': expected one of {}", known.join(", "))]
    UnknownLayer {
        /// The name given.
        name: String,
        /// The model's layer names, in order.
        known: Vec<String>,
    },
    /// Weights given to `set_weights` do not match the layer's or model's weights.
    #[error("set_weights of {target}: expected {expected}, found {found}")]
    WeightsMismatch {
        /// The layer (or "the model").
        target: String,
        /// The weights expected (count or shape).
        expected: String,
        /// What was given.
        found: String,
    },
    /// A `ModelCheckpoint` file-name pattern cannot be parsed.
    #[error("model_checkpoint: filepath pattern '{pattern}': {problem}")]
    FilepathPattern {
        /// The pattern given.
        pattern: String,
        /// What is wrong, saying what was expected and what was found.
        problem: String,
    },
    /// A callback that sets the learning rate (`ReduceLROnPlateau`, `LearningRateScheduler`)
    /// runs with an optimizer whose rate a schedule drives; refused when training begins.
    #[error(
        "{callback} cannot set the learning rate: expected an optimizer with a constant \
         learning rate, found the schedule `{schedule}` driving it; compile with a number as \
         the learning rate, or drop {callback}"
    )]
    ScheduledLearningRate {
        /// The callback's Keras name.
        callback: &'static str,
        /// The schedule's name, such as `"cosine_decay"`.
        schedule: &'static str,
    },
    /// A collective operation of data-parallel training failed: a member of the group
    /// failed or the group could not communicate.
    #[error("data-parallel training, rank {rank}, {operation}: {message}")]
    Collective {
        /// What the group was doing ("sum the gradients").
        operation: &'static str,
        /// This member's rank.
        rank: usize,
        /// What went wrong.
        message: String,
    },
    /// The members of a data-parallel group no longer hold the same model.
    #[error("data-parallel training: the members hold different {what} {when}")]
    ReplicasDiverged {
        /// What differs ("weights").
        what: &'static str,
        /// When it was found ("at the end of epoch 3").
        when: String,
    },
    /// A training-state checkpoint does not fit the model, compile settings, data, options
    /// or callbacks of the `fit` that resumes from it (Keras's `BackupAndRestore` also needs
    /// the same script).
    #[error("the checkpoint does not fit this run: {what}: expected {expected}, found {found}")]
    CheckpointMismatch {
        /// What differs ("the batch size", "the callbacks", ...).
        what: &'static str,
        /// What this run has.
        expected: String,
        /// What the checkpoint holds.
        found: String,
    },
}

/// `Err(Error::InvalidOption { .. })`: the one way an option's range check fails.
pub(crate) fn invalid_option<T>(
    option: &'static str,
    expected: &'static str,
    found: String,
) -> Result<T> {
    Err(Error::InvalidOption {
        option,
        expected,
        found,
    })
}

impl fmt::Debug for Error {
    /// The `Display` sentence: what `fn main() -> Result<()>` prints when it returns this.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;

impl From<std::convert::Infallible> for Error {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

/// `"; first non-finite value in {location}"`, or nothing.
fn at(location: &Option<Location>) -> String {
    location
        .as_ref()
        .map_or_else(String::new, |l| format!("; first non-finite value in {l}"))
}
