//! Adam: per-parameter step sizes from first and second moment estimates (and AMSGrad).

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

/// The Adam optimizer (Kingma & Ba, 2015, "Adam: A Method for Stochastic Optimization",
/// arXiv:1412.6980), with Keras's defaults and Keras's placement of `epsilon`, and the
/// AMSGrad variant (Reddi, Kale & Kumar, 2018, "On the Convergence of Adam and Beyond").
///
/// At step `t` (1-based), for each parameter `p` with gradient `g` and moments `m`, `v`
/// (zeros at first):
///
/// ```text
/// m     = m + (g - m) * (1 - beta_1)          // = beta_1 * m + (1 - beta_1) * g
/// v     = v + (g² - v) * (1 - beta_2)         // = beta_2 * v + (1 - beta_2) * g²
/// v̂     = max(v̂, v)                           // AMSGrad only (v̂ starts at 0); then v = v̂
/// alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
/// p     = p - alpha * m / (sqrt(v) + epsilon)
/// ```
///
/// This is Keras 3's `Adam.update_step` (the paper's "efficient version", section 2), with
/// Keras's rounding: `1 - beta` computed in double from the beta as written, then rounded
/// to `f32`; the bias correction from the betas cast to `f32`, in `f32`. One change: `g²`
/// saturates at `f32::MAX` instead of overflowing, so `v` stays finite for every finite
/// gradient (Keras's `v` turns infinite above |g| = 1.8e19 and the next step NaN).
/// PyTorch's `torch.optim.Adam` adds `epsilon` to the bias-corrected `sqrt(v̂)` instead,
/// so the two differ slightly when `sqrt(v)` is comparable to `epsilon`.
///
/// Defaults (Keras): `learning_rate` is given to [`new`](Adam::new) as a number or a
/// [`Schedule`](crate::Schedule) (Keras uses `1e-3`, as does [`Default`]), `beta_1 = 0.9`,
/// `beta_2 = 0.999`, `epsilon = 1e-7`, `amsgrad = false`, no clipping
/// ([`Clipping`](crate::Clipping)), no weight decay ([`WeightDecay`](crate::WeightDecay); see
/// also [`AdamW`](crate::AdamW)). Hyper-parameters are checked when the builder becomes an
/// [`Optimizer`] (via [`Optimizer::try_from`]): `beta_1` and `beta_2` in `[0, 1)`, `epsilon`
/// finite and `> 0` (0 would divide 0 by 0 for a parameter whose gradient has always been 0).
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
/// assert_eq!(opt.config().to_string(), "adam(learning_rate=0.1, beta_1=0.9, beta_2=0.99, \
///     epsilon=0.0000001, amsgrad=false, global_clipnorm=1)");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adam {
    base: BaseConfig,
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    amsgrad: bool,
}

impl Adam {
    /// Adam with learning rate `learning_rate` (a number or a schedule) and Keras's other
    /// defaults.
    pub fn new(learning_rate: impl Into<LearningRate>) -> Self {
        Adam {
            base: BaseConfig::new(learning_rate),
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            amsgrad: false,
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

    /// Whether to use AMSGrad: divide by the running maximum of `v` instead of `v`, which
    /// keeps a third slot per parameter. Defaults to `false`.
    pub fn amsgrad(mut self, amsgrad: bool) -> Self {
        self.amsgrad = amsgrad;
        self
    }

    /// The learning rate of the first step (a schedule's rate at step 0).
    pub fn learning_rate(&self) -> f32 {
        self.base.learning_rate.at(0)
    }

    /// The rule, named `name` (AdamW shares it), and the base.
    pub(crate) fn into_parts(self, name: &'static str) -> (AdamRule, BaseConfig) {
        let rule = AdamRule {
            name,
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
            amsgrad: self.amsgrad,
            one_minus_b1: one_minus(self.beta_1),
            one_minus_b2: one_minus(self.beta_2),
        };
        (rule, self.base)
    }

    /// The shared settings, for [`AdamW`](crate::AdamW).
    pub(crate) fn base_mut(&mut self) -> &mut BaseConfig {
        &mut self.base
    }
}

impl Default for Adam {
    /// `Adam::new(1e-3)`, Keras's default.
    fn default() -> Self {
        Adam::new(1e-3)
    }
}

base_builder!(Adam);

impl TryFrom<Adam> for Optimizer {
    type Error = Error;

    /// Builds the optimizer after checking every hyper-parameter.
    ///
    /// # Errors
    /// [`Error::InvalidLearningRate`], [`Error::InvalidSchedule`],
    /// [`Error::InvalidHyperParameter`], [`Error::InvalidClip`],
    /// [`Error::InvalidClipParameter`] or [`Error::InvalidWeightDecay`] for a value out of
    /// range.
    fn try_from(adam: Adam) -> Result<Optimizer> {
        let (rule, base) = adam.into_parts("adam");
        Optimizer::with_base(rule, base)
    }
}

/// The moment math and bias correction; the learning rate and step come from [`Optimizer`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct AdamRule {
    name: &'static str,
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    amsgrad: bool,
    /// `1 − β₁` and `1 − β₂` as Keras rounds them: in double, then to `f32` (precision.rs).
    one_minus_b1: f32,
    one_minus_b2: f32,
}

impl UpdateRule for AdamRule {
    fn name(&self) -> &'static str {
        self.name
    }

