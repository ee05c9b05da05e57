//! `History` as CSV (Keras's `CSVLogger` layout) and JSON (Keras's `history.history`).

use super::History;
use crate::{Error, Result};
use std::path::Path;

/// Writes `contents` to `path`, naming the path in the error.
pub(super) fn write(path: &Path, contents: &str) -> Result<()> {
    std::fs::write(path, contents).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

impl History {
    /// The history as CSV in Keras's `CSVLogger` layout: a header `epoch,<series…>` with the
    /// series sorted by name, then one row per epoch (0-based, as Keras writes it). Values
    /// are written in full precision (as Python's `repr`: `1.0`, `0.125`); a value missing in an epoch (validation skipped) is
    /// `NA`.
    ///
    /// ```
    /// let mut history = keel_trainer::History::default();
    /// history.push(0, &[("loss".into(), 0.5), ("val_loss".into(), 0.75)], 1.0);
    /// history.push(1, &[("loss".into(), 0.25)], 1.0);
    /// assert_eq!(history.to_csv_string(), "epoch,loss,val_loss\n0,0.5,0.75\n1,0.25,NA\n");
    /// ```
    pub fn to_csv_string(&self) -> String {
        let mut out = String::from("epoch");
        for name in self.names() {
            out.push(',');
            out.push_str(name);
        }
        out.push('\n');
        for (row, epoch) in self.epochs().iter().enumerate() {
            out.push_str(&epoch.to_string());
            for series in self.series.values() {
                out.push(',');
                match series[row] {
                    v if v.is_nan() => out.push_str("NA"),
                    v => out.push_str(&format!("{v:?}")), // Python's repr: 1.0, 0.125
                }
            }
            out.push('\n');
        }
        out
    }

    /// Writes [`to_csv_string`](History::to_csv_string) to `path`.
    ///
    /// # Errors
    /// [`Error::Io`] naming `path` when it cannot be written.
    pub fn write_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        write(path.as_ref(), &self.to_csv_string())
    }

    /// The history as a JSON object in the layout of Keras's `history.history` (one array
    /// per series, keys sorted), plus `"epoch"` with the 0-based epoch indices. A value
    /// missing in an epoch is `null`.
    ///
    /// ```
    /// let mut history = keel_trainer::History::default();
    /// history.push(0, &[("loss".into(), 0.5), ("accuracy".into(), 0.75)], 1.0);
    /// let json: serde_json::Value = serde_json::from_str(&history.to_json_string()).unwrap();
    /// assert_eq!(json["loss"][0], 0.5);
    /// assert_eq!(json["epoch"], serde_json::json!([0]));
    /// ```
    pub fn to_json_string(&self) -> String {
        let mut object = serde_json::Map::new();
        object.insert("epoch".into(), self.epochs().into());
        for (name, series) in &self.series {
            let values = series.iter().map(|&v| serde_json::Value::from(v)); // NaN -> null
            object.insert(name.clone(), values.collect());
        }
        let mut text = serde_json::Value::Object(object).to_string();
        text.push('\n');
        text
    }

    /// Writes [`to_json_string`](History::to_json_string) to `path`.
    ///
    /// # Errors
    /// [`Error::Io`] naming `path` when it cannot be written.
    pub fn write_json(&self, path: impl AsRef<Path>) -> Result<()> {
        write(path.as_ref(), &self.to_json_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_epochs() -> History {
        let mut h = History::default();
        h.push(0, &[("loss".into(), 1.0), ("accuracy".into(), 0.5)], 0.1);
        let logs = [
            ("loss".into(), 0.125),
            ("accuracy".into(), 0.75),
            ("val_loss".into(), 0.25),
        ];
        h.push(1, &logs, 0.1);
        h
    }

    #[test]
    fn csv_has_keras_csvlogger_columns_and_marks_missing_values() {
        let expected = "epoch,accuracy,loss,val_loss\n0,0.5,1.0,NA\n1,0.75,0.125,0.25\n";
        assert_eq!(two_epochs().to_csv_string(), expected);
    }

    #[test]
    fn json_holds_one_array_per_series_with_null_for_missing_values() {
        let expected =
            r#"{"accuracy":[0.5,0.75],"epoch":[0,1],"loss":[1.0,0.125],"val_loss":[null,0.25]}"#;
        assert_eq!(two_epochs().to_json_string(), format!("{expected}\n"));
    }

    #[test]
    fn write_errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("history.csv");
        let msg = two_epochs().write_csv(&path).unwrap_err().to_string();
        assert!(msg.contains("missing/history.csv"), "{msg}");
        two_epochs().write_json(dir.path().join("h.json")).unwrap();
        let text = std::fs::read_to_string(dir.path().join("h.json")).unwrap();
        assert!(text.starts_with("{\"accuracy\""));
    }
}
