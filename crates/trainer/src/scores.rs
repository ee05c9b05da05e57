//! What `evaluate` returns: the loss and every compiled metric by name.

use std::collections::BTreeMap;

/// The loss and metrics of an evaluation, by Keras name ("loss", "accuracy").
///
/// ```
/// let scores = keel_trainer::Scores::default();
/// assert_eq!(scores.get("accuracy"), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scores(BTreeMap<String, f64>);

impl Scores {
    pub(crate) fn from_logs(logs: Vec<(String, f64)>) -> Self {
        Scores(logs.into_iter().collect())
    }

    /// The value named `name`.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.0.get(name).copied()
    }

    /// Every `(name, value)` pair, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> {
        self.0.iter().map(|(k, &v)| (k.as_str(), v))
    }
}
