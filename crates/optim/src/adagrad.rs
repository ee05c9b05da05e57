//! Adagrad: per-parameter step sizes from the sum of all past squared gradients.

use crate::base::base_builder;
use crate::elementwise::{for_each_run, nonfinite};
use crate::precision::saturating_square;
use crate::{
    BaseConfig, Error, HyperValue, LearningRate, Optimizer, Result, SlotSpec, Slots, UpdateRule,
};
use keel_autograd::Tensor;
use multiversion::multiversion;
use serde::{Deserialize, Serialize};

/// Adagrad (Duchi, Hazan & Singer, 2011, "Adaptive Subgradient Methods for Online Learning
/// and Stochastic Optimization", JMLR 12), with Keras 3's formulas.
///
/// For each parameter `p` with gradient `g` and accumulator `acc` (starting at
/// `initial_accumulator_value`):
///
/// ```text
/// acc = acc + g²
/// p   = p - lr * g / sqrt(acc + epsilon)
/// ```
///
/// This is Keras 3's `Adagrad.update_step` (`epsilon` inside the square root; PyTorch adds it
/// outside and starts the accumulator at 0).
///
/// Defaults (Keras): `learning_rate` given to [`new`](Adagrad::new) (Keras uses `1e-3`, as
/// does [`Default`]), `initial_accumulator_value = 0.1`, `epsilon = 1e-7`. The initial value
/// must be finite and `>= 0`, `epsilon` finite and `> 0`; checked when the builder becomes an
/// [`Optimizer`].
///
/// ```
/// use keel_autograd::{tensor, Gradients, Param};
/// use keel_optim::{Adagrad, Optimizer};
/// # fn main() -> keel_optim::Result<()> {
/// let mut opt = Optimizer::try_from(Adagrad::new(0.1).initial_accumulator_value(0.0))?;
/// let mut w = Param::new(tensor(&[1], vec![1.0]));
/// let mut grads = Gradients::default();
/// grads.insert(w.id(), tensor(&[1], vec![3.0]));
/// opt.step([("w".to_string(), &mut w)], &mut grads)?;
/// // acc = 9, so the first step is lr * 3 / sqrt(9): lr against the gradient's sign.
/// assert!((w.value()[0] - 0.9).abs() < 1e-6);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adagrad {
    base: BaseConfig,
    initial_accumulator_value: f32,
    epsilon: f32,
}

impl Adagrad {
    /// Adagrad with learning rate `learning_rate` (a number or a schedule) and Keras's other
    /// defaults.
    pub fn new(learning_rate: impl Into<LearningRate>) -> Self {
        Adagrad {
            base: BaseConfig::new(learning_rate),
            initial_accumulator_value: 0.1,
            epsilon: 1e-7,
        }
    }

    /// The accumulator's starting value. Defaults to `0.1`; must be finite and `>= 0`.
    pub fn initial_accumulator_value(mut self, value: f32) -> Self {
        self.initial_accumulator_value = value;
        self
    }

    /// The constant added under the square root. Defaults to `1e-7`; must be finite and `> 0`.
    pub fn epsilon(mut self, epsilon: f32) -> Self {
        self.epsilon = epsilon;
        self
    }

    /// The learning rate of the first step (a schedule's rate at step 0).
    pub fn learning_rate(&self) -> f32 {
        self.base.learning_rate.at(0)
    }
}

impl Default for Adagrad {
    /// `Adagrad::new(1e-3)`, Keras's default.
    fn default() -> Self {
        Adagrad::new(1e-3)
    }
}

base_builder!(Adagrad);

impl TryFrom<Adagrad> for Optimizer {
    type Error = Error;

    /// Builds the optimizer after checking every hyper-parameter.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] for `initial_accumulator_value` or `epsilon` out of
    /// range, and the errors of [`Optimizer::with_base`].
    fn try_from(adagrad: Adagrad) -> Result<Optimizer> {
        let rule = AdagradRule {
            initial_accumulator_value: adagrad.initial_accumulator_value,
            epsilon: adagrad.epsilon,
        };
        Optimizer::with_base(rule, adagrad.base)
    }
}

/// The accumulator math; the learning rate comes from [`Optimizer`].
#[derive(Debug, Clone, Copy)]
struct AdagradRule {
    initial_accumulator_value: f32,
    epsilon: f32,
}

