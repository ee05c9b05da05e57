//! Weights files: the weights alone, by parameter path, for a model built in code.

use super::atomic::write_atomic;
use super::envelope::{self, WEIGHTS};
use super::model::{at_path, format_error, read};
use super::record::{apply_params, params_record, WeightsRecord};
use super::safetensors::{import, looks_like_safetensors};
use crate::{Result, Sequential};
use std::path::Path;

/// The first bytes of every Keel weights file.
pub const WEIGHTS_MAGIC: &[u8; 8] = &WEIGHTS.magic;

/// The weights-file format version this build writes and reads.
pub const WEIGHTS_FORMAT_VERSION: u32 = WEIGHTS.version;

impl Sequential {
    /// The weights file's bytes: every parameter by path (`"dense_1/kernel"`), without the
    /// architecture, so models with custom layers can be saved too. Same envelope as a
    /// model file, with magic `KEELWGHT` and [`WEIGHTS_FORMAT_VERSION`].
    ///
    /// # Errors
    /// A layer that could not be built, or a NaN or infinite weight
    /// ([`Error::NonFiniteWeight`](crate::Error::NonFiniteWeight)).
    pub fn weights_to_bytes(&self) -> Result<Vec<u8>> {
        let record = WeightsRecord {
            params: params_record(self)?,
        };
        Ok(envelope::encode(WEIGHTS, &record))
    }

    /// Writes the weights to `path` atomically, as Keras's `model.save_weights`: a
    /// uniquely named temporary file, synced, renamed over `path`, and the directory synced.
    ///
    /// # Errors
    /// As [`weights_to_bytes`](Sequential::weights_to_bytes), or an I/O error naming the path.
    ///
    /// ```
    /// use keel_layers::{Activation, Dense};
    /// use keel_trainer::Sequential;
    /// # fn main() -> keel_trainer::Result<()> {
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("model.weights");
    /// let build = |seed| Sequential::new([3]).add(Dense::new(2).activation(Activation::Tanh)).seed(seed);
    /// let trained = build(1);
    /// trained.save_weights(&path)?;
    /// let mut fresh = build(2); // same architecture, other weights
    /// fresh.load_weights(&path)?;
    /// assert_eq!(fresh.weights_to_bytes()?, trained.weights_to_bytes()?);
    /// # Ok(()) }
    /// ```
    pub fn save_weights(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomic(path.as_ref(), &self.weights_to_bytes()?)
    }

    /// Loads weights written by [`save_weights`](Sequential::save_weights) into this model,
    /// matching them by parameter path, as Keras's `model.load_weights`. The optimizer state
    /// of a compiled model is kept.
    ///
    /// A safetensors file is read too, as [`load_safetensors`](Sequential::load_safetensors)
    /// reads it. The kind of file is told by its content, whatever its name: a file that
    /// does not start with a `KEEL` magic tag, and whose ninth byte opens a JSON object
    /// after the 8-byte header length, is safetensors; anything else is checked as a Keel
    /// weights file.
    ///
    /// All or nothing: on any error the model's weights are unchanged.
    ///
    /// # Errors
    /// A file that cannot be read ([`Error::Io`](crate::Error::Io)), or
    /// [`Error::Format`](crate::Error::Format) with the path and a
    /// [`FormatProblem`](crate::FormatProblem): the envelope's checks (magic, version,
    /// length, checksum), a payload that does not decode, NaN or infinite values, or
    /// weights that do not fit this model, listing every missing, unexpected and mis-shaped
    /// tensor at once; for a safetensors file, the errors of
    /// [`load_safetensors`](Sequential::load_safetensors).
    ///
    /// ```
    /// use keel_layers::Dense;
    /// use keel_trainer::Sequential;
    /// # fn main() -> keel_trainer::Result<()> {
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("model.weights");
    /// Sequential::new([3]).add(Dense::new(2)).save_weights(&path)?;
    /// let mut wider = Sequential::new([3]).add(Dense::new(4)).add(Dense::new(1));
    /// let err = wider.load_weights(&path).unwrap_err().to_string();
    /// assert!(err.ends_with(
    ///     "the weights do not fit the model's parameters: missing dense_1/kernel, dense_1/bias; \
    ///      mis-shaped dense/kernel (expected [3, 4], found [3, 2]), \
    ///      dense/bias (expected [4], found [2])"
    /// ), "{err}");
    /// # Ok(()) }
    /// ```
    pub fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        self.load_weights_from_bytes(&read(path)?)
            .map_err(at_path(path))
    }

    /// [`load_weights`](Sequential::load_weights) from the bytes of a Keel weights file or
    /// a safetensors file (errors name the source `<weights>`).
    ///
    /// # Errors
    /// As [`load_weights`](Sequential::load_weights).
    ///
    /// ```
    /// use keel_layers::Dense;
    /// use keel_trainer::Sequential;
    /// # fn main() -> keel_trainer::Result<()> {
    /// let build = |seed| Sequential::new([3]).add(Dense::new(2)).seed(seed);
    /// let trained = build(1);
    /// for bytes in [trained.weights_to_bytes()?, trained.to_safetensors()?] {
    ///     let mut fresh = build(2);
    ///     fresh.load_weights_from_bytes(&bytes)?;
    ///     assert_eq!(fresh.weights_to_bytes()?, trained.weights_to_bytes()?);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn load_weights_from_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        self.check()?;
        if looks_like_safetensors(bytes) {
            import(self, bytes)
        } else {
            envelope::decode::<WeightsRecord>(WEIGHTS, bytes)
                .and_then(|record| apply_params(self, record.params))
        }
        .map_err(format_error("<weights>"))
    }
}
