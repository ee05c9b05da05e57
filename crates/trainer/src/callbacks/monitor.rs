//! What monitoring callbacks share: the direction of improvement and looking a name up.

use super::{CallbackContext, Logs};
use crate::{Error, Result};

/// Whether a monitored quantity improves by going down or up (Keras's `mode`).
///
/// ```
/// use keel_trainer::MonitorMode;
/// assert_eq!(MonitorMode::Auto.resolve("val_loss"), MonitorMode::Min);
/// assert_eq!(MonitorMode::Auto.resolve("val_accuracy"), MonitorMode::Max);
/// assert_eq!(MonitorMode::Min.resolve("accuracy"), MonitorMode::Min);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MonitorMode {
    /// From the name: `Max` if it contains "acc" or "auc" (Keras's rule), else `Min`.
    /// The default.
    #[default]
    Auto,
    /// Lower is better (losses, errors).
    Min,
    /// Higher is better (accuracies).
    Max,
}

impl MonitorMode {
    /// `Min` or `Max`: `Auto` decided from the monitored `name`.
    pub fn resolve(self, name: &str) -> MonitorMode {
        match self {
            MonitorMode::Auto if name.contains("acc") || name.contains("auc") => MonitorMode::Max,
            MonitorMode::Auto => MonitorMode::Min,
            decided => decided,
        }
    }
}

/// True when `current` beats `reference` by more than `min_delta` (`>= 0`) in the direction
/// of `mode` (resolved): Keras's `monitor_op(current - min_delta, reference)` with
/// `min_delta` negated for `Min`. NaN never improves.
pub(crate) fn is_improvement(
    mode: MonitorMode,
    current: f64,
    reference: f64,
    min_delta: f64,
) -> bool {
    match mode {
        MonitorMode::Max => current - min_delta > reference,
        _ => current + min_delta < reference,
    }
}

/// The worst value for `mode` (resolved), which any finite value improves on.
pub(crate) fn worst(mode: MonitorMode) -> f64 {
    match mode {
        MonitorMode::Max => f64::NEG_INFINITY,
        _ => f64::INFINITY,
    }
}

/// The error for a name that neither the logs nor the run's metric names hold.
pub(crate) fn unknown(
    callback: &'static str,
    role: &'static str,
    name: &str,
    logs: Option<&Logs>,
    ctx: &CallbackContext<'_>,
) -> Error {
    let mut available: Vec<String> = ctx.metric_names().to_vec();
    if let Some(logs) = logs {
        available.extend(logs.names().map(str::to_string));
    }
    available.sort();
    available.dedup();
    Error::UnknownMetric {
        callback,
        role,
        name: name.to_string(),
        available,
    }
}

/// Fails before training if `monitor` is not among the run's metric names (skipped when
/// they are unknown, as for a hand-made context).
pub(crate) fn check_monitor(
    callback: &'static str,
    monitor: &str,
    ctx: &CallbackContext<'_>,
) -> Result<()> {
    let names = ctx.metric_names();
    if names.is_empty() || names.iter().any(|n| n == monitor) {
        Ok(())
    } else {
        Err(unknown(callback, "monitor", monitor, None, ctx))
    }
}

/// The value of `monitor` in `logs`; `None` when it is a known name not logged this epoch
/// (validation skipped by `validation_freq`).
///
/// # Errors
/// [`Error::UnknownMetric`] when the name is neither logged nor known.
pub(crate) fn monitor_value(
    callback: &'static str,
    monitor: &str,
    logs: &Logs,
    ctx: &CallbackContext<'_>,
) -> Result<Option<f64>> {
    match logs.get(monitor) {
        Some(value) => Ok(Some(value)),
        None if ctx.metric_names().iter().any(|n| n == monitor) => Ok(None),
        None => Err(unknown(callback, "monitor", monitor, Some(logs), ctx)),
    }
}

/// Checks a threshold argument is finite.
pub(crate) fn check_finite(
    callback: &'static str,
    argument: &'static str,
    value: f64,
) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(Error::InvalidCallbackArgument {
            callback,
            argument,
            expected: "a finite number",
            found: value.to_string(),
        })
    }
}
