//! The guard's state as a checkpoint stores it.

use super::run::GuardRun;
use super::snapshot::Snapshot;
use super::spike::SpikeDetector;
use super::Rollback;
use crate::fit::FitRng;
use crate::metrics::MetricTracker;
use crate::{Result, Sequential};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Everything the guard carries from step to step, except its in-memory snapshot: on
/// resume a new snapshot is taken where training resumes (the only difference from an
/// uninterrupted run, and only for a rollback before the next regular snapshot).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct GuardState {
    detector: Option<SpikeDetector>,
    consecutive_skips: usize,
    rollbacks: usize,
    level: i32,
    base_multiplier: f32,
    active: Option<Rollback>,
    cooldown_left: usize,
    since_snapshot: usize,
    poisoned: BTreeSet<usize>,
}

impl GuardRun {
    /// The state to store in a checkpoint.
    pub(crate) fn state(&self) -> GuardState {
        GuardState {
            detector: self.detector.clone(),
            consecutive_skips: self.consecutive_skips,
            rollbacks: self.rollbacks,
            level: self.level,
            base_multiplier: self.base_multiplier,
            active: self.active,
            cooldown_left: self.cooldown_left,
            since_snapshot: self.since_snapshot,
            poisoned: self.poisoned.clone(),
        }
    }

    /// Puts back a stored state, keeping this run's settings (a stored spike window is kept
    /// only if the window length is the same). A snapshot is taken at `batch` when the
    /// policy can roll back.
    pub(crate) fn load_state(
        &mut self,
        state: GuardState,
        model: &Sequential,
        rng: &FitRng,
        means: &MetricTracker,
        batch: usize,
    ) -> Result<()> {
        let since = state.since_snapshot;
        self.detector = match (self.guard.spike, state.detector) {
            (Some(spike), Some(d)) if d.fits(&spike) => Some(d),
            (spike, _) => spike.map(SpikeDetector::new),
        };
        self.consecutive_skips = state.consecutive_skips;
        self.rollbacks = state.rollbacks;
        self.level = state.level;
        self.base_multiplier = state.base_multiplier;
        self.active = state.active;
        self.cooldown_left = state.cooldown_left;
        self.poisoned = state.poisoned;
        if self.snapshot_cadence().is_some() {
            self.snapshot = Some(Snapshot::take(model, rng, means, batch, None)?);
        }
        self.since_snapshot = since;
        Ok(())
    }
}
