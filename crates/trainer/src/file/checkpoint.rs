//! Full training-state checkpoints: everything `fit` needs to continue a run exactly.

use super::atomic::write_atomic;
use super::compile::{check_state, CompileRecord};
use super::envelope::{self, CHECKPOINT};
use super::model::{at_path, format_error, read};
use super::problem::FormatProblem;
use super::record::{apply_params, architecture, ModelRecord};
use crate::fit::FitRng;
use crate::guard::GuardState;
use crate::metrics::MetricTracker;
use crate::telemetry::EpochTelemetry;
use crate::{Error, History, Result, Sequential};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The magic tag of checkpoint files.
pub const CHECKPOINT_MAGIC: &[u8; 8] = &CHECKPOINT.magic;

/// The checkpoint format version this build writes and reads.
pub const CHECKPOINT_FORMAT_VERSION: u32 = CHECKPOINT.version;

/// What a resumed `fit` must share with the run that wrote the checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FitShape {
    pub(crate) train_samples: usize,
    pub(crate) batch_size: usize,
    pub(crate) steps: usize,
    pub(crate) shuffle: bool,
}

/// The state of an epoch interrupted between two batches.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EpochState {
    /// The RNG as the epoch began, before shuffling (the epoch's order is drawn again).
    pub(crate) rng_at_start: FitRng,
    pub(crate) means: MetricTracker,
    pub(crate) telemetry: EpochTelemetry,
}

/// The payload of a checkpoint file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CheckpointRecord {
    pub(crate) model: ModelRecord,
    /// The optimizer (config and state), the loss and the metrics, as in model files.
    pub(crate) compile: CompileRecord,
    pub(crate) fit: FitShape,
    /// The epoch to go on with (0-based).
    pub(crate) epoch: usize,
    /// The batch of that epoch to go on with (0-based); 0 at an epoch boundary.
    pub(crate) batch: usize,
    pub(crate) rng: FitRng,
    /// Present when the checkpoint was written inside an epoch.
    pub(crate) epoch_state: Option<EpochState>,
    pub(crate) guard: GuardState,
    pub(crate) history: History,
    /// Each callback's state as JSON, by position.
    pub(crate) callbacks: Vec<Option<String>>,
}

/// A full training-state checkpoint, as written by
/// [`BackupAndRestore`](crate::BackupAndRestore) or
/// [`FitOptions::checkpoint`](crate::FitOptions::checkpoint): the architecture and weights,
/// the optimizer's state (moments, step counter, so the schedule position, clipping state,
/// learning rate), the guard's state, every callback's state, the epoch and batch reached,
/// the RNG of shuffling and dropout, the epoch's running metrics and the History so far.
///
/// Give it to [`FitOptions::resume`](crate::FitOptions::resume) to continue the run: the
/// result is bit for bit the run that was not interrupted.
///
/// The file is the Keel envelope (magic `KEELCKPT`, [`CHECKPOINT_FORMAT_VERSION`], payload
/// length and CRC-32) around a bincode 2 record, written atomically.
#[derive(Debug, Clone)]
pub struct TrainingState {
    pub(crate) record: Box<CheckpointRecord>,
}

impl TrainingState {
    /// Reads a checkpoint file.
    ///
    /// # Errors
    /// [`Error::Io`] for a file that cannot be read; [`Error::Format`] with the path and
    /// the first problem found: a wrong magic tag (naming a Keel model or weights file when
    /// it is one) or version, a truncated file, a checksum mismatch, or a payload that does
    /// not decode.
    ///
    /// ```
    /// use keel_trainer::TrainingState;
    /// let err = TrainingState::load("/no/such/checkpoint.keel").unwrap_err();
    /// assert!(err.to_string().starts_with("/no/such/checkpoint.keel: "));
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<TrainingState> {
        let path = path.as_ref();
        TrainingState::from_bytes(&read(path)?).map_err(at_path(path))
    }

    /// Parses the bytes of a checkpoint file (errors name the source `<checkpoint>`).
    ///
    /// # Errors
    /// As [`load`](TrainingState::load).
    pub fn from_bytes(bytes: &[u8]) -> Result<TrainingState> {
        let record = envelope::decode::<CheckpointRecord>(CHECKPOINT, bytes)
            .map_err(format_error("<checkpoint>"))?;
        Ok(TrainingState {
            record: Box::new(record),
        })
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        envelope::encode(CHECKPOINT, &*self.record)
    }

