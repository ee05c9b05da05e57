//! Stochastic gradient descent, with optional (Nesterov) momentum.

use crate::base::base_builder;
use crate::elementwise::{for_each_run, nonfinite};
use crate::error::check_range;
use crate::{
    BaseConfig, Error, HyperValue, LearningRate, Optimizer, Result, SlotSpec, Slots, UpdateRule,
};
use keel_autograd::Tensor;
use multiversion::multiversion;
use serde::{Deserialize, Serialize};

/// Stochastic gradient descent with Keras 3's momentum semantics.
///
/// For each parameter `p` with gradient `g`, learning rate `lr` and velocity `v` (zeros at
/// first):
///
/// ```text
/// momentum == 0:   p = p - lr * g
/// momentum  > 0:   v = momentum * v - lr * g
///                  p = p + v                        (nesterov = false)
///                  p = p + momentum * v - lr * g    (nesterov = true, with the new v)
/// ```
///
/// This is Keras's `SGD.update_step`. PyTorch's `torch.optim.SGD` keeps `v` without the
/// learning rate (`v = momentum * v + g; p -= lr * v`); the two agree while `lr` is constant.
/// Nesterov momentum: Sutskever et al., 2013, "On the importance of initialization and
/// momentum in deep learning".
///
/// Defaults (Keras): `learning_rate` is given to [`new`](Sgd::new) as a number or a
/// [`Schedule`](crate::Schedule) (Keras uses `0.01`, as does [`Default`]), `momentum = 0`,
/// `nesterov = false`, no clipping ([`Clipping`](crate::Clipping)), no weight decay
/// ([`WeightDecay`](crate::WeightDecay)). `momentum` must be in `[0, 1]`, checked when the
/// builder becomes an [`Optimizer`] (via [`Optimizer::try_from`]).
///
/// ```
/// use keel_autograd::{tensor, Param, Tape};
/// use keel_optim::{Clipping, Optimizer, Sgd};
/// # fn main() -> keel_optim::Result<()> {
/// let mut opt = Optimizer::try_from(Sgd::new(0.1).momentum(0.9).clipvalue(0.5))?;
/// let mut w = Param::new(tensor(&[2], vec![1.0, -0.1]));
/// let tape = Tape::new();
/// let x = tape.param(&w);
/// let mut grads = (x * x).backward(); // dL/dw = 2w = [2.0, -0.2], clipped to [0.5, -0.2]
/// drop(tape);
/// opt.step([("w".to_string(), &mut w)], &mut grads)?;
/// // v = -lr * g = [-0.05, 0.02]; p = p + v
/// assert!((w.value()[0] - 0.95).abs() < 1e-6 && (w.value()[1] + 0.08).abs() < 1e-6);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sgd {
    base: BaseConfig,
    momentum: f32,
    nesterov: bool,
}

impl Sgd {
    /// Plain SGD with learning rate `learning_rate` (a number or a schedule).
    pub fn new(learning_rate: impl Into<LearningRate>) -> Self {
        Sgd {
            base: BaseConfig::new(learning_rate),
            momentum: 0.0,
            nesterov: false,
        }
    }

    /// The momentum factor. Defaults to `0` (no velocity kept); must be in `[0, 1]`.
    pub fn momentum(mut self, momentum: f32) -> Self {
        self.momentum = momentum;
        self
    }

    /// Whether to use Nesterov momentum. Defaults to `false`; has no effect with zero
    /// momentum (as in Keras).
    pub fn nesterov(mut self, nesterov: bool) -> Self {
        self.nesterov = nesterov;
        self
    }

    /// The learning rate of the first step (a schedule's rate at step 0).
    pub fn learning_rate(&self) -> f32 {
        self.base.learning_rate.at(0)
    }
}

impl Default for Sgd {
    /// `Sgd::new(0.01)`, Keras's default.
    fn default() -> Self {
        Sgd::new(0.01)
    }
}

base_builder!(Sgd);

impl TryFrom<Sgd> for Optimizer {
    type Error = Error;

    /// Builds the optimizer after checking every hyper-parameter.
    ///
    /// # Errors
    /// [`Error::InvalidLearningRate`], [`Error::InvalidSchedule`],
    /// [`Error::InvalidHyperParameter`], [`Error::InvalidClip`],
    /// [`Error::InvalidClipParameter`] or [`Error::InvalidWeightDecay`] for a value out of
    /// range.
    fn try_from(sgd: Sgd) -> Result<Optimizer> {
        let rule = SgdRule {
            momentum: sgd.momentum,
            nesterov: sgd.nesterov,
        };
        Optimizer::with_base(rule, sgd.base)
    }
}

/// The velocity math; the learning rate comes from [`Optimizer`].
#[derive(Debug, Clone, Copy)]
struct SgdRule {
    momentum: f32,
    nesterov: bool,
}

impl UpdateRule for SgdRule {
    fn name(&self) -> &'static str {
        "sgd"
    }

    fn hyper_parameters(&self) -> Vec<(&'static str, HyperValue)> {
        vec![
            ("momentum", HyperValue::Float(self.momentum)),
            ("nesterov", HyperValue::Bool(self.nesterov)),
        ]
    }

    fn validate(&self) -> Result<()> {
        let range = (0.0, 1.0, true);
        check_range(
            "sgd",
            "momentum",
            self.momentum,
            range,
            "a number in [0, 1]",
        )
    }

    fn slot_specs(&self) -> Vec<SlotSpec> {
        if self.momentum == 0.0 {
            Vec::new()
        } else {
            vec![SlotSpec::signed("velocity")]
        }
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
        let mu = self.momentum;
        if mu == 0.0 {
            return for_each_run(param, grad, [], |p, g, []| plain_run(p, g, lr));
        }
        let [velocity] = slots.zeros_like::<1>(param);
        let nesterov = self.nesterov;
        for_each_run(param, grad, [velocity], |p, g, [v]| {
            momentum_run(p, g, v, lr, mu, nesterov)
        })
    }
}

