//! Learning-rate schedules: pure functions of the optimizer step, with Keras's formulas
//! (`keras/src/optimizers/schedules/learning_rate_schedule.py`).
//!
//! A schedule is plain serde data, so a checkpoint stores the schedule and the step, never a
//! learning rate. Pass one wherever a learning rate is accepted ([`LearningRate`]); the
//! optimizer evaluates it at its iteration count before incrementing it, as Keras does, so
//! the first step uses `learning_rate(0)`.
//!
//! ```
//! use keel_optim::{Adam, CosineDecay, Optimizer};
//! # fn main() -> keel_optim::Result<()> {
//! let opt = Optimizer::try_from(Adam::new(CosineDecay::new(1e-3, 1000)))?;
//! assert_eq!(opt.learning_rate(), 1e-3); // step 0
//! # Ok(())
//! # }
//! ```

mod cosine;
mod cosine_restarts;
mod exponential;
mod inverse_time;
mod piecewise;
mod polynomial;

pub use cosine::CosineDecay;
pub use cosine_restarts::CosineDecayRestarts;
pub use exponential::ExponentialDecay;
pub use inverse_time::InverseTimeDecay;
pub use piecewise::PiecewiseConstantDecay;
pub use polynomial::PolynomialDecay;

use crate::{Error, LearningRate, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// One of the built-in learning-rate schedules, as serializable data.
///
/// Build one from a schedule struct with `.into()`, or pass the struct itself to an
/// optimizer builder. [`learning_rate`](Schedule::learning_rate) is a pure function of the
/// step; [`validate`](Schedule::validate) runs when the optimizer is built.
///
/// ```
/// use keel_optim::{ExponentialDecay, Schedule};
/// # fn main() -> keel_optim::Result<()> {
/// let s: Schedule = ExponentialDecay::new(0.1, 10, 0.5).into();
/// s.validate()?;
/// assert_eq!(s.learning_rate(10), 0.05);
/// assert_eq!(s.name(), "exponential_decay");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Schedule {
    /// See [`ExponentialDecay`].
    ExponentialDecay(ExponentialDecay),
    /// See [`PiecewiseConstantDecay`].
    PiecewiseConstantDecay(PiecewiseConstantDecay),
    /// See [`PolynomialDecay`].
    PolynomialDecay(PolynomialDecay),
    /// See [`InverseTimeDecay`].
    InverseTimeDecay(InverseTimeDecay),
    /// See [`CosineDecay`].
    CosineDecay(CosineDecay),
    /// See [`CosineDecayRestarts`].
    CosineDecayRestarts(CosineDecayRestarts),
}

/// Calls `$method` on whichever schedule the enum holds.
macro_rules! dispatch {
    ($self:expr, $s:ident => $body:expr) => {
        match $self {
            Schedule::ExponentialDecay($s) => $body,
            Schedule::PiecewiseConstantDecay($s) => $body,
            Schedule::PolynomialDecay($s) => $body,
            Schedule::InverseTimeDecay($s) => $body,
            Schedule::CosineDecay($s) => $body,
            Schedule::CosineDecayRestarts($s) => $body,
        }
    };
}

impl Schedule {
    /// The learning rate at `step` (0-based: the optimizer's iteration count before the step).
    pub fn learning_rate(&self, step: u64) -> f32 {
        dispatch!(self, s => s.learning_rate(step))
    }

    /// Checks the schedule's arguments.
    ///
    /// # Errors
    /// [`Error::InvalidSchedule`] naming the argument, what is accepted and what was found.
    pub fn validate(&self) -> Result<()> {
        dispatch!(self, s => s.validate())
    }

    /// The schedule's snake-case name, such as `"cosine_decay"`.
    pub fn name(&self) -> &'static str {
        match self {
            Schedule::ExponentialDecay(_) => "exponential_decay",
            Schedule::PiecewiseConstantDecay(_) => "piecewise_constant_decay",
            Schedule::PolynomialDecay(_) => "polynomial_decay",
            Schedule::InverseTimeDecay(_) => "inverse_time_decay",
            Schedule::CosineDecay(_) => "cosine_decay",
            Schedule::CosineDecayRestarts(_) => "cosine_decay_restarts",
        }
    }
}

