//! Adam: per-parameter step sizes from first and second moment estimates.

use crate::error::check_range;
use crate::{Clip, Clipping, Error, HyperValue, Optimizer, Result, Slots, UpdateRule};
use keel_autograd::Tensor;
use ndarray::Zip;
use serde::{Deserialize, Serialize};

/// The Adam optimizer (Kingma & Ba, 2015, "Adam: A Method for Stochastic Optimization",
/// arXiv:1412.6980), with Keras's defaults and Keras's placement of `epsilon`.
///
/// At step `t` (1-based), for each parameter `p` with gradient `g` and moments `m`, `v`
/// (zeros at first):
///
/// ```text
/// m     = m + (g - m) * (1 - beta_1)          // = beta_1 * m + (1 - beta_1) * g
/// v     = v + (g² - v) * (1 - beta_2)         // = beta_2 * v + (1 - beta_2) * g²
/// alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
/// p     = p - alpha * m / (sqrt(v) + epsilon)
/// ```
///
/// This is Keras's `Adam.update_step` (the paper's "efficient version", section 2).
/// PyTorch's `torch.optim.Adam` adds `epsilon` to the bias-corrected `sqrt(v̂)` instead,
/// so the two differ slightly when `sqrt(v)` is comparable to `epsilon`.
///
/// Defaults (Keras): `learning_rate` is given to [`new`](Adam::new) (Keras uses `1e-3`, as
/// does [`Default`]), `beta_1 = 0.9`, `beta_2 = 0.999`, `epsilon = 1e-7`, no clipping.
/// Hyper-parameters are checked when the builder becomes an [`Optimizer`] (via
/// [`Optimizer::try_from`]): `beta_1` and `beta_2` in `[0, 1)`, `epsilon` finite and `> 0`
/// (0 would divide 0 by 0 for a parameter whose gradient has always been 0).
///
/// ```
/// use keel_autograd::{tensor, Param, Tape};
/// use keel_optim::{Adam, Clipping, Optimizer};
/// # fn main() -> keel_optim::Result<()> {
/// let mut opt = Optimizer::try_from(Adam::new(0.1).beta_2(0.99).global_clipnorm(1.0))?;
/// let mut w = Param::new(tensor(&[2], vec![1.0, -1.0]));
/// let tape = Tape::new();
/// let x = tape.param(&w);
/// let mut grads = (x * x).backward(); // dL/dw = 2w
/// drop(tape);
/// opt.step([("w".to_string(), &mut w)], &mut grads)?;
/// // The first Adam step moves every element by about lr, against its gradient's sign.
/// assert!((w.value()[0] - 0.9).abs() < 1e-5 && (w.value()[1] + 0.9).abs() < 1e-5);
/// assert_eq!(opt.config().to_string(),
///     "adam(learning_rate=0.1, beta_1=0.9, beta_2=0.99, epsilon=0.0000001, global_clipnorm=1)");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Adam {
    learning_rate: f32,
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    clip: Option<Clip>,
}

impl Adam {
    /// Adam with learning rate `learning_rate` and Keras's other defaults.
    pub fn new(learning_rate: f32) -> Self {
        Adam {
            learning_rate,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            clip: None,
        }
    }

    /// The decay rate of the first moment estimate. Defaults to `0.9`; must be in `[0, 1)`.
    pub fn beta_1(mut self, beta_1: f32) -> Self {
        self.beta_1 = beta_1;
        self
    }

    /// The decay rate of the second moment estimate. Defaults to `0.999`; must be in `[0, 1)`.
    pub fn beta_2(mut self, beta_2: f32) -> Self {
        self.beta_2 = beta_2;
        self
    }

    /// The constant added to `sqrt(v)` for numerical stability. Defaults to `1e-7`; must be
    /// finite and `> 0`.
    pub fn epsilon(mut self, epsilon: f32) -> Self {
        self.epsilon = epsilon;
        self
    }

    /// The initial learning rate.
    pub fn learning_rate(&self) -> f32 {
        self.learning_rate
    }
}

impl Default for Adam {
    /// `Adam::new(1e-3)`, Keras's default.
    fn default() -> Self {
        Adam::new(1e-3)
    }
}

impl Clipping for Adam {
    fn clip_config(&mut self) -> &mut Option<Clip> {
        &mut self.clip
    }
}

