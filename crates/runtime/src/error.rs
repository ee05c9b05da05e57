//! The runtime's errors: settings a user can get wrong.

/// What went wrong while configuring a [`Runtime`](crate::Runtime).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A thread count of zero.
    #[error("invalid thread count: expected at least 1 thread, found 0")]
    ZeroThreads,
    /// `KEEL_NUM_THREADS` is set but is not a positive whole number.
    #[error(
        "invalid KEEL_NUM_THREADS: expected a positive whole number of threads, found {found:?}"
    )]
    InvalidThreadsEnv {
        /// The variable's value.
        found: String,
    },
    /// `build_global` after the default runtime was made.
    #[error("the default runtime already exists (with {threads} threads): build_global must run before Keel first runs any work")]
    GlobalExists {
        /// The existing default runtime's thread count.
        threads: usize,
    },
}

/// `Result` with the runtime's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
