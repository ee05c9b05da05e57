//! Gradient-norm spikes: a z-score over a rolling window of recent global norms.

use crate::error::invalid_option as invalid;
use crate::Result;

/// When a step's global gradient norm (before clipping) counts as a spike: its z-score
/// `(norm - mean) / std` over the last `window` norms exceeds `threshold`.
///
/// Only upward spikes count, and only once `min_samples` norms have been seen (so the first
/// steps of a run, whose statistics mean nothing yet, are never spikes). The window holds the
/// norms of applied steps; a spike enters it clamped to `mean + threshold · std`, so a lasting
/// rise in the norm's level is accepted after a while rather than skipped for ever (ZClip's
/// rule, Kumar et al. 2025). The standard deviation is floored at `1e-3 · mean`, so a
/// perfectly flat series does not make every wobble a spike.
///
/// ```
/// use keel_trainer::Spike;
/// let spike = Spike::zscore(6.0).window(200).min_samples(20);
/// assert_eq!((spike.threshold, spike.window, spike.min_samples), (6.0, 200, 20));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Spike {
    /// The z-score above which a norm is a spike, `> 0`.
    pub threshold: f32,
    /// How many recent norms the mean and deviation are taken over, at least 2. Defaults to
    /// 200.
    pub window: usize,
    /// How many norms must be seen before any is a spike, in `2..=window`. Defaults to 20
    /// (or `window` if smaller).
    pub min_samples: usize,
}

impl Spike {
    /// Spikes are norms with a z-score above `threshold` (6 is a good start: a Gaussian
    /// series would exceed it about once in a billion steps).
    pub fn zscore(threshold: f32) -> Self {
        Spike {
            threshold,
            window: 200,
            min_samples: 20,
        }
    }

    /// Sets the window length.
    pub fn window(mut self, steps: usize) -> Self {
        self.window = steps;
        self.min_samples = self.min_samples.min(steps);
        self
    }

    /// Sets how many norms are needed before detection starts.
    pub fn min_samples(mut self, steps: usize) -> Self {
        self.min_samples = steps;
        self
    }

    /// Checks every setting's range.
    pub(crate) fn validate(&self) -> Result<()> {
        if !(self.threshold.is_finite() && self.threshold > 0.0) {
            return invalid(
                "spike threshold",
                "finite and > 0",
                self.threshold.to_string(),
            );
        }
        if self.window < 2 {
            return invalid("spike window", "at least 2", self.window.to_string());
        }
        if !(2..=self.window).contains(&self.min_samples) {
            return invalid(
                "spike min_samples",
                "in 2..=window",
                format!("{} with window = {}", self.min_samples, self.window),
            );
        }
        Ok(())
    }
}

/// The rolling statistics of one `fit`: a ring buffer with running sums, O(1) per step.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct SpikeDetector {
    config: Spike,
    values: Vec<f64>,
    next: usize,
    sum: f64,
    sum_sq: f64,
    /// Pushes since the sums were last recomputed from the buffer (to stop rounding drift).
    since_exact: usize,
}

impl SpikeDetector {
    pub(crate) fn new(config: Spike) -> Self {
        SpikeDetector {
            config,
            values: Vec::with_capacity(config.window),
            next: 0,
            sum: 0.0,
            sum_sq: 0.0,
            since_exact: 0,
        }
    }

    /// Whether a stored detector is consistent with `config`: the same settings and a
    /// window no longer than it, with its write position inside it.
    pub(crate) fn fits(&self, config: &Spike) -> bool {
        self.config == *config
            && self.values.len() <= config.window
            && self.next < config.window
            && self.values.iter().all(|v| v.is_finite())
    }

    /// The mean and (floored) standard deviation of the window, once it holds enough norms.
    fn stats(&self) -> Option<(f64, f64)> {
        let n = self.values.len();
        if n < self.config.min_samples {
            return None;
        }
        let mean = self.sum / n as f64;
        let var = (self.sum_sq / n as f64 - mean * mean).max(0.0);
        Some((
            mean,
            var.sqrt().max(1e-3 * mean.abs()).max(f64::MIN_POSITIVE),
        ))
    }

