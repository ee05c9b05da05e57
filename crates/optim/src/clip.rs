//! Gradient clipping: one enum of modes, one builder trait shared by every optimizer.

use crate::{Error, Result};
use keel_autograd::Tensor;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How gradients are clipped before the update rule sees them (Keras `clipvalue`,
/// `clipnorm`, `global_clipnorm`: exactly one, which the enum makes a compile-time fact).
///
/// - `Value(c)`: every element is clamped to `[-c, c]`.
/// - `Norm(c)`: each gradient tensor `g` whose L2 norm exceeds `c` is scaled by
///   `c / (‖g‖ + 1e-6)`.
/// - `GlobalNorm(c)`: when the L2 norm `N` of all gradients together exceeds `c`, every
///   gradient is scaled by `c / (N + 1e-6)` (PyTorch `clip_grad_norm_`; Keras omits the
///   `1e-6`). Scaling is skipped when the factor would be `>= 1`.
///
/// A NaN or infinite norm skips the scaling: it never turns finite gradients into NaN or
/// zeros. [`StepStats::grad_norm`](crate::StepStats::grad_norm) then reports the non-finite
/// norm. `Value` clamps element by element and leaves NaN elements NaN.
///
/// Thresholds must be finite and `> 0`; the [`Optimizer`](crate::Optimizer) checks them when
/// it is built.
///
/// ```
/// use keel_optim::{Adam, Clip, Clipping, Optimizer};
/// # fn main() -> keel_optim::Result<()> {
/// let opt = Optimizer::try_from(Adam::new(1e-3).global_clipnorm(1.0))?;
/// assert_eq!(opt.clip(), Some(Clip::GlobalNorm(1.0)));
/// assert_eq!(Clip::GlobalNorm(1.0).to_string(), "global_clipnorm=1");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Clip {
    /// Clamp every gradient element to `[-c, c]` (Keras `clipvalue`).
    Value(f32),
    /// Rescale each gradient tensor to L2 norm at most `c` (Keras `clipnorm`).
    Norm(f32),
    /// Rescale all gradients together to global L2 norm at most `c` (Keras `global_clipnorm`).
    GlobalNorm(f32),
}

/// Added to a norm before dividing by it, as PyTorch's `clip_grad_norm_` does.
const NORM_EPS: f64 = 1e-6;

impl Clip {
    /// The Keras argument name of this mode.
    pub fn keras_name(self) -> &'static str {
        match self {
            Clip::Value(_) => "clipvalue",
            Clip::Norm(_) => "clipnorm",
            Clip::GlobalNorm(_) => "global_clipnorm",
        }
    }

    /// The threshold `c`.
    pub fn threshold(self) -> f32 {
        match self {
            Clip::Value(c) | Clip::Norm(c) | Clip::GlobalNorm(c) => c,
        }
    }

    /// Checks that the threshold is finite and positive.
    ///
    /// # Errors
    /// [`Error::InvalidClip`] otherwise.
    ///
    /// ```
    /// use keel_optim::Clip;
    /// assert!(Clip::Norm(1.0).validate().is_ok());
    /// assert!(Clip::Value(-0.5).validate().is_err());
    /// ```
    pub fn validate(self) -> Result<()> {
        let c = self.threshold();
        if c.is_finite() && c > 0.0 {
            Ok(())
        } else {
            Err(Error::InvalidClip {
                clip: self.keras_name(),
                found: c,
            })
        }
    }

    /// Clips one gradient in place, given its own L2 norm and the global L2 norm.
    /// Returns the gradient's sum of squares after clipping.
    pub(crate) fn apply(self, grad: &mut Tensor, tensor_norm: f64, global_norm: f64) -> f64 {
        match self {
            Clip::Value(c) => {
                grad.mapv_inplace(|x| x.clamp(-c, c));
                sum_squares(grad)
            }
            Clip::Norm(c) => scale_down(grad, tensor_norm, tensor_norm, c),
            Clip::GlobalNorm(c) => scale_down(grad, tensor_norm, global_norm, c),
        }
    }
}

impl fmt::Display for Clip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.keras_name(), self.threshold())
    }
}

/// Scales `grad` by `max / (norm + 1e-6)` when that is below 1 and `norm` is finite.
/// Returns the sum of squares after scaling, from the one before (no extra pass).
fn scale_down(grad: &mut Tensor, tensor_norm: f64, norm: f64, max: f32) -> f64 {
    let before = tensor_norm * tensor_norm;
    if !norm.is_finite() {
        return before;
    }
    let scale = f64::from(max) / (norm + NORM_EPS);
    if scale >= 1.0 {
        return before;
    }
    let s = scale as f32;
    grad.mapv_inplace(|x| x * s);
    before * scale * scale
}

/// The sum of squares of a tensor, accumulated in `f64`.
///
/// Eight independent accumulators let the compiler vectorize the loop (a single `f64`
/// accumulator is one long dependency chain). The order of additions depends only on the
/// data, so the result is deterministic.
pub(crate) fn sum_squares(t: &Tensor) -> f64 {
    let square = |x: f32| f64::from(x) * f64::from(x);
    let Some(data) = t.as_slice_memory_order() else {
        return t.iter().map(|&x| square(x)).sum();
    };
    let mut lanes = [0.0f64; 8];
    let chunks = data.chunks_exact(lanes.len());
    let tail: f64 = chunks.remainder().iter().map(|&x| square(x)).sum();
    for chunk in chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane += square(x);
        }
    }
    lanes.iter().sum::<f64>() + tail
}

/// Builder methods that set the clipping mode, written once for every optimizer builder.
///
/// Each call replaces the previous mode: an optimizer clips in one way only.
///
/// ```
/// use keel_optim::{Adam, Clip, Clipping, Sgd};
/// let mut adam = Adam::new(1e-3).global_clipnorm(1.0);
/// assert_eq!(*adam.clip_config(), Some(Clip::GlobalNorm(1.0)));
/// let mut sgd = Sgd::new(0.1).clipvalue(0.5);
/// assert_eq!(*sgd.clip_config(), Some(Clip::Value(0.5)));
/// ```
pub trait Clipping: Sized {
    /// The clipping mode being built; `None` means no clipping.
    fn clip_config(&mut self) -> &mut Option<Clip>;

    /// Sets the clipping mode.
    fn clip(mut self, clip: Clip) -> Self {
        *self.clip_config() = Some(clip);
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
}

#[cfg(test)]
mod tests;