impl UpdateRule for AdagradRule {
    fn name(&self) -> &'static str {
        "adagrad"
    }

    fn hyper_parameters(&self) -> Vec<(&'static str, HyperValue)> {
        vec![
            (
                "initial_accumulator_value",
                HyperValue::Float(self.initial_accumulator_value),
            ),
            ("epsilon", HyperValue::Float(self.epsilon)),
        ]
    }

    fn validate(&self) -> Result<()> {
        let bad = |name, expected, found| Error::InvalidHyperParameter {
            rule: "adagrad",
            name,
            expected,
            found,
        };
        let init = self.initial_accumulator_value;
        if !(init.is_finite() && init >= 0.0) {
            return Err(bad(
                "initial_accumulator_value",
                "a finite number >= 0",
                init,
            ));
        }
        if !(self.epsilon.is_finite() && self.epsilon > 0.0) {
            return Err(bad("epsilon", "a finite number > 0", self.epsilon));
        }
        Ok(())
    }

    fn slot_specs(&self) -> Vec<SlotSpec> {
        vec![SlotSpec::non_negative("accumulator")]
    }

    fn update(&self, lr: f32, t: u64, param: &mut Tensor, grad: &Tensor, slots: &mut Slots) {
        self.update_checked(lr, t, param, grad, slots);
    }

    fn update_checked(
        &self,
        lr: f32,
        _t: u64,
        param: &mut Tensor,
        grad: &Tensor,
        slots: &mut Slots,
    ) -> bool {
        let eps = self.epsilon;
        let [acc] = slots.filled_like::<1>(param, self.initial_accumulator_value);
        for_each_run(param, grad, [acc], |p, g, [acc]| {
            adagrad_run(p, g, acc, lr, eps)
        })
    }
}

#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn adagrad_run(p: &mut [f32], g: &[f32], acc: &mut [f32], lr: f32, eps: f32) -> bool {
    let mut bad = 0;
    for ((p, &g), acc) in p.iter_mut().zip(g).zip(acc.iter_mut()) {
        // Saturating: a sum of squares of finite gradients stays finite (precision.rs).
        *acc = (*acc + saturating_square(g)).min(f32::MAX);
        *p -= lr * g / (*acc + eps).sqrt();
        bad |= nonfinite(*p) | nonfinite(*acc);
    }
    bad == 0
}

#[cfg(test)]
// The expected values are the script's output pasted verbatim, beyond f32 precision.
#[allow(clippy::excessive_precision)]
mod tests {
    use super::*;
    use crate::testing::{assert_close, run_steps};

    // python3 (Keras 3's Adagrad.update_step with plain floats):
    //   import math
    //   def adagrad(p, grads, lr, init=0.1, eps=1e-7):
    //       acc = [init]*len(p)
    //       for t, g in enumerate(grads, start=1):
    //           for i in range(len(p)):
    //               acc[i] += g[i] * g[i]
    //               p[i] -= lr * g[i] / math.sqrt(acc[i] + eps)
    //           print(t, [round(x, 9) for x in p])
    //   G = [[0.1, -0.2, 0.3], [0.05, 0.4, -0.1], [-0.3, 0.1, 0.2]]
    //   adagrad([1.0, -2.0, 0.5], G, 0.1)
    //   adagrad([1.0, -2.0, 0.5], G, 0.1, init=0.0)
    // Output:
    //   1 [0.969848879, -1.946547771, 0.431175298]
    //   2 [0.954941766, -2.019577433, 0.453535972]
    //   3 [1.021608416, -2.03753796, 0.412711152]
    //
    //   1 [0.9000005, -1.900000125, 0.400000056]
    //   2 [0.855279319, -1.989442822, 0.431622816]
    //   3 [0.948983531, -2.011264606, 0.378170587]
    const GRADS: [&[f32]; 3] = [&[0.1, -0.2, 0.3], &[0.05, 0.4, -0.1], &[-0.3, 0.1, 0.2]];
    const P0: [f32; 3] = [1.0, -2.0, 0.5];

    #[test]
    fn three_steps_match_keras() {
        let got = run_steps(Optimizer::try_from(Adagrad::new(0.1)).unwrap(), &P0, &GRADS);
        assert_close(&got[0], &[0.969848879, -1.946547771, 0.431175298], 1e-6);
        assert_close(&got[1], &[0.954941766, -2.019577433, 0.453535972], 1e-6);
        assert_close(&got[2], &[1.021608416, -2.03753796, 0.412711152], 1e-6);
    }

    #[test]
    fn the_accumulator_starts_at_its_initial_value() {
        let opt = Optimizer::try_from(Adagrad::new(0.1).initial_accumulator_value(0.0)).unwrap();
        let got = run_steps(opt, &P0, &GRADS);
        assert_close(&got[0], &[0.9000005, -1.900000125, 0.400000056], 1e-6);
        assert_close(&got[1], &[0.855279319, -1.989442822, 0.431622816], 1e-6);
        assert_close(&got[2], &[0.948983531, -2.011264606, 0.378170587], 1e-6);
    }

    #[test]
    fn invalid_hyper_parameters_are_errors() {
        let err = |a: Adagrad| Optimizer::try_from(a).unwrap_err().to_string();
        assert_eq!(
            err(Adagrad::new(0.1).initial_accumulator_value(-1.0)),
            "invalid adagrad hyper-parameter `initial_accumulator_value`: expected a finite \
             number >= 0, found -1"
        );
        assert_eq!(
            err(Adagrad::new(0.1).epsilon(0.0)),
            "invalid adagrad hyper-parameter `epsilon`: expected a finite number > 0, found 0"
        );
    }
}
