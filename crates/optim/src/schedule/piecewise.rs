//! Piecewise constant decay: fixed rates between step boundaries.

use super::{check_rate, invalid};
use crate::Result;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Keras `PiecewiseConstantDecay`: `values[0]` while `step <= boundaries[0]`, `values[i]`
/// while `boundaries[i-1] < step <= boundaries[i]`, and `values[n]` after `boundaries[n-1]`.
///
/// Arguments: `values` has one more element than `boundaries`, `boundaries` are strictly
/// increasing, every value is finite and `>= 0`. Checked when the optimizer is built.
///
/// ```
/// use keel_optim::PiecewiseConstantDecay;
/// // 1.0 for the first 101 steps (0..=100), 0.5 for the next 10, then 0.1.
/// let s = PiecewiseConstantDecay::new([100, 110], [1.0, 0.5, 0.1]);
/// assert_eq!(s.learning_rate(100), 1.0);
/// assert_eq!(s.learning_rate(101), 0.5);
/// assert_eq!(s.learning_rate(111), 0.1);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PiecewiseConstantDecay {
    boundaries: Vec<u64>,
    values: Vec<f32>,
}

impl PiecewiseConstantDecay {
    /// The rates `values` on the intervals that `boundaries` delimit.
    pub fn new(boundaries: impl Into<Vec<u64>>, values: impl Into<Vec<f32>>) -> Self {
        PiecewiseConstantDecay {
            boundaries: boundaries.into(),
            values: values.into(),
        }
    }

    /// The learning rate at `step`.
    ///
    /// # Panics
    /// If `values` is empty: [`validate`](crate::Schedule::validate), which the optimizer runs
    /// when it is built, rejects that.
    pub fn learning_rate(&self, step: u64) -> f32 {
        // The number of boundaries strictly below `step` is the index of its interval.
        let i = self.boundaries.partition_point(|&b| b < step);
        self.values[i.min(self.values.len() - 1)]
    }

    pub(super) fn validate(&self) -> Result<()> {
        const NAME: &str = "piecewise_constant_decay";
        let (b, v) = (self.boundaries.len(), self.values.len());
        if v != b + 1 {
            return Err(invalid(
                NAME,
                "values",
                "one more value than boundaries",
                format_args!("{v} values for {b} boundaries"),
            ));
        }
        if let Some(w) = self.boundaries.windows(2).find(|w| w[0] >= w[1]) {
            return Err(invalid(
                NAME,
                "boundaries",
                "strictly increasing steps",
                format_args!("{} followed by {}", w[0], w[1]),
            ));
        }
        self.values
            .iter()
            .try_for_each(|&value| check_rate(NAME, "values", value))
    }

    pub(super) fn fmt_args(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "boundaries={:?}, values={:?}",
            self.boundaries, self.values
        )
    }
}

#[cfg(test)]
// The expected values are the script's output pasted verbatim, beyond f32 precision.
#[allow(clippy::excessive_precision)]
mod tests {
    use super::*;
    use crate::Schedule;

    // python3 (Keras's definition):
    //   def piecewise(b, v, step):
    //       if step <= b[0]: return v[0]
    //       for lo, hi, val in zip(b[:-1], b[1:], v[1:-1]):
    //           if lo < step <= hi: return val
    //       return v[-1]
    //   print([piecewise([10, 20], [1.0, 0.5, 0.1], s) for s in [0, 9, 10, 11, 20, 21, 100]])
    // Output: [1.0, 1.0, 1.0, 0.5, 0.5, 0.1, 0.1]
    #[test]
    fn boundaries_belong_to_the_interval_they_close() {
        let s = PiecewiseConstantDecay::new([10, 20], [1.0, 0.5, 0.1]);
        let got: Vec<f32> = [0, 9, 10, 11, 20, 21, 100]
            .iter()
            .map(|&t| s.learning_rate(t))
            .collect();
        assert_eq!(got, [1.0, 1.0, 1.0, 0.5, 0.5, 0.1, 0.1]);
    }

    #[test]
    fn no_boundaries_is_a_constant() {
        let s = PiecewiseConstantDecay::new([], [0.3]);
        assert!(Schedule::from(s.clone()).validate().is_ok());
        assert_eq!(s.learning_rate(1_000_000), 0.3);
    }

    #[test]
    fn mismatched_lengths_are_an_error() {
        let err = Schedule::from(PiecewiseConstantDecay::new([10, 20], [1.0, 0.5]))
            .validate()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid piecewise_constant_decay argument `values`: expected one more value than \
             boundaries, found 2 values for 2 boundaries"
        );
    }

    #[test]
    fn non_increasing_boundaries_are_an_error() {
        let err = Schedule::from(PiecewiseConstantDecay::new([10, 10], [1.0, 0.5, 0.1]))
            .validate()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid piecewise_constant_decay argument `boundaries`: expected strictly \
             increasing steps, found 10 followed by 10"
        );
    }

    #[test]
    fn negative_values_are_an_error() {
        let s = PiecewiseConstantDecay::new([10], [1.0, -0.5]);
        assert!(Schedule::from(s).validate().is_err());
    }
}
