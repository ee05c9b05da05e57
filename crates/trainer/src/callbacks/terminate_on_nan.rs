//! `TerminateOnNaN`: end training gracefully at the first non-finite loss.

use super::{Callback, CallbackContext, Control, Logs};
use crate::Result;

/// Stops training at the first batch whose loss (or gradient norm) is NaN or infinite, as
/// Keras's `keras.callbacks.TerminateOnNaN` (the name is Keras's).
///
/// Without it, `fit` (with the default [`Guard`](crate::Guard)) treats a non-finite loss or
/// gradient as an error: it returns [`Error::NonFiniteLoss`](crate::Error::NonFiniteLoss) or
/// [`Error::NonFiniteGradient`](crate::Error::NonFiniteGradient) and the History is lost. With it,
/// `fit` returns `Ok` with the History of the epochs completed before (the interrupted epoch
/// is not recorded). Either way the offending update is not applied, so the weights stay
/// finite, and every callback's `on_train_end` runs (so
/// [`EarlyStopping`](super::EarlyStopping) can restore its best weights).
///
/// ```
/// use keel_layers::Dense;
/// use keel_optim::Sgd;
/// use keel_trainer::{Callback, CallbackContext, Control, Logs, Loss, Sequential, TerminateOnNaN};
/// # fn main() -> keel_trainer::Result<()> {
/// let mut model = Sequential::new([2]).add(Dense::new(1));
/// let mut ctx = CallbackContext::new(&mut model);
/// let mut terminate = TerminateOnNaN::new();
/// let finite = terminate.on_train_batch_end(0, &Logs::from([("loss", 0.5)]), &mut ctx)?;
/// let nan = terminate.on_train_batch_end(1, &Logs::from([("loss", f64::NAN)]), &mut ctx)?;
/// assert_eq!((finite, nan), (Control::Continue, Control::Stop));
/// assert_eq!(terminate.terminated_at(), Some((0, 1)));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct TerminateOnNaN {
    terminated_at: Option<(usize, usize)>,
}

impl TerminateOnNaN {
    /// The callback.
    pub fn new() -> Self {
        TerminateOnNaN::default()
    }

    /// The `(epoch, batch)`, both 0-based, whose loss stopped training, if any.
    pub fn terminated_at(&self) -> Option<(usize, usize)> {
        self.terminated_at
    }
}

impl Callback for TerminateOnNaN {
    fn on_train_begin(&mut self, _ctx: &mut CallbackContext<'_>) -> Result<Control> {
        self.terminated_at = None;
        Ok(Control::Continue)
    }

    fn on_train_batch_end(
        &mut self,
        batch: usize,
        logs: &Logs,
        ctx: &mut CallbackContext<'_>,
    ) -> Result<Control> {
        let nonfinite = |name| logs.get(name).is_some_and(|v: f64| !v.is_finite());
        match nonfinite("loss") || nonfinite("grad_norm") {
            true => {
                ctx.say(format_args!(
                    "Batch {batch}: Invalid loss, terminating training"
                ));
                self.terminated_at = Some((ctx.epoch(), batch));
                Ok(Control::Stop)
            }
            false => Ok(Control::Continue),
        }
    }
}
