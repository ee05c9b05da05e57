//! `EarlyStopping`: stop when a monitored quantity has stopped improving.

use super::monitor::{check_finite, check_monitor, is_improvement, monitor_value, worst};
use super::{Callback, CallbackContext, Control, Logs, MonitorMode};
use crate::Result;
use keel_autograd::Tensor;

const NAME: &str = "early_stopping";

/// The state a checkpoint stores (the best value as bits, so infinities survive JSON).
#[derive(serde::Serialize, serde::Deserialize)]
struct Saved {
    wait: usize,
    stopped_epoch: Option<usize>,
    best: u64,
    best_epoch: Option<usize>,
    #[allow(clippy::type_complexity)]
    best_weights: Option<Vec<(String, Vec<usize>, Vec<f32>)>>,
}

/// Stops training when `monitor` has not improved for `patience` epochs, as Keras 3's
/// `keras.callbacks.EarlyStopping`, with its argument names, defaults and rules:
///
/// - each epoch (from `start_from_epoch` on) that logs `monitor` adds one to `wait`; an
///   improvement on the best value by more than `min_delta` (in the direction of `mode`)
///   records it as the best and, if it also beats `baseline` (when set), resets `wait` to 0;
/// - training stops at the end of an epoch after the first where `wait >= patience`;
/// - with `restore_best_weights`, the weights of the best epoch are put back when training
///   ends, whether or not the stop fired (Keras 3). Until some epoch improves, the weights
///   of the first monitored epoch count as the best.
///
/// An epoch that does not log `monitor` (validation skipped by `validation_freq`) is ignored.
///
/// ```
/// use keel_layers::Dense;
/// use keel_optim::Sgd;
/// use keel_trainer::{Callback, CallbackContext, Control, EarlyStopping, Logs, Loss, Sequential};
/// # fn main() -> keel_trainer::Result<()> {
/// let mut model = Sequential::new([2]).add(Dense::new(1));
/// model.compile(Sgd::new(0.1), Loss::MeanSquaredError, &[])?;
/// let mut ctx = CallbackContext::new(&mut model);
/// let mut stopper = EarlyStopping::new("val_loss").patience(2);
/// stopper.on_train_begin(&mut ctx)?;
/// let mut epochs_run = 0;
/// for (epoch, val_loss) in [1.0, 0.8, 0.9, 0.85, 0.7].into_iter().enumerate() {
///     let mut logs = Logs::from([("val_loss", val_loss)]);
///     epochs_run += 1;
///     if stopper.on_epoch_end(epoch, &mut logs, &mut ctx)? == Control::Stop {
///         break;
///     }
/// }
/// // best 0.8 at epoch 1; epochs 2 and 3 do not improve: wait reaches 2 at epoch 3
/// assert_eq!(epochs_run, 4);
/// assert_eq!(stopper.stopped_epoch(), Some(3));
/// assert_eq!(stopper.best(), Some(0.8));
/// # Ok(()) }
/// ```
///
/// # Errors
/// At the start of `fit`: a non-finite `min_delta` or `baseline`, or a `monitor` that the
/// run does not log ([`Error::UnknownMetric`](crate::Error::UnknownMetric), listing the
/// names that are).
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    monitor: String,
    min_delta: f64,
    patience: usize,
    mode: MonitorMode,
    baseline: Option<f64>,
    start_from_epoch: usize,
    restore_best_weights: bool,
    verbose: u8,
    wait: usize,
    stopped_epoch: Option<usize>,
    best: f64,
    best_epoch: Option<usize>,
    best_weights: Option<Vec<(String, Tensor)>>,
}

