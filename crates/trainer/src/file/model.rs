//! Model files: `Sequential::save`, `load`, `to_bytes` and `from_bytes`.

use super::atomic::write_atomic;
use super::compile::CompileRecord;
use super::envelope::{self, MODEL};
use super::problem::FormatProblem;
use super::record::ModelRecord;
use crate::{Error, Result, Sequential};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The first bytes of every Keel model file.
pub const MAGIC: &[u8; 8] = &MODEL.magic;

/// The model-file format version this build writes and reads. Version 2 added the payload
/// length and a CRC-32 of the payload to the header; version 5 adds each layer's trainable
/// flag and the compile configuration (optimizer with its state, loss, metrics).
pub const FORMAT_VERSION: u32 = MODEL.version;

/// The payload of a model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ModelFileRecord {
    model: ModelRecord,
    /// Present when the model was compiled.
    compile: Option<CompileRecord>,
}

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
    /// The model file's bytes: the whole model, as Keras's `model.save("m.keras")`. That is
    /// the architecture, each layer's trainable flag and the weights, and, when the model is
    /// compiled, the compile configuration: the optimizer (rule, learning rate or schedule,
    /// hyper-parameters, clipping, weight decay) with its training state (step counter, so
    /// the schedule's position; slots such as Adam's moments; clipping state; learning-rate
    /// multiplier), the loss and the metrics. A [`CustomLoss`](crate::CustomLoss) is stored
    /// by its name only.
    ///
    /// The file is the Keel envelope (magic `KEELMODL`, [`FORMAT_VERSION`], payload length,
    /// CRC-32 of the payload) around a bincode 2 record. The same model always gives the
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
        let record = ModelFileRecord {
            model: ModelRecord::of(self)?,
            compile: self.compiled.as_ref().map(CompileRecord::of),
        };
        Ok(envelope::encode(MODEL, &record))
    }

    /// Writes the model to `path` (see [`to_bytes`](Sequential::to_bytes) for what it
    /// holds) atomically: a uniquely named temporary file in the same directory, synced,
    /// renamed over `path`, and the directory synced, so a crash mid-save leaves the
    /// previous file intact.
    ///
    /// # Errors
    /// As [`to_bytes`](Sequential::to_bytes), or an I/O error naming the path.
    ///
    /// ```
    /// use keel_layers::{Dense, Flatten};
    /// use keel_optim::Adam;
    /// use keel_trainer::{Loss, Metric, Sequential};
    /// # fn main() -> keel_trainer::Result<()> {
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("model.keel");
    /// let mut model = Sequential::new([2, 2]).add(Flatten::new()).add(Dense::new(3));
    /// model.set_trainable("flatten", false)?;
    /// model.compile(Adam::new(1e-3), Loss::MeanSquaredError, &[Metric::Accuracy])?;
    /// model.save(&path)?;
    /// let restored = Sequential::load(&path)?;
    /// assert_eq!(restored.layer_names(), ["flatten", "dense"]);
    /// assert!(!restored.is_trainable("flatten")?);
    /// assert_eq!(restored.optimizer().map(|o| o.name()), Some("adam"));
    /// # Ok(()) }
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomic(path.as_ref(), &self.to_bytes()?)
    }

    /// Reads a model written by [`save`](Sequential::save), as Keras's
    /// `keras.models.load_model`: with its frozen layers frozen and, when it was saved
    /// compiled, compiled again with the same optimizer in the same state, loss and metrics,
    /// so [`evaluate`](Sequential::evaluate) works at once and [`fit`](Sequential::fit) goes
    /// on as if the model had never been saved (same step counter, moments and
    /// learning-rate schedule position). A model saved uncompiled loads uncompiled.
    ///
    /// A [`CustomLoss`](crate::CustomLoss) comes back as a placeholder with its name only:
    /// training or evaluating with it returns an error until you
    /// [`compile`](Sequential::compile) again with the loss itself (which starts a fresh
    /// optimizer; [`Optimizer::restore`](keel_optim::Optimizer::restore) a
    /// [`snapshot`](keel_optim::Optimizer::snapshot) to keep the state). To skip the compile
    /// configuration altogether (Keras's `compile=False`), for example for a model trained
    /// with a custom update rule, use [`load_uncompiled`](Sequential::load_uncompiled).
    ///
    /// # Errors
    /// A file that cannot be read ([`Error::Io`]), or [`Error::Format`] with the path and
    /// the first [`FormatProblem`] found: a wrong magic tag or version, a truncated file, a
    /// checksum mismatch, a payload that does not decode, an architecture that cannot be
    /// built, weights that do not fit it or are not finite, or a compile configuration that
    /// cannot be restored ([`FormatProblem::Compile`]: an optimizer that is not built in,
    /// optimizer state that does not fit the parameters or is not finite).
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

    /// Reads a model written by [`save`](Sequential::save) without its compile
    /// configuration, as Keras's `load_model(path, compile=False)`: the architecture,
    /// trainable flags and weights, uncompiled. For a file whose optimizer cannot be rebuilt
    /// (a custom [`UpdateRule`](keel_optim::UpdateRule)) or to compile it afresh.
    ///
    /// # Errors
    /// As [`load`](Sequential::load), except that the compile configuration is not checked
    /// beyond decoding.
    ///
    /// ```
    /// use keel_layers::Dense;
    /// use keel_optim::Sgd;
    /// use keel_trainer::{Loss, Sequential};
    /// # fn main() -> keel_trainer::Result<()> {
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("model.keel");
    /// let mut model = Sequential::new([2]).add(Dense::new(1));
    /// model.compile(Sgd::new(0.1), Loss::MeanSquaredError, &[])?;
    /// model.save(&path)?;
    /// assert!(Sequential::load(&path)?.optimizer().is_some());
    /// assert!(Sequential::load_uncompiled(&path)?.optimizer().is_none());
    /// # Ok(()) }
    /// ```
    pub fn load_uncompiled(path: impl AsRef<Path>) -> Result<Sequential> {
        let path = path.as_ref();
        decode(&read(path)?, false).map_err(at_path(path))
    }

    /// Parses the bytes of a model file (errors name the source `<model>`), compiled when
    /// the file holds a compile configuration, as [`load`](Sequential::load).
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
        decode(bytes, true)
    }
}

/// The model in the bytes of a model file, compiled as the file says when `compile`.
fn decode(bytes: &[u8], compile: bool) -> Result<Sequential> {
    let rebuild = |record: ModelFileRecord| {
        let mut model = record.model.into_model()?;
        if let Some(config) = record.compile.filter(|_| compile) {
            config
                .compile(&mut model)
                .map_err(|problem| match problem {
                    FormatProblem::Compile { problem } => FormatProblem::Compile {
                        problem: format!(
                            "{problem} (load the model with Sequential::load_uncompiled and \
                         compile it again)"
                        ),
                    },
                    other => other,
                })?;
        }
        Ok(model)
    };
    envelope::decode::<ModelFileRecord>(MODEL, bytes)
        .and_then(rebuild)
        .map_err(format_error("<model>"))
}
