//! `ModelCheckpoint`: save the model at the end of epochs.

use super::filepath::{Pattern, Value};
use super::monitor::{check_finite, check_monitor, is_improvement, monitor_value, unknown, worst};
use super::{Callback, CallbackContext, Control, Logs, MonitorMode};
use crate::{Error, Result};
use std::path::PathBuf;

const NAME: &str = "model_checkpoint";

/// Saves the model (architecture and weights, with [`Sequential::save`](crate::Sequential::save))
/// at the end of every epoch, or only when `monitor` improves, as Keras's
/// `keras.callbacks.ModelCheckpoint`.
///
/// `filepath` may hold placeholders filled from the epoch logs, as Keras's: `{epoch}` is the
/// 1-based epoch, and any logged name can appear, with an optional spec
/// `[0][width][.precision][d|f]`: `"ckpt-{epoch:02}-{val_loss:.4}.keel"` gives
/// `ckpt-03-0.2817.keel`. Precision counts digits after the point (with or without `f`).
/// Missing parent directories are created; each file is written atomically.
///
/// It never saves a model whose monitored value (when logged) or any weight is NaN or
/// infinite: that epoch is skipped and an earlier checkpoint is left intact. Epochs that do
/// not log a placeholder's name or, with `save_best_only`, the monitored name (validation
/// skipped by `validation_freq`) are skipped too.
///
/// ```
/// use keel_layers::Dense;
/// use keel_optim::Sgd;
/// use keel_trainer::{Callback, CallbackContext, Logs, Loss, ModelCheckpoint, Sequential};
/// # fn main() -> keel_trainer::Result<()> {
/// let dir = tempfile::tempdir().unwrap();
/// let mut model = Sequential::new([2]).add(Dense::new(1));
/// model.compile(Sgd::new(0.1), Loss::MeanSquaredError, &[])?;
/// let mut ctx = CallbackContext::new(&mut model);
/// let pattern = dir.path().join("ckpt-{epoch:02}-{val_loss:.2}.keel");
/// let mut checkpoint = ModelCheckpoint::new(pattern.to_str().unwrap()).save_best_only(true);
/// checkpoint.on_train_begin(&mut ctx)?;
/// for (epoch, val_loss) in [0.5, 0.7, 0.25].into_iter().enumerate() {
///     checkpoint.on_epoch_end(epoch, &mut Logs::from([("val_loss", val_loss)]), &mut ctx)?;
/// }
/// let names: Vec<_> = checkpoint.saved().iter().map(|p| p.file_name().unwrap().to_owned()).collect();
/// assert_eq!(names, ["ckpt-01-0.50.keel", "ckpt-03-0.25.keel"]);
/// keel_trainer::Sequential::load(&checkpoint.saved()[1])?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// At the start of `fit`: a pattern that does not parse, or with `save_best_only` a
/// `monitor` the run does not log. At an epoch's end: a placeholder naming nothing logged
/// ([`Error::UnknownMetric`], listing what is), or a file that cannot be written.
#[derive(Debug, Clone)]
pub struct ModelCheckpoint {
    filepath: String,
    monitor: String,
    save_best_only: bool,
    mode: MonitorMode,
    initial_value_threshold: Option<f64>,
    verbose: u8,
    pattern: Option<Pattern>,
    best: f64,
    saved: Vec<PathBuf>,
}

/// The error for a placeholder naming nothing logged; `epoch` is listed first.
fn unknown_placeholder(name: &str, logs: Option<&Logs>, ctx: &CallbackContext<'_>) -> Error {
    let mut err = unknown(NAME, "filepath placeholder", name, logs, ctx);
    if let Error::UnknownMetric { available, .. } = &mut err {
        available.insert(0, "epoch".to_string());
    }
    err
}

impl ModelCheckpoint {
    /// Saves to `filepath` (a pattern), monitoring `"val_loss"`, every epoch.
    pub fn new(filepath: impl Into<String>) -> Self {
        ModelCheckpoint {
            filepath: filepath.into(),
            monitor: "val_loss".to_string(),
            save_best_only: false,
            mode: MonitorMode::Auto,
            initial_value_threshold: None,
            verbose: 0,
            pattern: None,
            best: f64::INFINITY,
            saved: Vec::new(),
        }
    }

    /// The quantity `save_best_only` and the non-finite guard look at. Defaults to
    /// `"val_loss"`.
    pub fn monitor(mut self, monitor: impl Into<String>) -> Self {
        self.monitor = monitor.into();
        self
    }

    /// Save only when `monitor` improves on the best so far. Defaults to `false`.
    pub fn save_best_only(mut self, save_best_only: bool) -> Self {
        self.save_best_only = save_best_only;
        self
    }

    /// Whether lower or higher is better. Defaults to [`MonitorMode::Auto`].
    pub fn mode(mut self, mode: MonitorMode) -> Self {
        self.mode = mode;
        self
    }

    /// With `save_best_only`, a value the first save must already beat. Defaults to none.
    pub fn initial_value_threshold(mut self, threshold: f64) -> Self {
        self.initial_value_threshold = Some(threshold);
        self
    }