impl TryFrom<Adam> for Optimizer {
    type Error = Error;

    /// Builds the optimizer after checking every hyper-parameter.
    ///
    /// # Errors
    /// [`Error::InvalidLearningRate`], [`Error::InvalidHyperParameter`] or
    /// [`Error::InvalidClip`] for a value out of range.
    fn try_from(adam: Adam) -> Result<Optimizer> {
        let rule = AdamRule {
            beta_1: adam.beta_1,
            beta_2: adam.beta_2,
            epsilon: adam.epsilon,
        };
        Optimizer::new(rule, adam.learning_rate, adam.clip)
    }
}

/// The moment math and bias correction; the learning rate and step come from [`Optimizer`].
#[derive(Debug, Clone, Copy)]
struct AdamRule {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
}

impl UpdateRule for AdamRule {
    fn name(&self) -> &'static str {
        "adam"
    }

    fn hyper_parameters(&self) -> Vec<(&'static str, HyperValue)> {
        vec![
            ("beta_1", HyperValue::Float(self.beta_1)),
            ("beta_2", HyperValue::Float(self.beta_2)),
            ("epsilon", HyperValue::Float(self.epsilon)),
        ]
    }

    fn validate(&self) -> Result<()> {
        let unit = (0.0, 1.0, false);
        check_range("adam", "beta_1", self.beta_1, unit, "a number in [0, 1)")?;
        check_range("adam", "beta_2", self.beta_2, unit, "a number in [0, 1)")?;
        let eps = self.epsilon;
        if !(eps.is_finite() && eps > 0.0) {
            return Err(Error::InvalidHyperParameter {
                rule: "adam",
                name: "epsilon",
                expected: "a finite number > 0",
                found: eps,
            });
        }
        Ok(())
    }

    fn update(&self, lr: f32, t: u64, param: &mut Tensor, grad: &Tensor, slots: &mut Slots) {
        let [m, v] = slots.zeros_like::<2>(param);
        // Bias correction in f64: 1 - 0.999^t is small for small t.
        let (b1, b2, t) = (f64::from(self.beta_1), f64::from(self.beta_2), t as f64);
        let alpha = (f64::from(lr) * (1.0 - b2.powf(t)).sqrt() / (1.0 - b1.powf(t))) as f32;
        let (one_minus_b1, one_minus_b2) = (1.0 - self.beta_1, 1.0 - self.beta_2);
        let eps = self.epsilon;
        let zip = Zip::from(param).and(grad).and(m).and(v);
        let step = |p: &mut f32, &g: &f32, m: &mut f32, v: &mut f32| {
            *m += (g - *m) * one_minus_b1;
            *v += (g * g - *v) * one_minus_b2;
            *p -= alpha * *m / (v.sqrt() + eps);
        };
        // Each element's update is independent, so splitting over threads changes no bit.
        if zip.size() >= crate::PARALLEL_MIN_ELEMENTS {
            zip.par_for_each(step);
        } else {
            zip.for_each(step);
        }
    }
}

#[cfg(test)]
// The expected values are the script's output pasted verbatim, beyond f32 precision.
#[allow(clippy::excessive_precision)]
mod tests {
    use super::*;
    use crate::testing::{assert_close, run_steps};
    use keel_autograd::{tensor, Gradients, Param};

