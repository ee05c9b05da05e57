//! What the guard does about a bad step: skip it, stop, or roll back.

use crate::error::invalid_option as invalid;
use crate::Result;

/// What [`Guard`](crate::Guard) does with a step whose loss or gradients are non-finite, or
/// whose gradient norm is a spike.
///
/// Whatever the policy, the offending update is never applied: the weights, the optimizer's
/// moments, its step counter and its clipping state stay as they were.
///
/// ```
/// use keel_trainer::{Guard, Policy, Rollback};
/// let guard = Guard::new()
///     .on_nonfinite(Policy::Rollback(Rollback::new().every(50).max_rollbacks(3)))
///     .on_spike(Policy::Skip);
/// assert_eq!(guard.nonfinite_policy(), &Policy::Rollback(Rollback::new().every(50).max_rollbacks(3)));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Policy {
    /// Skip the step and go on with the next batch; counted in `skipped_steps`. After
    /// [`Guard::max_consecutive_skips`](crate::Guard::max_consecutive_skips) skips in a row
    /// `fit` stops with [`Error::GuardExhausted`](crate::Error::GuardExhausted).
    Skip,
    /// End `fit` with an error naming the epoch, the step and (for a non-finite value) the
    /// layer and op where it first appeared, as Keras's `TerminateOnNaN` (which, given as a
    /// callback, turns the error into a graceful stop). The weights are those of the last
    /// applied step.
    Stop,
    /// Restore the last good in-memory snapshot (weights, optimizer state, step, RNG), skip
    /// the offending batch when it comes round again, and lower the learning rate for a while.
    Rollback(Rollback),
}

/// The settings of [`Policy::Rollback`].
///
/// A snapshot is an in-memory copy of the weights, the optimizer's state (moments, step
/// counter, clipping state), the position in the epoch, the run's RNG and the epoch's
/// running metrics. One is taken at the start of every epoch and after every `every` applied
/// steps in a row without an incident; only the latest is kept (one more copy of the weights
/// and moments in memory, whose buffers each new snapshot reuses).
///
/// On a rollback, training resumes from the snapshot: the batches since are replayed (in the
/// same order, with the same dropout masks), except the offending batch, which is skipped.
/// The learning rate is multiplied by `lr_factor` (again on every further rollback) and
/// divided by it again after each `cooldown_steps` applied steps without an incident, until
/// it is back to normal. After `max_rollbacks` rollbacks in one `fit`, the next incident
/// restores the snapshot and stops with [`Error::GuardExhausted`](crate::Error::GuardExhausted).
///
/// ```
/// use keel_trainer::Rollback;
/// let rollback = Rollback::new().every(200).lr_factor(0.5).cooldown_steps(100).max_rollbacks(10);
/// assert_eq!(rollback, Rollback::default().every(200));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rollback {
    /// Applied steps between snapshots. Defaults to 200.
    pub every: usize,
    /// Multiplies the learning rate after each rollback, in `(0, 1]`. Defaults to 0.5.
    pub lr_factor: f32,
    /// Applied steps without an incident before the learning rate is raised back by one
    /// `lr_factor`. Defaults to 100.
    pub cooldown_steps: usize,
    /// Rollbacks allowed in one `fit`. Defaults to 10.
    pub max_rollbacks: usize,
}

impl Default for Rollback {
    fn default() -> Self {
        Rollback {
            every: 200,
            lr_factor: 0.5,
            cooldown_steps: 100,
            max_rollbacks: 10,
        }
    }
}

impl Rollback {
    /// The defaults.
    pub fn new() -> Self {
        Rollback::default()
    }

    /// Sets the number of applied steps between snapshots.
    pub fn every(mut self, steps: usize) -> Self {
        self.every = steps;
        self
    }

    /// Sets the factor the learning rate is multiplied by after a rollback.
    pub fn lr_factor(mut self, factor: f32) -> Self {
        self.lr_factor = factor;
        self
    }

    /// Sets the number of incident-free steps after which the rate is raised back one level.
    pub fn cooldown_steps(mut self, steps: usize) -> Self {
        self.cooldown_steps = steps;
        self
    }

    /// Sets the number of rollbacks allowed in one `fit`.
    pub fn max_rollbacks(mut self, rollbacks: usize) -> Self {
        self.max_rollbacks = rollbacks;
        self
    }

    /// Checks every setting's range.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.every == 0 {
            return invalid("rollback every", "at least 1 step", "0".into());
        }
        if !(self.lr_factor > 0.0 && self.lr_factor <= 1.0) {
            return invalid(
                "rollback lr_factor",
                "in (0, 1]",
                self.lr_factor.to_string(),
            );
        }
        if self.cooldown_steps == 0 {
            return invalid("rollback cooldown_steps", "at least 1 step", "0".into());
        }
        Ok(())
    }
}

impl Policy {
    /// Checks the policy's settings.
    pub(crate) fn validate(&self) -> Result<()> {
        match self {
            Policy::Rollback(r) => r.validate(),
            Policy::Skip | Policy::Stop => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_rollback_settings_are_errors_naming_the_setting() {
        let cases = [
            (Rollback::new().every(0), "rollback every"),
            (Rollback::new().lr_factor(0.0), "rollback lr_factor"),
            (Rollback::new().lr_factor(1.5), "rollback lr_factor"),
            (Rollback::new().lr_factor(f32::NAN), "rollback lr_factor"),
            (Rollback::new().cooldown_steps(0), "rollback cooldown_steps"),
        ];
        for (rollback, name) in cases {
            let msg = Policy::Rollback(rollback)
                .validate()
                .unwrap_err()
                .to_string();
            assert!(msg.starts_with(name), "{msg}");
        }
        assert!(Policy::Rollback(Rollback::new().max_rollbacks(0))
            .validate()
            .is_ok());
    }
}