/// `p -= lr * g`, as ndarray's `scaled_add` computes it.
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn plain_run(p: &mut [f32], g: &[f32], lr: f32) -> bool {
    let mut bad = 0;
    for (p, &g) in p.iter_mut().zip(g) {
        *p += -lr * g;
        bad |= nonfinite(*p);
    }
    bad == 0
}

#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn momentum_run(p: &mut [f32], g: &[f32], v: &mut [f32], lr: f32, mu: f32, nesterov: bool) -> bool {
    let mut bad = 0;
    let triples = p.iter_mut().zip(g).zip(v.iter_mut());
    if nesterov {
        for ((p, &g), v) in triples {
            *v = mu * *v - lr * g;
            *p += mu * *v - lr * g;
            bad |= nonfinite(*p) | nonfinite(*v);
        }
    } else {
        for ((p, &g), v) in triples {
            *v = mu * *v - lr * g;
            *p += *v;
            bad |= nonfinite(*p) | nonfinite(*v);
        }
    }
    bad == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_close, run_steps};

    // p0 = [1, -2], lr = 0.1, gradients g1 = [0.5, -1], g2 = [0.25, 0.5], g3 = [-1, 0].
    // Derivations by hand below; the same numbers printed by this Python script (python3):
    //
    //   def sgd(p, grads, lr, momentum=0.0, nesterov=False):
    //       v = [0.0]*len(p)
    //       for t, g in enumerate(grads, start=1):
    //           for i in range(len(p)):
    //               if momentum == 0.0:
    //                   p[i] -= lr * g[i]
    //               else:
    //                   v[i] = momentum * v[i] - lr * g[i]
    //                   p[i] += momentum * v[i] - lr * g[i] if nesterov else v[i]
    //           print(t, [round(x, 9) for x in p])
    //   G = [[0.5, -1.0], [0.25, 0.5], [-1.0, 0.0]]
    //   sgd([1.0, -2.0], G, 0.1); sgd([1.0, -2.0], G, 0.1, 0.9); sgd([1.0, -2.0], G, 0.1, 0.9, True)
    const GRADS: [&[f32]; 3] = [&[0.5, -1.0], &[0.25, 0.5], &[-1.0, 0.0]];

    #[test]
    fn plain_sgd_subtracts_lr_times_gradient() {
        // p1 = [1 - 0.05, -2 + 0.1] = [0.95, -1.9]
        // p2 = [0.95 - 0.025, -1.9 - 0.05] = [0.925, -1.95]
        // p3 = [0.925 + 0.1, -1.95 - 0] = [1.025, -1.95]
        let got = run_steps(
            Optimizer::try_from(Sgd::new(0.1)).unwrap(),
            &[1.0, -2.0],
            &GRADS,
        );
        assert_close(&got[0], &[0.95, -1.9], 1e-6);
        assert_close(&got[1], &[0.925, -1.95], 1e-6);
        assert_close(&got[2], &[1.025, -1.95], 1e-6);
    }

    #[test]
    fn momentum_accumulates_velocity() {
        // v1 = -0.1 g1 = [-0.05, 0.1]                    p1 = [0.95, -1.9]
        // v2 = 0.9 v1 - 0.1 g2 = [-0.07, 0.04]           p2 = [0.88, -1.86]
        // v3 = 0.9 v2 - 0.1 g3 = [0.037, 0.036]          p3 = [0.917, -1.824]
        let opt = Optimizer::try_from(Sgd::new(0.1).momentum(0.9)).unwrap();
        let got = run_steps(opt, &[1.0, -2.0], &GRADS);
        assert_close(&got[0], &[0.95, -1.9], 1e-6);
        assert_close(&got[1], &[0.88, -1.86], 1e-6);
        assert_close(&got[2], &[0.917, -1.824], 1e-6);
    }

    #[test]
    fn nesterov_looks_ahead_with_the_new_velocity() {
        // Same velocities as above; p += 0.9 v - 0.1 g:
        // p1 = [1 - 0.045 - 0.05, -2 + 0.09 + 0.1]       = [0.905, -1.81]
        // p2 = [0.905 - 0.063 - 0.025, -1.81 + 0.036 - 0.05] = [0.817, -1.824]
        // p3 = [0.817 + 0.0333 + 0.1, -1.824 + 0.0324 - 0] = [0.9503, -1.7916]
        let opt = Optimizer::try_from(Sgd::new(0.1).momentum(0.9).nesterov(true)).unwrap();
        let got = run_steps(opt, &[1.0, -2.0], &GRADS);
        assert_close(&got[0], &[0.905, -1.81], 1e-6);
        assert_close(&got[1], &[0.817, -1.824], 1e-6);
        assert_close(&got[2], &[0.9503, -1.7916], 1e-6);
    }

    #[test]
    fn momentum_outside_unit_interval_is_an_error() {
        let err = Optimizer::try_from(Sgd::new(0.1).momentum(1.5)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid sgd hyper-parameter `momentum`: expected a number in [0, 1], found 1.5"
        );
        assert!(Optimizer::try_from(Sgd::new(0.1).momentum(-0.1)).is_err());
        assert!(Optimizer::try_from(Sgd::new(-0.1)).is_err());
    }
}
