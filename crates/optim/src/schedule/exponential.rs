//! Exponential decay: `initial_learning_rate * decay_rate ^ (step / decay_steps)`.

use super::{check_rate, check_steps};
use crate::Result;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Keras `ExponentialDecay`: the rate is multiplied by `decay_rate` every `decay_steps` steps.
///
/// ```text
/// p  = step / decay_steps              (floor(step / decay_steps) when staircase)
/// lr = initial_learning_rate * decay_rate ^ p
/// ```
///
/// Arguments: `initial_learning_rate` finite and `>= 0`, `decay_steps > 0`, `decay_rate`
/// finite and `>= 0`; `staircase` defaults to `false`. They are checked when the optimizer is
/// built ([`Schedule::validate`](crate::Schedule::validate)).
///
/// ```
/// use keel_optim::ExponentialDecay;
/// let s = ExponentialDecay::new(0.1, 10, 0.5);
/// assert_eq!(s.learning_rate(0), 0.1);
/// assert_eq!(s.learning_rate(10), 0.05);
/// assert_eq!(s.staircase(true).learning_rate(19), 0.05);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExponentialDecay {
    initial_learning_rate: f32,
    decay_steps: u64,
    decay_rate: f32,
    staircase: bool,
}

impl ExponentialDecay {
    /// Decays from `initial_learning_rate` by a factor `decay_rate` per `decay_steps` steps.
    pub fn new(initial_learning_rate: f32, decay_steps: u64, decay_rate: f32) -> Self {
        ExponentialDecay {
            initial_learning_rate,
            decay_steps,
            decay_rate,
            staircase: false,
        }
    }

    /// Decay at discrete intervals (integer division of the step). Defaults to `false`.
    pub fn staircase(mut self, staircase: bool) -> Self {
        self.staircase = staircase;
        self
    }

    /// The learning rate at `step`.
    pub fn learning_rate(&self, step: u64) -> f32 {
        let mut p = step as f64 / self.decay_steps as f64;
        if self.staircase {
            p = p.floor();
        }
        (f64::from(self.initial_learning_rate) * f64::from(self.decay_rate).powf(p)) as f32
    }

    pub(super) fn validate(&self) -> Result<()> {
        const NAME: &str = "exponential_decay";
        check_rate(NAME, "initial_learning_rate", self.initial_learning_rate)?;
        check_steps(NAME, "decay_steps", self.decay_steps)?;
        check_rate(NAME, "decay_rate", self.decay_rate)
    }

    pub(super) fn fmt_args(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "initial_learning_rate={}, decay_steps={}, decay_rate={}, staircase={}",
            self.initial_learning_rate, self.decay_steps, self.decay_rate, self.staircase
        )
    }
}

#[cfg(test)]
// The expected values are the script's output pasted verbatim, beyond f32 precision.
#[allow(clippy::excessive_precision)]
mod tests {
    use super::*;
    use crate::testing::assert_close;
    use crate::{Error, Schedule};

    // python3 (Keras's formula with plain floats):
    //   import math
    //   def exponential(lr0, ds, rate, staircase, step):
    //       p = step / ds
    //       if staircase: p = math.floor(p)
    //       return lr0 * rate ** p
    //   steps = [0, 1, 5, 10, 15, 25, 40]
    //   print([round(exponential(0.1, 10, 0.5, False, s), 9) for s in steps])
    //   print([round(exponential(0.1, 10, 0.5, True, s), 9) for s in steps])
    // Output:
    //   [0.1, 0.093303299, 0.070710678, 0.05, 0.035355339, 0.01767767, 0.00625]
    //   [0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.00625]
    const STEPS: [u64; 7] = [0, 1, 5, 10, 15, 25, 40];

    fn at(s: ExponentialDecay) -> Vec<f32> {
        STEPS.iter().map(|&t| s.learning_rate(t)).collect()
    }

    #[test]
    fn continuous_decay_matches_keras() {
        let expected = [
            0.1,
            0.093303299,
            0.070710678,
            0.05,
            0.035355339,
            0.01767767,
            0.00625,
        ];
        assert_close(&at(ExponentialDecay::new(0.1, 10, 0.5)), &expected, 1e-8);
    }

    #[test]
    fn staircase_decays_in_steps() {
        let expected = [0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.00625];
        let s = ExponentialDecay::new(0.1, 10, 0.5).staircase(true);
        assert_close(&at(s), &expected, 1e-8);
    }

    #[test]
    fn invalid_arguments_are_errors() {
        let check = |s: ExponentialDecay| Schedule::from(s).validate();
        assert!(check(ExponentialDecay::new(0.1, 10, 0.5)).is_ok());
        assert!(matches!(
            check(ExponentialDecay::new(0.1, 0, 0.5)),
            Err(Error::InvalidSchedule {
                name: "decay_steps",
                ..
            })
        ));
        assert_eq!(
            check(ExponentialDecay::new(0.1, 10, -0.5))
                .unwrap_err()
                .to_string(),
            "invalid exponential_decay argument `decay_rate`: expected a finite number >= 0, \
             found -0.5"
        );
        assert!(check(ExponentialDecay::new(-0.1, 10, 0.5)).is_err());
    }
}
