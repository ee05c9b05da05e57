//! The errors a layer reports when it is configured or built.

/// What can go wrong while configuring or building a layer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The layer cannot take the shape produced by the layer before it.
    #[error("{layer}: expected input shape {expected}, found {found:?}")]
    IncompatibleInput {
        /// The layer's name.
        layer: String,
        /// The shapes the layer accepts, in words (e.g. `"[features] (rank 1)"`).
        expected: String,
        /// The per-sample shape it was given.
        found: Vec<usize>,
    },
    /// A hyper-parameter is out of its range.
    #[error("{layer}: {parameter} must be {expected}, found {found}")]
    InvalidArgument {
        /// The layer's name.
        layer: String,
        /// The argument's Keras name.
        parameter: &'static str,
        /// The allowed range, in words.
        expected: &'static str,
        /// The value given.
        found: String,
    },
    /// Weights given to `set_weights` do not fit the layer.
    #[error("{layer}: set_weights expected {expected}, found {found}")]
    Weights {
        /// The layer's kind.
        layer: String,
        /// What the layer holds.
        expected: String,
        /// What was given.
        found: String,
    },
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;
