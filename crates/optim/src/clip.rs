//! The one gradient-transform stage: every clipping mode, configured once for any optimizer.
//!
//! [`Clip`] says how to clip, [`Clipping`] sets it on any optimizer builder, and the
//! [`Optimizer`](crate::Optimizer) applies it in one place, after the norms are known and
//! before weight decay and the update rule. Stateful modes (AutoClip's history of norms,
//! ZClip's moving averages) keep their state in [`ClipState`], part of the optimizer's state
//! and of its snapshots.

mod agc;
mod autoclip;
mod global;
mod norm;
mod plan;
mod state;
mod value;
mod zclip;

pub use agc::{Agc, AgcExclude};
pub use autoclip::{AutoClip, AutoClipState};
pub use state::ClipState;
pub use zclip::{ZClip, ZClipState};

pub(crate) use norm::sum_squares;
pub(crate) use plan::Plan;

use crate::{Error, Result};
use keel_autograd::ParamPath;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How gradients are clipped before the update rule sees them: exactly one mode, which the
/// enum makes a compile-time fact (Keras checks "only one of clipvalue, clipnorm,
/// global_clipnorm" at run time).
///
/// - `Value(c)`: every element is clamped to `[-c, c]` (Keras `clipvalue`).
/// - `Norm(c)`: each gradient tensor `g` whose L2 norm exceeds `c` is scaled by
///   `c / (‖g‖ + 1e-6)` (Keras `clipnorm`).
/// - `GlobalNorm(c)`: when the L2 norm `N` of all gradients together exceeds `c`, every
///   gradient is scaled by `c / (N + 1e-6)` (PyTorch `clip_grad_norm_`, which also scales
///   by `c / (c + 1e-6)` at `N == c`; Keras `global_clipnorm` omits the `1e-6`).
/// - [`Agc`]: unit-wise adaptive clipping relative to the weights (Brock et al., 2021).
/// - [`AutoClip`]: global-norm clipping at a percentile of past norms (Seetharaman et al., 2020).
/// - [`ZClip`]: global-norm clipping of z-score outliers of the norm (Kumar et al., 2025).
///
/// A NaN or infinite norm (of a tensor, a unit or all gradients) skips the scaling it would
/// drive: the clipper never turns finite gradients into NaN or zeros, and stateful modes never
/// record a non-finite norm. `Value` clamps element by element and leaves NaN elements NaN.
///
/// Parameters are checked when the [`Optimizer`](crate::Optimizer) is built.
///
/// ```
/// use keel_optim::{Adam, Clip, Clipping, Optimizer, ZClip};
/// # fn main() -> keel_optim::Result<()> {
/// let opt = Optimizer::try_from(Adam::new(1e-3).global_clipnorm(1.0))?;
/// assert_eq!(opt.clip(), Some(Clip::GlobalNorm(1.0)));
/// assert_eq!(Clip::GlobalNorm(1.0).to_string(), "global_clipnorm=1");
/// let opt = Optimizer::try_from(Adam::new(1e-3).clip(ZClip::new().z_thresh(3.0)))?;
/// assert_eq!(opt.clip().unwrap().name(), "zclip");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Clip {
    /// Clamp every gradient element to `[-c, c]` (Keras `clipvalue`).
    Value(f32),
    /// Rescale each gradient tensor to L2 norm at most `c` (Keras `clipnorm`).
    Norm(f32),
    /// Rescale all gradients together to global L2 norm at most `c` (Keras `global_clipnorm`).
    GlobalNorm(f32),
    /// Unit-wise adaptive gradient clipping, see [`Agc`].
    Agc(Agc),
    /// Global-norm clipping at a percentile of the history of norms, see [`AutoClip`].
    AutoClip(AutoClip),
    /// Global-norm clipping of z-score outliers, see [`ZClip`].
    ZClip(ZClip),
}

