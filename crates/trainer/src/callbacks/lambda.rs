//! `LambdaCallback`: a callback made of closures.

use super::{Callback, CallbackContext, Control, Logs};
use crate::Result;

type Hook<'a, A> = Option<Box<dyn FnMut(A) -> Control + 'a>>;
type LogsHook<'a> = Option<Box<dyn FnMut(usize, &Logs) -> Control + 'a>>;
type EndHook<'a> = Option<Box<dyn FnMut(&Logs) + 'a>>;
type AddedLog<'a> = (String, Box<dyn FnMut(usize, &Logs) -> f64 + 'a>);

/// A callback from closures, one per hook, as Keras's `keras.callbacks.LambdaCallback`.
///
/// Each closure may return nothing (training continues) or a [`Control`]. Closures may
/// borrow local state, for as long as the `FitOptions` holding the callback lives.
///
/// ```
/// use keel_data::{Dataset, Targets};
/// use keel_layers::Dense;
/// use keel_optim::Sgd;
/// use keel_trainer::{Control, FitOptions, LambdaCallback, Loss, Sequential};
/// # fn main() -> keel_trainer::Result<()> {
/// let x = ndarray::Array2::from_shape_fn((8, 2), |(i, j)| (i + j) as f32).into_dyn();
/// let data = Dataset::from_f32(x, Targets::Classes(vec![0; 8]))?;
/// let mut model = Sequential::new([2]).add(Dense::new(1));
/// model.compile(Sgd::new(0.01), Loss::MeanSquaredError, &[])?;
/// let mut losses = Vec::new();
/// model.fit(&data, FitOptions::new().epochs(10).batch_size(2).verbose(0).callback(
///     LambdaCallback::new()
///         .on_epoch_end(|_epoch, logs| losses.push(logs.get("loss").unwrap()))
///         .on_train_batch_end(|batch, _logs| if batch == 0 { Control::Continue } else { Control::Stop }),
/// ))?;
/// assert_eq!(losses.len(), 1); // stopped after the second batch of the first epoch
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct LambdaCallback<'a> {
    on_train_begin: Hook<'a, ()>,
    on_train_end: EndHook<'a>,
    on_epoch_begin: Hook<'a, usize>,
    on_epoch_end: LogsHook<'a>,
    on_train_batch_begin: Hook<'a, usize>,
    on_train_batch_end: LogsHook<'a>,
    added: Vec<AddedLog<'a>>,
}

impl<'a> LambdaCallback<'a> {
    /// A callback that does nothing until closures are given.
    pub fn new() -> Self {
        LambdaCallback::default()
    }

    /// Runs `f()` before the first epoch.
    pub fn on_train_begin<R: Into<Control>>(mut self, mut f: impl FnMut() -> R + 'a) -> Self {
        self.on_train_begin = Some(Box::new(move |()| f().into()));
        self
    }

    /// Runs `f(last_epoch_logs)` when training ends.
    pub fn on_train_end(mut self, f: impl FnMut(&Logs) + 'a) -> Self {
        self.on_train_end = Some(Box::new(f));
        self
    }

    /// Runs `f(epoch)` at the start of every epoch.
    pub fn on_epoch_begin<R: Into<Control>>(mut self, mut f: impl FnMut(usize) -> R + 'a) -> Self {
        self.on_epoch_begin = Some(Box::new(move |epoch| f(epoch).into()));
        self
    }

    /// Runs `f(epoch, logs)` at the end of every epoch.
    pub fn on_epoch_end<R: Into<Control>>(
        mut self,
        mut f: impl FnMut(usize, &Logs) -> R + 'a,
    ) -> Self {
        self.on_epoch_end = Some(Box::new(move |epoch, logs| f(epoch, logs).into()));
        self
    }

