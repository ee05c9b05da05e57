//! What an optimizer accepts as its learning rate: a number or a schedule.

use crate::{Error, Result, Schedule};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A constant learning rate or a [`Schedule`] of the optimizer step.
///
/// Every optimizer builder takes `impl Into<LearningRate>`, so a number and a schedule both
/// work: `Adam::new(1e-3)`, `Adam::new(CosineDecay::new(1e-3, 1000))`.
///
/// ```
/// use keel_optim::{ExponentialDecay, LearningRate};
/// # fn main() -> keel_optim::Result<()> {
/// let constant = LearningRate::from(0.01);
/// assert_eq!(constant.at(1_000), 0.01);
/// let decayed = LearningRate::from(ExponentialDecay::new(0.1, 10, 0.5));
/// decayed.validate()?;
/// assert_eq!(decayed.at(10), 0.05);
/// assert_eq!(decayed.to_string(),
///     "exponential_decay(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5, staircase=false)");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LearningRate {
    /// The same rate at every step.
    Constant(f32),
    /// A rate computed from the step.
    Schedule(Schedule),
}

impl LearningRate {
    /// The rate at `step` (the optimizer's iteration count before the step).
    pub fn at(&self, step: u64) -> f32 {
        match self {
            LearningRate::Constant(lr) => *lr,
            LearningRate::Schedule(s) => s.learning_rate(step),
        }
    }

    /// The schedule, unless the rate is constant.
    pub fn schedule(&self) -> Option<&Schedule> {
        match self {
            LearningRate::Constant(_) => None,
            LearningRate::Schedule(s) => Some(s),
        }
    }

    /// Checks the rate or the schedule's arguments.
    ///
    /// # Errors
    /// [`Error::InvalidLearningRate`] for a constant that is negative or not finite;
    /// [`Error::InvalidSchedule`] for a bad schedule argument.
    pub fn validate(&self) -> Result<()> {
        match self {
            LearningRate::Constant(lr) => check_learning_rate(*lr),
            LearningRate::Schedule(s) => s.validate(),
        }
    }
}

/// A learning rate must be finite and `>= 0`.
pub(crate) fn check_learning_rate(learning_rate: f32) -> Result<()> {
    if learning_rate.is_finite() && learning_rate >= 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidLearningRate {
            found: learning_rate,
        })
    }
}

impl From<f32> for LearningRate {
    fn from(lr: f32) -> Self {
        LearningRate::Constant(lr)
    }
}

impl From<f64> for LearningRate {
    /// Rounds to `f32`, the element type of every tensor (so `Adam::new(1e-3)` works whichever
    /// type the literal is given).
    fn from(lr: f64) -> Self {
        LearningRate::Constant(lr as f32)
    }
}

impl From<Schedule> for LearningRate {
    fn from(s: Schedule) -> Self {
        LearningRate::Schedule(s)
    }
}

impl fmt::Display for LearningRate {
    /// The number, or the schedule with its arguments.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LearningRate::Constant(lr) => write!(f, "{lr}"),
            LearningRate::Schedule(s) => write!(f, "{s}"),
        }
    }
}
