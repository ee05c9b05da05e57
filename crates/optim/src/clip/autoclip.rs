//! AutoClip: global-norm clipping at a percentile of the history of norms.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fmt;

/// AutoClip (Seetharaman, Wichern, Pardo & Le Roux, 2020, "AutoClip: Adaptive Gradient
/// Clipping for Source Separation Networks", arXiv:2007.14469).
///
/// Each step appends the global gradient norm to a history, then clips the gradients to a
/// global norm of the `percentile`-th percentile of that history (the current norm
/// included), as the paper's reference code does (`pseeth/autoclip`: append, then
/// `np.percentile`, then `clip_grad_norm_`):
///
/// ```text
/// history.push(N)
/// max = percentile(history, p)      // linear interpolation between ranks, numpy's default
/// g  <- g * max / (N + 1e-6)        when that factor is < 1
/// ```
///
/// The paper keeps every norm since the start; Keel keeps the most recent `history` norms
/// (10 000 by default: 40 kB, and the recent past is what the threshold should track), with a
/// sorted copy so the percentile costs no sort per step. A NaN or infinite norm is neither
/// recorded nor clipped.
///
/// Defaults: `history = 10_000`. `percentile` must be in `[0, 100]` (the paper recommends
/// 10), `history >= 1`.
///
/// ```
/// use keel_optim::{AutoClip, Clipping, Optimizer, Sgd};
/// # fn main() -> keel_optim::Result<()> {
/// let opt = Optimizer::try_from(Sgd::new(0.1).clip(AutoClip::new(10.0).history(1000)))?;
/// assert_eq!(opt.clip().unwrap().to_string(), "autoclip(percentile=10, history=1000)");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AutoClip {
    percentile: f32,
    history: usize,
}

impl AutoClip {
    /// Clips at `percentile` (in `[0, 100]`) of the last 10 000 global norms.
    pub fn new(percentile: f32) -> Self {
        AutoClip {
            percentile,
            history: 10_000,
        }
    }

    /// How many recent global norms the percentile is taken over. Defaults to `10_000`.
    pub fn history(mut self, history: usize) -> Self {
        self.history = history;
        self
    }

    pub(super) fn validate(&self) -> Result<()> {
        if !(0.0..=100.0).contains(&self.percentile) {
            return Err(Error::InvalidClipParameter {
                clip: "autoclip",
                name: "percentile",
                expected: "a number in [0, 100]",
                found: self.percentile,
            });
        }
        if self.history == 0 {
            return Err(Error::InvalidClipParameter {
                clip: "autoclip",
                name: "history",
                expected: "an integer >= 1",
                found: 0.0,
            });
        }
        Ok(())
    }
}

impl fmt::Display for AutoClip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "autoclip(percentile={}, history={})",
            self.percentile, self.history
        )
    }
}

/// AutoClip's memory: the most recent global gradient norms, oldest first.
///
/// Serialized as that list alone; the sorted copy used for percentiles is rebuilt on demand.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AutoClipState {
    norms: VecDeque<f32>,
    #[serde(skip)]
    sorted: Vec<f32>,
}

impl PartialEq for AutoClipState {
    /// Equal when the histories are: the sorted copy is a cache.
    fn eq(&self, other: &Self) -> bool {
        self.norms == other.norms
    }
}

impl AutoClipState {
    /// The recorded global norms, oldest first.
    pub fn norms(&self) -> impl ExactSizeIterator<Item = f32> + '_ {
        self.norms.iter().copied()
    }

    /// Whether a history of this length can belong to `config`.
    pub(crate) fn fits(&self, config: &AutoClip) -> bool {
        self.norms.len() <= config.history && self.norms.iter().all(|n| n.is_finite())
    }

    /// Records `norm` (if finite) and returns the clipping threshold: the configured
    /// percentile of the history. `None` for a non-finite norm, which is not recorded.
    pub(super) fn threshold(&mut self, config: &AutoClip, norm: f64) -> Option<f64> {
        if !norm.is_finite() {
            return None;
        }
        if self.sorted.len() != self.norms.len() {
            self.sorted = self.norms.iter().copied().collect();
            self.sorted.sort_by(f32::total_cmp);
        }
        while self.norms.len() >= config.history {
            let oldest = self.norms.pop_front().expect("history: not empty");
            let at = self.sorted.partition_point(|&x| x < oldest);
            self.sorted.remove(at);
        }
        let norm = norm as f32;
        self.norms.push_back(norm);
        let at = self.sorted.partition_point(|&x| x < norm);
        self.sorted.insert(at, norm);
        Some(percentile(&self.sorted, f64::from(config.percentile)))
    }
}

/// The `p`-th percentile of ascending `sorted` (not empty), interpolating linearly between
/// the two nearest ranks (numpy's default `method="linear"`).
fn percentile(sorted: &[f32], p: f64) -> f64 {
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    let (a, b) = (f64::from(sorted[lo]), f64::from(sorted[hi]));
    a + (b - a) * (rank - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    // python3 (numpy's linear percentile, written out):
    //   def percentile(xs, p):
    //       s = sorted(xs); r = p / 100 * (len(s) - 1); lo = int(r); hi = min(lo + 1, len(s) - 1)
    //       return s[lo] + (s[hi] - s[lo]) * (r - lo)
    //   print(percentile([4, 1, 3, 2], 10), percentile([4, 1, 3, 2], 50), percentile([7], 90))
    // Output: 1.3 2.5 7
    #[test]
    fn percentile_interpolates_like_numpy() {
        let sorted = [1.0, 2.0, 3.0, 4.0];
        assert!((percentile(&sorted, 10.0) - 1.3).abs() < 1e-12);
        assert_eq!(percentile(&sorted, 50.0), 2.5);
        assert_eq!(percentile(&sorted, 0.0), 1.0);
        assert_eq!(percentile(&sorted, 100.0), 4.0);
        assert_eq!(percentile(&[7.0], 90.0), 7.0);
    }

    #[test]
    fn the_window_drops_the_oldest_norm() {
        let config = AutoClip::new(100.0).history(2);
        let mut state = AutoClipState::default();
        assert_eq!(state.threshold(&config, 5.0), Some(5.0));
        assert_eq!(state.threshold(&config, 1.0), Some(5.0));
        assert_eq!(state.threshold(&config, 2.0), Some(2.0)); // 5 fell out of the window
        assert_eq!(state.norms().collect::<Vec<_>>(), [1.0, 2.0]);
        assert_eq!(state.threshold(&config, f64::NAN), None);
        assert_eq!(state.norms().len(), 2);
    }

    #[test]
    fn a_deserialized_history_rebuilds_its_sorted_copy() {
        let config = AutoClip::new(50.0);
        let mut state = AutoClipState::default();
        for n in [4.0, 1.0, 3.0] {
            state.threshold(&config, n);
        }
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(json, r#"{"norms":[4.0,1.0,3.0]}"#);
        let mut back: AutoClipState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, state);
        assert_eq!(back.threshold(&config, 2.0), Some(2.5));
    }

    #[test]
    fn invalid_parameters_are_errors() {
        assert!(AutoClip::new(-1.0).validate().is_err());
        assert!(AutoClip::new(f32::NAN).validate().is_err());
        assert_eq!(
            AutoClip::new(10.0)
                .history(0)
                .validate()
                .unwrap_err()
                .to_string(),
            "invalid autoclip parameter `history`: expected an integer >= 1, found 0"
        );
    }
}