    /// Adds the value `f(epoch, logs)` to every epoch's logs under `name` (Keras's
    /// `logs[name] = ...` in `on_epoch_end`). The name is declared before training, so a
    /// callback placed after this one can monitor it, and `CSVLogger` and `History` record
    /// it.
    ///
    /// ```
    /// use keel_data::{Dataset, Targets};
    /// use keel_layers::Dense;
    /// use keel_optim::Sgd;
    /// use keel_trainer::{EarlyStopping, FitOptions, LambdaCallback, Loss, Sequential};
    /// # fn main() -> keel_trainer::Result<()> {
    /// let x = ndarray::Array2::from_shape_fn((8, 2), |(i, j)| (i + j) as f32).into_dyn();
    /// let data = Dataset::from_f32(x, Targets::Classes(vec![0; 8]))?;
    /// let mut model = Sequential::new([2]).add(Dense::new(1));
    /// model.compile(Sgd::new(0.01), Loss::MeanSquaredError, &[])?;
    /// let history = model.fit(&data, FitOptions::new().epochs(20).verbose(0)
    ///     .callback(LambdaCallback::new().add_log("scaled_loss", |_, logs| logs.get("loss").unwrap() * 10.0))
    ///     .callback(EarlyStopping::new("scaled_loss").patience(1).min_delta(1e9)))?;
    /// assert_eq!(history.get("scaled_loss").unwrap().len(), 2); // stopped by the added log
    /// # Ok(()) }
    /// ```
    pub fn add_log(
        mut self,
        name: impl Into<String>,
        f: impl FnMut(usize, &Logs) -> f64 + 'a,
    ) -> Self {
        self.added.push((name.into(), Box::new(f)));
        self
    }

    /// Runs `f(batch)` before every training batch.
    pub fn on_train_batch_begin<R: Into<Control>>(
        mut self,
        mut f: impl FnMut(usize) -> R + 'a,
    ) -> Self {
        self.on_train_batch_begin = Some(Box::new(move |batch| f(batch).into()));
        self
    }

    /// Runs `f(batch, logs)` after every training batch.
    pub fn on_train_batch_end<R: Into<Control>>(
        mut self,
        mut f: impl FnMut(usize, &Logs) -> R + 'a,
    ) -> Self {
        self.on_train_batch_end = Some(Box::new(move |batch, logs| f(batch, logs).into()));
        self
    }
}

impl std::fmt::Debug for LambdaCallback<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LambdaCallback")
            .field("on_train_begin", &self.on_train_begin.is_some())
            .field("on_train_end", &self.on_train_end.is_some())
            .field("on_epoch_begin", &self.on_epoch_begin.is_some())
            .field("on_epoch_end", &self.on_epoch_end.is_some())
            .field("on_train_batch_begin", &self.on_train_batch_begin.is_some())
            .field("on_train_batch_end", &self.on_train_batch_end.is_some())
            .field("added", &self.logs_added())
            .finish()
    }
}

impl Callback for LambdaCallback<'_> {
    fn on_train_begin(&mut self, _ctx: &mut CallbackContext<'_>) -> Result<Control> {
        Ok(self
            .on_train_begin
            .as_mut()
            .map_or(Control::Continue, |f| f(())))
    }

    fn on_train_end(&mut self, logs: &Logs, _ctx: &mut CallbackContext<'_>) -> Result<()> {
        if let Some(f) = &mut self.on_train_end {
            f(logs);
        }
        Ok(())
    }

    fn on_epoch_begin(&mut self, epoch: usize, _ctx: &mut CallbackContext<'_>) -> Result<Control> {
        Ok(self
            .on_epoch_begin
            .as_mut()
            .map_or(Control::Continue, |f| f(epoch)))
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &mut Logs,
        _ctx: &mut CallbackContext<'_>,
    ) -> Result<Control> {
        for (name, f) in &mut self.added {
            let value = f(epoch, logs);
            logs.insert(name.clone(), value);
        }
        Ok(self
            .on_epoch_end
            .as_mut()
            .map_or(Control::Continue, |f| f(epoch, logs)))
    }

    fn logs_added(&self) -> Vec<String> {
        self.added.iter().map(|(name, _)| name.clone()).collect()
    }

    fn on_train_batch_begin(
        &mut self,
        batch: usize,
        _ctx: &mut CallbackContext<'_>,
    ) -> Result<Control> {
        Ok(self
            .on_train_batch_begin
            .as_mut()
            .map_or(Control::Continue, |f| f(batch)))
    }

    fn on_train_batch_end(
        &mut self,
        batch: usize,
        logs: &Logs,
        _ctx: &mut CallbackContext<'_>,
    ) -> Result<Control> {
        Ok(self
            .on_train_batch_end
            .as_mut()
            .map_or(Control::Continue, |f| f(batch, logs)))
    }
}
