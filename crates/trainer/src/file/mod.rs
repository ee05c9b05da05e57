//! Keel's files: model files (architecture and weights), weights files, and safetensors
//! export.
//!
//! Model and weights files share one envelope ([`envelope`]): a magic tag per kind of file,
//! a format version, the payload's length and CRC-32, then a bincode 2 payload. Every write
//! is atomic ([`atomic`]). Loading checks the envelope, then decodes, then rebuilds and
//! matches the weights by parameter path; each failure is an
//! [`Error::Format`](crate::Error::Format) carrying a [`FormatProblem`] that says what was
//! expected and what was found. The full training-state checkpoint will be one more kind
//! of file in the same envelope.

mod atomic;
mod envelope;
mod model;
mod problem;
mod record;
mod safetensors;
mod weights;

pub use model::{FORMAT_VERSION, MAGIC};
pub use problem::{FormatProblem, Misshaped};
pub use safetensors::SAFETENSORS_ARCHITECTURE_KEY;
pub use weights::{WEIGHTS_FORMAT_VERSION, WEIGHTS_MAGIC};
