//! `LearningRateScheduler`: set the learning rate at the start of every epoch.

use super::{Callback, CallbackContext, Control, Logs};
use crate::Result;

/// Sets the learning rate at the start of each epoch to `schedule(epoch, lr)`, where `epoch`
/// is 0-based (absolute, from `initial_epoch`) and `lr` the current rate, as Keras's
/// `keras.callbacks.LearningRateScheduler`. Logs the epoch's rate as `learning_rate`.
///
/// For a schedule by optimizer step rather than by epoch, use an optimizer schedule instead.
///
/// ```
/// use keel_layers::Dense;
/// use keel_optim::Sgd;
/// use keel_trainer::{Callback, CallbackContext, LearningRateScheduler, Loss, Sequential};
/// # fn main() -> keel_trainer::Result<()> {
/// let mut model = Sequential::new([2]).add(Dense::new(1));
/// model.compile(Sgd::new(0.1), Loss::MeanSquaredError, &[])?;
/// let mut ctx = CallbackContext::new(&mut model);
/// // Keras's example: keep the rate for 10 epochs, then decay it by e^-0.1 per epoch.
/// let mut scheduler = LearningRateScheduler::new(|epoch, lr| {
///     if epoch < 10 { lr } else { lr * (-0.1f32).exp() }
/// });
/// scheduler.on_epoch_begin(10, &mut ctx)?;
/// assert!((ctx.learning_rate()? - 0.1 * (-0.1f32).exp()).abs() < 1e-7);
/// # Ok(()) }
/// ```
///
/// # Errors
/// When the schedule returns a negative or non-finite rate (the optimizer rejects it).
pub struct LearningRateScheduler<F> {
    schedule: F,
    verbose: u8,
}

impl<F: FnMut(usize, f32) -> f32> LearningRateScheduler<F> {
    /// A scheduler calling `schedule(epoch, current_lr)`.
    pub fn new(schedule: F) -> Self {
        LearningRateScheduler {
            schedule,
            verbose: 0,
        }
    }

    /// 1 prints the rate set at each epoch. Defaults to 0.
    pub fn verbose(mut self, verbose: u8) -> Self {
        self.verbose = verbose;
        self
    }
}

impl<F> std::fmt::Debug for LearningRateScheduler<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LearningRateScheduler")
            .field("verbose", &self.verbose)
            .finish_non_exhaustive()
    }
}

impl<F: FnMut(usize, f32) -> f32> Callback for LearningRateScheduler<F> {
    fn on_train_begin(&mut self, ctx: &mut CallbackContext<'_>) -> Result<Control> {
        ctx.require_constant_rate("LearningRateScheduler")?;
        Ok(Control::Continue)
    }

    fn on_epoch_begin(&mut self, epoch: usize, ctx: &mut CallbackContext<'_>) -> Result<Control> {
        let lr = (self.schedule)(epoch, ctx.learning_rate()?);
        ctx.set_learning_rate(lr)?;
        if self.verbose > 0 {
            ctx.say(format_args!(
                "Epoch {}: LearningRateScheduler setting learning rate to {lr}.",
                epoch + 1
            ));
        }
        Ok(Control::Continue)
    }

    fn on_epoch_end(
        &mut self,
        _epoch: usize,
        logs: &mut Logs,
        ctx: &mut CallbackContext<'_>,
    ) -> Result<Control> {
        logs.insert("learning_rate", f64::from(ctx.learning_rate()?));
        Ok(Control::Continue)
    }

    fn logs_added(&self) -> Vec<String> {
        vec!["learning_rate".to_string()]
    }
}
