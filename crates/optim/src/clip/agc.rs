//! Adaptive gradient clipping (AGC), unit-wise, relative to the weights.

use super::sum_squares;
use crate::{Error, Result};
use keel_autograd::{ParamPath, Tensor};
use ndarray::ArrayViewD;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Unit-wise adaptive gradient clipping (Brock, De, Smith & Simonyan, 2021,
/// "High-Performance Large-Scale Image Recognition Without Normalization", arXiv:2102.06171,
/// section 4.1).
///
/// Each unit's gradient `G_i` is rescaled when it is large relative to the unit's weights
/// `W_i`:
///
/// ```text
/// max_i = clip_factor * max(‖W_i‖, eps)
/// G_i  <- G_i * max_i / max(‖G_i‖, 1e-6)     when ‖G_i‖ > max_i
/// ```
///
/// Units follow `unitwise_norm` in the paper's reference code (deepmind-research,
/// `nfnets/optim.py` and `agc_optax.py`), whose weights are laid out `[fan_in, units]` as
/// Keel's `Dense` kernel is: a tensor with at most one dimension larger than 1 (a bias, a
/// scalar) is one unit, its norm the whole tensor's; a rank 2 or 3 tensor has one unit per
/// index after the first axis, its norm taken over axis 0 (for a `[in, out]` kernel, each
/// output unit's column of fan-in weights); a rank 4 `HWIO` kernel has one unit per output
/// channel, its norm over the first three axes, and so does any higher rank (over all axes but
/// the last; the reference rejects those). A unit whose gradient norm is NaN or infinite is
/// left as it is.
///
/// The paper does not clip the final linear (classifier) layer; by default
/// ([`AgcExclude::LastLayer`]) neither does Keel: the parameters of the last parameter's
/// layer, by [`ParamPath::layer_index`] (a loose parameter, named by a plain string, is a
/// layer of its own).
///
/// Defaults: `eps = 1e-3` (the paper's), the last layer excluded. `clip_factor` (the paper's
/// λ) has no default: the paper uses 0.01 at batch size 4096 and larger values at smaller
/// batches. Both must be finite and `> 0`.
///
/// ```
/// use keel_optim::{Agc, AgcExclude, Clipping, Optimizer, Sgd};
/// # fn main() -> keel_optim::Result<()> {
/// let opt = Optimizer::try_from(Sgd::new(0.1).clip(Agc::new(0.01).exclude(AgcExclude::Nothing)))?;
/// assert_eq!(opt.clip().unwrap().to_string(), "agc(clip_factor=0.01, eps=0.001, exclude=nothing)");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Agc {
    clip_factor: f32,
    eps: f32,
    exclude: AgcExclude,
}

/// Which parameters [`Agc`] leaves unclipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgcExclude {
    /// Clip every parameter.
    Nothing,
    /// Leave the last layer's parameters unclipped (the paper's choice for the classifier).
    #[default]
    LastLayer,
}

impl Agc {
    /// AGC with factor `clip_factor` (λ), `eps = 1e-3`, the last layer excluded.
    pub fn new(clip_factor: f32) -> Self {
        Agc {
            clip_factor,
            eps: 1e-3,
            exclude: AgcExclude::LastLayer,
        }
    }