impl EarlyStopping {
    /// Monitors `monitor` (Keras's default is `"val_loss"`), with patience 0, `min_delta`
    /// 0, mode auto, no baseline, `start_from_epoch` 0 and no weight restoring.
    pub fn new(monitor: impl Into<String>) -> Self {
        EarlyStopping {
            monitor: monitor.into(),
            min_delta: 0.0,
            patience: 0,
            mode: MonitorMode::Auto,
            baseline: None,
            start_from_epoch: 0,
            restore_best_weights: false,
            verbose: 0,
            wait: 0,
            stopped_epoch: None,
            best: f64::INFINITY,
            best_epoch: None,
            best_weights: None,
        }
    }

    /// The smallest change that counts as an improvement; its sign is ignored (Keras takes
    /// the absolute value). Defaults to 0.
    pub fn min_delta(mut self, min_delta: f64) -> Self {
        self.min_delta = min_delta.abs();
        self
    }

    /// Epochs without improvement before stopping. Defaults to 0.
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// Whether lower or higher is better. Defaults to [`MonitorMode::Auto`].
    pub fn mode(mut self, mode: MonitorMode) -> Self {
        self.mode = mode;
        self
    }

    /// A value the monitored quantity must beat for `wait` to reset. Defaults to none.
    pub fn baseline(mut self, baseline: f64) -> Self {
        self.baseline = Some(baseline);
        self
    }

    /// Epochs (absolute, 0-based) to ignore before monitoring starts (a warm-up).
    /// Defaults to 0.
    pub fn start_from_epoch(mut self, epoch: usize) -> Self {
        self.start_from_epoch = epoch;
        self
    }

    /// Put back the weights of the best epoch when training ends. Defaults to `false`.
    pub fn restore_best_weights(mut self, restore: bool) -> Self {
        self.restore_best_weights = restore;
        self
    }

    /// 1 prints when the stop fires and when weights are restored. Defaults to 0.
    pub fn verbose(mut self, verbose: u8) -> Self {
        self.verbose = verbose;
        self
    }

    /// The epoch (0-based) at whose end the stop fired, if it did.
    pub fn stopped_epoch(&self) -> Option<usize> {
        self.stopped_epoch
    }

    /// The best monitored value so far, if any epoch improved.
    pub fn best(&self) -> Option<f64> {
        self.best.is_finite().then_some(self.best)
    }

    /// The epoch (0-based, as callbacks and [`stopped_epoch`](EarlyStopping::stopped_epoch)
    /// count) of the best value (or of the first monitored epoch). Messages print it as the
    /// progress bar does, from 1, and give this value beside it: best epoch 8 is `Epoch 9/10`.
    pub fn best_epoch(&self) -> Option<usize> {
        self.best_epoch
    }

    /// Monitored epochs since the last improvement (Keras's `wait`).
    pub fn wait(&self) -> usize {
        self.wait
    }

    fn snapshot(ctx: &CallbackContext<'_>) -> Vec<(String, Tensor)> {
        ctx.model()
            .named_params()
            .into_iter()
            .map(|(name, p)| (name.to_string(), p.value().clone()))
            .collect()
    }
}

impl Callback for EarlyStopping {
    fn on_train_begin(&mut self, ctx: &mut CallbackContext<'_>) -> Result<Control> {
        check_finite(NAME, "min_delta", self.min_delta)?;
        if let Some(baseline) = self.baseline {
            check_finite(NAME, "baseline", baseline)?;
        }
        check_monitor(NAME, &self.monitor, ctx)?;
        // Instances can be reused: reset the state, as Keras does.
        self.wait = 0;
        self.stopped_epoch = None;
        self.best = worst(self.mode.resolve(&self.monitor));
        self.best_epoch = None;
        self.best_weights = None;
        Ok(Control::Continue)
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &mut Logs,
        ctx: &mut CallbackContext<'_>,
    ) -> Result<Control> {
        let Some(current) = monitor_value(NAME, &self.monitor, logs, ctx)? else {
            return Ok(Control::Continue);
        };
        if epoch < self.start_from_epoch {
            return Ok(Control::Continue);
        }
        if self.restore_best_weights && self.best_weights.is_none() {
            self.best_weights = Some(Self::snapshot(ctx));
            self.best_epoch = Some(epoch);
        }
        let mode = self.mode.resolve(&self.monitor);
        self.wait += 1;
        if is_improvement(mode, current, self.best, self.min_delta) {
            self.best = current;
            self.best_epoch = Some(epoch);
            if self.restore_best_weights {
                self.best_weights = Some(Self::snapshot(ctx));
            }
            // Only restart `wait` if this beats both the baseline and the previous best.
            if self
                .baseline
                .is_none_or(|b| is_improvement(mode, current, b, self.min_delta))
            {
                self.wait = 0;
            }
            return Ok(Control::Continue);
        }
        if self.wait >= self.patience && epoch > 0 {
            self.stopped_epoch = Some(epoch);
            return Ok(Control::Stop);
        }
        Ok(Control::Continue)
    }

