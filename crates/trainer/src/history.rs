//! The record `fit` returns: one value per epoch for each series, exportable as CSV and
//! JSON and drawable as a chart.

mod export;
mod plot;

use std::collections::BTreeMap;

/// Per-epoch series of a training run (`loss`, `accuracy`, `val_loss`, `val_accuracy`, ...),
/// as Keras's `History.history`.
///
/// Export it with [`write_csv`](History::write_csv) (Keras's `CSVLogger` layout) or
/// [`write_json`](History::write_json), or draw it with [`plot`](History::plot).
///
/// Equality compares the epochs and the series, not the wall-clock epoch times.
#[derive(Debug, Clone, Default)]
pub struct History {
    epochs: Vec<usize>,
    series: BTreeMap<String, Vec<f64>>,
    epoch_seconds: Vec<f64>,
}

impl PartialEq for History {
    fn eq(&self, other: &Self) -> bool {
        self.epochs == other.epochs && self.series == other.series
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
