//! Keel: a Keras-like deep-learning training framework for Rust, with its own
//! reverse-mode autodiff.
//!
//! Add this one crate and `use keel::prelude::*`:
//!
//! ```no_run
//! use keel::prelude::*;
//!
//! fn main() -> keel::Result<()> {
//!     let mnist = keel::data::mnist::load_default()?; // datasets/mnist, or KEEL_DATA
//!     let mut model = Sequential::new([28, 28])
//!         .add(Flatten::new())
//!         .add(Dense::new(32).activation(Activation::Relu))
//!         .add(Dropout::new(0.2))
//!         .add(Dense::new(10).activation(Activation::Softmax));
//!     model.compile(Adam::new(1e-3), Loss::SparseCategoricalCrossentropy, &[Metric::Accuracy])?;
//!     model.summary();
//!     let history = model.fit(&mnist.train, FitOptions::new().epochs(10).batch_size(32).validation_split(0.1))?;
//!     let scores = model.evaluate(&mnist.test)?;
//!     println!("Test accuracy: {:.4}", scores.get("accuracy").unwrap_or(f64::NAN));
//!     model.save("mnist.keel")?;
//!     let restored = Sequential::load("mnist.keel")?;
//!     # let _ = (history, restored);
//!     Ok(())
//! }
//! ```
//!
//! The crates behind the facade: [`autograd`] (the tape), [`layers`], [`optim`]
//! (optimizers and clipping), [`data`] (IDX/MNIST loading and batching) and [`trainer`]
//! (`Sequential`, `fit`, losses, metrics, model files); [`runtime`] configures the threads
//! and buffers the work runs on; [`distributed`] trains one model on many processes (MPI,
//! with the `mpi` feature).

pub use keel_autograd as autograd;
pub use keel_data as data;
/// Data-parallel training: [`Mpi`](keel_distributed) with the `mpi` feature, and
/// `ThreadGroup`, for `FitOptions::data_parallel`.
pub use keel_distributed as distributed;
pub use keel_layers as layers;
pub use keel_optim as optim;
pub use keel_trainer as trainer;

/// The `ndarray` version Keel's tensors and datasets use (`Tensor` is `ndarray::ArrayD<f32>`):
/// build inputs and targets with it without pinning a version of your own.
pub use ndarray;
/// The `rand` version Keel's `Layer` API uses (`StdRng` in `build` and `Ctx`): a custom layer
/// needs no dependency of its own.
pub use rand;

/// Where Keel's work runs: threads (`KEEL_NUM_THREADS`, else the CPUs this process may use)
/// and a buffer arena with a byte budget. Pass a [`Runtime`](runtime::Runtime) to
/// `FitOptions::runtime` or `Sequential::with_runtime`, or call `FitOptions::threads`.
pub mod runtime {
    pub use keel_runtime::{available_cpus, Error, Runtime, RuntimeBuilder, THREADS_ENV};
}

/// Keel's error type: every error of the crates below, wrapped.
pub use keel_trainer::Error;

/// `std::result::Result` with Keel's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Everything a training program needs, in one import.
pub mod prelude {
    pub use keel_autograd::{tensor, Tape, Tensor};
    pub use keel_data::{batch_ranges, shuffled_indices, Dataset, Targets};
    pub use keel_layers::{
        Activation, ActivationLayer, AveragePooling2D, BatchNormalization, Conv2D, Ctx, Dense,
        Dropout, Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D, Initializer, Layer,
        MaxPooling2D, Mode, Padding, Regularizer, Reshape, Softmax,
    };
    pub use keel_optim::{
        Adagrad, AdamW, Agc, AgcExclude, AutoClip, CosineDecay, CosineDecayRestarts,
        ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay, PolynomialDecay, RMSprop,
        WeightDecay, ZClip,
    };
    pub use keel_optim::{Adam, Clip, Clipping, Optimizer, Sgd};
    pub use keel_runtime::Runtime;
    pub use keel_trainer::{
        argmax_rows, Average, ConfusionMatrix, CustomLoss, CustomMetric, FitOptions, GradientHook,
        History, Loss, Metric, Scores, Sequential, StepGradients,
    };
    pub use keel_trainer::{BackupAndRestore, SaveFreq, TrainingState};
    pub use keel_trainer::{
        CSVLogger, Callback, CallbackContext, Control, EarlyStopping, LambdaCallback,
        LearningRateScheduler, Logs, ModelCheckpoint, MonitorMode, ReduceLROnPlateau,
        TerminateOnNaN,
    };
    pub use keel_trainer::{Collective, ThreadGroup};
    pub use keel_trainer::{Guard, Policy, Rollback, Spike, Telemetry};
}

/// Compiles the distributed-training guide's snippets (`docs/guide/distributed.md`) as doc
/// tests; they need the `mpi` feature.
#[cfg(all(doctest, feature = "mpi"))]
#[doc = include_str!("../../../docs/guide/distributed.md")]
pub struct DistributedGuideDoctests;

/// Compiles the README's usage example as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

/// Compiles and runs the snippets of the stability guide (`docs/guide/stability.md`) as doc
/// tests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/guide/convnets.md")]
pub struct ConvnetGuideDoctests;

#[cfg(doctest)]
#[doc = include_str!("../../../docs/guide/stability.md")]
pub struct StabilityGuideDoctests;

/// Compiles and runs the snippets of the Keras-to-Keel guide (`docs/guide/keras-to-keel.md`)
/// as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/guide/keras-to-keel.md")]
pub struct KerasGuideDoctests;