    /// 1 prints each save and each epoch that did not improve. Defaults to 0.
    pub fn verbose(mut self, verbose: u8) -> Self {
        self.verbose = verbose;
        self
    }

    /// The files written so far in this run, in order.
    pub fn saved(&self) -> &[PathBuf] {
        &self.saved
    }

    /// The best monitored value saved so far, with `save_best_only`.
    pub fn best(&self) -> Option<f64> {
        self.best.is_finite().then_some(self.best)
    }

    fn parse(&self) -> Result<Pattern> {
        Pattern::parse(&self.filepath).map_err(|problem| Error::FilepathPattern {
            pattern: self.filepath.clone(),
            problem,
        })
    }

    /// The file name for `epoch`, or `None` if a known name is not logged this epoch.
    fn path(
        &self,
        epoch: usize,
        logs: &Logs,
        ctx: &CallbackContext<'_>,
    ) -> Result<Option<PathBuf>> {
        let pattern = match &self.pattern {
            Some(pattern) => pattern.clone(),
            None => self.parse()?,
        };
        let lookup = |name: &str| match name {
            "epoch" => Some(Value::Int(epoch + 1)),
            _ => logs.get(name).map(Value::Float),
        };
        match pattern.format(lookup) {
            Ok(path) => Ok(Some(PathBuf::from(path))),
            Err(name) if name == "epoch" || logs.get(&name).is_some() => {
                Err(Error::FilepathPattern {
                    pattern: self.filepath.clone(),
                    problem: format!("'{name}' cannot take that format spec ('d' needs an integer, without precision)"),
                })
            }
            Err(name) if ctx.metric_names().contains(&name) => Ok(None),
            Err(name) => Err(unknown_placeholder(&name, Some(logs), ctx)),
        }
    }
}

impl Callback for ModelCheckpoint {
    fn state(&self) -> Option<serde_json::Value> {
        // The best value as bits, so that an infinity survives JSON.
        Some(serde_json::json!([self.best.to_bits(), self.saved]))
    }

    fn load_state(&mut self, state: serde_json::Value) -> Result<()> {
        let (best, saved): (u64, Vec<PathBuf>) = super::state::parse(NAME, state)?;
        self.best = f64::from_bits(best);
        self.saved = saved;
        Ok(())
    }

    fn on_train_begin(&mut self, ctx: &mut CallbackContext<'_>) -> Result<Control> {
        let pattern = self.parse()?;
        let known = ctx.metric_names();
        if let Some(name) = pattern
            .names()
            .find(|&n| n != "epoch" && !known.is_empty() && !known.iter().any(|k| k == n))
        {
            return Err(unknown_placeholder(name, None, ctx));
        }
        self.pattern = Some(pattern);
        if self.save_best_only {
            check_monitor(NAME, &self.monitor, ctx)?;
        }
        if let Some(threshold) = self.initial_value_threshold {
            check_finite(NAME, "initial_value_threshold", threshold)?;
        }
        self.best = self
            .initial_value_threshold
            .unwrap_or_else(|| worst(self.mode.resolve(&self.monitor)));
        self.saved.clear();
        Ok(Control::Continue)
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &mut Logs,
        ctx: &mut CallbackContext<'_>,
    ) -> Result<Control> {
        let Some(path) = self.path(epoch, logs, ctx)? else {
            return Ok(Control::Continue);
        };
        let current = if self.save_best_only {
            match monitor_value(NAME, &self.monitor, logs, ctx)? {
                Some(value) => Some(value),
                None => return Ok(Control::Continue),
            }
        } else {
            logs.get(&self.monitor)
        };
        let finite_weights = ctx
            .model()
            .named_params()
            .iter()
            .all(|(_, p)| p.value().iter().all(|v| v.is_finite()));
        if current.is_some_and(|v| !v.is_finite()) || !finite_weights {
            if self.verbose > 0 {
                ctx.say(format_args!(
                    "Epoch {}: non-finite {} or weights, not saving",
                    epoch + 1,
                    self.monitor
                ));
            }
            return Ok(Control::Continue);
        }
        if let (true, Some(value)) = (self.save_best_only, current) {
            let mode = self.mode.resolve(&self.monitor);
            if !is_improvement(mode, value, self.best, 0.0) {
                if self.verbose > 0 {
                    ctx.say(format_args!(
                        "Epoch {}: {} did not improve from {:.5}",
                        epoch + 1,
                        self.monitor,
                        self.best
                    ));
                }
                return Ok(Control::Continue);
            }
            self.best = value;
        }
        if ctx.is_chief() {
            // Rank 0 writes; the others keep the same record of what was saved.
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                    path: dir.to_path_buf(),
                    source,
                })?;
            }
            ctx.model().save(&path)?;
            if self.verbose > 0 {
                ctx.say(format_args!(
                    "Epoch {}: saved model to {}",
                    epoch + 1,
                    path.display()
                ));
            }
        }
        self.saved.push(path);
        Ok(Control::Continue)
    }
}
