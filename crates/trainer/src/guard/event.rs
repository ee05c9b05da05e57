//! The record of what the guard saw and did, kept in the `History` and quoted in errors.

use super::Location;
use std::fmt;

/// What made the guard act on a step.
///
/// Equality compares the numbers bit for bit, so a NaN loss equals itself (and a History
/// with one can equal another).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum Trigger {
    /// The loss (regularization included) was NaN or infinite.
    NonFiniteLoss {
        /// The loss.
        value: f32,
    },
    /// The loss was finite but some gradient element was NaN or infinite.
    NonFiniteGradient,
    /// The global gradient norm was a [spike](crate::Spike).
    Spike {
        /// The global gradient norm before clipping.
        norm: f32,
        /// Its z-score over the window.
        zscore: f32,
    },
    /// The loss and gradients were finite, but the applied update left a weight or an
    /// optimizer slot non-finite (a learning rate or weights near `f32::MAX`). The step
    /// cannot be skipped after the fact: a rollback undoes it, any other policy stops.
    NonFiniteUpdate {
        /// The parameter's name.
        param: String,
        /// `"weights"`, or the optimizer slot, such as ``"slot `v`"``.
        part: String,
    },
}

impl PartialEq for Trigger {
    fn eq(&self, other: &Self) -> bool {
        use Trigger::*;
        match (self, other) {
            (NonFiniteLoss { value: a }, NonFiniteLoss { value: b }) => a.to_bits() == b.to_bits(),
            (NonFiniteGradient, NonFiniteGradient) => true,
            (NonFiniteUpdate { param: a, part: p }, NonFiniteUpdate { param: b, part: q }) => {
                (a, p) == (b, q)
            }
            (Spike { norm: a, zscore: z }, Spike { norm: b, zscore: w }) => {
                (a.to_bits(), z.to_bits()) == (b.to_bits(), w.to_bits())
            }
            _ => false,
        }
    }
}

/// What the guard did about a [`Trigger`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum GuardAction {
    /// The step was skipped ([`Policy::Skip`](crate::Policy::Skip)).
    Skipped,
    /// The last snapshot was restored ([`Policy::Rollback`](crate::Policy::Rollback)).
    RolledBack {
        /// The 0-based batch of the epoch training resumed from.
        to_batch: usize,
        /// The learning-rate multiplier from then on.
        lr_multiplier: f32,
    },
    /// Training stopped. `restored_to` is the 0-based batch of the epoch whose snapshot the
    /// weights were restored to, if any; otherwise they are those of the last applied step.
    Stopped {
        /// The snapshot's batch, when the weights were restored to one.
        restored_to: Option<usize>,
    },
}

/// One intervention of the guard: where, why, and what it did.
///
/// `epoch` and `batch` are 0-based, as in callbacks and the `History`; `Display` prints them
/// 1-based, as the progress bar counts.
///
/// ```
/// use keel_trainer::{GuardAction, GuardEvent, Trigger};
/// let event = GuardEvent {
///     epoch: 0,
///     batch: 3,
///     trigger: Trigger::NonFiniteLoss { value: f32::INFINITY },
///     location: None,
///     action: GuardAction::RolledBack { to_batch: 0, lr_multiplier: 0.5 },
/// };
/// assert_eq!(
///     event.to_string(),
///     "epoch 1, step 4: the loss became non-finite (inf); \
///      rolled back to the snapshot taken before step 1, learning rate x 0.5"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GuardEvent {
    /// The epoch (0-based).
    pub epoch: usize,
    /// The batch within the epoch (0-based).
    pub batch: usize,
    /// Why the guard acted.
    pub trigger: Trigger,
    /// Where the first non-finite value appeared, for a non-finite trigger.
    pub location: Option<Location>,
    /// What the guard did.
    pub action: GuardAction,
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::NonFiniteLoss { value } => {
                write!(f, "the loss became non-finite ({value})")
            }
            Trigger::NonFiniteGradient => f.write_str("the gradients became non-finite"),
            Trigger::NonFiniteUpdate { param, part } => {
                write!(f, "the update made the {part} of `{param}` non-finite")
            }
            Trigger::Spike { norm, zscore } => write!(
                f,
                "the gradient norm spiked to {norm:.4e} (z-score {zscore:.1})"
            ),
        }
    }
}

impl fmt::Display for GuardAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GuardAction::Skipped => f.write_str("step skipped"),
            GuardAction::RolledBack {
                to_batch,
                lr_multiplier,
            } => write!(
                f,
                "rolled back to the snapshot taken before step {}, learning rate x {lr_multiplier}",
                to_batch + 1
            ),
            GuardAction::Stopped {
                restored_to: Some(b),
            } => write!(
                f,
                "stopped; the weights were restored to the last good snapshot (taken before step {})",
                b + 1
            ),
            GuardAction::Stopped { restored_to: None } => {
                f.write_str("stopped; the weights are those of the last applied step")
            }
        }
    }
}

impl fmt::Display for GuardEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "epoch {}, step {}: {}",
            self.epoch + 1,
            self.batch + 1,
            self.trigger
        )?;
        if let Some(at) = &self.location {
            write!(f, ", first in {at}")?;
        }
        write!(f, "; {}", self.action)
    }
}
