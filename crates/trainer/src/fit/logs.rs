//! What `fit` logs besides the epoch's metrics: the running logs of a batch, the step
//! records, and every name the logs can hold.

use super::Run;
use crate::callbacks::CallbackList;
use crate::metrics::MetricTracker;
use crate::step::StepResult;
use crate::telemetry::{EpochTelemetry, StepAction, StepRecord};
use crate::Logs;

impl Run<'_> {
    /// The running logs callbacks see after a batch: the metrics and the telemetry.
    pub(super) fn batch_logs(&self) -> Logs {
        let mut logs = Logs::from(self.means.logs(""));
        for (name, value) in self.telemetry.running_logs() {
            logs.insert(name, value);
        }
        logs
    }

    /// Keeps a record of the step when every step is recorded.
    pub(super) fn record(
        &mut self,
        epoch: usize,
        batch: usize,
        step: Option<&StepResult>,
        action: StepAction,
    ) {
        if !self.telemetry.records_steps() {
            return;
        }
        let nan = f32::NAN;
        self.history.push_step(StepRecord {
            epoch,
            batch,
            loss: step.map_or(nan, |s| s.loss),
            grad_norm: step.map_or(nan, |s| s.stats.grad_norm),
            clipped_grad_norm: step.map_or(nan, |s| s.stats.clipped_norm),
            learning_rate: step.map_or(nan, |s| s.stats.learning_rate),
            action,
        });
    }
}

/// Every name the epoch logs can hold, sorted: the training means, the telemetry, their `val_`
/// twins when validating, what callbacks add, and the gradient-sum time of a data-parallel
/// run.
pub(super) fn log_names(
    means: &MetricTracker,
    validating: bool,
    callbacks: &CallbackList<'_>,
    telemetry: &EpochTelemetry,
    data_parallel: bool,
) -> Vec<String> {
    let mut names: Vec<String> = means.logs("").into_iter().map(|(n, _)| n).collect();
    names.extend(telemetry.names());
    if validating {
        names.extend(means.logs("val_").into_iter().map(|(n, _)| n));
    }
    names.extend(callbacks.logs_added());
    if data_parallel {
        names.push(super::SYNC_LOG.to_string());
        names.push(super::WAIT_LOG.to_string());
    }
    names.sort();
    names.dedup();
    names
}
