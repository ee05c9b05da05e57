//! Sequential models for Keel: `compile`, `fit`, `evaluate`, `predict`, losses, metrics,
//! [`History`], progress output, model and weights files, and safetensors export.
//!
//! Training stability is built into `fit`: every step's loss and gradient norms pass a
//! [`Guard`] before the update is applied (a non-finite step is never applied; the
//! [`Policy`] skips it, stops with an error naming the layer and op where the first
//! non-finite value appeared, or rolls back to an in-memory snapshot), and [`Telemetry`]
//! records gradient norms, the learning rate and the clip rate in the [`History`].
//! `FitOptions::new().guard(Guard::recommended()).telemetry(Telemetry::Epochs)` switches
//! everything on.
//!
//! ```
//! use keel_layers::{Activation, Dense, Dropout, Flatten};
//! use keel_optim::Adam;
//! use keel_trainer::{Loss, Metric, Sequential};
//! # fn main() -> keel_trainer::Result<()> {
//! let mut model = Sequential::new([28, 28])
//!     .add(Flatten::new())
//!     .add(Dense::new(32).activation(Activation::Relu))
//!     .add(Dropout::new(0.2))
//!     .add(Dense::new(10).activation(Activation::Softmax));
//! model.compile(Adam::new(1e-3), Loss::SparseCategoricalCrossentropy, &[Metric::Accuracy])?;
//! assert_eq!(model.param_count(), 784 * 32 + 32 + 32 * 10 + 10);
//! # Ok(()) }
//! ```

mod access;
mod backup;
mod batching;
mod callbacks;
mod distributed;
mod error;
mod evaluate;
mod file;
mod fit;
mod forward;
mod guard;
mod history;
mod hook;
mod loss;
mod metrics;
mod options;
mod progress;
mod scores;
mod sequential;
mod step;
mod summary;
mod telemetry;
mod weights;

pub use backup::{BackupAndRestore, SaveFreq};
pub use callbacks::{
    CSVLogger, Callback, CallbackContext, Control, EarlyStopping, LambdaCallback,
    LearningRateScheduler, Logs, ModelCheckpoint, MonitorMode, ReduceLROnPlateau, TerminateOnNaN,
};
pub use distributed::{Collective, ThreadGroup};
pub use error::{Error, Result};
pub use evaluate::argmax_rows;
pub use file::{
    FormatProblem, Misshaped, TrainingState, CHECKPOINT_FORMAT_VERSION, CHECKPOINT_MAGIC,
    FORMAT_VERSION, MAGIC, SAFETENSORS_ARCHITECTURE_KEY, WEIGHTS_FORMAT_VERSION, WEIGHTS_MAGIC,
};
pub use guard::{Guard, GuardAction, GuardEvent, Location, Pass, Policy, Rollback, Spike, Trigger};
pub use history::{plot_grad_norms, History};
pub use hook::{GradientHook, StepGradients};
pub use loss::{Crossentropy, CustomLoss, Loss, LossFn, TargetKind};
pub use metrics::{Average, ConfusionMatrix, CustomMetric, Metric, MetricFn};
pub use options::FitOptions;
pub use progress::Verbosity;
pub use scores::Scores;
pub use sequential::Sequential;
pub use telemetry::{StepAction, StepRecord, Telemetry};
