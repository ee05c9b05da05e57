//! RMSprop: divide the gradient by a moving root mean square, with optional momentum.

use crate::base::base_builder;
use crate::elementwise::{for_each_run, nonfinite};
use crate::error::check_range;
use crate::precision::{one_minus, saturating_square};
use crate::{
    BaseConfig, Error, HyperValue, LearningRate, Optimizer, Result, SlotSpec, Slots, UpdateRule,
};
use keel_autograd::Tensor;
use multiversion::multiversion;
use serde::{Deserialize, Serialize};

/// RMSprop (Hinton, 2012, "Neural Networks for Machine Learning", lecture 6e; the centered
/// variant from Graves, 2013, "Generating Sequences With Recurrent Neural Networks",
/// arXiv:1308.0850), with Keras 3's formulas.
///
/// For each parameter `p` with gradient `g`, and slots `v`, `a`, `s` (zeros at first):
///
/// ```text
/// v = rho * v + (1 - rho) * g²
/// centered:  a = rho * a + (1 - rho) * g;   d = v - a² + epsilon
/// otherwise: d = v + epsilon
/// increment = lr * g / sqrt(d)
/// momentum > 0:  s = momentum * s + increment;  p = p - s
/// otherwise:     p = p - increment
/// ```
///
/// This is Keras 3's `RMSprop.update_step`: `epsilon` is inside the square root. PyTorch's
/// `torch.optim.RMSprop` adds it outside (`sqrt(v) + eps`) and uses `alpha` for `rho`.
/// Slots, in order: `v`, then `s` with momentum, then `a` when centered.
///
/// Defaults (Keras): `learning_rate` given to [`new`](RMSprop::new) (Keras uses `1e-3`, as
/// does [`Default`]), `rho = 0.9`, `momentum = 0`, `epsilon = 1e-7`, `centered = false`.
/// `rho` and `momentum` must be in `[0, 1)`, `epsilon` finite and `> 0`; checked when the
/// builder becomes an [`Optimizer`].
///
/// ```
/// use keel_autograd::{tensor, Gradients, Param};
/// use keel_optim::{Optimizer, RMSprop};
/// # fn main() -> keel_optim::Result<()> {
/// // Keras's docstring example: loss = w² / 2 from w = 10, one step at lr 0.1.
/// let mut opt = Optimizer::try_from(RMSprop::new(0.1))?;
/// let mut w = Param::new(tensor(&[1], vec![10.0]));
/// let mut grads = Gradients::default();
/// grads.insert(w.id(), tensor(&[1], vec![10.0]));
/// opt.step([("w".to_string(), &mut w)], &mut grads)?;
/// assert!((w.value()[0] - 9.683772).abs() < 1e-5);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RMSprop {
    base: BaseConfig,
    rho: f32,
    momentum: f32,
    epsilon: f32,
    centered: bool,
}

impl RMSprop {
    /// RMSprop with learning rate `learning_rate` (a number or a schedule) and Keras's other
    /// defaults.
    pub fn new(learning_rate: impl Into<LearningRate>) -> Self {
        RMSprop {
            base: BaseConfig::new(learning_rate),
            rho: 0.9,
            momentum: 0.0,
            epsilon: 1e-7,
            centered: false,
        }
    }

    /// The discount factor of the moving average of `g²`. Defaults to `0.9`.
    pub fn rho(mut self, rho: f32) -> Self {
        self.rho = rho;
        self
    }

    /// Plain (not Nesterov) momentum on the increments. Defaults to `0` (no momentum slot).
    pub fn momentum(mut self, momentum: f32) -> Self {
        self.momentum = momentum;
        self
    }

    /// The constant added under the square root. Defaults to `1e-7`.
    pub fn epsilon(mut self, epsilon: f32) -> Self {
        self.epsilon = epsilon;
        self
    }