    fn hyper_parameters(&self) -> Vec<(&'static str, HyperValue)> {
        vec![
            ("beta_1", HyperValue::Float(self.beta_1)),
            ("beta_2", HyperValue::Float(self.beta_2)),
            ("epsilon", HyperValue::Float(self.epsilon)),
            ("amsgrad", HyperValue::Bool(self.amsgrad)),
        ]
    }

    fn validate(&self) -> Result<()> {
        let unit = (0.0, 1.0, false);
        check_range(self.name, "beta_1", self.beta_1, unit, "a number in [0, 1)")?;
        check_range(self.name, "beta_2", self.beta_2, unit, "a number in [0, 1)")?;
        let eps = self.epsilon;
        if !(eps.is_finite() && eps > 0.0) {
            return Err(Error::InvalidHyperParameter {
                rule: self.name,
                name: "epsilon",
                expected: "a finite number > 0",
                found: eps,
            });
        }
        Ok(())
    }

    fn slot_specs(&self) -> Vec<SlotSpec> {
        let mut specs = vec![SlotSpec::signed("m"), SlotSpec::non_negative("v")];
        if self.amsgrad {
            specs.push(SlotSpec::non_negative("v_hat"));
        }
        specs
    }

    fn update(&self, lr: f32, t: u64, param: &mut Tensor, grad: &Tensor, slots: &mut Slots) {
        self.update_checked(lr, t, param, grad, slots);
    }

    fn update_checked(
        &self,
        lr: f32,
        t: u64,
        param: &mut Tensor,
        grad: &Tensor,
        slots: &mut Slots,
    ) -> bool {
        // Keras's arithmetic (adam.py, update_step): the bias correction from the betas cast
        // to f32, in f32; only `1 - beta` (in the moments) is rounded from Python's double.
        let t = t as f32;
        let alpha = lr * (1.0 - self.beta_2.powf(t)).sqrt() / (1.0 - self.beta_1.powf(t));
        let c = Moments {
            alpha,
            one_minus_b1: self.one_minus_b1,
            one_minus_b2: self.one_minus_b2,
            eps: self.epsilon,
        };
        if self.amsgrad {
            let [m, v, v_hat] = slots.zeros_like::<3>(param);
            for_each_run(param, grad, [m, v, v_hat], |p, g, [m, v, v_hat]| {
                amsgrad_run(p, g, m, v, v_hat, c)
            })
        } else {
            let [m, v] = slots.zeros_like::<2>(param);
            for_each_run(param, grad, [m, v], |p, g, [m, v]| adam_run(p, g, m, v, c))
        }
    }
}

/// The per-step constants of Adam's update.
#[derive(Debug, Clone, Copy)]
struct Moments {
    /// The learning rate with both bias corrections folded in.
    alpha: f32,
    one_minus_b1: f32,
    one_minus_b2: f32,
    eps: f32,
}

impl Moments {
    /// `m ← β₁ m + (1 − β₁) g` and `v ← β₂ v + (1 − β₂) g²`, each flushed to zero once it
    /// decays below the normal range; `g²` saturates at `f32::MAX`, so `v` stays finite for
    /// every finite gradient (it is a convex combination of values `<= f32::MAX`).
    #[inline(always)]
    fn advance(self, m: &mut f32, v: &mut f32, g: f32) {
        *m = flush_subnormal(*m + (g - *m) * self.one_minus_b1);
        *v = flush_subnormal(*v + (saturating_square(g) - *v) * self.one_minus_b2);
    }
}

/// A moment that has decayed below the smallest normal `f32` (1.2e-38), stored as zero.
///
/// The first moment of a weight whose gradient is zero for a while (an MNIST border pixel's)
/// decays by `β₁` a step into the subnormal range, and every vector operation that reads a
/// subnormal takes a microcode assist, which can double the cost of the update (measured
/// in docs/performance.md). What such a moment adds to its weight is below
/// 1e-30 — below the last bit of any weight larger than 1e-23 — so flushing it changes no
/// result that matters, the way TensorFlow and XLA run their CPU kernels with denormals
/// flushed. (Changing the processor's flush-to-zero mode instead is undefined behaviour in
/// Rust.)
#[inline(always)]
fn flush_subnormal(x: f32) -> f32 {
    if x.abs() < f32::MIN_POSITIVE {
        0.0
    } else {
        x
    }
}

#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn adam_run(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], c: Moments) -> bool {
    let mut bad = 0;
    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        c.advance(m, v, g);
        *p -= c.alpha * *m / (v.sqrt() + c.eps);
        bad |= nonfinite(*p) | nonfinite(*m) | nonfinite(*v);
    }
    bad == 0
}

#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn amsgrad_run(
    p: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    v_hat: &mut [f32],
    c: Moments,
) -> bool {
    let mut bad = 0;
    let moments = m.iter_mut().zip(v.iter_mut()).zip(v_hat.iter_mut());
    for ((p, &g), ((m, v), v_hat)) in p.iter_mut().zip(g).zip(moments) {
        c.advance(m, v, g);
        *v_hat = v_hat.max(*v);
        *p -= c.alpha * *m / (v_hat.sqrt() + c.eps);
        bad |= nonfinite(*p) | nonfinite(*m) | nonfinite(*v) | nonfinite(*v_hat);
    }
    bad == 0
}

#[cfg(test)]
mod tests;
