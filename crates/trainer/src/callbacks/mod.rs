//! Callbacks: code that `fit` runs at the start and end of training, of every epoch and of
//! every batch, as Keras's `keras.callbacks`.
//!
//! A callback reads the [`Logs`], may change the learning rate or the weights through the
//! [`CallbackContext`], and returns a decision, [`Control::Continue`] or [`Control::Stop`],
//! instead of setting a flag on the model (Keras's `model.stop_training`). Pass callbacks to
//! `fit` with [`FitOptions::callback`](crate::FitOptions::callback), as Keras's
//! `model.fit(..., callbacks=[...])`:
//!
//! ```
//! use keel_data::{Dataset, Targets};
//! use keel_layers::{Activation, Dense};
//! use keel_optim::Adam;
//! use keel_trainer::{EarlyStopping, FitOptions, Loss, ReduceLROnPlateau, Sequential};
//! # fn main() -> keel_trainer::Result<()> {
//! let x = ndarray::Array2::from_shape_fn((64, 2), |(i, j)| ((i * 7 + j * 3) % 5) as f32).into_dyn();
//! let data = Dataset::from_f32(x, Targets::Classes((0..64).map(|i| i % 2).collect()))?;
//! let mut model = Sequential::new([2]).add(Dense::new(2).activation(Activation::Softmax));
//! model.compile(Adam::new(1e-2), Loss::SparseCategoricalCrossentropy, &[])?;
//! let mut early_stopping = EarlyStopping::new("val_loss").patience(2).restore_best_weights(true);
//! let history = model.fit(&data, FitOptions::new()
//!     .epochs(20).validation_split(0.25).verbose(0)
//!     .callback(&mut early_stopping) // borrowed: its state can be read after fit
//!     .callback(ReduceLROnPlateau::new("val_loss").factor(0.5).patience(1)))?;
//! assert_eq!(history.epochs().len(), early_stopping.stopped_epoch().map_or(20, |e| e + 1));
//! assert!(history.get("learning_rate").is_some()); // logged by ReduceLROnPlateau
//! # Ok(()) }
//! ```
//!
//! To write one, implement [`Callback`]; every hook has a default that does nothing. For a
//! one-off, [`LambdaCallback`] takes closures.

mod context;
mod csv_logger;
mod early_stopping;
mod filepath;
mod lambda;
mod list;
mod logs;
mod model_checkpoint;
mod monitor;
mod reduce_lr;
mod scheduler;
mod state;
mod terminate_on_nan;

pub use context::CallbackContext;
pub use csv_logger::CSVLogger;
pub use early_stopping::EarlyStopping;
pub use lambda::LambdaCallback;
pub use logs::Logs;
pub use model_checkpoint::ModelCheckpoint;
pub use monitor::MonitorMode;
pub use reduce_lr::ReduceLROnPlateau;
pub use scheduler::LearningRateScheduler;
pub use terminate_on_nan::TerminateOnNaN;

pub(crate) use context::FitInfo;
pub(crate) use list::CallbackList;

use crate::Result;

/// What a callback asks of the training loop.
///
/// `()` converts to `Continue`, so a [`LambdaCallback`] closure that only prints needs no
/// return value.
///
/// ```
/// use keel_trainer::Control;
/// assert_eq!(Control::from(()), Control::Continue);
/// assert_eq!(Control::default(), Control::Continue);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Control {
    /// Go on training.
    #[default]
    Continue,
    /// Stop training: after this batch, or at the end of this epoch (which is still
    /// completed, validated and recorded), as Keras's `model.stop_training = True`.
    Stop,
}

impl From<()> for Control {
    fn from((): ()) -> Self {
        Control::Continue
    }
}

/// Hooks that [`Sequential::fit`](crate::Sequential::fit) calls, as Keras's
/// `keras.callbacks.Callback`. Every hook has a default that does nothing.
///
/// Order within one `fit`: `on_train_begin`; for each epoch `on_epoch_begin`, then for
/// each batch `on_train_batch_begin` and `on_train_batch_end`, then `on_epoch_end`;
/// finally `on_train_end`, which runs however training ends (all epochs done, a
/// [`Control::Stop`], or a non-finite loss). Epochs are 0-based and absolute (they start at
/// `initial_epoch`); batches are 0-based within the epoch. Callbacks run in the order given.
///
/// A hook that returns `Err` ends `fit` with that error.
///
/// ```
/// use keel_trainer::{Callback, CallbackContext, Control, Logs, Result};
///
/// /// Stops once the training loss is below a threshold.
/// struct StopBelow(f64);
/// impl Callback for StopBelow {
///     fn on_epoch_end(&mut self, _epoch: usize, logs: &mut Logs, _ctx: &mut CallbackContext<'_>) -> Result<Control> {
///         Ok(match logs.get("loss") {
///             Some(loss) if loss < self.0 => Control::Stop,
///             _ => Control::Continue,
///         })
///     }
/// }
/// # let _ = StopBelow(0.1);
/// ```
pub trait Callback {
    /// Called once before the first epoch; [`Control::Stop`] runs no epoch at all.
    ///
    /// # Errors
    /// A bad argument or an unknown monitored name, found before any training is done.
    fn on_train_begin(&mut self, ctx: &mut CallbackContext<'_>) -> Result<Control> {
        let _ = ctx;
        Ok(Control::Continue)
    }

    /// Called once after the last epoch with that epoch's logs (empty if none ran).
    ///
    /// # Errors
    /// Whatever the callback fails to do (e.g. write a file).
    fn on_train_end(&mut self, logs: &Logs, ctx: &mut CallbackContext<'_>) -> Result<()> {
        let _ = (logs, ctx);
        Ok(())
    }

