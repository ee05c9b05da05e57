//! ZClip: global-norm clipping of z-score outliers of the gradient norm.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// ZClip (Kumar, Owen, Roy Chowdhury & Güra, 2025, "ZClip: Adaptive Spike Mitigation for LLM
/// Pre-Training", arXiv:2504.02507), in its default mode (`mode="zscore"`,
/// `clip_option="adaptive_scaling"`, the paper's "reciprocal clipping").
///
/// Exponential moving averages of the mean `μ` and variance `σ²` of the global gradient norm
/// `N` flag spikes. Exactly as in the reference code (`bluorion-com/ZClip`, `zclip/zclip.py`):
///
/// ```text
/// warm-up (first warmup_steps finite norms): record N, do not clip;
///     after the last one, μ = mean(recorded), σ² = population variance(recorded)
/// then, each step:
///     z = (N - μ) / (σ + eps)
///     z > z_thresh:  max = μ + z_thresh² · σ / z        // = μ + z_thresh·σ / (z / z_thresh)
///                    scale gradients by max / (N + 1e-6) when that is < 1
///                    x = max
///     otherwise:     x = N
///     μ  <- alpha·μ  + (1 - alpha)·x
///     σ² <- alpha·σ² + (1 - alpha)·(x - μ)²                // with the updated μ
/// ```
///
/// The stronger the spike (the larger `z`), the lower the threshold. With
/// [`max_grad_norm`](ZClip::max_grad_norm) set, the gradients are also clipped to that global
/// norm at every step, warm-up included, as the reference does (where it defaults to 1.0;
/// Keel leaves it off so that ZClip alone is the paper's method). A NaN or infinite norm is
/// neither recorded nor clipped, and leaves the averages unchanged. The reference's
/// `clip_factor`, `skip_update_on_spike` and `mode="percentile"` options are not provided.
///
/// Defaults (the paper's): `alpha = 0.97`, `z_thresh = 2.5`, `warmup_steps = 25`,
/// `eps = 1e-6`, no `max_grad_norm`. `alpha` must be in `(0, 1)`, `z_thresh`, `eps` and
/// `max_grad_norm` finite and `> 0`, `warmup_steps >= 1`.
///
/// ```
/// use keel_optim::{Clipping, Optimizer, Sgd, ZClip};
/// # fn main() -> keel_optim::Result<()> {
/// let opt = Optimizer::try_from(Sgd::new(0.1).clip(ZClip::new().z_thresh(3.0)))?;
/// assert_eq!(opt.clip().unwrap().to_string(),
///     "zclip(alpha=0.97, z_thresh=3, warmup_steps=25, eps=0.000001)");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ZClip {
    alpha: f32,
    z_thresh: f32,
    warmup_steps: u32,
    eps: f32,
    max_grad_norm: Option<f32>,
}

impl ZClip {
    /// ZClip with the paper's defaults.
    pub fn new() -> Self {
        ZClip {
            alpha: 0.97,
            z_thresh: 2.5,
            warmup_steps: 25,
            eps: 1e-6,
            max_grad_norm: None,
        }
    }

    /// The smoothing factor of the moving averages. Defaults to `0.97`.
    pub fn alpha(mut self, alpha: f32) -> Self {
        self.alpha = alpha;
        self
    }

    /// The z-score above which a norm is a spike. Defaults to `2.5`.
    pub fn z_thresh(mut self, z_thresh: f32) -> Self {
        self.z_thresh = z_thresh;
        self
    }

    /// How many norms to record before the averages start and clipping begins. Defaults to `25`.
    pub fn warmup_steps(mut self, warmup_steps: u32) -> Self {
        self.warmup_steps = warmup_steps;
        self
    }

