//! `CSVLogger`: one row per epoch in a CSV file.

use super::{Callback, CallbackContext, Control, Logs};
use crate::{Error, Result};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

/// Writes the epoch logs to a CSV file, as Keras's `keras.callbacks.CSVLogger` (the name is
/// Keras's): a header `epoch,<names>` and one row per epoch, written as the epoch ends.
///
/// Columns are `epoch` (0-based, as Keras writes it), then every name the run logs, sorted
/// (`val_` columns included from the start even with `validation_freq`); a value missing in
/// an epoch is written `NA`. With `append`, rows are added to an existing file and the
/// header is written only if the file is empty.
///
/// ```
/// use keel_layers::Dense;
/// use keel_optim::Sgd;
/// use keel_trainer::{Callback, CallbackContext, CSVLogger, Logs, Loss, Sequential};
/// # fn main() -> keel_trainer::Result<()> {
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("training.csv");
/// let mut model = Sequential::new([2]).add(Dense::new(1));
/// let mut ctx = CallbackContext::new(&mut model);
/// let mut logger = CSVLogger::new(&path);
/// logger.on_train_begin(&mut ctx)?;
/// logger.on_epoch_end(0, &mut Logs::from([("loss", 0.5), ("accuracy", 0.75)]), &mut ctx)?;
/// logger.on_train_end(&Logs::new(), &mut ctx)?;
/// assert_eq!(std::fs::read_to_string(&path).unwrap(), "epoch,accuracy,loss\n0,0.75,0.5\n");
/// # Ok(()) }
/// ```
///
/// # Errors
/// A file that cannot be opened or written, naming the path.
#[derive(Debug)]
pub struct CSVLogger {
    filename: PathBuf,
    separator: char,
    append: bool,
    file: Option<File>,
    keys: Option<Vec<String>>,
    write_header: bool,
}

impl CSVLogger {
    /// Logs to `filename`, with `,` as separator, overwriting the file.
    pub fn new(filename: impl Into<PathBuf>) -> Self {
        CSVLogger {
            filename: filename.into(),
            separator: ',',
            append: false,
            file: None,
            keys: None,
            write_header: true,
        }
    }

    /// The column separator. Defaults to `,`.
    pub fn separator(mut self, separator: char) -> Self {
        self.separator = separator;
        self
    }

    /// Append to the file if it exists (e.g. when resuming). Defaults to `false`.
    pub fn append(mut self, append: bool) -> Self {
        self.append = append;
        self
    }

    fn io(&self, source: std::io::Error) -> Error {
        Error::Io {
            path: self.filename.clone(),
            source,
        }
    }

    /// Opens the file (truncating it unless appending) and decides on the header.
    fn open(&mut self) -> Result<File> {
        self.write_header =
            !self.append || std::fs::metadata(&self.filename).map_or(true, |m| m.len() == 0);
        OpenOptions::new()
            .create(true)
            .write(true)
            .append(self.append)
            .truncate(!self.append)
            .open(&self.filename)
            .map_err(|e| self.io(e))
    }
}

impl Callback for CSVLogger {
    fn on_train_begin(&mut self, ctx: &mut CallbackContext<'_>) -> Result<Control> {
        if !ctx.is_chief() {
            return Ok(Control::Continue); // rank 0 writes the file
        }
        self.file = Some(self.open()?);
        self.keys = None;
        Ok(Control::Continue)
    }

    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &mut Logs,
        ctx: &mut CallbackContext<'_>,
    ) -> Result<Control> {
        if !ctx.is_chief() {
            return Ok(Control::Continue);
        }
        if self.file.is_none() {
            self.file = Some(self.open()?); // driven by hand without on_train_begin
        }
        let sep = self.separator.to_string();
        let mut text = String::new();
        let keys = self.keys.get_or_insert_with(|| {
            let mut keys: Vec<String> = ctx.metric_names().to_vec();
            keys.extend(logs.names().map(str::to_string));
            keys.sort();
            keys.dedup();
            keys
        });
        if self.write_header {
            let header: Vec<&str> = std::iter::once("epoch")
                .chain(keys.iter().map(String::as_str))
                .collect();
            text += &header.join(&sep);
            text.push('\n');
            self.write_header = false;
        }
        let mut row = vec![epoch.to_string()];
        row.extend(keys.iter().map(|k| match logs.get(k) {
            Some(v) => v.to_string(),
            None => "NA".to_string(),
        }));
        text += &row.join(&sep);
        text.push('\n');
        if let Some(file) = &mut self.file {
            let result = file.write_all(text.as_bytes()).and_then(|()| file.flush());
            result.map_err(|e| self.io(e))?;
        }
        Ok(Control::Continue)
    }

    fn on_train_end(&mut self, _logs: &Logs, _ctx: &mut CallbackContext<'_>) -> Result<()> {
        self.file = None;
        Ok(())
    }
}