    /// Called at the start of `epoch`; [`Control::Stop`] ends training before it.
    ///
    /// # Errors
    /// Whatever the callback fails to do (e.g. set an invalid learning rate).
    fn on_epoch_begin(&mut self, epoch: usize, ctx: &mut CallbackContext<'_>) -> Result<Control> {
        let _ = (epoch, ctx);
        Ok(Control::Continue)
    }

    /// Called at the end of `epoch` with its logs: the training means (`loss`, metrics)
    /// and, on epochs that validate, the `val_` ones. A callback may add entries (as
    /// Keras's `ReduceLROnPlateau` adds `learning_rate`); later callbacks and the
    /// [`History`](crate::History) see them. Declare such names in
    /// [`logs_added`](Callback::logs_added).
    ///
    /// # Errors
    /// An unknown monitored name, or whatever the callback fails to do.
    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &mut Logs,
        ctx: &mut CallbackContext<'_>,
    ) -> Result<Control> {
        let _ = (epoch, logs, ctx);
        Ok(Control::Continue)
    }

    /// Called before training batch `batch`; [`Control::Stop`] skips it and ends the epoch.
    ///
    /// # Errors
    /// Whatever the callback fails to do.
    fn on_train_batch_begin(
        &mut self,
        batch: usize,
        ctx: &mut CallbackContext<'_>,
    ) -> Result<Control> {
        let _ = (batch, ctx);
        Ok(Control::Continue)
    }

    /// Called after training batch `batch` with the epoch's running means so far (Keras 3
    /// batch logs, plus the running [telemetry](crate::Telemetry) when it is on). If the
    /// guard stops on the batch (its loss or gradients were non-finite, under
    /// [`Policy::Stop`](crate::Policy::Stop), the default), its update was not applied and
    /// `loss` (or `grad_norm`) holds that non-finite value: returning [`Control::Stop`] then
    /// ends `fit` with `Ok` (see [`TerminateOnNaN`]); otherwise `fit` returns
    /// [`Error::NonFiniteLoss`](crate::Error::NonFiniteLoss) (or
    /// [`Error::NonFiniteGradient`](crate::Error::NonFiniteGradient)). Steps the guard skips
    /// or rolls back also end with this call.
    ///
    /// # Errors
    /// Whatever the callback fails to do.
    fn on_train_batch_end(
        &mut self,
        batch: usize,
        logs: &Logs,
        ctx: &mut CallbackContext<'_>,
    ) -> Result<Control> {
        let _ = (batch, logs, ctx);
        Ok(Control::Continue)
    }

    /// The names this callback adds to the epoch logs in
    /// [`on_epoch_end`](Callback::on_epoch_end), so that other callbacks may monitor them
    /// and [`CSVLogger`] gives them a column from the start. Defaults to none.
    fn logs_added(&self) -> Vec<String> {
        Vec::new()
    }

    /// What this callback carries from epoch to epoch (such as `EarlyStopping`'s best value
    /// and `wait`), for training-state checkpoints. Defaults to `None`: no state.
    fn state(&self) -> Option<serde_json::Value> {
        None
    }

    /// Puts back a [`state`](Callback::state) when `fit` resumes from a checkpoint; called
    /// after [`on_train_begin`](Callback::on_train_begin). Defaults to ignoring it.
    ///
    /// # Errors
    /// A state that does not fit this callback.
    fn load_state(&mut self, state: serde_json::Value) -> Result<()> {
        let _ = state;
        Ok(())
    }
}

/// Implements `Callback` for a pointer type by forwarding every hook to the pointee.
macro_rules! forward_callback {
    ($(#[$doc:meta])* $pointer:ty) => {
        $(#[$doc])*
        impl<C: Callback + ?Sized> Callback for $pointer {
            fn on_train_begin(&mut self, ctx: &mut CallbackContext<'_>) -> Result<Control> {
                (**self).on_train_begin(ctx)
            }
            fn on_train_end(&mut self, logs: &Logs, ctx: &mut CallbackContext<'_>) -> Result<()> {
                (**self).on_train_end(logs, ctx)
            }
            fn on_epoch_begin(&mut self, epoch: usize, ctx: &mut CallbackContext<'_>) -> Result<Control> {
                (**self).on_epoch_begin(epoch, ctx)
            }
            fn on_epoch_end(
                &mut self,
                epoch: usize,
                logs: &mut Logs,
                ctx: &mut CallbackContext<'_>,
            ) -> Result<Control> {
                (**self).on_epoch_end(epoch, logs, ctx)
            }
            fn on_train_batch_begin(
                &mut self,
                batch: usize,
                ctx: &mut CallbackContext<'_>,
            ) -> Result<Control> {
                (**self).on_train_batch_begin(batch, ctx)
            }
            fn on_train_batch_end(
                &mut self,
                batch: usize,
                logs: &Logs,
                ctx: &mut CallbackContext<'_>,
            ) -> Result<Control> {
                (**self).on_train_batch_end(batch, logs, ctx)
            }
            fn logs_added(&self) -> Vec<String> {
                (**self).logs_added()
            }
            fn state(&self) -> Option<serde_json::Value> {
                (**self).state()
            }
            fn load_state(&mut self, state: serde_json::Value) -> Result<()> {
                (**self).load_state(state)
            }
        }
    };
}

forward_callback!(
    /// A borrowed callback is a callback, so its state can be read after `fit`
    /// (`FitOptions::new().callback(&mut early_stopping)`).
    &mut C
);
forward_callback!(
    /// A boxed callback is a callback, so `FitOptions::callback` also takes a `Box<dyn Callback>`.
    Box<C>
);