impl fmt::Display for Schedule {
    /// `name(argument=value, …)`, such as `exponential_decay(initial_learning_rate=0.1, …)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.name())?;
        dispatch!(self, s => s.fmt_args(f))?;
        write!(f, ")")
    }
}

/// `From<X> for Schedule` and `From<X> for LearningRate` for every schedule struct.
macro_rules! conversions {
    ($($ty:ident),*) => {$(
        impl From<$ty> for Schedule {
            fn from(s: $ty) -> Self {
                Schedule::$ty(s)
            }
        }
        impl From<$ty> for LearningRate {
            fn from(s: $ty) -> Self {
                LearningRate::Schedule(Schedule::$ty(s))
            }
        }
    )*};
}

conversions!(
    ExponentialDecay,
    PiecewiseConstantDecay,
    PolynomialDecay,
    InverseTimeDecay,
    CosineDecay,
    CosineDecayRestarts
);

/// The error for argument `name` of `schedule`.
fn invalid(
    schedule: &'static str,
    name: &'static str,
    expected: &'static str,
    found: impl fmt::Debug,
) -> Error {
    Error::InvalidSchedule {
        schedule,
        name,
        expected,
        found: format!("{found:?}"),
    }
}

/// A learning rate (or a rate-like argument) must be finite and `>= 0`.
fn check_rate(schedule: &'static str, name: &'static str, value: f32) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(invalid(schedule, name, "a finite number >= 0", value))
    }
}

/// A number of steps to divide by must be `> 0`.
fn check_steps(schedule: &'static str, name: &'static str, steps: u64) -> Result<()> {
    if steps > 0 {
        Ok(())
    } else {
        Err(invalid(schedule, name, "an integer > 0", steps))
    }
}

/// A fraction such as `alpha` must lie in `[0, 1]`.
fn check_fraction(schedule: &'static str, name: &'static str, value: f32) -> Result<()> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(invalid(schedule, name, "a number in [0, 1]", value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_display_their_arguments() {
        let s: Schedule = CosineDecay::new(1e-3, 1000).into();
        assert_eq!(
            s.to_string(),
            "cosine_decay(initial_learning_rate=0.001, decay_steps=1000, alpha=0)"
        );
        let s: Schedule = PiecewiseConstantDecay::new([10, 20], [1.0, 0.5, 0.1]).into();
        assert_eq!(
            s.to_string(),
            "piecewise_constant_decay(boundaries=[10, 20], values=[1.0, 0.5, 0.1])"
        );
    }

    #[test]
    fn schedules_round_trip_through_serde() {
        let all: Vec<Schedule> = vec![
            ExponentialDecay::new(0.1, 10, 0.5).staircase(true).into(),
            PiecewiseConstantDecay::new([10, 20], [1.0, 0.5, 0.1]).into(),
            PolynomialDecay::new(0.1, 10).power(2.0).cycle(true).into(),
            InverseTimeDecay::new(0.1, 10, 0.5).into(),
            CosineDecay::new(0.0, 100).warmup(0.1, 10).alpha(0.1).into(),
            CosineDecayRestarts::new(0.1, 10)
                .t_mul(1.5)
                .m_mul(0.5)
                .into(),
        ];
        let json = serde_json::to_string(&all).unwrap();
        assert_eq!(serde_json::from_str::<Vec<Schedule>>(&json).unwrap(), all);
        let config = bincode::config::standard();
        let bytes = bincode::serde::encode_to_vec(&all, config).unwrap();
        let (back, _): (Vec<Schedule>, _) =
            bincode::serde::decode_from_slice(&bytes, config).unwrap();
        assert_eq!(back, all);
    }

    #[test]
    fn error_messages_say_expected_and_found() {
        let err = Schedule::from(ExponentialDecay::new(0.1, 0, 0.5))
            .validate()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid exponential_decay argument `decay_steps`: expected an integer > 0, found 0"
        );
    }
}
