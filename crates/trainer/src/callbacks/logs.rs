//! `Logs`: the named values a callback sees, as Keras's `logs` dict.

/// Named values of a batch or an epoch (`loss`, `accuracy`, `val_loss`, ...), in the order
/// they were logged, as the `logs` dict Keras passes to callbacks.
///
/// ```
/// use keel_trainer::Logs;
/// let mut logs = Logs::from([("loss", 0.5), ("val_loss", 0.7)]);
/// logs.insert("learning_rate", 1e-3);
/// logs.insert("loss", 0.4); // replaces, keeping the position
/// assert_eq!(logs.get("loss"), Some(0.4));
/// assert_eq!(logs.names().collect::<Vec<_>>(), ["loss", "val_loss", "learning_rate"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Logs(Vec<(String, f64)>);

impl Logs {
    /// No values.
    pub fn new() -> Self {
        Logs::default()
    }

    /// The value named `name`.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.0.iter().find(|(k, _)| k == name).map(|&(_, v)| v)
    }

    /// Sets `name` to `value`, replacing an earlier value in place or appending.
    pub fn insert(&mut self, name: impl Into<String>, value: f64) {
        let name = name.into();
        match self.0.iter_mut().find(|(k, _)| *k == name) {
            Some(entry) => entry.1 = value,
            None => self.0.push((name, value)),
        }
    }

    /// Every `(name, value)` pair, in logging order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// The names, in logging order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    /// The pairs as a slice, in logging order.
    pub fn as_slice(&self) -> &[(String, f64)] {
        &self.0
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when nothing is logged.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<(String, f64)>> for Logs {
    /// Takes the pairs as they are (names are expected to be unique).
    fn from(pairs: Vec<(String, f64)>) -> Self {
        Logs(pairs)
    }
}

impl<S: Into<String>, const N: usize> From<[(S, f64); N]> for Logs {
    fn from(pairs: [(S, f64); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl<S: Into<String>> FromIterator<(S, f64)> for Logs {
    fn from_iter<I: IntoIterator<Item = (S, f64)>>(pairs: I) -> Self {
        let mut logs = Logs::new();
        for (name, value) in pairs {
            logs.insert(name, value);
        }
        logs
    }
}
