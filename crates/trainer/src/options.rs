//! The options of `fit`, as a builder with Keras's names and defaults.

use crate::{Error, Result, Verbosity};
use keel_data::Dataset;

/// Options of [`Sequential::fit`](crate::Sequential::fit), with Keras's names and defaults.
///
/// ```
/// use keel_trainer::FitOptions;
/// let options = FitOptions::new().epochs(10).batch_size(32).validation_split(0.1).seed(7);
/// assert_eq!(options.batch_size, 32);
/// ```
#[derive(Debug, Clone)]
pub struct FitOptions {
    /// Passes over the training data. Defaults to 1.
    pub epochs: usize,
    /// Samples per gradient step. Defaults to 32.
    pub batch_size: usize,
    /// The last fraction of the data held out for validation, in `[0, 1)`. Defaults to 0.
    pub validation_split: f32,
    /// A separate validation set; takes precedence over `validation_split`.
    pub validation_data: Option<Dataset>,
    /// Reshuffle the training samples before each epoch. Defaults to `true`.
    pub shuffle: bool,
    /// Seeds shuffling and dropout. Defaults to 0.
    pub seed: u64,
    /// Keras's `verbose`: 0 silent, 1 progress bar, 2 one line per epoch. Defaults to 1.
    pub verbose: u8,
    /// Samples per batch when validating. Defaults to 1024 (only the summation order
    /// depends on it).
    pub validation_batch_size: usize,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            epochs: 1,
            batch_size: 32,
            validation_split: 0.0,
            validation_data: None,
            shuffle: true,
            seed: 0,
            verbose: 1,
            validation_batch_size: 1024,
        }
    }
}

impl FitOptions {
    /// The defaults.
    pub fn new() -> Self {
        FitOptions::default()
    }

    /// Sets the number of epochs.
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// Sets the batch size.
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Holds out the last `fraction` of the data for validation (Keras semantics: no shuffle first).
    pub fn validation_split(mut self, fraction: f32) -> Self {
        self.validation_split = fraction;
        self
    }

    /// Validates on `data` at the end of every epoch.
    pub fn validation_data(mut self, data: Dataset) -> Self {
        self.validation_data = Some(data);
        self
    }

    /// Sets whether training samples are reshuffled every epoch.
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// Sets the seed of shuffling and dropout.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets Keras's verbosity: 0, 1 or 2.
    pub fn verbose(mut self, verbose: u8) -> Self {
        self.verbose = verbose;
        self
    }

    /// Sets the validation batch size.
    pub fn validation_batch_size(mut self, batch_size: usize) -> Self {
        self.validation_batch_size = batch_size;
        self
    }

    /// Checks every option's range.
    pub(crate) fn validate(&self) -> Result<Verbosity> {
        let invalid = |option, expected, found: String| {
            Err(Error::InvalidOption {
                option,
                expected,
                found,
            })
        };
        if self.epochs == 0 {
            return invalid("epochs", "at least 1", "0".into());
        }
        if self.batch_size == 0 {
            return invalid("batch_size", "at least 1", "0".into());
        }
        if self.validation_batch_size == 0 {
            return invalid("validation_batch_size", "at least 1", "0".into());
        }
        if !(0.0..1.0).contains(&self.validation_split) {
            return invalid(
                "validation_split",
                "in [0, 1)",
                self.validation_split.to_string(),
            );
        }
        match self.verbose {
            0 => Ok(Verbosity::Silent),
            1 => Ok(Verbosity::ProgressBar),
            2 => Ok(Verbosity::OneLinePerEpoch),
            v => invalid("verbose", "0, 1 or 2", v.to_string()),
        }
    }
}