    /// Normalise by the estimated variance of the gradient rather than its second moment.
    /// Defaults to `false`.
    pub fn centered(mut self, centered: bool) -> Self {
        self.centered = centered;
        self
    }

    /// The learning rate of the first step (a schedule's rate at step 0).
    pub fn learning_rate(&self) -> f32 {
        self.base.learning_rate.at(0)
    }
}

impl Default for RMSprop {
    /// `RMSprop::new(1e-3)`, Keras's default.
    fn default() -> Self {
        RMSprop::new(1e-3)
    }
}

base_builder!(RMSprop);

impl TryFrom<RMSprop> for Optimizer {
    type Error = Error;

    /// Builds the optimizer after checking every hyper-parameter.
    ///
    /// # Errors
    /// [`Error::InvalidHyperParameter`] for `rho`, `momentum` or `epsilon` out of range, and
    /// the errors of [`Optimizer::with_base`].
    fn try_from(rmsprop: RMSprop) -> Result<Optimizer> {
        let rule = RMSpropRule {
            one_minus_rho: one_minus(rmsprop.rho),
            rho: rmsprop.rho,
            momentum: rmsprop.momentum,
            epsilon: rmsprop.epsilon,
            centered: rmsprop.centered,
        };
        Optimizer::with_base(rule, rmsprop.base)
    }
}

/// The moving averages and momentum; the learning rate comes from [`Optimizer`].
#[derive(Debug, Clone, Copy)]
struct RMSpropRule {
    rho: f32,
    /// `1 − ρ` as Keras rounds it: in double, then to `f32` (precision.rs).
    one_minus_rho: f32,
    momentum: f32,
    epsilon: f32,
    centered: bool,
}

impl UpdateRule for RMSpropRule {
    fn name(&self) -> &'static str {
        "rmsprop"
    }

    fn hyper_parameters(&self) -> Vec<(&'static str, HyperValue)> {
        vec![
            ("rho", HyperValue::Float(self.rho)),
            ("momentum", HyperValue::Float(self.momentum)),
            ("epsilon", HyperValue::Float(self.epsilon)),
            ("centered", HyperValue::Bool(self.centered)),
        ]
    }

    fn validate(&self) -> Result<()> {
        let unit = (0.0, 1.0, false);
        check_range("rmsprop", "rho", self.rho, unit, "a number in [0, 1)")?;
        check_range(
            "rmsprop",
            "momentum",
            self.momentum,
            unit,
            "a number in [0, 1)",
        )?;
        let eps = self.epsilon;
        if !(eps.is_finite() && eps > 0.0) {
            return Err(Error::InvalidHyperParameter {
                rule: "rmsprop",
                name: "epsilon",
                expected: "a finite number > 0",
                found: eps,
            });
        }
        Ok(())
    }

    fn slot_specs(&self) -> Vec<SlotSpec> {
        // The order update() creates them in: v, then s with momentum, then a when centered.
        let mut specs = vec![SlotSpec::non_negative("velocity")];
        if self.momentum > 0.0 {
            specs.push(SlotSpec::signed("momentum"));
        }
        if self.centered {
            specs.push(SlotSpec::signed("average_gradient"));
        }
        specs
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
        let c = Rms {
            lr,
            rho: self.rho,
            one_minus_rho: self.one_minus_rho,
            mu: self.momentum,
            eps: self.epsilon,
        };
        match (self.momentum > 0.0, self.centered) {
            (false, false) => {
                let [v] = slots.zeros_like::<1>(param);
                for_each_run(param, grad, [v], |p, g, [v]| plain_run(p, g, v, c))
            }
            (true, false) => {
                let [v, s] = slots.zeros_like::<2>(param);
                for_each_run(param, grad, [v, s], |p, g, [v, s]| {
                    momentum_run(p, g, v, s, c)
                })
            }
            (false, true) => {
                let [v, a] = slots.zeros_like::<2>(param);
                for_each_run(param, grad, [v, a], |p, g, [v, a]| {
                    centered_run(p, g, v, a, c)
                })
            }
            (true, true) => {
                let [v, s, a] = slots.zeros_like::<3>(param);
                for_each_run(param, grad, [v, s, a], |p, g, [v, s, a]| {
                    centered_momentum_run(p, g, v, s, a, c)
                })
            }
        }
    }
}

