//! AdamW: Adam with decoupled weight decay on by default.

use crate::{Adam, Clip, Clipping, Error, LearningRate, Optimizer, Result, WeightDecay};
use serde::{Deserialize, Serialize};

/// AdamW (Loshchilov & Hutter, 2019, "Decoupled Weight Decay Regularization",
/// arXiv:1711.05101) as Keras 3 defines it: [`Adam`] with `weight_decay = 0.004`.
///
/// Before each Adam update, the optimizer base shrinks every parameter (Keras 3
/// `BaseOptimizer._apply_weight_decay`):
///
/// ```text
/// p = p - p * weight_decay * lr
/// p = adam_update(p, g)            // see Adam
/// ```
///
/// `lr` is the step's learning rate, schedule included, so the decay follows the schedule.
/// The decay is the same shared stage every optimizer has ([`WeightDecay`]); AdamW only turns
/// it on by default. PyTorch's `torch.optim.AdamW` applies the same `p -= lr * wd * p`, with a
/// default of 0.01.
///
/// Defaults (Keras): `learning_rate` given to [`new`](AdamW::new) (Keras uses `1e-3`, as
/// does [`Default`]), `weight_decay = 0.004`, and Adam's `beta_1 = 0.9`, `beta_2 = 0.999`,
/// `epsilon = 1e-7`, `amsgrad = false`; ranges as for [`Adam`], and `weight_decay` finite and
/// `>= 0`.
///
/// ```
/// use keel_autograd::{tensor, Gradients, Param};
/// use keel_optim::{AdamW, Optimizer, WeightDecay};
/// # fn main() -> keel_optim::Result<()> {
/// let mut opt = Optimizer::try_from(AdamW::new(0.1).weight_decay(0.5))?;
/// let mut w = Param::new(tensor(&[1], vec![2.0]));
/// let mut grads = Gradients::default();
/// grads.insert(w.id(), tensor(&[1], vec![0.0])); // no gradient: only the decay acts
/// opt.step([("w".to_string(), &mut w)], &mut grads)?;
/// assert_eq!(w.value()[0], 2.0 - 2.0 * 0.5 * 0.1);
/// assert_eq!(opt.name(), "adamw");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdamW {
    adam: Adam,
}

impl AdamW {
    /// AdamW with learning rate `learning_rate` (a number or a schedule) and Keras's other
    /// defaults, weight decay 0.004 included.
    pub fn new(learning_rate: impl Into<LearningRate>) -> Self {
        AdamW {
            adam: Adam::new(learning_rate).weight_decay(0.004),
        }
    }

    /// See [`Adam::beta_1`]. Defaults to `0.9`.
    pub fn beta_1(self, beta_1: f32) -> Self {
        AdamW {
            adam: self.adam.beta_1(beta_1),
        }
    }

    /// See [`Adam::beta_2`]. Defaults to `0.999`.
    pub fn beta_2(self, beta_2: f32) -> Self {
        AdamW {
            adam: self.adam.beta_2(beta_2),
        }
    }

    /// See [`Adam::epsilon`]. Defaults to `1e-7`.
    pub fn epsilon(self, epsilon: f32) -> Self {
        AdamW {
            adam: self.adam.epsilon(epsilon),
        }
    }

    /// See [`Adam::amsgrad`]. Defaults to `false`.
    pub fn amsgrad(self, amsgrad: bool) -> Self {
        AdamW {
            adam: self.adam.amsgrad(amsgrad),
        }
    }

    /// The learning rate of the first step (a schedule's rate at step 0).
    pub fn learning_rate(&self) -> f32 {
        self.adam.learning_rate()
    }
}

impl Default for AdamW {
    /// `AdamW::new(1e-3)`, Keras's default.
    fn default() -> Self {
        AdamW::new(1e-3)
    }
}

impl Clipping for AdamW {
    fn clip_config(&mut self) -> &mut Option<Clip> {
        &mut self.adam.base_mut().clip
    }
}

impl WeightDecay for AdamW {
    fn weight_decay_config(&mut self) -> &mut f32 {
        &mut self.adam.base_mut().weight_decay
    }
}

impl TryFrom<AdamW> for Optimizer {
    type Error = Error;

