//! The one error type of `keel-optim`.

/// Everything an optimizer can report instead of panicking.
///
/// Messages are lowercase and say what was expected and what was found.
///
/// ```
/// use keel_optim::{Adam, Error, Optimizer};
/// let err = Optimizer::try_from(Adam::new(-1.0)).unwrap_err();
/// assert!(matches!(err, Error::InvalidLearningRate { .. }));
/// assert_eq!(
///     err.to_string(),
///     "invalid learning rate: expected a finite number >= 0, found -1"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter handed to [`Optimizer::step`](crate::Optimizer::step) has no gradient.
    #[error(
        "parameter `{name}` has no gradient: expected one from the backward pass, found none \
         (is it used in the loss?)"
    )]
    MissingGradient {
        /// The parameter's name.
        name: String,
    },

    /// A gradient's shape differs from its parameter's shape.
    #[error("gradient of parameter `{name}` has shape {grad:?}: expected the parameter's shape {param:?}")]
    ShapeMismatch {
        /// The parameter's name.
        name: String,
        /// The parameter's shape.
        param: Vec<usize>,
        /// The gradient's shape.
        grad: Vec<usize>,
    },

    /// The optimizer state kept under a parameter's name has another shape than the parameter
    /// (for example, the optimizer was used with another model).
    #[error(
        "optimizer state of parameter `{name}` has shape {state:?}: expected the parameter's \
         shape {param:?}"
    )]
    StateShapeMismatch {
        /// The parameter's name.
        name: String,
        /// The parameter's shape.
        param: Vec<usize>,
        /// The shape of the stored state.
        state: Vec<usize>,
    },

    /// Two parameters of one step share a name, so their optimizer state would collide.
    #[error("parameter name `{name}` appears more than once in one step: expected unique names")]
    DuplicateParameter {
        /// The repeated name.
        name: String,
    },

    /// The learning rate is negative, NaN or infinite.
    #[error("invalid learning rate: expected a finite number >= 0, found {found}")]
    InvalidLearningRate {
        /// The rejected value.
        found: f32,
    },

    /// A hyper-parameter of an update rule is out of range.
    #[error("invalid {rule} hyper-parameter `{name}`: expected {expected}, found {found}")]
    InvalidHyperParameter {
        /// The rule's name, such as `"adam"`.
        rule: &'static str,
        /// The hyper-parameter's name, such as `"beta_1"`.
        name: &'static str,
        /// The accepted range, such as `"a number in [0, 1)"`.
        expected: &'static str,
        /// The rejected value.
        found: f32,
    },

    /// A clipping threshold is not a finite positive number.
    #[error("invalid {clip}: expected a finite number > 0, found {found}")]
    InvalidClip {
        /// The Keras name of the clipping mode: `clipvalue`, `clipnorm` or `global_clipnorm`.
        clip: &'static str,
        /// The rejected threshold.
        found: f32,
    },

    /// A parameter of an adaptive clipping mode (AGC, AutoClip, ZClip) is out of range.
    #[error("invalid {clip} parameter `{name}`: expected {expected}, found {found}")]
    InvalidClipParameter {
        /// The clipping mode's name: `agc`, `autoclip` or `zclip`.
        clip: &'static str,
        /// The parameter's name, such as `"percentile"`.
        name: &'static str,
        /// The accepted range, such as `"a number in [0, 100]"`.
        expected: &'static str,
        /// The rejected value.
        found: f32,
    },

    /// An argument of a learning-rate schedule is out of range or inconsistent.
    #[error("invalid {schedule} argument `{name}`: expected {expected}, found {found}")]
    InvalidSchedule {
        /// The schedule's name, such as `"exponential_decay"`.
        schedule: &'static str,
        /// The argument's name, such as `"decay_steps"`.
        name: &'static str,
        /// What is accepted, such as `"an integer > 0"`.
        expected: &'static str,
        /// The rejected value, printed.
        found: String,
    },

    /// The weight-decay rate is negative, NaN or infinite.
    #[error("invalid weight_decay: expected a finite number >= 0, found {found}")]
    InvalidWeightDecay {
        /// The rejected value.
        found: f32,
    },

    /// The learning-rate multiplier is not a finite positive number.
    #[error("invalid learning-rate multiplier: expected a finite number > 0, found {found}")]
    InvalidLrMultiplier {
        /// The rejected value.
        found: f32,
    },

    /// [`Optimizer::set_learning_rate`](crate::Optimizer::set_learning_rate) was called while
    /// a schedule drives the learning rate (Keras raises the same way).
    #[error(
        "cannot set the learning rate: expected a constant learning rate, found the schedule \
         `{schedule}` driving it (use set_lr_multiplier to scale a scheduled rate)"
    )]
    ScheduledLearningRate {
        /// The schedule's name, such as `"cosine_decay"`.
        schedule: &'static str,
    },

    /// An [`OptimizerSnapshot`](crate::OptimizerSnapshot) does not fit the optimizer it is
    /// restored into (another rule, clipping mode or kind of learning rate), or is corrupt.
    #[error("cannot restore optimizer snapshot: expected {expected}, found {found}")]
    SnapshotMismatch {
        /// What this optimizer needs, such as `"the rule `adam`"`.
        expected: String,
        /// What the snapshot holds.
        found: String,
    },

    /// An [`OptimizerConfig`](crate::OptimizerConfig) given to
    /// [`Optimizer::from_config`](crate::Optimizer::from_config) does not describe a built-in
    /// optimizer: another rule, or hyper-parameters missing, extra or of the wrong kind.
    #[error("cannot rebuild the optimizer from its config: expected {expected}, found {found}")]
    InvalidConfig {
        /// What a config of a built-in rule holds.
        expected: String,
        /// What this config holds.
        found: String,
    },

    /// An applied step left a parameter or one of its slots NaN or infinite (a learning rate
    /// or inputs far too large). The step was applied: restore a snapshot to undo it.
    #[error(
        "the optimizer step made the {part} of parameter `{name}` non-finite (found {found}): \
         expected finite values; lower the learning rate or scale the inputs, or train with a \
         rolling-back guard"
    )]
    NonFiniteUpdate {
        /// The parameter's name.
        name: String,
        /// `"weights"`, or the slot, such as ``"slot `v`"``.
        part: String,
        /// The first non-finite value.
        found: f32,
        /// What the step saw (norms, learning rate), as an applied step reports it.
        stats: crate::StepStats,
    },

    /// A snapshot handed to [`Optimizer::restore`](crate::Optimizer::restore) holds a slot
    /// value the update math cannot use (NaN, infinite, or a negative second moment).
    #[error(
        "cannot restore optimizer snapshot: slot `{slot}` of parameter `{name}` holds {found} \
         at index {index}: expected {expected} (the checkpoint is corrupt; train from scratch \
         or from an older checkpoint)"
    )]
    InvalidSlotValue {
        /// The parameter's name.
        name: String,
        /// The slot's name (see [`SlotSpec`](crate::SlotSpec)), or its index.
        slot: String,
        /// The flat index of the first bad value.
        index: usize,
        /// The bad value.
        found: f32,
        /// What the slot may hold, such as `"a finite number >= 0"`.
        expected: &'static str,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Checks that `found` lies in `[low, high)` (or `[low, high]` when `high_inclusive`).
pub(crate) fn check_range(
    rule: &'static str,
    name: &'static str,
    found: f32,
    (low, high, high_inclusive): (f32, f32, bool),
    expected: &'static str,
) -> Result<()> {
    let below_high = if high_inclusive {
        found <= high
    } else {
        found < high
    };
    if found >= low && below_high {
        Ok(())
    } else {
        Err(Error::InvalidHyperParameter {
            rule,
            name,
            expected,
            found,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync + std::error::Error>() {}
        assert_send_sync::<Error>();
    }

    #[test]
    fn range_check_rejects_nan_and_edges() {
        let unit = (0.0, 1.0, false);
        assert!(check_range("adam", "beta_1", 0.0, unit, "a number in [0, 1)").is_ok());
        assert!(check_range("adam", "beta_1", 1.0, unit, "a number in [0, 1)").is_err());
        assert!(check_range("adam", "beta_1", f32::NAN, unit, "a number in [0, 1)").is_err());
        assert!(check_range("sgd", "momentum", 1.0, (0.0, 1.0, true), "[0, 1]").is_ok());
    }
}
