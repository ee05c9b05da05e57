//! `ReduceLROnPlateau`: lower the learning rate when a monitored quantity stalls.

use super::monitor::{check_finite, check_monitor, monitor_value, worst};
use super::{Callback, CallbackContext, Control, Logs, MonitorMode};
use crate::{Error, Result};

const NAME: &str = "reduce_lr_on_plateau";

/// Multiplies the learning rate by `factor` when `monitor` has not improved for `patience`
/// epochs, as Keras's `keras.callbacks.ReduceLROnPlateau`, with its argument names, defaults
/// and rules. At the end of each epoch that logs `monitor`:
///
/// 1. in cooldown (`cooldown_counter > 0`), the counter goes down by one and `wait` is reset;
/// 2. an improvement on the best by more than `min_delta` records it and resets `wait`;
/// 3. otherwise, out of cooldown, `wait` goes up; when it reaches `patience` and the learning
///    rate is above `min_lr`, the rate becomes `max(lr * factor, min_lr)`, the cooldown
///    starts (`cooldown_counter = cooldown`) and `wait` is reset.
///
/// It also logs the epoch's learning rate (before any reduction) as `learning_rate`, as
/// Keras does, so the [`History`](crate::History) shows the schedule.
///
/// ```
/// use keel_layers::Dense;
/// use keel_optim::Sgd;
/// use keel_trainer::{Callback, CallbackContext, Logs, Loss, ReduceLROnPlateau, Sequential};
/// # fn main() -> keel_trainer::Result<()> {
/// let mut model = Sequential::new([2]).add(Dense::new(1));
/// model.compile(Sgd::new(1.0), Loss::MeanSquaredError, &[])?;
/// let mut ctx = CallbackContext::new(&mut model);
/// let mut reduce = ReduceLROnPlateau::new("val_loss").factor(0.5).patience(1);
/// reduce.on_train_begin(&mut ctx)?;
/// let mut lrs = Vec::new();
/// for (epoch, val_loss) in [1.0, 1.0, 1.0, 0.5].into_iter().enumerate() {
///     reduce.on_epoch_end(epoch, &mut Logs::from([("val_loss", val_loss)]), &mut ctx)?;
///     lrs.push(ctx.learning_rate()?);
/// }
/// assert_eq!(lrs, [1.0, 0.5, 0.25, 0.25]);
/// # Ok(()) }
/// ```
///
/// # Errors
/// At the start of `fit`: `factor` outside `(0, 1)` (Keras rejects `factor >= 1`), a
/// negative or non-finite `min_delta` or `min_lr`, or a `monitor` the run does not log.
#[derive(Debug, Clone)]
pub struct ReduceLROnPlateau {
    monitor: String,
    factor: f32,
    patience: usize,
    mode: MonitorMode,
    min_delta: f64,
    cooldown: usize,
    min_lr: f32,
    verbose: u8,
    best: f64,
    wait: usize,
    cooldown_counter: usize,
}

impl ReduceLROnPlateau {
    /// Monitors `monitor` (Keras's default is `"val_loss"`), with Keras's defaults: factor
    /// 0.1, patience 10, mode auto, `min_delta` 1e-4, cooldown 0, `min_lr` 0.
    pub fn new(monitor: impl Into<String>) -> Self {
        ReduceLROnPlateau {
            monitor: monitor.into(),
            factor: 0.1,
            patience: 10,
            mode: MonitorMode::Auto,
            min_delta: 1e-4,
            cooldown: 0,
            min_lr: 0.0,
            verbose: 0,
            best: f64::INFINITY,
            wait: 0,
            cooldown_counter: 0,
        }
    }

    /// The factor the learning rate is multiplied by, in `(0, 1)`. Defaults to 0.1.
    pub fn factor(mut self, factor: f32) -> Self {
        self.factor = factor;
        self
    }

    /// Epochs without improvement before reducing. Defaults to 10.
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// Whether lower or higher is better. Defaults to [`MonitorMode::Auto`].
    pub fn mode(mut self, mode: MonitorMode) -> Self {
        self.mode = mode;
        self
    }

    /// The smallest change that counts as an improvement, `>= 0`. Defaults to 1e-4.
    pub fn min_delta(mut self, min_delta: f64) -> Self {
        self.min_delta = min_delta;
        self
    }