/// The constants of one RMSprop step.
#[derive(Debug, Clone, Copy)]
struct Rms {
    lr: f32,
    rho: f32,
    one_minus_rho: f32,
    mu: f32,
    eps: f32,
}

impl Rms {
    /// `v ← ρ v + (1 − ρ) g²`, with `g²` saturated at `f32::MAX` so `v` stays finite.
    fn velocity(self, v: &mut f32, g: f32) {
        *v = self.rho * *v + self.one_minus_rho * saturating_square(g);
    }
    /// `a ← ρ a + (1 − ρ) g`, the centered variant's mean gradient.
    fn average(self, a: &mut f32, g: f32) {
        *a = self.rho * *a + self.one_minus_rho * g;
    }
    /// `lr · g / √d`.
    fn increment(self, g: f32, d: f32) -> f32 {
        self.lr * g / d.sqrt()
    }
    /// The centered denominator `v − a² + ε`. Exactly Keras's whenever that is positive;
    /// otherwise (`a²` saturated, or rounding made the variance negative), where Keras
    /// takes the root of a negative number, `ε`.
    fn centered(self, v: f32, a: f32) -> f32 {
        let d = v - saturating_square(a) + self.eps;
        if d > 0.0 {
            d
        } else {
            self.eps
        }
    }
}

#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn plain_run(p: &mut [f32], g: &[f32], v: &mut [f32], c: Rms) -> bool {
    let mut bad = 0;
    for ((p, &g), v) in p.iter_mut().zip(g).zip(v.iter_mut()) {
        c.velocity(v, g);
        *p -= c.increment(g, *v + c.eps);
        bad |= nonfinite(*p) | nonfinite(*v);
    }
    bad == 0
}

#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn momentum_run(p: &mut [f32], g: &[f32], v: &mut [f32], s: &mut [f32], c: Rms) -> bool {
    let mut bad = 0;
    for (((p, &g), v), s) in p.iter_mut().zip(g).zip(v.iter_mut()).zip(s.iter_mut()) {
        c.velocity(v, g);
        *s = c.mu * *s + c.increment(g, *v + c.eps);
        *p -= *s;
        bad |= nonfinite(*p) | nonfinite(*v) | nonfinite(*s);
    }
    bad == 0
}

#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn centered_run(p: &mut [f32], g: &[f32], v: &mut [f32], a: &mut [f32], c: Rms) -> bool {
    let mut bad = 0;
    for (((p, &g), v), a) in p.iter_mut().zip(g).zip(v.iter_mut()).zip(a.iter_mut()) {
        c.velocity(v, g);
        c.average(a, g);
        *p -= c.increment(g, c.centered(*v, *a));
        bad |= nonfinite(*p) | nonfinite(*v) | nonfinite(*a);
    }
    bad == 0
}

#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn centered_momentum_run(
    p: &mut [f32],
    g: &[f32],
    v: &mut [f32],
    s: &mut [f32],
    a: &mut [f32],
    c: Rms,
) -> bool {
    let mut bad = 0;
    let state = v.iter_mut().zip(s.iter_mut()).zip(a.iter_mut());
    for ((p, &g), ((v, s), a)) in p.iter_mut().zip(g).zip(state) {
        c.velocity(v, g);
        c.average(a, g);
        *s = c.mu * *s + c.increment(g, c.centered(*v, *a));
        *p -= *s;
        bad |= nonfinite(*p) | nonfinite(*v) | nonfinite(*s) | nonfinite(*a);
    }
    bad == 0
}

#[cfg(test)]
mod tests;
