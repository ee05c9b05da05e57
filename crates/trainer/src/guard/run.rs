//! The guard's state during one `fit`: judging steps, counting skips, keeping the snapshot,
//! rolling back, and raising the learning rate again after a cooldown.

use super::snapshot::Snapshot;
use super::spike::SpikeDetector;
use super::{Guard, Policy, Rollback, Trigger};
use crate::fit::FitRng;
use crate::metrics::MetricTracker;
use crate::{Error, Result, Sequential};
use keel_optim::GradientReport;
use std::collections::BTreeSet;

/// Where training goes on after a rollback was asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Resume {
    /// From this 0-based batch of the epoch, with this learning-rate multiplier.
    At { batch: usize, lr_multiplier: f32 },
    /// `max_rollbacks` was reached: the snapshot of this batch was restored; stop.
    Exhausted { restored_to: usize },
}

/// The guard of one `fit`.
#[derive(Debug)]
pub(crate) struct GuardRun {
    pub(super) guard: Guard,
    pub(super) detector: Option<SpikeDetector>,
    pub(super) consecutive_skips: usize,
    pub(super) rollbacks: usize,
    /// The learning rate is `lr_factor^level` times normal.
    pub(super) level: i32,
    /// The optimizer's multiplier when `fit` began, which the guard's factor scales.
    pub(super) base_multiplier: f32,
    /// The settings of the last rollback (its `lr_factor` and cooldown raise the rate back).
    pub(super) active: Option<Rollback>,
    pub(super) cooldown_left: usize,
    pub(super) snapshot: Option<Snapshot>,
    pub(super) since_snapshot: usize,
    /// Batches of this epoch that failed and are skipped when replayed.
    pub(super) poisoned: BTreeSet<usize>,
}

impl GuardRun {
    pub(crate) fn new(guard: &Guard, model: &Sequential) -> Self {
        let base_multiplier = model
            .compiled
            .as_ref()
            .map_or(1.0, |c| c.optimizer.lr_multiplier());
        GuardRun {
            base_multiplier,
            guard: guard.clone(),
            detector: guard.spike.map(SpikeDetector::new),
            consecutive_skips: 0,
            rollbacks: 0,
            level: 0,
            active: None,
            cooldown_left: 0,
            snapshot: None,
            since_snapshot: 0,
            poisoned: BTreeSet::new(),
        }
    }

    /// The rollback settings that decide the snapshot cadence, if any policy rolls back.
    pub(super) fn snapshot_cadence(&self) -> Option<usize> {
        let spike = self.guard.spike.is_some().then_some(&self.guard.on_spike);
        [Some(&self.guard.on_nonfinite), spike]
            .into_iter()
            .flatten()
            .find_map(|p| match p {
                Policy::Rollback(r) => Some(r.every),
                _ => None,
            })
    }

    /// Forgets the failed batches of the last epoch and, when rolling back is possible,
    /// takes a snapshot at the first batch (so a rollback never crosses an epoch).
    pub(crate) fn begin_epoch(
        &mut self,
        model: &Sequential,
        rng: &FitRng,
        means: &MetricTracker,
    ) -> Result<()> {
        self.poisoned.clear();
        if self.snapshot_cadence().is_some() {
            self.take_snapshot(model, rng, means, 0)?;
        }
        Ok(())
    }

    fn take_snapshot(
        &mut self,
        model: &Sequential,
        rng: &FitRng,
        means: &MetricTracker,
        batch: usize,
    ) -> Result<()> {
        self.snapshot = Some(Snapshot::take(
            model,
            rng,
            means,
            batch,
            self.snapshot.take(),
        )?);
        self.since_snapshot = 0;
        Ok(())
    }

    /// Whether `batch` of this epoch failed before and is to be skipped.
    pub(crate) fn is_poisoned(&self, batch: usize) -> bool {
        self.poisoned.contains(&batch)
    }

    /// Judges a step from its loss and the optimizer's report; `None` means apply it.
    pub(crate) fn judge(&mut self, loss: f32, report: &GradientReport) -> Option<Trigger> {
        if !loss.is_finite() {
            return Some(Trigger::NonFiniteLoss { value: loss });
        }
        if !report.finite || !report.global_norm.is_finite() {
            return Some(Trigger::NonFiniteGradient);
        }
        let zscore = self.detector.as_mut()?.observe(report.global_norm)?;
        Some(Trigger::Spike {
            norm: report.global_norm,
            zscore,
        })
    }

