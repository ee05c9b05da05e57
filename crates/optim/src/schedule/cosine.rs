//! Cosine decay, with an optional linear warm-up.

use super::{check_fraction, check_rate, check_steps};
use crate::Result;
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;
use std::fmt;

/// Keras `CosineDecay` (Loshchilov & Hutter, 2017, "SGDR", arXiv:1608.03983), with the
/// optional linear warm-up of Goyal et al., 2017 (arXiv:1706.02677).
///
/// ```text
/// decay(s, from) = from * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) + alpha)
///
/// without warm-up:  lr = decay(min(step, decay_steps), initial_learning_rate)
/// with warm-up to `target` over `warmup_steps` steps, s = min(step, warmup_steps + decay_steps):
///   s <  warmup_steps:  lr = initial_learning_rate + (target - initial_learning_rate) * s / warmup_steps
///   s >= warmup_steps:  lr = decay(s - warmup_steps, target)
/// ```
///
/// Defaults (Keras): `alpha = 0` (decay to zero), no warm-up. `initial_learning_rate` and
/// the warm-up target finite and `>= 0`, `decay_steps > 0`, `alpha` in `[0, 1]`. Checked
/// when the optimizer is built.
///
/// ```
/// use keel_optim::CosineDecay;
/// let s = CosineDecay::new(0.0, 100).warmup(0.1, 10);
/// assert_eq!(s.learning_rate(5), 0.05); // half-way up the warm-up
/// assert_eq!(s.learning_rate(10), 0.1); // the top
/// assert!((s.learning_rate(60) - 0.05).abs() < 1e-7); // half-way down
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CosineDecay {
    initial_learning_rate: f32,
    decay_steps: u64,
    alpha: f32,
    warmup: Option<Warmup>,
}

/// A linear ramp from the initial learning rate to `target` over `steps` steps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Warmup {
    target: f32,
    steps: u64,
}

impl CosineDecay {
    /// Decays from `initial_learning_rate` to `alpha * initial_learning_rate` (0 by default)
    /// over `decay_steps` steps along a half cosine.
    pub fn new(initial_learning_rate: f32, decay_steps: u64) -> Self {
        CosineDecay {
            initial_learning_rate,
            decay_steps,
            alpha: 0.0,
            warmup: None,
        }
    }

    /// The final rate as a fraction of the rate the decay starts from. Defaults to `0`.
    pub fn alpha(mut self, alpha: f32) -> Self {
        self.alpha = alpha;
        self
    }

    /// First ramps linearly from the initial rate up to `target` over `steps` steps (Keras
    /// `warmup_target`, `warmup_steps`); the cosine decay then starts from `target`.
    pub fn warmup(mut self, target: f32, steps: u64) -> Self {
        self.warmup = Some(Warmup { target, steps });
        self
    }

    /// The learning rate at `step`.
    pub fn learning_rate(&self, step: u64) -> f32 {
        let initial = f64::from(self.initial_learning_rate);
        let lr = match self.warmup {
            None => self.decay(step.min(self.decay_steps), initial),
            Some(Warmup { target, steps }) => {
                let s = step.min(steps.saturating_add(self.decay_steps));
                if s < steps {
                    initial + (f64::from(target) - initial) * (s as f64 / steps as f64)
                } else {
                    self.decay(s - steps, f64::from(target))
                }
            }
        };
        lr as f32
    }

    fn decay(&self, step: u64, from: f64) -> f64 {
        let alpha = f64::from(self.alpha);
        let cosine = 0.5 * (1.0 + (PI * step as f64 / self.decay_steps as f64).cos());
        from * ((1.0 - alpha) * cosine + alpha)
    }

    pub(super) fn validate(&self) -> Result<()> {
        const NAME: &str = "cosine_decay";
        check_rate(NAME, "initial_learning_rate", self.initial_learning_rate)?;
        check_steps(NAME, "decay_steps", self.decay_steps)?;
        check_fraction(NAME, "alpha", self.alpha)?;
        match self.warmup {
            Some(w) => check_rate(NAME, "warmup_target", w.target),
            None => Ok(()),
        }
    }

    pub(super) fn fmt_args(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "initial_learning_rate={}, decay_steps={}, alpha={}",
            self.initial_learning_rate, self.decay_steps, self.alpha
        )?;
        if let Some(w) = self.warmup {
            write!(f, ", warmup_target={}, warmup_steps={}", w.target, w.steps)?;
        }
        Ok(())
    }
}

#[cfg(test)]
// The expected values are the script's output pasted verbatim, beyond f32 precision.
#[allow(clippy::excessive_precision)]
mod tests {
    use super::*;
    use crate::testing::assert_close;
    use crate::Schedule;

    // python3 (Keras's formula with plain floats):
    //   import math
    //   def cosine(lr0, ds, alpha=0.0, target=None, wsteps=0, step=0):
    //       def decay(s, from_lr):
    //           c = 0.5 * (1 + math.cos(math.pi * s / ds))
    //           return from_lr * ((1 - alpha) * c + alpha)
    //       if target is None:
    //           return decay(min(step, ds), lr0)
    //       s = min(step, ds + wsteps)
    //       if s < wsteps:
    //           return (target - lr0) * (s / wsteps) + lr0
    //       return decay(s - wsteps, target)
    //   print([round(cosine(0.1, 10, step=s), 9) for s in [0, 1, 5, 9, 10, 20]])
    //   print([round(cosine(0.1, 10, alpha=0.1, step=s), 9) for s in [0, 1, 5, 9, 10, 20]])
    //   print([round(cosine(0.0, 10, target=0.1, wsteps=4, step=s), 9)
    //          for s in [0, 1, 3, 4, 5, 9, 14, 20]])
    // Output:
    //   [0.1, 0.097552826, 0.05, 0.002447174, 0.0, 0.0]
    //   [0.1, 0.097797543, 0.055, 0.012202457, 0.01, 0.01]
    //   [0.0, 0.025, 0.075, 0.1, 0.097552826, 0.05, 0.0, 0.0]
    fn at(s: CosineDecay, steps: &[u64]) -> Vec<f32> {
        steps.iter().map(|&t| s.learning_rate(t)).collect()
    }

    #[test]
    fn decays_to_zero_and_stays() {
        let got = at(CosineDecay::new(0.1, 10), &[0, 1, 5, 9, 10, 20]);
        let expected = [0.1, 0.097552826, 0.05, 0.002447174, 0.0, 0.0];
        assert_close(&got, &expected, 1e-8);
    }

    #[test]
    fn alpha_sets_the_floor() {
        let got = at(CosineDecay::new(0.1, 10).alpha(0.1), &[0, 1, 5, 9, 10, 20]);
        let expected = [0.1, 0.097797543, 0.055, 0.012202457, 0.01, 0.01];
        assert_close(&got, &expected, 1e-8);
    }

    #[test]
    fn linear_warmup_then_cosine_from_the_target() {
        let s = CosineDecay::new(0.0, 10).warmup(0.1, 4);
        let got = at(s, &[0, 1, 3, 4, 5, 9, 14, 20]);
        let expected = [0.0, 0.025, 0.075, 0.1, 0.097552826, 0.05, 0.0, 0.0];
        assert_close(&got, &expected, 1e-8);
    }

    #[test]
    fn invalid_arguments_are_errors() {
        let check = |s: CosineDecay| Schedule::from(s).validate();
        assert!(check(CosineDecay::new(0.1, 0)).is_err());
        assert!(check(CosineDecay::new(0.1, 10).alpha(1.5)).is_err());
        assert!(check(CosineDecay::new(0.1, 10).warmup(-1.0, 5)).is_err());
    }
}
