//! Cosine decay with warm restarts (SGDR).

use super::{check_fraction, check_rate, check_steps, invalid};
use crate::Result;
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;
use std::fmt;

/// Keras `CosineDecayRestarts` (Loshchilov & Hutter, 2017, "SGDR: Stochastic Gradient Descent
/// with Warm Restarts", arXiv:1608.03983).
///
/// The multiplier decays from 1 to `alpha` over `first_decay_steps` steps along a half
/// cosine; then the rate restarts, each period `t_mul` times longer and starting `m_mul` times
/// lower than the one before:
///
/// ```text
/// c = step / first_decay_steps
/// t_mul == 1:  i = floor(c);  f = c - i
/// t_mul != 1:  i = floor(log(1 - c * (1 - t_mul)) / log(t_mul))   // the period index
///              f = (c - (1 - t_mul^i) / (1 - t_mul)) / t_mul^i    // fraction of period i
/// lr = initial_learning_rate * ((1 - alpha) * 0.5 * m_mul^i * (1 + cos(pi * f)) + alpha)
/// ```
///
/// Keras computes `i` with a floating-point logarithm, which can land just below an integer
/// at a step exactly on a restart; Keel then corrects `i` so that such a step starts the new
/// period (`f = 0`), as the formula intends.
///
/// Defaults (Keras): `t_mul = 2`, `m_mul = 1`, `alpha = 0`. `initial_learning_rate` finite and
/// `>= 0`, `first_decay_steps > 0`, `t_mul` finite and `>= 1`, `m_mul` finite and `>= 0`,
/// `alpha` in `[0, 1]`. Checked when the optimizer is built.
///
/// ```
/// use keel_optim::CosineDecayRestarts;
/// let s = CosineDecayRestarts::new(0.1, 10); // periods of 10, 20, 40, … steps
/// assert_eq!(s.learning_rate(5), 0.05);
/// assert_eq!(s.learning_rate(10), 0.1); // first restart
/// assert_eq!(s.learning_rate(30), 0.1); // second restart
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CosineDecayRestarts {
    initial_learning_rate: f32,
    first_decay_steps: u64,
    t_mul: f32,
    m_mul: f32,
    alpha: f32,
}

impl CosineDecayRestarts {
    /// Restarts from `initial_learning_rate` after `first_decay_steps`, then after periods
    /// twice as long each time.
    pub fn new(initial_learning_rate: f32, first_decay_steps: u64) -> Self {
        CosineDecayRestarts {
            initial_learning_rate,
            first_decay_steps,
            t_mul: 2.0,
            m_mul: 1.0,
            alpha: 0.0,
        }
    }

    /// How much longer each period is than the one before. Defaults to `2`.
    pub fn t_mul(mut self, t_mul: f32) -> Self {
        self.t_mul = t_mul;
        self
    }

    /// How much lower each period starts than the one before. Defaults to `1`.
    pub fn m_mul(mut self, m_mul: f32) -> Self {
        self.m_mul = m_mul;
        self
    }

    /// The lowest rate as a fraction of `initial_learning_rate`. Defaults to `0`.
    pub fn alpha(mut self, alpha: f32) -> Self {
        self.alpha = alpha;
        self
    }

    /// The learning rate at `step`.
    pub fn learning_rate(&self, step: u64) -> f32 {
        let c = step as f64 / self.first_decay_steps as f64;
        let (i, fraction) = self.period(c);
        let (alpha, m_mul) = (f64::from(self.alpha), f64::from(self.m_mul));
        let cosine = 0.5 * m_mul.powf(i) * (1.0 + (PI * fraction).cos());
        (f64::from(self.initial_learning_rate) * ((1.0 - alpha) * cosine + alpha)) as f32
    }

    /// The period index `i` and the fraction of it completed at `c` first periods.
    fn period(&self, c: f64) -> (f64, f64) {
        let t = f64::from(self.t_mul);
        if t == 1.0 {
            let i = c.floor();
            return (i, c - i);
        }
        // Where period i starts, in units of the first period: 1 + t + … + t^(i-1).
        let start = |i: f64| (1.0 - t.powf(i)) / (1.0 - t);
        let mut i = ((1.0 - c * (1.0 - t)).ln() / t.ln()).floor();
        while start(i + 1.0) <= c {
            i += 1.0;
        }
        while i > 0.0 && start(i) > c {
            i -= 1.0;
        }
        (i, (c - start(i)) / t.powf(i))
    }