    /// Added to `σ` before dividing by it. Defaults to `1e-6`.
    pub fn eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }

    /// Also clip to this global norm at every step, warm-up included. Defaults to none.
    pub fn max_grad_norm(mut self, max_grad_norm: f32) -> Self {
        self.max_grad_norm = Some(max_grad_norm);
        self
    }

    pub(super) fn validate(&self) -> Result<()> {
        let bad = |name, expected, found| Error::InvalidClipParameter {
            clip: "zclip",
            name,
            expected,
            found,
        };
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(bad("alpha", "a number in (0, 1)", self.alpha));
        }
        for (name, value) in [("z_thresh", self.z_thresh), ("eps", self.eps)]
            .into_iter()
            .chain(self.max_grad_norm.map(|m| ("max_grad_norm", m)))
        {
            if !(value.is_finite() && value > 0.0) {
                return Err(bad(name, "a finite number > 0", value));
            }
        }
        if self.warmup_steps == 0 {
            return Err(bad("warmup_steps", "an integer >= 1", 0.0));
        }
        Ok(())
    }
}

impl Default for ZClip {
    /// [`ZClip::new`].
    fn default() -> Self {
        ZClip::new()
    }
}

impl fmt::Display for ZClip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "zclip(alpha={}, z_thresh={}, warmup_steps={}, eps={}",
            self.alpha, self.z_thresh, self.warmup_steps, self.eps
        )?;
        if let Some(m) = self.max_grad_norm {
            write!(f, ", max_grad_norm={m}")?;
        }
        write!(f, ")")
    }
}

/// ZClip's memory: the norms recorded during warm-up, then the moving mean and variance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ZClipState {
    warmup: Vec<f64>,
    ema: Option<Ema>,
}

/// The moving mean and variance of the global norm.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Ema {
    mean: f64,
    var: f64,
}

impl ZClipState {
    /// The moving mean of the global norm, once the warm-up is over.
    pub fn mean(&self) -> Option<f64> {
        self.ema.map(|e| e.mean)
    }

    /// The moving standard deviation of the global norm, once the warm-up is over.
    pub fn std(&self) -> Option<f64> {
        self.ema.map(|e| e.var.sqrt())
    }

    /// The number of norms recorded so far during the warm-up.
    pub fn warmup_recorded(&self) -> usize {
        self.warmup.len()
    }

    /// Whether this state can belong to `config`.
    pub(crate) fn fits(&self, config: &ZClip) -> bool {
        let finite = self.warmup.iter().all(|n| n.is_finite())
            && self
                .ema
                .is_none_or(|e| e.mean.is_finite() && e.var.is_finite());
        finite && self.warmup.len() < config.warmup_steps as usize
    }

    /// Updates the state with the global `norm` and returns the global norm to clip to, if any.
    pub(super) fn threshold(&mut self, config: &ZClip, norm: f64) -> Option<f64> {
        if !norm.is_finite() {
            return None;
        }
        let max_grad_norm = config.max_grad_norm.map(f64::from);
        let Some(ema) = &mut self.ema else {
            self.warmup.push(norm);
            if self.warmup.len() >= config.warmup_steps as usize {
                let n = self.warmup.len() as f64;
                let mean = self.warmup.iter().sum::<f64>() / n;
                let var = self.warmup.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
                self.ema = Some(Ema { mean, var });
                self.warmup.clear();
            }
            return max_grad_norm;
        };
        let (alpha, z_thresh) = (f64::from(config.alpha), f64::from(config.z_thresh));
        let std = ema.var.sqrt();
        let z = (norm - ema.mean) / (std + f64::from(config.eps));
        let spike = (z > z_thresh).then(|| ema.mean + z_thresh * z_thresh * std / z);
        let x = spike.unwrap_or(norm);
        ema.mean = alpha * ema.mean + (1.0 - alpha) * x;
        ema.var = alpha * ema.var + (1.0 - alpha) * (x - ema.mean).powi(2);
        match (spike, max_grad_norm) {
            (Some(s), Some(m)) => Some(s.min(m)),
            (s, m) => s.or(m),
        }
    }
}
