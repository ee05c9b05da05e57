//! Polynomial decay from an initial to an end rate, optionally cycling.

use super::{check_rate, check_steps};
use crate::Result;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Keras `PolynomialDecay`.
///
/// ```text
/// cycle = false:  step' = min(step, decay_steps);  d = decay_steps
/// cycle = true:   step' = step;  d = decay_steps * max(1, ceil(step / decay_steps))
/// lr = (initial_learning_rate - end_learning_rate) * (1 - step' / d) ^ power + end_learning_rate
/// ```
///
/// Defaults (Keras): `end_learning_rate = 1e-4`, `power = 1` (linear), `cycle = false`.
/// `initial_learning_rate`, `end_learning_rate` and `power` must be finite and `>= 0`,
/// `decay_steps > 0`. Checked when the optimizer is built.
///
/// ```
/// use keel_optim::PolynomialDecay;
/// let s = PolynomialDecay::new(0.1, 10).end_learning_rate(0.0);
/// assert_eq!(s.learning_rate(5), 0.05);
/// assert_eq!(s.learning_rate(50), 0.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PolynomialDecay {
    initial_learning_rate: f32,
    decay_steps: u64,
    end_learning_rate: f32,
    power: f32,
    cycle: bool,
}

impl PolynomialDecay {
    /// Decays linearly from `initial_learning_rate` to `1e-4` over `decay_steps` steps.
    pub fn new(initial_learning_rate: f32, decay_steps: u64) -> Self {
        PolynomialDecay {
            initial_learning_rate,
            decay_steps,
            end_learning_rate: 1e-4,
            power: 1.0,
            cycle: false,
        }
    }

    /// The rate reached after `decay_steps`. Defaults to `1e-4`.
    pub fn end_learning_rate(mut self, end_learning_rate: f32) -> Self {
        self.end_learning_rate = end_learning_rate;
        self
    }

    /// The power of the polynomial. Defaults to `1.0`.
    pub fn power(mut self, power: f32) -> Self {
        self.power = power;
        self
    }

    /// Restart the decay, over a longer period, after each multiple of `decay_steps`.
    /// Defaults to `false`.
    pub fn cycle(mut self, cycle: bool) -> Self {
        self.cycle = cycle;
        self
    }

    /// The learning rate at `step`.
    pub fn learning_rate(&self, step: u64) -> f32 {
        let decay_steps = self.decay_steps as f64;
        let (step, d) = if self.cycle {
            let multiplier = if step == 0 {
                1.0
            } else {
                (step as f64 / decay_steps).ceil()
            };
            (step as f64, decay_steps * multiplier)
        } else {
            ((step as f64).min(decay_steps), decay_steps)
        };
        let (start, end) = (
            f64::from(self.initial_learning_rate),
            f64::from(self.end_learning_rate),
        );
        ((start - end) * (1.0 - step / d).powf(f64::from(self.power)) + end) as f32
    }

    pub(super) fn validate(&self) -> Result<()> {
        const NAME: &str = "polynomial_decay";
        check_rate(NAME, "initial_learning_rate", self.initial_learning_rate)?;
        check_steps(NAME, "decay_steps", self.decay_steps)?;
        check_rate(NAME, "end_learning_rate", self.end_learning_rate)?;
        check_rate(NAME, "power", self.power)
    }

    pub(super) fn fmt_args(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "initial_learning_rate={}, decay_steps={}, end_learning_rate={}, power={}, cycle={}",
            self.initial_learning_rate,
            self.decay_steps,
            self.end_learning_rate,
            self.power,
            self.cycle
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
    //   def polynomial(lr0, ds, end=1e-4, power=1.0, cycle=False, step=0):
    //       dsr = ds
    //       if cycle:
    //           dsr = ds * (1.0 if step == 0 else math.ceil(step / ds))
    //       else:
    //           step = min(step, ds)
    //       return (lr0 - end) * (1 - step / dsr) ** power + end
    //   print([round(polynomial(0.1, 10, step=s), 9) for s in [0, 1, 5, 10, 15]])
    //   print([round(polynomial(0.1, 10, end=0.01, power=2.0, step=s), 9)
    //          for s in [0, 1, 5, 10, 15]])
    //   print([round(polynomial(0.1, 10, end=0.01, power=2.0, cycle=True, step=s), 9)
    //          for s in [0, 1, 5, 10, 11, 15, 20, 25]])
    // Output:
    //   [0.1, 0.09001, 0.05005, 0.0001, 0.0001]
    //   [0.1, 0.0829, 0.0325, 0.01, 0.01]
    //   [0.1, 0.0829, 0.0325, 0.01, 0.028225, 0.015625, 0.01, 0.0125]
    fn at(s: PolynomialDecay, steps: &[u64]) -> Vec<f32> {
        steps.iter().map(|&t| s.learning_rate(t)).collect()
    }

    #[test]
    fn linear_decay_to_the_default_end_rate() {
        let got = at(PolynomialDecay::new(0.1, 10), &[0, 1, 5, 10, 15]);
        assert_close(&got, &[0.1, 0.09001, 0.05005, 0.0001, 0.0001], 1e-8);
    }

    #[test]
    fn quadratic_decay_holds_the_end_rate() {
        let s = PolynomialDecay::new(0.1, 10)
            .end_learning_rate(0.01)
            .power(2.0);
        let got = at(s, &[0, 1, 5, 10, 15]);
        assert_close(&got, &[0.1, 0.0829, 0.0325, 0.01, 0.01], 1e-8);
    }

    #[test]
    fn cycling_stretches_the_period_to_the_next_multiple() {
        let s = PolynomialDecay::new(0.1, 10)
            .end_learning_rate(0.01)
            .power(2.0)
            .cycle(true);
        let got = at(s, &[0, 1, 5, 10, 11, 15, 20, 25]);
        let expected = [0.1, 0.0829, 0.0325, 0.01, 0.028225, 0.015625, 0.01, 0.0125];
        assert_close(&got, &expected, 1e-8);
    }

    #[test]
    fn invalid_arguments_are_errors() {
        let check = |s: PolynomialDecay| Schedule::from(s).validate();
        assert!(check(PolynomialDecay::new(0.1, 0)).is_err());
        assert!(check(PolynomialDecay::new(0.1, 10).end_learning_rate(-1.0)).is_err());
        assert!(check(PolynomialDecay::new(0.1, 10).power(f32::INFINITY)).is_err());
    }
}