    fn state(&self) -> Option<serde_json::Value> {
        let weights = self.best_weights.as_ref().map(|w| {
            w.iter()
                .map(|(name, t)| {
                    (
                        name.clone(),
                        t.shape().to_vec(),
                        t.iter().copied().collect(),
                    )
                })
                .collect()
        });
        let state = Saved {
            wait: self.wait,
            stopped_epoch: self.stopped_epoch,
            best: self.best.to_bits(),
            best_epoch: self.best_epoch,
            best_weights: weights,
        };
        serde_json::to_value(state).ok()
    }

    fn load_state(&mut self, state: serde_json::Value) -> Result<()> {
        let saved: Saved = super::state::parse(NAME, state)?;
        let mut weights = None;
        if let Some(list) = saved.best_weights {
            let mut out = Vec::with_capacity(list.len());
            for (name, shape, data) in list {
                let t = Tensor::from_shape_vec(shape, data).map_err(|e| {
                    crate::Error::CheckpointMismatch {
                        what: "early_stopping's best weights",
                        expected: format!("values that fill the shape of {name}"),
                        found: e.to_string(),
                    }
                })?;
                out.push((name, t));
            }
            weights = Some(out);
        }
        self.wait = saved.wait;
        self.stopped_epoch = saved.stopped_epoch;
        self.best = f64::from_bits(saved.best);
        self.best_epoch = saved.best_epoch;
        self.best_weights = weights;
        Ok(())
    }

    fn on_train_end(&mut self, _logs: &Logs, ctx: &mut CallbackContext<'_>) -> Result<()> {
        if let (Some(epoch), true) = (self.stopped_epoch, self.verbose > 0) {
            ctx.say(format_args!("Epoch {}: early stopping", epoch + 1));
        }
        if let (true, Some(best)) = (self.restore_best_weights, &self.best_weights) {
            if self.verbose > 0 {
                let best = self.best_epoch.unwrap_or(0);
                ctx.say(restoring_message(best, ctx.epochs()));
            }
            for ((name, param), (saved_name, value)) in
                ctx.model_mut().named_params_mut().into_iter().zip(best)
            {
                debug_assert_eq!(
                    &name.to_string(),
                    saved_name,
                    "the model's parameters changed during fit"
                );
                param.set_value(value.clone());
            }
        }
        Ok(())
    }
}

/// The line printed when the best weights are restored: the epoch as the progress bar shows
/// it (from 1) and as [`EarlyStopping::best_epoch`] returns it (from 0), so the two agree.
fn restoring_message(best_epoch: usize, epochs: usize) -> String {
    format!(
        "Restoring model weights from the end of the best epoch, Epoch {}/{epochs} \
         (best_epoch() = {best_epoch}, counted from 0).",
        best_epoch + 1
    )
}

#[cfg(test)]
mod message_tests {
    #[test]
    fn the_restoring_message_names_best_epoch_as_it_returns_it() {
        assert_eq!(
            super::restoring_message(8, 10),
            "Restoring model weights from the end of the best epoch, Epoch 9/10 \
             (best_epoch() = 8, counted from 0)."
        );
    }
}