    // Expected values from this Python script (plain floats, Keras's update_step), run with
    // python3; output pasted below. The torch_eps=True branch is torch.optim.Adam's formula.
    //
    //   import math
    //   def adam(p, grads, lr, b1=0.9, b2=0.999, eps=1e-7, torch_eps=False):
    //       m = [0.0]*len(p); v = [0.0]*len(p)
    //       for t, g in enumerate(grads, start=1):
    //           for i in range(len(p)):
    //               m[i] += (g[i] - m[i]) * (1 - b1)
    //               v[i] += (g[i]*g[i] - v[i]) * (1 - b2)
    //               if torch_eps:
    //                   p[i] -= lr / (1 - b1**t) * m[i] / (math.sqrt(v[i]) / math.sqrt(1 - b2**t) + eps)
    //               else:
    //                   alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
    //                   p[i] -= alpha * m[i] / (math.sqrt(v[i]) + eps)
    //           print(t, [round(x, 9) for x in p])
    //   G = [[0.1, -0.2, 0.3], [0.05, 0.4, -0.1], [-0.3, 0.1, 0.2]]
    //   adam([1.0, -2.0, 0.5], G, 0.01)
    //   adam([1.0, -2.0, 0.5], G, 0.01, eps=0.1)
    //   adam([1.0, -2.0, 0.5], G, 0.01, eps=0.1, torch_eps=True)
    //
    // keras eps=1e-7
    //   1 [0.990000316, -1.990000158, 0.490000105]
    //   2 [0.980678784, -1.993661167, 0.48599796]
    //   3 [0.984150984, -1.997817651, 0.479967146]
    // keras eps=0.1
    //   1 [0.999693466, -1.999405165, 0.499133518]
    //   2 [0.999375268, -1.999858725, 0.498769832]
    //   3 [0.999694455, -2.00038456, 0.498132137]
    // torch eps=0.1
    //   1 [0.995, -1.993333333, 0.4925]
    //   2 [0.9908846, -1.996114894, 0.489734729]
    //   3 [0.993138141, -1.999131249, 0.485612449]
    const GRADS: [&[f32]; 3] = [&[0.1, -0.2, 0.3], &[0.05, 0.4, -0.1], &[-0.3, 0.1, 0.2]];

    #[test]
    fn three_steps_match_keras_with_bias_correction() {
        let opt = Optimizer::try_from(Adam::new(0.01)).unwrap();
        let got = run_steps(opt, &[1.0, -2.0, 0.5], &GRADS);
        assert_close(&got[0], &[0.990000316, -1.990000158, 0.490000105], 1e-6);
        assert_close(&got[1], &[0.980678784, -1.993661167, 0.48599796], 1e-6);
        assert_close(&got[2], &[0.984150984, -1.997817651, 0.479967146], 1e-6);
    }

    #[test]
    fn epsilon_is_added_to_raw_sqrt_v_as_in_keras() {
        // A large epsilon separates Keras's placement from PyTorch's (see the script above).
        let opt = Optimizer::try_from(Adam::new(0.01).epsilon(0.1)).unwrap();
        let got = run_steps(opt, &[1.0, -2.0, 0.5], &GRADS);
        assert_close(&got[0], &[0.999693466, -1.999405165, 0.499133518], 1e-6);
        assert_close(&got[1], &[0.999375268, -1.999858725, 0.498769832], 1e-6);
        assert_close(&got[2], &[0.999694455, -2.00038456, 0.498132137], 1e-6);
    }

    #[test]
    fn state_holds_two_moments_per_parameter() {
        let mut opt = Optimizer::try_from(Adam::default()).unwrap();
        let mut w = Param::new(tensor(&[2], vec![0.0; 2]));
        let mut grads = Gradients::default();
        grads.insert(w.id(), tensor(&[2], vec![1.0, -2.0]));
        opt.step([("w".to_string(), &mut w)], &mut grads).unwrap();
        let slots = &opt.state().slots()["w"];
        // m = (1 - 0.9) * g, v = (1 - 0.999) * g².
        assert_close(slots.tensors()[0].as_slice().unwrap(), &[0.1, -0.2], 1e-7);
        assert_close(
            slots.tensors()[1].as_slice().unwrap(),
            &[0.001, 0.004],
            1e-7,
        );
    }

    #[test]
    fn invalid_hyper_parameters_are_errors() {
        let err = |a: Adam| Optimizer::try_from(a).unwrap_err();
        assert!(matches!(
            err(Adam::new(1e-3).beta_1(1.0)),
            Error::InvalidHyperParameter { name: "beta_1", .. }
        ));
        assert!(matches!(
            err(Adam::new(1e-3).beta_2(-0.1)),
            Error::InvalidHyperParameter { name: "beta_2", .. }
        ));
        assert!(matches!(
            err(Adam::new(1e-3).epsilon(0.0)),
            Error::InvalidHyperParameter {
                name: "epsilon",
                ..
            }
        ));
        assert!(matches!(
            err(Adam::new(f32::NAN)),
            Error::InvalidLearningRate { .. }
        ));
        assert_eq!(
            err(Adam::new(1e-3).beta_1(1.5)).to_string(),
            "invalid adam hyper-parameter `beta_1`: expected a number in [0, 1), found 1.5"
        );
    }
}
