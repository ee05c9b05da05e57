//! Training telemetry: gradient norms (global, before and after clipping, and per layer), the
//! learning rate, the clip rate and the guard's counts, taken from the optimizer's report of
//! each step (no extra pass over the data or the gradients).

use crate::Sequential;
use keel_optim::{GradientReport, StepStats};

/// What `fit` records besides the loss and metrics (set with
/// [`FitOptions::telemetry`](crate::FitOptions::telemetry)).
///
/// With [`Epochs`](Telemetry::Epochs), the [`History`](crate::History), the epoch logs
/// (which callbacks may monitor) and the progress bar gain:
///
/// | name | value over the epoch |
/// |---|---|
/// | `grad_norm` | mean global gradient L2 norm before clipping (finite steps) |
/// | `grad_norm_max` | its largest value |
/// | `clipped_grad_norm` | mean global norm after clipping (applied steps) |
/// | `clip_rate` | fraction of applied steps whose gradients the clipper changed |
/// | `learning_rate` | the rate of the last step (schedule and guard multiplier included) |
/// | `skipped_steps` | steps the guard skipped (including failed batches skipped on replay) |
/// | `rollbacks` | rollbacks the guard made |
/// | `grad_norm/{layer}` | mean gradient norm of a layer (its parameters together), e.g. `grad_norm/dense_1` |
///
/// [`Steps`](Telemetry::Steps) also keeps a [`StepRecord`] of every step in
/// [`History::steps`](crate::History::steps).
///
/// ```
/// use keel_trainer::{FitOptions, Telemetry};
/// assert_eq!(FitOptions::new().telemetry, Telemetry::Off);
/// let options = FitOptions::new().telemetry(Telemetry::Steps);
/// assert_eq!(options.telemetry, Telemetry::Steps);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Telemetry {
    /// Only the loss and the compiled metrics (Keras's History). The default.
    #[default]
    Off,
    /// Per-epoch gradient norms, learning rate, clip rate and guard counts.
    Epochs,
    /// As `Epochs`, plus a [`StepRecord`] per step.
    Steps,
}

/// What happened to one training step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StepAction {
    /// The update was applied.
    Applied,
    /// The guard skipped the step (or the batch, which had failed before a rollback).
    Skipped,
    /// The step failed and the guard rolled back.
    RolledBack,
    /// The step failed and training stopped.
    Stopped,
}

/// One training step, as recorded with [`Telemetry::Steps`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepRecord {
    /// The epoch (0-based).
    pub epoch: usize,
    /// The batch within the epoch (0-based). After a rollback, replayed batches appear again.
    pub batch: usize,
    /// The loss of the batch (regularization included); NaN for a batch not computed.
    pub loss: f32,
    /// The global gradient norm before clipping; NaN for a batch not computed.
    pub grad_norm: f32,
    /// The global gradient norm after clipping (equal to `grad_norm` unless applied and clipped).
    pub clipped_grad_norm: f32,
    /// The learning rate the step used (or would have used).
    pub learning_rate: f32,
    /// What happened to it.
    pub action: StepAction,
}

/// The sums behind one epoch's telemetry.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct EpochTelemetry {
    mode: Telemetry,
    /// `grad_norm/{i}.{kind}` of each layer with parameters.
    layer_names: Vec<String>,
    /// The layer slot of each parameter, in model order.
    param_slot: Vec<usize>,
    squares: Vec<f64>,
    norm_sum: f64,
    norm_count: usize,
    norm_max: f32,
    clipped_sum: f64,
    applied: usize,
    clipped: usize,
    skipped: usize,
    rollbacks: usize,
    learning_rate: f32,
    layer_sums: Vec<f64>,
    layer_counts: Vec<usize>,
}

impl EpochTelemetry {
    pub(crate) fn new(mode: Telemetry, model: &Sequential) -> Self {
        let mut layer_names: Vec<String> = Vec::new();
        let mut param_slot = Vec::new();
        for (path, _) in model.trainable_params() {
            let series = format!("grad_norm/{}", path.layer());
            if layer_names.last() != Some(&series) {
                layer_names.push(series);
            }
            param_slot.push(layer_names.len() - 1);
        }
        let layers = layer_names.len();
        EpochTelemetry {
            mode,
            layer_names,
            param_slot,
            squares: vec![0.0; layers],
            norm_sum: 0.0,
            norm_count: 0,
            norm_max: f32::NAN,
            clipped_sum: 0.0,
            applied: 0,
            clipped: 0,
            skipped: 0,
            rollbacks: 0,
            learning_rate: f32::NAN,
            layer_sums: vec![0.0; layers],
            layer_counts: vec![0; layers],
        }
    }

