//! Copies of an optimizer's training state, to roll back to or to store in a checkpoint.

use super::{check_lr_multiplier, Optimizer};
use crate::learning_rate::check_learning_rate;
use crate::{ClipState, Error, LearningRate, OptimizerState, Result};
use serde::{Deserialize, Serialize};

/// Everything an [`Optimizer`] changes while training, copied: the step counter, each
/// parameter's slots (Adam's moments, …), the clipping state (AutoClip's history, ZClip's
/// averages), the learning-rate multiplier and, for a constant learning rate, its current
/// value (callbacks such as `ReduceLROnPlateau` change it). A schedule is configuration, not
/// state: it is not in the snapshot, and its position is the step counter.
///
/// Serializable with serde (tensors as a shape and a flat `Vec<f32>`), so a checkpoint can
/// store it; [`Optimizer::restore`] checks that it fits the optimizer.
///
/// ```
/// use keel_autograd::{tensor, Gradients, Param};
/// use keel_optim::{Adam, Optimizer};
/// # fn main() -> keel_optim::Result<()> {
/// let mut opt = Optimizer::try_from(Adam::new(0.1))?;
/// let mut w = Param::new(tensor(&[2], vec![1.0, 2.0]));
/// let mut step = |opt: &mut Optimizer, w: &mut Param| {
///     let mut grads = Gradients::default();
///     grads.insert(w.id(), tensor(&[2], vec![0.5, -0.5]));
///     opt.step([("w".to_string(), w)], &mut grads).map(|_| ())
/// };
/// step(&mut opt, &mut w)?;
/// let saved = opt.snapshot();
/// let weights = w.value().clone();
/// step(&mut opt, &mut w)?;
/// let after_two = w.value().clone();
/// // Roll back and replay: the same update, bit for bit.
/// opt.restore(&saved)?;
/// w.set_value(weights);
/// assert_eq!(opt.iterations(), 1);
/// step(&mut opt, &mut w)?;
/// assert_eq!(w.value(), &after_two);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimizerSnapshot {
    rule: String,
    state: OptimizerState,
    learning_rate: Option<f32>,
    lr_multiplier: f32,
}

impl OptimizerSnapshot {
    /// The name of the rule the snapshot was taken from, such as `"adam"`.
    pub fn rule(&self) -> &str {
        &self.rule
    }

    /// The step counter, slots and clipping state.
    pub fn state(&self) -> &OptimizerState {
        &self.state
    }

    /// The step counter.
    pub fn iterations(&self) -> u64 {
        self.state.iterations
    }

    /// The constant learning rate at the time (before the multiplier); `None` when a
    /// schedule drove the rate.
    pub fn learning_rate(&self) -> Option<f32> {
        self.learning_rate
    }

    /// The learning-rate multiplier at the time.
    pub fn lr_multiplier(&self) -> f32 {
        self.lr_multiplier
    }
}

impl Optimizer {
    /// A copy of the training state (see [`OptimizerSnapshot`]).
    pub fn snapshot(&self) -> OptimizerSnapshot {
        OptimizerSnapshot {
            rule: self.rule.name().to_string(),
            state: self.state.clone(),
            learning_rate: match self.learning_rate {
                LearningRate::Constant(lr) => Some(lr),
                LearningRate::Schedule(_) => None,
            },
            lr_multiplier: self.lr_multiplier,
        }
    }

    /// Puts the optimizer back in the state of `snapshot`: step counter, slots, clipping
    /// state, multiplier and (for a constant rate) learning rate. Slot shapes are checked
    /// against the parameters at the next step ([`Error::StateShapeMismatch`]).
    ///
    /// # Errors
    /// Nothing changes when an error is returned:
    /// - [`Error::SnapshotMismatch`] if the snapshot comes from another rule, holds the state
    ///   of another clipping mode (or more history than the mode keeps, or non-finite
    ///   values), or has a constant learning rate where this optimizer has a schedule or the
    ///   other way round;
    /// - [`Error::InvalidLrMultiplier`] or [`Error::InvalidLearningRate`] for a corrupt value;
    /// - [`Error::InvalidSlotValue`] for a slot value that is NaN, infinite, or negative
    ///   where the rule needs it `>= 0` (see [`SlotSpec`](crate::SlotSpec)).
    pub fn restore(&mut self, snapshot: &OptimizerSnapshot) -> Result<()> {
        if snapshot.rule != self.rule.name() {
            return Err(Error::SnapshotMismatch {
                expected: format!("the rule `{}`", self.rule.name()),
                found: format!("the rule `{}`", snapshot.rule),
            });
        }
        check_lr_multiplier(snapshot.lr_multiplier)?;
        self.check_restorable(&snapshot.state)?;
        self.check_clip_state(&snapshot.state.clip)?;
        match (&self.learning_rate, snapshot.learning_rate) {
            (LearningRate::Constant(_), Some(lr)) => check_learning_rate(lr)?,
            (LearningRate::Schedule(_), None) => {}
            (LearningRate::Constant(_), None) => {
                return Err(Error::SnapshotMismatch {
                    expected: "a constant learning rate".into(),
                    found: "a scheduled one".into(),
                })
            }
            (LearningRate::Schedule(s), Some(lr)) => {
                return Err(Error::SnapshotMismatch {
                    expected: format!("the schedule `{}`", s.name()),
                    found: format!("the constant learning rate {lr}"),
                })
            }
        }
        if let (LearningRate::Constant(lr), Some(saved)) =
            (&mut self.learning_rate, snapshot.learning_rate)
        {
            *lr = saved;
        }
        self.state.clone_from(&snapshot.state);
        self.lr_multiplier = snapshot.lr_multiplier;
        Ok(())
    }

    fn check_clip_state(&self, state: &ClipState) -> Result<()> {
        let fits = state.fits(self.clip.as_ref())
            && match (state, self.clip) {
                (ClipState::AutoClip(s), Some(crate::Clip::AutoClip(c))) => s.fits(&c),
                (ClipState::ZClip(s), Some(crate::Clip::ZClip(c))) => s.fits(&c),
                _ => true,
            };
        if fits {
            return Ok(());
        }
        let expected = match &self.clip {
            Some(clip) => format!("state for the clipping mode `{clip}`"),
            None => "no clipping state".into(),
        };
        Err(Error::SnapshotMismatch {
            expected,
            found: state.name().to_string(),
        })
    }
}

#[cfg(test)]
mod tests;
