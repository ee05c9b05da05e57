//! Writing the run's state to a checkpoint, and picking a run up again from one.

use super::Run;
use crate::file::{
    write_atomic, CheckpointRecord, CompileRecord, EpochState, FitShape, ModelRecord,
};
use crate::{Error, Result, SaveFreq, Sequential, TrainingState};

impl Run<'_> {
    /// Writes a checkpoint if a backup is due after global step `step` (1-based).
    pub(super) fn after_step(
        &mut self,
        model: &Sequential,
        step: usize,
        epoch: usize,
        next: usize,
    ) -> Result<()> {
        match self.backup.as_ref().map(|b| b.frequency()) {
            Some(SaveFreq::Steps(n)) if step % n == 0 => self.save(model, epoch, next, true),
            _ => Ok(()),
        }
    }

    /// Writes a checkpoint if backups are made at the end of every epoch.
    pub(super) fn after_epoch(&mut self, model: &Sequential, epoch: usize) -> Result<()> {
        match self.backup.as_ref().map(|b| b.frequency()) {
            Some(SaveFreq::Epoch) => self.save(model, epoch + 1, 0, false),
            _ => Ok(()),
        }
    }

    /// Writes the state from which training goes on at `batch` of `epoch`; `inside` when
    /// that is inside an epoch (the running metrics and the epoch's RNG are then kept).
    /// In data-parallel training every member calls this and rank 0 writes, with the
    /// group's running metrics.
    fn save(&mut self, model: &Sequential, epoch: usize, batch: usize, inside: bool) -> Result<()> {
        if self.backup.is_none() {
            return Ok(());
        }
        let mut means = self.means.clone();
        if let (Some(p), true) = (&mut self.parallel, inside) {
            p.sum_metrics(&mut means)?;
        }
        if !self.is_chief() {
            return Ok(());
        }
        let Some(backup) = &self.backup else {
            return Ok(());
        };
        let compiled = model
            .compiled
            .as_ref()
            .ok_or(Error::NotCompiled { operation: "fit" })?;
        let record = CheckpointRecord {
            model: ModelRecord::of(model)?,
            compile: CompileRecord::of(compiled),
            fit: self.shape.clone(),
            epoch,
            batch,
            rng: self.rng.clone(),
            epoch_state: inside.then(|| EpochState {
                rng_at_start: self.epoch_rng.clone(),
                means,
                telemetry: self.telemetry.clone(),
            }),
            guard: self.guard.state(),
            history: self.history.clone(),
            callbacks: self.callbacks.states(),
        };
        let path = backup.path();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let state = TrainingState {
            record: Box::new(record),
        };
        write_atomic(path, &state.to_bytes())
    }

    /// Puts the loop's state back from `state` (the model's weights and optimizer were set
    /// before the run began); returns the batch to go on with and the interrupted epoch's
    /// state, if it was written inside one.
    pub(super) fn restore(
        &mut self,
        model: &Sequential,
        state: TrainingState,
    ) -> Result<Option<(usize, EpochState)>> {
        let record = *state.record;
        self.callbacks.load_states(record.callbacks)?;
        self.history = record.history;
        self.rng = record.rng;
        let inside = match record.epoch_state {
            Some(e) => {
                same_layout("the running metrics", &self.means, &e.means, |m| m.reset())?;
                let (ours, theirs) = (self.telemetry.layout(), e.telemetry.layout());
                if ours != theirs {
                    return Err(Error::CheckpointMismatch {
                        what: "the telemetry",
                        expected: ours,
                        found: theirs,
                    });
                }
                self.means.set_counts_from(&e.means);
                if !self.is_chief() {
                    // The checkpoint holds the group's metric counts: rank 0 carries them.
                    let zeros = vec![0.0; self.means.metric_counts().len()];
                    self.means.set_metric_counts(&zeros);
                }
                Some((record.batch, e))
            }
            None => None,
        };
        self.guard
            .load_state(record.guard, model, &self.rng, &self.means, record.batch)?;
        Ok(inside)
    }
}

/// Checks that accumulators read from a file have the layout of this run's (the same
/// metrics, classes and layers), comparing both once reset.
fn same_layout<T: Clone + std::fmt::Debug>(
    what: &'static str,
    ours: &T,
    theirs: &T,
    reset: impl Fn(&mut T),
) -> Result<()> {
    let (mut a, mut b) = (ours.clone(), theirs.clone());
    reset(&mut a);
    reset(&mut b);
    let (a, b) = (format!("{a:?}"), format!("{b:?}"));
    if a == b {
        return Ok(());
    }
    Err(Error::CheckpointMismatch {
        what,
        expected: a,
        found: b,
    })
}

/// What a resumed `fit` checks against the checkpoint's run, naming the first setting that
/// differs in words rather than printing the records.
pub(super) fn check_shape(state: &TrainingState, shape: &FitShape) -> Result<()> {
    let found = &state.record.fit;
    let differs = [
        (
            "the batch size",
            shape.batch_size.to_string(),
            found.batch_size.to_string(),
        ),
        (
            "the number of training samples (after the validation split)",
            shape.train_samples.to_string(),
            found.train_samples.to_string(),
        ),
        (
            "the steps per epoch",
            shape.steps.to_string(),
            found.steps.to_string(),
        ),
        ("shuffling", on_off(shape.shuffle), on_off(found.shuffle)),
    ];
    match differs.into_iter().find(|(_, ours, theirs)| ours != theirs) {
        None => Ok(()),
        Some((what, ours, theirs)) => Err(Error::CheckpointMismatch {
            what,
            expected: format!("{ours} as in this run"),
            found: format!(
                "{theirs} in the checkpoint (resume with the settings it was written with)"
            ),
        }),
    }
}

fn on_off(shuffle: bool) -> String {
    if shuffle { "on" } else { "off" }.to_string()
}