    /// The floor on a unit's weight norm, so that units with zero weights (such as a
    /// zero-initialised bias) can still move. Defaults to `1e-3`.
    pub fn eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }

    /// Which parameters are left unclipped. Defaults to [`AgcExclude::LastLayer`].
    pub fn exclude(mut self, exclude: AgcExclude) -> Self {
        self.exclude = exclude;
        self
    }

    pub(super) fn validate(&self) -> Result<()> {
        for (name, value) in [("clip_factor", self.clip_factor), ("eps", self.eps)] {
            if !(value.is_finite() && value > 0.0) {
                return Err(Error::InvalidClipParameter {
                    clip: "agc",
                    name,
                    expected: "a finite number > 0",
                    found: value,
                });
            }
        }
        Ok(())
    }

    /// The parameter whose layer is left unclipped, given the last parameter's path.
    pub(super) fn excluded_layer<'n>(&self, last: Option<&'n ParamPath>) -> Option<&'n ParamPath> {
        match self.exclude {
            AgcExclude::Nothing => None,
            AgcExclude::LastLayer => last,
        }
    }

    /// Clips `grad` unit-wise against `weights`; `sum` is `grad`'s sum of squares. Returns
    /// the sum of squares after clipping and whether anything changed.
    pub(super) fn apply(&self, weights: &Tensor, grad: &mut Tensor, sum: f64) -> (f64, bool) {
        let (lambda, eps) = (f64::from(self.clip_factor), f64::from(self.eps));
        let Some((rows, units)) = unit_layout(grad.shape()) else {
            let max = lambda * sum_squares(weights).sqrt().max(eps);
            return match unit_scale(sum.sqrt(), max) {
                Some(s) => {
                    let factor = s as f32;
                    grad.mapv_inplace(|x| x * factor);
                    (sum * s * s, true)
                }
                None => (sum, false),
            };
        };
        if !grad.is_standard_layout() {
            *grad = grad.as_standard_layout().into_owned();
        }
        let w_sums = column_sums(weights.as_standard_layout().view(), rows, units);
        let g_sums = column_sums(grad.view(), rows, units);
        let scales: Vec<Option<f64>> = w_sums
            .iter()
            .zip(&g_sums)
            .map(|(w, g)| unit_scale(g.sqrt(), lambda * w.sqrt().max(eps)))
            .collect();
        if scales.iter().all(Option::is_none) {
            return (sum, false);
        }
        let factors: Vec<f32> = scales.iter().map(|s| s.map_or(1.0, |s| s as f32)).collect();
        let mut g = grad
            .view_mut()
            .into_shape_with_order((rows, units))
            .expect("agc: a standard-layout tensor reshapes to its unit layout");
        for mut row in g.rows_mut() {
            row.iter_mut().zip(&factors).for_each(|(x, &f)| *x *= f);
        }
        let after = g_sums
            .iter()
            .zip(&scales)
            .map(|(g, s)| s.map_or(*g, |s| g * s * s))
            .sum();
        (after, true)
    }
}

impl fmt::Display for Agc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exclude = match self.exclude {
            AgcExclude::Nothing => "nothing",
            AgcExclude::LastLayer => "last_layer",
        };
        write!(
            f,
            "agc(clip_factor={}, eps={}, exclude={exclude})",
            self.clip_factor, self.eps
        )
    }
}

/// `(rows, units)`: each unit is a column of a row-major `[rows, units]` view, its norm taken
/// over the rows. `None` when the whole tensor is one unit (at most one dimension above 1).
fn unit_layout(shape: &[usize]) -> Option<(usize, usize)> {
    if shape.iter().filter(|&&d| d != 1).count() <= 1 {
        return None;
    }
    let split = match shape.len() {
        2 | 3 => 1,
        n => n - 1,
    };
    Some((
        shape[..split].iter().product(),
        shape[split..].iter().product(),
    ))
}

/// The per-column sums of squares of `t` viewed as a row-major `[rows, units]` matrix.
fn column_sums(t: ArrayViewD<'_, f32>, rows: usize, units: usize) -> Vec<f64> {
    let view = t
        .into_shape_with_order((rows, units))
        .expect("agc: a standard-layout tensor reshapes to its unit layout");
    let mut sums = vec![0.0f64; units];
    for row in view.rows() {
        for (acc, &x) in sums.iter_mut().zip(row) {
            *acc += f64::from(x) * f64::from(x);
        }
    }
    sums
}

/// The scale bringing a unit's gradient norm `g` down to `max`, if `g` is finite and above it
/// (the reference's `max_norm / max(g_norm, 1e-6)`, applied where `g_norm >= max_norm`).
fn unit_scale(g: f64, max: f64) -> Option<f64> {
    (g.is_finite() && g > max).then(|| max / g.max(1e-6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_layout_follows_the_reference() {
        assert_eq!(unit_layout(&[10]), None);
        assert_eq!(unit_layout(&[1, 10]), None); // squeezes to a vector
        assert_eq!(unit_layout(&[]), None);
        assert_eq!(unit_layout(&[784, 32]), Some((784, 32)));
        assert_eq!(unit_layout(&[4, 3, 2]), Some((4, 6)));
        assert_eq!(unit_layout(&[3, 3, 8, 16]), Some((72, 16)));
    }

    #[test]
    fn invalid_parameters_are_errors() {
        let err = Agc::new(0.0).validate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid agc parameter `clip_factor`: expected a finite number > 0, found 0"
        );
        assert!(Agc::new(0.01).eps(f32::NAN).validate().is_err());
    }
}
