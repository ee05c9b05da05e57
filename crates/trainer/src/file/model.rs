//! Model files: `Sequential::save`, `load`, `to_bytes` and `from_bytes`.

use super::atomic::write_atomic;
use super::envelope::{self, MODEL};
use super::problem::FormatProblem;
use super::record::ModelRecord;
use crate::{Error, Result, Sequential};
use std::path::{Path, PathBuf};

/// The first bytes of every Keel model file.
pub const MAGIC: &[u8; 8] = &MODEL.magic;

/// The model-file format version this build writes and reads. Version 2 added the payload
/// length and a CRC-32 of the payload to the header.
pub const FORMAT_VERSION: u32 = MODEL.version;

/// The `Error::Format` for bytes that came from `source` (a path, or `<model>` for bytes).
pub(crate) fn format_error(source: impl Into<PathBuf>) -> impl FnOnce(FormatProblem) -> Error {
    let path = source.into();
    move |problem| Error::Format { path, problem }
}

/// Reads `path`, naming it in the error.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Puts `path` in place of the `<bytes>` label of a format error.
pub(crate) fn at_path(path: &Path) -> impl FnOnce(Error) -> Error + '_ {
    move |e| match e {
        Error::Format { problem, .. } => Error::Format {
            path: path.to_path_buf(),
            problem,
        },
        other => other,
    }
}

impl Sequential {
    /// The model file's bytes: architecture and weights (not the optimizer state).
    ///
    /// The file is the Keel envelope (magic `KEELMODL`, [`FORMAT_VERSION`], payload length,
    /// CRC-32 of the payload) around a bincode 2 record of the input shape, the seed, the
    /// layer configs and the weights by parameter path. The same model always gives the
    /// same bytes.
    ///
    /// # Errors
    /// A layer that could not be built, a custom layer without a config
    /// ([`Error::UnserializableLayer`]; save its weights instead), or a NaN or infinite
    /// weight ([`Error::NonFiniteWeight`]), which is never saved.
    ///
    /// ```
    /// use keel_layers::{Activation, Dense};
    /// use keel_trainer::{Sequential, MAGIC};
    /// # fn main() -> keel_trainer::Result<()> {
    /// let model = Sequential::new([4]).add(Dense::new(2).activation(Activation::Softmax));
    /// let bytes = model.to_bytes()?;
    /// assert_eq!(&bytes[..8], MAGIC);
    /// assert_eq!(Sequential::from_bytes(&bytes)?.to_bytes()?, bytes);
    /// # Ok(()) }
    /// ```
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        Ok(envelope::encode(MODEL, &ModelRecord::of(self)?))
    }

    /// Writes the model to `path` atomically: a uniquely named temporary file in the same
    /// directory, synced, renamed over `path`, and the directory synced, so a crash
    /// mid-save leaves the previous file intact.
    ///
    /// # Errors
    /// As [`to_bytes`](Sequential::to_bytes), or an I/O error naming the path.
    ///
    /// ```
    /// use keel_layers::{Dense, Flatten};
    /// use keel_trainer::Sequential;
    /// # fn main() -> keel_trainer::Result<()> {
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("model.keel");
    /// let model = Sequential::new([2, 2]).add(Flatten::new()).add(Dense::new(3));
    /// model.save(&path)?;
    /// let restored = Sequential::load(&path)?;
    /// assert_eq!(restored.layer_names(), ["flatten", "dense"]);
    /// # Ok(()) }
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomic(path.as_ref(), &self.to_bytes()?)
    }

    /// Reads a model written by [`save`](Sequential::save). The loaded model is not compiled.
    ///
    /// # Errors
    /// A file that cannot be read ([`Error::Io`]), or [`Error::Format`] with the path and
    /// the first [`FormatProblem`] found: a wrong magic tag or version, a truncated file, a
    /// checksum mismatch, a payload that does not decode, an architecture that cannot be
    /// built, or weights that do not fit it or are not finite.
    ///
    /// ```
    /// use keel_trainer::Sequential;
    /// let err = Sequential::load("/no/such/model.keel").unwrap_err();
    /// assert!(err.to_string().starts_with("/no/such/model.keel: "));
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<Sequential> {
        let path = path.as_ref();
        Sequential::from_bytes(&read(path)?).map_err(at_path(path))
    }

    /// Parses the bytes of a model file (errors name the source `<model>`).
    ///
    /// Never panics, whatever the bytes (a fuzz target checks this), and never builds layers
    /// that need more weights than the bytes hold.
    ///
    /// # Errors
    /// As [`load`](Sequential::load).
    ///
    /// ```
    /// use keel_trainer::{Error, FormatProblem, Sequential};
    /// let err = Sequential::from_bytes(b"PK\x03\x04 a zip file").unwrap_err();
    /// assert!(matches!(err, Error::Format { problem: FormatProblem::Magic { .. }, .. }));
    /// assert_eq!(
    ///     err.to_string(),
    ///     r#"<model>: not a Keel model file: expected magic b"KEELMODL", found b"PK\x03\x04 a z""#
    /// );
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Result<Sequential> {
        envelope::decode::<ModelRecord>(MODEL, bytes)
            .and_then(ModelRecord::into_model)
            .map_err(format_error("<model>"))
    }
}