    /// Looks at a finite norm: returns its z-score when it is a spike (and records it
    /// clamped), otherwise records it and returns `None`.
    pub(crate) fn observe(&mut self, norm: f32) -> Option<f32> {
        let norm = f64::from(norm);
        if let Some((mean, std)) = self.stats() {
            let z = (norm - mean) / std;
            if z > f64::from(self.config.threshold) {
                self.push(mean + f64::from(self.config.threshold) * std);
                return Some(z as f32);
            }
        }
        self.push(norm);
        None
    }

    fn push(&mut self, value: f64) {
        if self.values.len() < self.config.window {
            self.values.push(value);
        } else {
            let old = std::mem::replace(&mut self.values[self.next], value);
            self.sum -= old;
            self.sum_sq -= old * old;
        }
        self.next = (self.next + 1) % self.config.window;
        self.sum += value;
        self.sum_sq += value * value;
        self.since_exact += 1;
        if self.since_exact >= self.config.window {
            self.sum = self.values.iter().sum();
            self.sum_sq = self.values.iter().map(|v| v * v).sum();
            self.since_exact = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jump_fires_once_warmed_up_and_a_wobble_does_not() {
        let mut d = SpikeDetector::new(Spike::zscore(3.0).window(10).min_samples(4));
        // Alternating 1 and 3: mean 2, std 1 (population). Nothing fires while warming up,
        // not even a large value at the third step.
        assert_eq!(d.observe(1.0), None);
        assert_eq!(d.observe(3.0), None);
        assert_eq!(d.observe(100.0), None);
        let mut d = SpikeDetector::new(Spike::zscore(3.0).window(10).min_samples(4));
        for i in 0..10 {
            assert_eq!(d.observe(if i % 2 == 0 { 1.0 } else { 3.0 }), None);
        }
        assert_eq!(d.observe(4.9), None, "z = 2.9");
        let mut d = SpikeDetector::new(Spike::zscore(3.0).window(10).min_samples(4));
        for i in 0..10 {
            d.observe(if i % 2 == 0 { 1.0 } else { 3.0 });
        }
        // z = (7 - 2) / 1 = 5.
        assert_eq!(d.observe(7.0), Some(5.0));
        // The spike entered the window clamped to mean + 3 std = 5, replacing the oldest 1:
        // the window is now [3, 1, 3, 1, 3, 1, 3, 1, 3, 5], mean 2.4.
        assert!((d.sum - 24.0).abs() < 1e-9);
    }

    #[test]
    fn a_lasting_rise_is_accepted_after_a_while() {
        let mut d = SpikeDetector::new(Spike::zscore(3.0).window(20).min_samples(5));
        for i in 0..20 {
            d.observe(1.0 + 0.1 * (i % 2) as f32);
        }
        let fired: Vec<bool> = (0..40).map(|_| d.observe(10.0).is_some()).collect();
        assert!(fired[0], "the jump is a spike");
        assert!(!fired[39], "the new level is normal by now");
    }

    #[test]
    fn a_flat_series_uses_the_floored_deviation() {
        let mut d = SpikeDetector::new(Spike::zscore(6.0).window(5).min_samples(5));
        for _ in 0..5 {
            d.observe(2.0);
        }
        // std floor = 1e-3 · 2 = 0.002: 2.01 has z = 5, 2.02 has z = 10.
        assert_eq!(d.observe(2.01), None);
        assert!(d.observe(2.1).is_some());
    }

    #[test]
    fn bad_settings_are_errors() {
        assert!(Spike::zscore(0.0).validate().is_err());
        assert!(Spike::zscore(6.0).window(1).validate().is_err());
        assert!(Spike::zscore(6.0)
            .window(10)
            .min_samples(11)
            .validate()
            .is_err());
        assert!(Spike::zscore(6.0).window(10).validate().is_ok());
    }
}