    pub(super) fn validate(&self) -> Result<()> {
        const NAME: &str = "cosine_decay_restarts";
        check_rate(NAME, "initial_learning_rate", self.initial_learning_rate)?;
        check_steps(NAME, "first_decay_steps", self.first_decay_steps)?;
        if !(self.t_mul.is_finite() && self.t_mul >= 1.0) {
            return Err(invalid(NAME, "t_mul", "a finite number >= 1", self.t_mul));
        }
        check_rate(NAME, "m_mul", self.m_mul)?;
        check_fraction(NAME, "alpha", self.alpha)
    }

    pub(super) fn fmt_args(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "initial_learning_rate={}, first_decay_steps={}, t_mul={}, m_mul={}, alpha={}",
            self.initial_learning_rate, self.first_decay_steps, self.t_mul, self.m_mul, self.alpha
        )
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
    //   def restarts(lr0, first, t_mul=2.0, m_mul=1.0, alpha=0.0, step=0):
    //       c = step / first
    //       if t_mul == 1.0:
    //           i = math.floor(c); c -= i
    //       else:
    //           i = math.floor(math.log(1 - c * (1 - t_mul)) / math.log(t_mul))
    //           sum_r = (1 - t_mul ** i) / (1 - t_mul)
    //           c = (c - sum_r) / t_mul ** i
    //       return lr0 * ((1 - alpha) * 0.5 * m_mul ** i * (1 + math.cos(math.pi * c)) + alpha)
    //   print([round(restarts(0.1, 10, step=s), 9) for s in [0, 5, 9, 10, 15, 20, 29, 30, 50, 70]])
    //   print([round(restarts(0.1, 10, t_mul=1.0, m_mul=0.5, alpha=0.1, step=s), 9)
    //          for s in [0, 5, 10, 15, 20, 25]])
    //   print([round(restarts(0.1, 4, t_mul=1.5, m_mul=0.9, step=s), 9)
    //          for s in [0, 2, 4, 7, 10, 13]])
    // Output:
    //   [0.1, 0.05, 0.002447174, 0.1, 0.085355339, 0.05, 0.000615583, 0.1, 0.05, 0.1]
    //   [0.1, 0.055, 0.055, 0.0325, 0.0325, 0.02125]
    //   [0.1, 0.05, 0.09, 0.045, 0.081, 0.06075]
    fn at(s: CosineDecayRestarts, steps: &[u64]) -> Vec<f32> {
        steps.iter().map(|&t| s.learning_rate(t)).collect()
    }

    #[test]
    fn periods_double_by_default() {
        let got = at(
            CosineDecayRestarts::new(0.1, 10),
            &[0, 5, 9, 10, 15, 20, 29, 30, 50, 70],
        );
        let expected = [
            0.1,
            0.05,
            0.002447174,
            0.1,
            0.085355339,
            0.05,
            0.000615583,
            0.1,
            0.05,
            0.1,
        ];
        assert_close(&got, &expected, 1e-8);
    }

    #[test]
    fn equal_periods_with_shrinking_restarts_and_a_floor() {
        let s = CosineDecayRestarts::new(0.1, 10)
            .t_mul(1.0)
            .m_mul(0.5)
            .alpha(0.1);
        let got = at(s, &[0, 5, 10, 15, 20, 25]);
        assert_close(&got, &[0.1, 0.055, 0.055, 0.0325, 0.0325, 0.02125], 1e-8);
    }

    #[test]
    fn fractional_t_mul_restarts_exactly_on_the_boundaries() {
        // Periods of 4, 6 and 9 steps: restarts at steps 4, 10 and 19.
        let s = CosineDecayRestarts::new(0.1, 4).t_mul(1.5).m_mul(0.9);
        let got = at(s, &[0, 2, 4, 7, 10, 13]);
        assert_close(&got, &[0.1, 0.05, 0.09, 0.045, 0.081, 0.06075], 1e-8);
        // 0.1 * 0.9^3 at the third restart, whatever the logarithm's rounding.
        assert_close(&[s.learning_rate(19)], &[0.0729], 1e-8);
    }

    #[test]
    fn invalid_arguments_are_errors() {
        let check = |s: CosineDecayRestarts| Schedule::from(s).validate();
        assert!(check(CosineDecayRestarts::new(0.1, 0)).is_err());
        assert_eq!(
            check(CosineDecayRestarts::new(0.1, 10).t_mul(0.5))
                .unwrap_err()
                .to_string(),
            "invalid cosine_decay_restarts argument `t_mul`: expected a finite number >= 1, \
             found 0.5"
        );
        assert!(check(CosineDecayRestarts::new(0.1, 10).m_mul(-1.0)).is_err());
        assert!(check(CosineDecayRestarts::new(0.1, 10).alpha(2.0)).is_err());
    }
}