    /// The mode and layers, to check that telemetry read from a checkpoint fits this run.
    pub(crate) fn layout(&self) -> String {
        let lens = [
            self.squares.len(),
            self.layer_sums.len(),
            self.layer_counts.len(),
        ];
        format!(
            "{:?} {:?} {:?} {lens:?}",
            self.mode, self.layer_names, self.param_slot
        )
    }

    /// Whether anything is recorded.
    pub(crate) fn is_on(&self) -> bool {
        self.mode != Telemetry::Off
    }

    /// Whether every step is recorded.
    pub(crate) fn records_steps(&self) -> bool {
        self.mode == Telemetry::Steps
    }

    /// Sets every sum back to zero for a new epoch.
    pub(crate) fn reset(&mut self) {
        self.norm_sum = 0.0;
        self.norm_count = 0;
        self.norm_max = f32::NAN;
        self.clipped_sum = 0.0;
        (self.applied, self.clipped, self.skipped, self.rollbacks) = (0, 0, 0, 0);
        self.learning_rate = f32::NAN;
        self.layer_sums.iter_mut().for_each(|s| *s = 0.0);
        self.layer_counts.iter_mut().for_each(|c| *c = 0);
    }

    /// Adds the gradient norms of a step (applied or not) from the optimizer's report.
    pub(crate) fn observe(&mut self, report: &GradientReport) {
        if !self.is_on() {
            return;
        }
        if report.global_norm.is_finite() {
            self.norm_sum += f64::from(report.global_norm);
            self.norm_count += 1;
            self.norm_max = self.norm_max.max(report.global_norm); // NaN.max(x) = x
        }
        if report.param_norms.len() != self.param_slot.len() {
            return;
        }
        self.squares.iter_mut().for_each(|s| *s = 0.0);
        for (&slot, (_, norm)) in self.param_slot.iter().zip(&report.param_norms) {
            self.squares[slot] += f64::from(*norm) * f64::from(*norm);
        }
        for (slot, &sq) in self.squares.iter().enumerate() {
            if sq.is_finite() {
                self.layer_sums[slot] += sq.sqrt();
                self.layer_counts[slot] += 1;
            }
        }
    }

    /// Adds what the optimizer did with a step.
    pub(crate) fn outcome(&mut self, applied: bool, stats: &StepStats) {
        self.learning_rate = stats.learning_rate;
        if applied {
            self.applied += 1;
            self.clipped += usize::from(stats.clipped);
            self.clipped_sum += f64::from(stats.clipped_norm);
        }
    }

    /// Counts a skipped step.
    pub(crate) fn skipped(&mut self) {
        self.skipped += 1;
    }

    /// Counts a rollback.
    pub(crate) fn rolled_back(&mut self) {
        self.rollbacks += 1;
    }

    /// Every name [`epoch_logs`](EpochTelemetry::epoch_logs) gives, in its order.
    pub(crate) fn names(&self) -> Vec<String> {
        self.epoch_logs().into_iter().map(|(n, _)| n).collect()
    }

    /// The global series (what the progress bar shows).
    pub(crate) fn running_logs(&self) -> Vec<(String, f64)> {
        if !self.is_on() {
            return Vec::new();
        }
        let mean = |sum: f64, n: usize| if n == 0 { f64::NAN } else { sum / n as f64 };
        vec![
            ("grad_norm".into(), mean(self.norm_sum, self.norm_count)),
            ("grad_norm_max".into(), f64::from(self.norm_max)),
            (
                "clipped_grad_norm".into(),
                mean(self.clipped_sum, self.applied),
            ),
            ("clip_rate".into(), mean(self.clipped as f64, self.applied)),
            ("learning_rate".into(), f64::from(self.learning_rate)),
            ("skipped_steps".into(), self.skipped as f64),
            ("rollbacks".into(), self.rollbacks as f64),
        ]
    }

    /// What the progress bar shows: the mean gradient norm, the learning rate and the
    /// skipped steps (and rollbacks, once there are any).
    pub(crate) fn progress_logs(&self) -> Vec<(String, f64)> {
        let mut logs = self.running_logs();
        logs.retain(|(name, value)| {
            matches!(
                name.as_str(),
                "grad_norm" | "learning_rate" | "skipped_steps"
            ) || (name == "rollbacks" && *value > 0.0)
        });
        logs
    }

    /// The epoch's telemetry logs: the global series, then one per layer.
    pub(crate) fn epoch_logs(&self) -> Vec<(String, f64)> {
        let mut logs = self.running_logs();
        if self.is_on() {
            for ((name, &sum), &n) in self
                .layer_names
                .iter()
                .zip(&self.layer_sums)
                .zip(&self.layer_counts)
            {
                let mean = if n == 0 { f64::NAN } else { sum / n as f64 };
                logs.push((name.clone(), mean));
            }
        }
        logs
    }
}