    /// The policy for `trigger`.
    pub(crate) fn policy(&self, trigger: &Trigger) -> &Policy {
        match trigger {
            Trigger::Spike { .. } => &self.guard.on_spike,
            _ => &self.guard.on_nonfinite,
        }
    }

    /// After an applied step: ends a run of skips, counts down the cooldown (raising the
    /// learning rate one level when it ends), and takes a snapshot every `every` steps
    /// (resuming at `next_batch`).
    pub(crate) fn after_applied(
        &mut self,
        model: &mut Sequential,
        rng: &FitRng,
        means: &MetricTracker,
        next_batch: usize,
    ) -> Result<()> {
        self.consecutive_skips = 0;
        if let (Some(active), true) = (self.active, self.level > 0) {
            self.cooldown_left = self.cooldown_left.saturating_sub(1);
            if self.cooldown_left == 0 {
                self.level -= 1;
                self.cooldown_left = active.cooldown_steps;
                self.set_multiplier(model, active.lr_factor)?;
            }
        }
        self.since_snapshot += 1;
        if let Some(every) = self.snapshot_cadence() {
            if self.since_snapshot >= every {
                self.take_snapshot(model, rng, means, next_batch)?;
            }
        }
        Ok(())
    }

    /// Counts a skipped step; true when that makes more skips in a row than allowed.
    /// A skip is an incident: the next snapshot and the end of a cooldown wait for a clean
    /// run of steps again.
    pub(crate) fn after_skip(&mut self) -> bool {
        self.since_snapshot = 0;
        if let Some(active) = self.active {
            self.cooldown_left = active.cooldown_steps;
        }
        self.consecutive_skips += 1;
        self.consecutive_skips > self.guard.max_consecutive_skips
    }

    /// The most steps skipped in a row.
    pub(crate) fn skip_limit(&self) -> usize {
        self.guard.max_consecutive_skips
    }

    /// Rolls back after `failed` (a 0-based batch of this epoch) failed under `settings`:
    /// restores the snapshot, marks the batch to be skipped, and lowers the learning rate.
    /// Once `max_rollbacks` were made, restores the snapshot and reports exhaustion.
    pub(crate) fn roll_back(
        &mut self,
        settings: Rollback,
        model: &mut Sequential,
        rng: &mut FitRng,
        means: &mut MetricTracker,
        failed: usize,
    ) -> Result<Resume> {
        let snapshot = self
            .snapshot
            .as_ref()
            .expect("a snapshot is taken at the start of every epoch when rolling back");
        snapshot.restore(model, rng, means)?;
        let batch = snapshot.batch;
        if self.rollbacks >= settings.max_rollbacks {
            self.set_multiplier(model, settings.lr_factor)?;
            return Ok(Resume::Exhausted { restored_to: batch });
        }
        self.rollbacks += 1;
        self.poisoned.insert(failed);
        self.level += 1;
        self.active = Some(settings);
        self.cooldown_left = settings.cooldown_steps;
        self.since_snapshot = 0;
        let lr_multiplier = self.set_multiplier(model, settings.lr_factor)?;
        Ok(Resume::At {
            batch,
            lr_multiplier,
        })
    }

    /// Puts the learning-rate multiplier back as it was when `fit` began.
    pub(crate) fn finish(&mut self, model: &mut Sequential) -> Result<()> {
        if self.level != 0 {
            self.level = 0;
            self.set_multiplier(model, 1.0)?;
        }
        Ok(())
    }

    /// Sets the optimizer's learning-rate multiplier to `base · factor^level`; returns the
    /// guard's part, `factor^level`.
    fn set_multiplier(&self, model: &mut Sequential, factor: f32) -> Result<f32> {
        let lowered = factor.powi(self.level).max(1e-30);
        let compiled = model
            .compiled
            .as_mut()
            .ok_or(Error::NotCompiled { operation: "fit" })?;
        compiled
            .optimizer
            .set_lr_multiplier((self.base_multiplier * lowered).max(1e-30))?;
        Ok(lowered)
    }

    /// The rollbacks made so far in this `fit`.
    pub(crate) fn rollbacks(&self) -> usize {
        self.rollbacks
    }
}