    /// Builds the optimizer after checking every hyper-parameter.
    ///
    /// # Errors
    /// As for [`Adam`], naming the rule `adamw`.
    fn try_from(adamw: AdamW) -> Result<Optimizer> {
        let (rule, base) = adamw.adam.into_parts("adamw");
        Optimizer::with_base(rule, base)
    }
}

#[cfg(test)]
// The expected values are the script's output pasted verbatim, beyond f32 precision.
#[allow(clippy::excessive_precision)]
mod tests {
    use super::*;
    use crate::testing::{assert_close, run_steps};
    use crate::ExponentialDecay;

    // python3 (Keras 3: weight decay with the step's lr, then Adam.update_step):
    //   import math
    //   def adamw(p, grads, lr, wd=0.004, b1=0.9, b2=0.999, eps=1e-7, amsgrad=False):
    //       m = [0.0]*len(p); v = [0.0]*len(p); vh = [0.0]*len(p)
    //       for t, g in enumerate(grads, start=1):
    //           lr_t = lr(t - 1) if callable(lr) else lr   # a schedule sees the step before
    //           alpha = lr_t * math.sqrt(1 - b2**t) / (1 - b1**t)
    //           for i in range(len(p)):
    //               p[i] = p[i] - p[i] * wd * lr_t
    //               m[i] += (g[i] - m[i]) * (1 - b1)
    //               v[i] += (g[i]*g[i] - v[i]) * (1 - b2)
    //               vh[i] = max(vh[i], v[i])
    //               p[i] -= alpha * m[i] / (math.sqrt(vh[i] if amsgrad else v[i]) + eps)
    //           print(t, [round(x, 9) for x in p])
    //   G = [[0.1, -0.2, 0.3], [0.05, 0.4, -0.1], [-0.3, 0.1, 0.2]]
    //   adamw([1.0, -2.0, 0.5], G, 0.01)
    //   adamw([1.0, -2.0, 0.5], G, lambda s: 0.01 * 0.5 ** s, wd=0.1)
    // Output:
    //   1 [0.989960316, -1.989920158, 0.489980105]
    //   2 [0.980599185, -1.993501571, 0.485958361]
    //   3 [0.984032162, -1.997578314, 0.479908108]
    //
    //   1 [0.989000316, -1.988000158, 0.489500105]
    //   2 [0.98384505, -1.988836663, 0.487254283]
    //   3 [0.984467139, -1.989378574, 0.485624765]
    const GRADS: [&[f32]; 3] = [&[0.1, -0.2, 0.3], &[0.05, 0.4, -0.1], &[-0.3, 0.1, 0.2]];
    const P0: [f32; 3] = [1.0, -2.0, 0.5];

    #[test]
    fn default_weight_decay_is_keras_0_004() {
        let opt = Optimizer::try_from(AdamW::new(0.01)).unwrap();
        assert_eq!(opt.weight_decay(), 0.004);
        let got = run_steps(opt, &P0, &GRADS);
        assert_close(&got[0], &[0.989960316, -1.989920158, 0.489980105], 1e-6);
        assert_close(&got[1], &[0.980599185, -1.993501571, 0.485958361], 1e-6);
        assert_close(&got[2], &[0.984032162, -1.997578314, 0.479908108], 1e-6);
    }

    #[test]
    fn the_decay_follows_the_scheduled_rate() {
        let schedule = ExponentialDecay::new(0.01, 1, 0.5);
        let opt = Optimizer::try_from(AdamW::new(schedule).weight_decay(0.1)).unwrap();
        let got = run_steps(opt, &P0, &GRADS);
        assert_close(&got[0], &[0.989000316, -1.988000158, 0.489500105], 1e-6);
        assert_close(&got[1], &[0.98384505, -1.988836663, 0.487254283], 1e-6);
        assert_close(&got[2], &[0.984467139, -1.989378574, 0.485624765], 1e-6);
    }

    #[test]
    fn config_names_adamw_and_its_decay() {
        let opt = Optimizer::try_from(AdamW::default()).unwrap();
        assert_eq!(
            opt.config().to_string(),
            "adamw(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=0.0000001, \
             amsgrad=false, weight_decay=0.004)"
        );
        let err = Optimizer::try_from(AdamW::new(0.01).beta_1(2.0)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid adamw hyper-parameter `beta_1`: expected a number in [0, 1), found 2"
        );
    }
}
