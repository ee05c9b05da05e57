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

    /// Every callback's state, as JSON text, by position.
    pub(crate) fn states(&self) -> Vec<Option<String>> {
        self.callbacks
            .iter()
            .map(|c| c.state().map(|v| v.to_string()))
            .collect()
    }

    /// Puts back the states [`states`](Self::states) returned, by position.
    ///
    /// # Errors
    /// Another number of callbacks, a callback that has state where the checkpoint has none
    /// (or the other way round), or a state the callback refuses.
    pub(crate) fn load_states(&mut self, states: Vec<Option<String>>) -> Result<()> {
        let shape = |s: &mut dyn Iterator<Item = bool>| {
            s.map(|has| if has { "stateful" } else { "stateless" })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let ours = shape(&mut self.callbacks.iter().map(|c| c.state().is_some()));
        let theirs = shape(&mut states.iter().map(Option::is_some));
        if ours != theirs {
            return Err(crate::Error::CheckpointMismatch {
                what: "the callbacks",
                expected: format!("[{ours}]"),
                found: format!("[{theirs}]"),
            });
        }
        for (callback, state) in self.callbacks.iter_mut().zip(states) {
            if let Some(text) = state {
                let value =
                    serde_json::from_str(&text).map_err(|e| crate::Error::CheckpointMismatch {
                        what: "a callback state",
                        expected: "JSON".into(),
                        found: e.to_string(),
                    })?;
                callback.load_state(value)?;
            }
        }
        Ok(())
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
