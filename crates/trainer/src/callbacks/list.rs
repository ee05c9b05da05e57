//! Calling every callback of a `fit` in order, and combining their decisions.

use super::{Callback, CallbackContext, Control, Logs};
use crate::Result;

/// The callbacks of one `fit`. Every hook is called on every callback, in order; training
/// stops if any of them returns [`Control::Stop`] (as every Keras callback runs before
/// `model.stop_training` is checked).
pub(crate) struct CallbackList<'a> {
    callbacks: Vec<Box<dyn Callback + 'a>>,
}

fn combine(decisions: impl Iterator<Item = Result<Control>>) -> Result<Control> {
    let mut control = Control::Continue;
    for decision in decisions {
        if decision? == Control::Stop {
            control = Control::Stop;
        }
    }
    Ok(control)
}

impl<'a> CallbackList<'a> {
    pub(crate) fn new(callbacks: Vec<Box<dyn Callback + 'a>>) -> Self {
        CallbackList { callbacks }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.callbacks.is_empty()
    }

    /// The names every callback adds to the epoch logs.
    pub(crate) fn logs_added(&self) -> Vec<String> {
        self.callbacks.iter().flat_map(|c| c.logs_added()).collect()
    }

    pub(crate) fn train_begin(&mut self, ctx: &mut CallbackContext<'_>) -> Result<Control> {
        combine(self.callbacks.iter_mut().map(|c| c.on_train_begin(ctx)))
    }

    pub(crate) fn train_end(&mut self, logs: &Logs, ctx: &mut CallbackContext<'_>) -> Result<()> {
        self.callbacks
            .iter_mut()
            .try_for_each(|c| c.on_train_end(logs, ctx))
    }

    pub(crate) fn epoch_begin(
        &mut self,
        epoch: usize,
        ctx: &mut CallbackContext<'_>,
    ) -> Result<Control> {
        combine(
            self.callbacks
                .iter_mut()
                .map(|c| c.on_epoch_begin(epoch, ctx)),
        )
    }

    pub(crate) fn epoch_end(
        &mut self,
        epoch: usize,
        logs: &mut Logs,
        ctx: &mut CallbackContext<'_>,
    ) -> Result<Control> {
        combine(
            self.callbacks
                .iter_mut()
                .map(|c| c.on_epoch_end(epoch, logs, ctx)),
        )
    }

    pub(crate) fn batch_begin(
        &mut self,
        batch: usize,
        ctx: &mut CallbackContext<'_>,
    ) -> Result<Control> {
        combine(
            self.callbacks
                .iter_mut()
                .map(|c| c.on_train_batch_begin(batch, ctx)),
        )
    }

    pub(crate) fn batch_end(
        &mut self,
        batch: usize,
        logs: &Logs,
        ctx: &mut CallbackContext<'_>,
    ) -> Result<Control> {
        combine(
            self.callbacks
                .iter_mut()
                .map(|c| c.on_train_batch_end(batch, logs, ctx)),
        )
    }
}
