//! The guard inside `fit`: what happens to a step whose loss or gradients are non-finite,
//! or whose gradient norm is a spike.
//!
//! The optimizer reports the global and per-parameter gradient norms of every step before it
//! changes anything ([`keel_optim::Optimizer::step_with`]); the guard judges that report (no
//! extra pass over the gradients) and the optimizer applies or skips the update. A bad update
//! is never applied. What happens next is the [`Policy`]: skip, stop, or roll back to an
//! in-memory snapshot. Every intervention is a [`GuardEvent`] in the
//! [`History`](crate::History) and, with `verbose > 0`, a printed line.

mod event;
mod locate;
mod policy;
mod run;
mod snapshot;
mod spike;
mod state;

pub use event::{GuardAction, GuardEvent, Trigger};
pub use locate::{Location, Pass};
pub use policy::{Policy, Rollback};
pub use spike::Spike;

pub(crate) use run::{GuardRun, Resume};
pub(crate) use state::GuardState;

use crate::{Error, Result};

/// How `fit` guards against exploding and non-finite steps (set with
/// [`FitOptions::guard`](crate::FitOptions::guard)).
///
/// - [`on_nonfinite`](Guard::on_nonfinite): the [`Policy`] for a step whose loss or
///   gradients hold a NaN or an infinity;
/// - [`spike`](Guard::spike): detects gradient-norm spikes (a z-score over a rolling window),
///   handled by the [`on_spike`](Guard::on_spike) policy.
///
/// [`Guard::new`] (the default of every `fit`) stops at the first non-finite step and detects
/// no spikes. [`Guard::recommended`] is the one-line "all on": roll back on non-finite steps,
/// skip spikes above a z-score of 6.
///
/// ```
/// use keel_data::{Dataset, Targets};
/// use keel_layers::{Activation, Dense};
/// use keel_optim::Sgd;
/// use keel_trainer::{FitOptions, Guard, Loss, Policy, Rollback, Sequential, Spike, Telemetry};
/// # fn main() -> keel_trainer::Result<()> {
/// let x = ndarray::Array2::from_shape_fn((64, 2), |(i, j)| ((i * 7 + j * 3) % 5) as f32).into_dyn();
/// let data = Dataset::from_f32(x, Targets::Classes((0..64).map(|i| i % 2).collect()))?;
/// let mut model = Sequential::new([2]).add(Dense::new(2).activation(Activation::Softmax));
/// model.compile(Sgd::new(0.1), Loss::SparseCategoricalCrossentropy, &[])?;
/// let guard = Guard::new()
///     .on_nonfinite(Policy::Rollback(Rollback::default()))
///     .spike(Spike::zscore(6.0).window(200));
/// let history = model.fit(&data, FitOptions::new().epochs(2).verbose(0)
///     .guard(guard)                      // or .guard(Guard::recommended())
///     .telemetry(Telemetry::Epochs))?;
/// assert_eq!(history.get("skipped_steps"), Some(&[0.0, 0.0][..]));
/// assert!(history.events().is_empty());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Guard {
    on_nonfinite: Policy,
    spike: Option<Spike>,
    on_spike: Policy,
    max_consecutive_skips: usize,
}

impl Default for Guard {
    fn default() -> Self {
        Guard {
            on_nonfinite: Policy::Stop,
            spike: None,
            on_spike: Policy::Skip,
            max_consecutive_skips: 50,
        }
    }
}

impl Guard {
    /// Stop at the first non-finite step ([`Policy::Stop`]); no spike detection; spikes, once
    /// detected, skipped; at most 50 skips in a row.
    pub fn new() -> Self {
        Guard::default()
    }

    /// Everything on, with defaults that suit most runs: [`Policy::Rollback`] with
    /// [`Rollback::default`] on a non-finite step, and [`Policy::Skip`] on a gradient-norm
    /// spike of z-score above 6 over the last 200 steps ([`Spike::zscore`]).
    ///
    /// ```
    /// use keel_trainer::{Guard, Policy, Rollback, Spike};
    /// let guard = Guard::recommended();
    /// assert_eq!(guard.nonfinite_policy(), &Policy::Rollback(Rollback::default()));
    /// assert_eq!(guard.spike_detection(), Some(&Spike::zscore(6.0)));
    /// assert_eq!(guard.spike_policy(), &Policy::Skip);
    /// ```
    pub fn recommended() -> Self {
        Guard::new()
            .on_nonfinite(Policy::Rollback(Rollback::default()))
            .spike(Spike::zscore(6.0))
    }

    /// Sets what happens to a step whose loss or gradients are non-finite.
    pub fn on_nonfinite(mut self, policy: Policy) -> Self {
        self.on_nonfinite = policy;
        self
    }

    /// Turns on spike detection.
    pub fn spike(mut self, spike: Spike) -> Self {
        self.spike = Some(spike);
        self
    }

    /// Sets what happens to a step whose gradient norm is a spike. Defaults to
    /// [`Policy::Skip`].
    pub fn on_spike(mut self, policy: Policy) -> Self {
        self.on_spike = policy;
        self
    }

    /// Sets how many steps in a row [`Policy::Skip`] may skip before `fit` stops with
    /// [`Error::GuardExhausted`] (a model whose every step fails is not training). Defaults
    /// to 50.
    pub fn max_consecutive_skips(mut self, steps: usize) -> Self {
        self.max_consecutive_skips = steps;
        self
    }

    /// The policy for non-finite steps.
    pub fn nonfinite_policy(&self) -> &Policy {
        &self.on_nonfinite
    }

    /// The spike detection, if on.
    pub fn spike_detection(&self) -> Option<&Spike> {
        self.spike.as_ref()
    }

    /// The policy for spikes.
    pub fn spike_policy(&self) -> &Policy {
        &self.on_spike
    }

    /// The most steps skipped in a row before `fit` stops.
    pub fn consecutive_skip_limit(&self) -> usize {
        self.max_consecutive_skips
    }

    /// Checks every setting's range.
    pub(crate) fn validate(&self) -> Result<()> {
        self.on_nonfinite.validate()?;
        self.on_spike.validate()?;
        if let Some(spike) = &self.spike {
            spike.validate()?;
        }
        if self.max_consecutive_skips == 0 {
            return Err(Error::InvalidOption {
                option: "max_consecutive_skips",
                expected: "at least 1",
                found: "0".into(),
            });
        }
        Ok(())
    }
}
