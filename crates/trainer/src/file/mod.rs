//! Keel's files: model files (architecture and weights), weights files, and safetensors
//! export and import.
//!
//! A model file holds the compile configuration too when the model was compiled (the
//! optimizer with its state, the loss, the metrics), so loading it gives a model ready to
//! evaluate and to go on training.
//!
//! Model and weights files share one envelope ([`envelope`]): a magic tag per kind of file,
//! a format version, the payload's length and CRC-32, then a bincode 2 payload. Every write
//! is atomic ([`atomic`]). Loading checks the envelope, then decodes, then rebuilds and
//! matches the weights by parameter path; each failure is an
//! [`Error::Format`](crate::Error::Format) carrying a [`FormatProblem`] that says what was
//! expected and what was found. Full training-state checkpoints ([`TrainingState`]) are one
//! more kind of file in the same envelope.

mod atomic;
mod checkpoint;
mod compile;
mod envelope;
mod leftovers;
mod model;
mod problem;
mod record;
mod safetensors;
pub(crate) mod static_name;
mod weights;

pub(crate) use atomic::write_atomic;
pub(crate) use checkpoint::{CheckpointRecord, EpochState, FitShape};
pub use checkpoint::{TrainingState, CHECKPOINT_FORMAT_VERSION, CHECKPOINT_MAGIC};
pub(crate) use compile::CompileRecord;
pub use model::{FORMAT_VERSION, MAGIC};
pub use problem::{FormatProblem, Misshaped};
pub(crate) use record::ModelRecord;
pub use safetensors::SAFETENSORS_ARCHITECTURE_KEY;
pub use weights::{WEIGHTS_FORMAT_VERSION, WEIGHTS_MAGIC};