    /// Epochs after a reduction during which `wait` stays at 0. Defaults to 0.
    pub fn cooldown(mut self, cooldown: usize) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The learning rate is never reduced below this, `>= 0`. Defaults to 0.
    pub fn min_lr(mut self, min_lr: f32) -> Self {
        self.min_lr = min_lr;
        self
    }

    /// 1 prints every reduction. Defaults to 0.
    pub fn verbose(mut self, verbose: u8) -> Self {
        self.verbose = verbose;
        self
    }

    /// Monitored epochs since the last improvement or reduction (Keras's `wait`).
    pub fn wait(&self) -> usize {
        self.wait
    }

    /// Epochs of cooldown left.
    pub fn cooldown_counter(&self) -> usize {
        self.cooldown_counter
    }

    /// The best monitored value so far, if any.
    pub fn best(&self) -> Option<f64> {
        self.best.is_finite().then_some(self.best)
    }

    fn validate(&self) -> Result<()> {
        let invalid = |argument, expected, found: String| {
            Err(Error::InvalidCallbackArgument {
                callback: NAME,
                argument,
                expected,
                found,
            })
        };
        if !(self.factor > 0.0 && self.factor < 1.0) {
            return invalid("factor", "in (0, 1)", self.factor.to_string());
        }
        check_finite(NAME, "min_delta", self.min_delta)?;
        if self.min_delta < 0.0 {
            return invalid("min_delta", ">= 0", self.min_delta.to_string());
        }
        if !(self.min_lr.is_finite() && self.min_lr >= 0.0) {
            return invalid("min_lr", "a finite number >= 0", self.min_lr.to_string());
        }
        Ok(())
    }
}

impl Callback for ReduceLROnPlateau {
    fn state(&self) -> Option<serde_json::Value> {
        // The best value as bits, so that an infinity survives JSON.
        Some(serde_json::json!([
            self.best.to_bits(),
            self.wait,
            self.cooldown_counter
        ]))
    }

    fn load_state(&mut self, state: serde_json::Value) -> Result<()> {
        let (best, wait, cooldown): (u64, usize, usize) = super::state::parse(NAME, state)?;
        self.best = f64::from_bits(best);
        self.wait = wait;
        self.cooldown_counter = cooldown;
        Ok(())
    }

    fn on_train_begin(&mut self, ctx: &mut CallbackContext<'_>) -> Result<Control> {
        self.validate()?;
        check_monitor(NAME, &self.monitor, ctx)?;
        ctx.require_constant_rate("ReduceLROnPlateau")?;
        self.best = worst(self.mode.resolve(&self.monitor));
        self.wait = 0;
        self.cooldown_counter = 0;
        Ok(Control::Continue)
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &mut Logs,
        ctx: &mut CallbackContext<'_>,
    ) -> Result<Control> {
        let old_lr = ctx.learning_rate()?;
        logs.insert("learning_rate", f64::from(old_lr));
        let Some(current) = monitor_value(NAME, &self.monitor, logs, ctx)? else {
            return Ok(Control::Continue);
        };
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.wait = 0;
        }
        // Keras's `monitor_op`: `a < b - min_delta` (min) or `a > b + min_delta` (max).
        let improved = match self.mode.resolve(&self.monitor) {
            MonitorMode::Max => current > self.best + self.min_delta,
            _ => current < self.best - self.min_delta,
        };
        if improved {
            self.best = current;
            self.wait = 0;
        } else if self.cooldown_counter == 0 {
            self.wait += 1;
            if self.wait >= self.patience && old_lr > self.min_lr {
                // Keras computes in float64, then stores a float32.
                let new_lr =
                    (f64::from(old_lr) * f64::from(self.factor)).max(f64::from(self.min_lr));
                ctx.set_learning_rate(new_lr as f32)?;
                if self.verbose > 0 {
                    ctx.say(format_args!(
                        "Epoch {}: ReduceLROnPlateau reducing learning rate to {new_lr}.",
                        epoch + 1
                    ));
                }
                self.cooldown_counter = self.cooldown;
                self.wait = 0;
            }
        }
        Ok(Control::Continue)
    }

    fn logs_added(&self) -> Vec<String> {
        vec!["learning_rate".to_string()]
    }
}