impl Clip {
    /// The mode's name: the Keras argument (`clipvalue`, `clipnorm`, `global_clipnorm`), or
    /// `agc`, `autoclip`, `zclip` for the modes Keras lacks.
    pub fn name(&self) -> &'static str {
        match self {
            Clip::Value(_) => "clipvalue",
            Clip::Norm(_) => "clipnorm",
            Clip::GlobalNorm(_) => "global_clipnorm",
            Clip::Agc(_) => "agc",
            Clip::AutoClip(_) => "autoclip",
            Clip::ZClip(_) => "zclip",
        }
    }

    /// Same as [`name`](Clip::name) (kept for the modes Keras has).
    pub fn keras_name(&self) -> &'static str {
        self.name()
    }

    /// The fixed threshold `c` of `Value`, `Norm` and `GlobalNorm`; `None` for the adaptive
    /// modes, whose threshold changes from step to step.
    pub fn threshold(&self) -> Option<f32> {
        match *self {
            Clip::Value(c) | Clip::Norm(c) | Clip::GlobalNorm(c) => Some(c),
            Clip::Agc(_) | Clip::AutoClip(_) | Clip::ZClip(_) => None,
        }
    }

    /// Checks the mode's parameters.
    ///
    /// # Errors
    /// [`Error::InvalidClip`] for a fixed threshold that is not finite and `> 0`;
    /// [`Error::InvalidClipParameter`] for an adaptive mode's parameter out of range.
    ///
    /// ```
    /// use keel_optim::{AutoClip, Clip};
    /// assert!(Clip::Norm(1.0).validate().is_ok());
    /// assert!(Clip::Value(-0.5).validate().is_err());
    /// assert!(Clip::from(AutoClip::new(150.0)).validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        match self {
            Clip::Value(c) | Clip::Norm(c) | Clip::GlobalNorm(c) => {
                if c.is_finite() && *c > 0.0 {
                    Ok(())
                } else {
                    Err(Error::InvalidClip {
                        clip: self.name(),
                        found: *c,
                    })
                }
            }
            Clip::Agc(agc) => agc.validate(),
            Clip::AutoClip(auto) => auto.validate(),
            Clip::ZClip(z) => z.validate(),
        }
    }

    /// Decides, once per step, what to do to each gradient; stateful modes update `state`
    /// here (never with a non-finite norm). `last` is the last parameter's path.
    pub(crate) fn plan<'n>(
        &self,
        state: &mut ClipState,
        global_norm: f64,
        last: Option<&'n ParamPath>,
    ) -> Plan<'n> {
        match *self {
            Clip::Value(c) => Plan::Value(c),
            Clip::Norm(c) => Plan::Norm(c),
            Clip::GlobalNorm(c) => global::plan(f64::from(c), global_norm),
            Clip::Agc(agc) => Plan::Agc {
                agc,
                excluded: agc.excluded_layer(last),
            },
            Clip::AutoClip(auto) => match state.autoclip().threshold(&auto, global_norm) {
                Some(max) => global::plan(max, global_norm),
                None => Plan::Keep,
            },
            Clip::ZClip(z) => match state.zclip().threshold(&z, global_norm) {
                Some(max) => global::plan(max, global_norm),
                None => Plan::Keep,
            },
        }
    }
}

impl fmt::Display for Clip {
    /// `clipvalue=0.5`, `global_clipnorm=1`, or `agc(clip_factor=0.01, …)` for adaptive modes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Clip::Value(c) | Clip::Norm(c) | Clip::GlobalNorm(c) => {
                write!(f, "{}={c}", self.name())
            }
            Clip::Agc(agc) => write!(f, "{agc}"),
            Clip::AutoClip(auto) => write!(f, "{auto}"),
            Clip::ZClip(z) => write!(f, "{z}"),
        }
    }
}

impl From<Agc> for Clip {
    fn from(agc: Agc) -> Self {
        Clip::Agc(agc)
    }
}

impl From<AutoClip> for Clip {
    fn from(auto: AutoClip) -> Self {
        Clip::AutoClip(auto)
    }
}

impl From<ZClip> for Clip {
    fn from(z: ZClip) -> Self {
        Clip::ZClip(z)
    }
}

/// Builder methods that set the clipping mode, written once for every optimizer builder.
///
/// Each call replaces the previous mode: an optimizer clips in one way only.
///
/// ```
/// use keel_optim::{Adam, Agc, Clip, Clipping, Sgd};
/// let mut adam = Adam::new(1e-3).global_clipnorm(1.0);
/// assert_eq!(*adam.clip_config(), Some(Clip::GlobalNorm(1.0)));
/// let mut sgd = Sgd::new(0.1).clipvalue(0.5).agc(0.01);
/// assert_eq!(*sgd.clip_config(), Some(Clip::Agc(Agc::new(0.01))));
/// ```
pub trait Clipping: Sized {
    /// The clipping mode being built; `None` means no clipping.
    fn clip_config(&mut self) -> &mut Option<Clip>;

    /// Sets the clipping mode: a [`Clip`], or an [`Agc`], [`AutoClip`] or [`ZClip`] builder.
    fn clip(mut self, clip: impl Into<Clip>) -> Self {
        *self.clip_config() = Some(clip.into());
        self
    }

    /// Clamps every gradient element to `[-value, value]` ([`Clip::Value`]).
    fn clipvalue(self, value: f32) -> Self {
        self.clip(Clip::Value(value))
    }

    /// Rescales each gradient tensor to L2 norm at most `max_norm` ([`Clip::Norm`]).
    fn clipnorm(self, max_norm: f32) -> Self {
        self.clip(Clip::Norm(max_norm))
    }

    /// Rescales all gradients to global L2 norm at most `max_norm` ([`Clip::GlobalNorm`]).
    fn global_clipnorm(self, max_norm: f32) -> Self {
        self.clip(Clip::GlobalNorm(max_norm))
    }

    /// Unit-wise adaptive clipping with factor `clip_factor` (λ) and the other defaults of
    /// [`Agc::new`].
    fn agc(self, clip_factor: f32) -> Self {
        self.clip(Agc::new(clip_factor))
    }

    /// AutoClip at `percentile` of the past global norms, with the defaults of
    /// [`AutoClip::new`].
    fn autoclip(self, percentile: f32) -> Self {
        self.clip(AutoClip::new(percentile))
    }

    /// ZClip with the paper's defaults ([`ZClip::new`]).
    fn zclip(self) -> Self {
        self.clip(ZClip::new())
    }
}

#[cfg(test)]
mod tests;
