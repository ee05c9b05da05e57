//! The record `fit` returns: one value per epoch for each series, exportable as CSV and
//! JSON and drawable as a chart.

mod export;
mod plot;
mod steps;

pub use steps::plot_grad_norms;

use crate::{GuardEvent, StepRecord};
use std::collections::BTreeMap;

/// Per-epoch series of a training run (`loss`, `accuracy`, `val_loss`, `val_accuracy`, ...),
/// as Keras's `History.history`.
///
/// Export it with [`write_csv`](History::write_csv) (Keras's `CSVLogger` layout) or
/// [`write_json`](History::write_json), or draw it with [`plot`](History::plot).
///
/// Besides the per-epoch series, it keeps what the [`Guard`](crate::Guard) did
/// ([`events`](History::events)) and, with [`Telemetry::Steps`](crate::Telemetry::Steps), a
/// record of every step ([`steps`](History::steps)).
///
/// Equality compares the epochs, the series, the events and the step records, not the
/// wall-clock epoch times.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct History {
    epochs: Vec<usize>,
    series: BTreeMap<String, Vec<f64>>,
    epoch_seconds: Vec<f64>,
    steps: Vec<StepRecord>,
    events: Vec<GuardEvent>,
}

impl PartialEq for History {
    fn eq(&self, other: &Self) -> bool {
        // Bit equality of the step records, so that NaN (a batch not computed) equals itself.
        let bits = |h: &History| -> Vec<[u32; 4]> {
            let f = |s: &StepRecord| {
                [s.loss, s.grad_norm, s.clipped_grad_norm, s.learning_rate].map(f32::to_bits)
            };
            h.steps.iter().map(f).collect()
        };
        let keys = |h: &History| -> Vec<_> {
            h.steps
                .iter()
                .map(|s| (s.epoch, s.batch, s.action))
                .collect()
        };
        self.epochs == other.epochs
            && self.series == other.series
            && self.events == other.events
            && keys(self) == keys(other)
            && bits(self) == bits(other)
    }
}

impl History {
    /// The series named `name` (e.g. "val_loss"), one value per recorded epoch.
    ///
    /// ```
    /// let history = keel_trainer::History::default();
    /// assert!(history.get("loss").is_none());
    /// ```
    pub fn get(&self, name: &str) -> Option<&[f64]> {
        self.series.get(name).map(Vec::as_slice)
    }

    /// The last value of a series.
    pub fn last(&self, name: &str) -> Option<f64> {
        self.get(name).and_then(|s| s.last().copied())
    }

    /// The names of every recorded series, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.series.keys().map(String::as_str)
    }

    /// The 0-based epoch indices recorded.
    pub fn epochs(&self) -> &[usize] {
        &self.epochs
    }

    /// The wall-clock seconds of each epoch (training plus validation).
    pub fn epoch_seconds(&self) -> &[f64] {
        &self.epoch_seconds
    }

    /// Every step of the run, in the order computed (replayed steps after a rollback appear
    /// again), when `fit` ran with [`Telemetry::Steps`](crate::Telemetry::Steps); empty
    /// otherwise. Includes the steps of an epoch interrupted by a stop.
    ///
    /// ```
    /// let history = keel_trainer::History::default();
    /// assert!(history.steps().is_empty());
    /// ```
    pub fn steps(&self) -> &[StepRecord] {
        &self.steps
    }

    /// What the guard did, in order: every skipped step, rollback and stop.
    pub fn events(&self) -> &[GuardEvent] {
        &self.events
    }

    /// Appends a step record.
    pub(crate) fn push_step(&mut self, record: StepRecord) {
        self.steps.push(record);
    }

    /// Appends a guard event.
    pub(crate) fn push_event(&mut self, event: GuardEvent) {
        self.events.push(event);
    }

    /// Appends one epoch's logs. A series missing in this epoch (e.g. validation skipped)
    /// gets `NaN` so all series stay aligned with [`epochs`](History::epochs).
    pub fn push(&mut self, epoch: usize, logs: &[(String, f64)], seconds: f64) {
        let recorded = self.epochs.len();
        for (name, value) in logs {
            let series = self
                .series
                .entry(name.clone())
                .or_insert_with(|| vec![f64::NAN; recorded]);
            series.push(*value);
        }
        for series in self.series.values_mut() {
            series.resize(recorded + 1, f64::NAN);
        }
        self.epochs.push(epoch);
        self.epoch_seconds.push(seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_stay_aligned_when_one_is_missing() {
        let mut h = History::default();
        h.push(0, &[("loss".into(), 1.0)], 0.1);
        h.push(1, &[("loss".into(), 0.5), ("val_loss".into(), 0.7)], 0.1);
        assert_eq!(h.get("loss"), Some(&[1.0, 0.5][..]));
        assert!(h.get("val_loss").unwrap()[0].is_nan());
        assert_eq!(h.last("val_loss"), Some(0.7));
    }
}