    /// Writes the checkpoint to `path` atomically.
    ///
    /// # Errors
    /// An I/O error naming the path.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomic(path.as_ref(), &self.to_bytes())
    }

    /// The epoch (0-based) training goes on with.
    pub fn epoch(&self) -> usize {
        self.record.epoch
    }

    /// The batch (0-based, within [`epoch`](TrainingState::epoch)) training goes on with:
    /// 0 for a checkpoint written at the end of an epoch.
    pub fn batch(&self) -> usize {
        self.record.batch
    }

    /// The batch size of the run that wrote the checkpoint; a resumed `fit` must use it.
    pub fn batch_size(&self) -> usize {
        self.record.fit.batch_size
    }

    /// The optimizer's step counter.
    pub fn iterations(&self) -> u64 {
        self.record.compile.optimizer_state.iterations()
    }

    /// The History of the epochs completed.
    pub fn history(&self) -> &History {
        &self.record.history
    }

    /// The model with the checkpoint's architecture, trainable flags and weights, compiled
    /// with its optimizer in the checkpoint's state, its loss and its metrics, as
    /// [`Sequential::load`] returns a model file's (a custom loss is a placeholder that asks
    /// to compile again).
    ///
    /// # Errors
    /// [`Error::Format`] when the architecture cannot be built, the weights do not fit it,
    /// or the compile configuration cannot be restored.
    pub fn model(&self) -> Result<Sequential> {
        let to_model = || {
            let mut model = self.record.model.clone().into_model()?;
            self.record.compile.compile(&mut model)?;
            Ok(model)
        };
        to_model().map_err(format_error("<checkpoint>"))
    }

    /// Checks that `model` (compiled) is the model of the checkpoint, then puts the weights
    /// and the optimizer's state in it.
    pub(crate) fn apply_to(&self, model: &mut Sequential) -> Result<()> {
        let record = &self.record;
        let mismatch = |what, expected: String, found: String| {
            Err(Error::CheckpointMismatch {
                what,
                expected,
                found,
            })
        };
        if model.input_shape() != record.model.input_shape.as_slice() {
            return mismatch(
                "the input shape",
                format!("{:?}", model.input_shape()),
                format!("{:?}", record.model.input_shape),
            );
        }
        let layers = architecture(model)?;
        if layers != record.model.layers {
            return mismatch(
                "the layers",
                format!("{layers:?}"),
                format!("{:?}", record.model.layers),
            );
        }
        let compiled = model.compiled.as_ref().ok_or(Error::NotCompiled {
            operation: "resuming from a checkpoint",
        })?;
        let saved = &record.compile;
        if (&compiled.loss, &compiled.metrics) != (&saved.loss, &saved.metrics) {
            return mismatch(
                "the compiled loss and metrics",
                format!("{:?} with {:?}", compiled.loss, compiled.metrics),
                format!("{:?} with {:?}", saved.loss, saved.metrics),
            );
        }
        let before = compiled.optimizer.snapshot();
        if before.rule() != saved.optimizer_state.rule() {
            return mismatch(
                "the optimizer",
                before.rule().to_string(),
                saved.optimizer_state.rule().to_string(),
            );
        }
        if model.trainable != record.model.trainable {
            let frozen = |flags: &[bool]| {
                let names: Vec<&str> = model
                    .layer_names()
                    .iter()
                    .zip(flags)
                    .filter(|(_, &trainable)| !trainable)
                    .map(|(name, _)| name.as_str())
                    .collect();
                match names.as_slice() {
                    [] => "no frozen layer".to_string(),
                    _ => format!("frozen {}", names.join(", ")),
                }
            };
            return mismatch(
                "the frozen layers",
                frozen(&model.trainable),
                frozen(&record.model.trainable),
            );
        }
        check_state(&compiled.optimizer, &saved.optimizer_state, model)
            .map_err(|problem| format_error("<checkpoint>")(FormatProblem::Compile { problem }))?;
        // `restore` checks the state before changing anything; undo it if the weights fail.
        let compiled = model.compiled.as_mut().expect("checked above");
        compiled.optimizer.restore(&saved.optimizer_state)?;
        if let Err(problem) = apply_params(model, record.model.params.clone()) {
            let compiled = model.compiled.as_mut().expect("checked above");
            compiled.optimizer.restore(&before)?;
            return Err(format_error("<checkpoint>")(problem));
        }
        Ok(())
    }
}
