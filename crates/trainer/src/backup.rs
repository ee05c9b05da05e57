//! `BackupAndRestore`: checkpoints of the whole training state written while `fit` runs,
//! and picked up again by the same command after a crash.

use std::path::{Path, PathBuf};

/// When [`BackupAndRestore`] writes its checkpoint (Keras's `save_freq`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveFreq {
    /// At the end of every epoch (Keras's `"epoch"`).
    Epoch,
    /// After every this many batches, counted over the whole run (Keras's integer).
    Steps(usize),
}

/// Backs up the whole training state and restores it when the same `fit` starts again, as
/// Keras's `keras.callbacks.BackupAndRestore`.
///
/// Set with [`FitOptions::backup_and_restore`](crate::FitOptions::backup_and_restore). At the
/// start of `fit`, if the checkpoint file exists, training resumes from it (the epochs and
/// batches done are not repeated, and the result is bit for bit that of an uninterrupted
/// run); then it is rewritten, atomically, at every `save_freq`. When `fit` ends without an
/// error the file is deleted, unless `delete_checkpoint(false)`. A run killed at any moment
/// (even by `SIGKILL`) and started again with the same command continues from its last
/// backup.
///
/// ```
/// use keel_trainer::{BackupAndRestore, FitOptions, SaveFreq};
/// let dir = tempfile::tempdir().unwrap();
/// let backup = BackupAndRestore::new(dir.path()).save_freq(SaveFreq::Steps(100));
/// assert_eq!(backup.path(), dir.path().join("training_state.keel"));
/// let options = FitOptions::new().epochs(10).backup_and_restore(backup);
/// # let _ = options;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupAndRestore {
    path: PathBuf,
    save_freq: SaveFreq,
    delete_checkpoint: bool,
    restore: bool,
}

impl BackupAndRestore {
    /// Backs up to `backup_dir/training_state.keel` (the directory is created if needed) at
    /// the end of every epoch, restoring from it when it exists, and deleting it when `fit`
    /// succeeds.
    pub fn new(backup_dir: impl AsRef<Path>) -> Self {
        Self::at_path(backup_dir.as_ref().join("training_state.keel"))
    }

    /// As [`new`](BackupAndRestore::new), with the checkpoint file's path given whole.
    pub fn at_path(path: impl Into<PathBuf>) -> Self {
        BackupAndRestore {
            path: path.into(),
            save_freq: SaveFreq::Epoch,
            delete_checkpoint: true,
            restore: true,
        }
    }

    /// Sets when the checkpoint is written. Defaults to [`SaveFreq::Epoch`].
    pub fn save_freq(mut self, save_freq: SaveFreq) -> Self {
        self.save_freq = save_freq;
        self
    }

    /// Whether the checkpoint is deleted when `fit` ends without an error. Defaults to
    /// `true`.
    pub fn delete_checkpoint(mut self, delete: bool) -> Self {
        self.delete_checkpoint = delete;
        self
    }

    /// Whether `fit` resumes from the checkpoint when it exists. Defaults to `true`; `false`
    /// only writes checkpoints (what [`FitOptions::checkpoint`](crate::FitOptions::checkpoint)
    /// sets).
    pub fn restore(mut self, restore: bool) -> Self {
        self.restore = restore;
        self
    }

    /// The checkpoint file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// When the checkpoint is written.
    pub fn frequency(&self) -> SaveFreq {
        self.save_freq
    }

    /// Whether the checkpoint is deleted after a successful `fit`.
    pub fn deletes_checkpoint(&self) -> bool {
        self.delete_checkpoint
    }

    /// Whether `fit` resumes from an existing checkpoint.
    pub fn restores(&self) -> bool {
        self.restore
    }
}
