//! Inverse time decay: `initial_learning_rate / (1 + decay_rate * step / decay_steps)`.

use super::{check_rate, check_steps};
use crate::Result;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Keras `InverseTimeDecay`.
///
/// ```text
/// p  = step / decay_steps              (floor(step / decay_steps) when staircase)
/// lr = initial_learning_rate / (1 + decay_rate * p)
/// ```
///
/// Arguments: `initial_learning_rate` finite and `>= 0`, `decay_steps > 0`, `decay_rate`
/// finite and `>= 0`; `staircase` defaults to `false`. Checked when the optimizer is built.
///
/// ```
/// use keel_optim::InverseTimeDecay;
/// let s = InverseTimeDecay::new(0.1, 10, 1.0);
/// assert_eq!(s.learning_rate(0), 0.1);
/// assert_eq!(s.learning_rate(10), 0.05);
/// assert_eq!(s.staircase(true).learning_rate(9), 0.1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct InverseTimeDecay {
    initial_learning_rate: f32,
    decay_steps: u64,
    decay_rate: f32,
    staircase: bool,
}

impl InverseTimeDecay {
    /// Decays from `initial_learning_rate` as `1 / (1 + decay_rate * step / decay_steps)`.
    pub fn new(initial_learning_rate: f32, decay_steps: u64, decay_rate: f32) -> Self {
        InverseTimeDecay {
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
        (f64::from(self.initial_learning_rate) / (1.0 + f64::from(self.decay_rate) * p)) as f32
    }

    pub(super) fn validate(&self) -> Result<()> {
        const NAME: &str = "inverse_time_decay";
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
    use crate::Schedule;

    // python3 (Keras's formula with plain floats):
    //   import math
    //   def inverse_time(lr0, ds, rate, staircase, step):
    //       p = step / ds
    //       if staircase: p = math.floor(p)
    //       return lr0 / (1 + rate * p)
    //   steps = [0, 1, 5, 10, 15, 25, 40]
    //   print([round(inverse_time(0.1, 10, 0.5, False, s), 9) for s in steps])
    //   print([round(inverse_time(0.1, 10, 0.5, True, s), 9) for s in steps])
    // Output:
    //   [0.1, 0.095238095, 0.08, 0.066666667, 0.057142857, 0.044444444, 0.033333333]
    //   [0.1, 0.1, 0.1, 0.066666667, 0.066666667, 0.05, 0.033333333]
    const STEPS: [u64; 7] = [0, 1, 5, 10, 15, 25, 40];

    fn at(s: InverseTimeDecay) -> Vec<f32> {
        STEPS.iter().map(|&t| s.learning_rate(t)).collect()
    }

    #[test]
    fn continuous_decay_matches_keras() {
        let expected = [
            0.1,
            0.095238095,
            0.08,
            0.066666667,
            0.057142857,
            0.044444444,
            0.033333333,
        ];
        assert_close(&at(InverseTimeDecay::new(0.1, 10, 0.5)), &expected, 1e-8);
    }

    #[test]
    fn staircase_decays_in_steps() {
        let expected = [0.1, 0.1, 0.1, 0.066666667, 0.066666667, 0.05, 0.033333333];
        let s = InverseTimeDecay::new(0.1, 10, 0.5).staircase(true);
        assert_close(&at(s), &expected, 1e-8);
    }

    #[test]
    fn invalid_arguments_are_errors() {
        let check = |s: InverseTimeDecay| Schedule::from(s).validate();
        assert!(check(InverseTimeDecay::new(0.1, 0, 0.5)).is_err());
        assert!(check(InverseTimeDecay::new(0.1, 10, -1.0)).is_err());
        assert!(check(InverseTimeDecay::new(f32::NAN, 10, 1.0)).is_err());
    }
}
