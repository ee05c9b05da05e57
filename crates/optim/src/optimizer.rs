//! The optimizer base: learning rate, step counter, clipping, state; delegates the math.

use crate::clip::sum_squares;
use crate::{Clip, Error, OptimizerConfig, OptimizerState, Result, UpdateRule};
use keel_autograd::{Gradients, Param};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// An optimizer: an [`UpdateRule`] plus what every optimizer shares (the learning rate, the
/// step counter, the one gradient-transform stage, and the per-parameter state).
///
/// Build one from an optimizer builder with [`Optimizer::try_from`] (which checks the
/// hyper-parameters), or from your own rule with [`Optimizer::new`].
///
/// ```
/// use keel_autograd::{tensor, Param, Tape};
/// use keel_optim::{Adam, Clipping, Optimizer};
/// # fn main() -> keel_optim::Result<()> {
/// let mut opt = Optimizer::try_from(Adam::new(1e-3).global_clipnorm(1.0))?;
/// let mut w = Param::new(tensor(&[2], vec![3.0, 4.0]));
/// let tape = Tape::new();
/// let x = tape.param(&w);
/// let mut grads = (x * x).backward(); // dL/dw = 2w = [6, 8], norm 10
/// drop(tape); // the tape shared w's value; once dropped, the update is in place
/// let stats = opt.step([("w".to_string(), &mut w)], &mut grads)?;
/// assert_eq!(stats.grad_norm, 10.0);
/// assert!((stats.clipped_norm - 1.0).abs() < 1e-6);
/// assert_eq!(opt.iterations(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Optimizer {
    rule: Box<dyn UpdateRule>,
    clip: Option<Clip>,
    learning_rate: f32,
    state: OptimizerState,
}

/// What one [`Optimizer::step`] saw, for telemetry and non-finite guards.
///
/// A NaN or infinite `grad_norm` means some gradient element is NaN or infinite; clipping
/// was then skipped (see [`Clip`]) and the update still ran.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StepStats {
    /// The global L2 norm of all gradients before clipping (accumulated in `f64`).
    pub grad_norm: f32,
    /// The global L2 norm of all gradients after clipping (equal to `grad_norm` without it).
    pub clipped_norm: f32,
    /// The learning rate used for this step.
    pub learning_rate: f32,
}

impl Optimizer {
    /// Wraps an update rule with a learning rate and an optional clipping mode.
    ///
    /// # Errors
    /// [`Error::InvalidLearningRate`] unless `learning_rate` is finite and `>= 0`;
    /// [`Error::InvalidClip`] for a non-positive or non-finite threshold; whatever
    /// [`UpdateRule::validate`] returns.
    ///
    /// ```
    /// use keel_autograd::Tensor;
    /// use keel_optim::{Clip, Error, HyperValue, Optimizer, Slots, UpdateRule};
    ///
    /// #[derive(Debug)]
    /// struct Plain; // p -= lr * g
    /// impl UpdateRule for Plain {
    ///     fn name(&self) -> &'static str { "plain" }
    ///     fn hyper_parameters(&self) -> Vec<(&'static str, HyperValue)> { Vec::new() }
    ///     fn update(&self, lr: f32, _t: u64, p: &mut Tensor, g: &Tensor, _s: &mut Slots) {
    ///         p.scaled_add(-lr, g);
    ///     }
    /// }
    ///
    /// # fn main() -> keel_optim::Result<()> {
    /// let opt = Optimizer::new(Plain, 0.1, Some(Clip::Value(1.0)))?;
    /// assert_eq!(opt.config().to_string(), "plain(learning_rate=0.1, clipvalue=1)");
    /// let err = Optimizer::new(Plain, 0.1, Some(Clip::Norm(0.0))).unwrap_err();
    /// assert_eq!(err, Error::InvalidClip { clip: "clipnorm", found: 0.0 });
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(
        rule: impl UpdateRule + 'static,
        learning_rate: f32,
        clip: Option<Clip>,
    ) -> Result<Self> {
        check_learning_rate(learning_rate)?;
        if let Some(clip) = clip {
            clip.validate()?;
        }
        rule.validate()?;
        Ok(Optimizer {
            rule: Box::new(rule),
            clip,
            learning_rate,
            state: OptimizerState::default(),
        })
    }

    /// The learning rate the next step will use.
    pub fn learning_rate(&self) -> f32 {
        self.learning_rate
    }

    /// Changes the learning rate (for callbacks such as `ReduceLROnPlateau`).
    ///
    /// # Errors
    /// [`Error::InvalidLearningRate`] unless `learning_rate` is finite and `>= 0`; the
    /// learning rate is then left unchanged.
    ///
    /// ```
    /// use keel_optim::{Optimizer, Sgd};
    /// # fn main() -> keel_optim::Result<()> {
    /// let mut opt = Optimizer::try_from(Sgd::new(0.1))?;
    /// opt.set_learning_rate(0.01)?;
    /// assert_eq!(opt.learning_rate(), 0.01);
    /// assert!(opt.set_learning_rate(-1.0).is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_learning_rate(&mut self, learning_rate: f32) -> Result<()> {
        check_learning_rate(learning_rate)?;
        self.learning_rate = learning_rate;
        Ok(())
    }

    /// The number of steps taken so far (Keras `optimizer.iterations`).
    pub fn iterations(&self) -> u64 {
        self.state.iterations
    }

    /// The clipping mode, if any.
    pub fn clip(&self) -> Option<Clip> {
        self.clip
    }

    /// The update rule's name, such as `"adam"`.
    pub fn name(&self) -> &'static str {
        self.rule.name()
    }

    /// The update rule.
    pub fn rule(&self) -> &dyn UpdateRule {
        self.rule.as_ref()
    }

    /// A description for summaries and saved configs (see [`OptimizerConfig`]).
    pub fn config(&self) -> OptimizerConfig {
        OptimizerConfig {
            name: self.rule.name().to_string(),
            learning_rate: self.learning_rate,
            clip: self.clip,
            hyper_parameters: self
                .rule
                .hyper_parameters()
                .into_iter()
                .map(|(name, value)| (name.to_string(), value))
                .collect(),
        }
    }

    /// The step counter and every parameter's slots, as plain data.
    pub fn state(&self) -> &OptimizerState {
        &self.state
    }

    /// Updates every parameter in place from its gradient, and returns what the step saw.
    ///
    /// In order: checks every `(name, param)` against `grads`; computes the global gradient
    /// L2 norm once; clips `grads` in place (the one gradient-transform stage); increments
    /// [`iterations`](Optimizer::iterations); then calls the rule once per parameter with
    /// the 1-based step number. Parameter values are updated through
    /// [`Param::value_mut`], so no copy is made unless a tape still shares the value.
    ///
    /// Names key the optimizer state (Adam's moments), so keep them stable across steps,
    /// such as `"0.dense.kernel"`.
    ///
    /// # Errors
    /// Nothing is changed (parameters, gradients, state) when an error is returned:
    /// - [`Error::MissingGradient`] if a parameter has no gradient in `grads`;
    /// - [`Error::ShapeMismatch`] if a gradient's shape differs from its parameter's;
    /// - [`Error::StateShapeMismatch`] if the state kept under a name has another shape;
    /// - [`Error::DuplicateParameter`] if a name appears twice.
    pub fn step<'a>(
        &mut self,
        params: impl IntoIterator<Item = (String, &'a mut Param)>,
        grads: &mut Gradients,
    ) -> Result<StepStats> {
        let params: Vec<(String, &'a mut Param)> = params.into_iter().collect();
        self.check(&params, grads)?;
        let (grad_norm, clipped_norm) = self.transform_gradients(&params, grads);
        self.state.iterations += 1;
        let (t, lr) = (self.state.iterations, self.learning_rate);
        for (name, param) in params {
            let grad = grads
                .by_id(param.id())
                .expect("step: gradients were checked");
            let slots = self.state.slots.entry(name).or_default();
            self.rule.update(lr, t, param.value_mut(), grad, slots);
        }
        Ok(StepStats {
            grad_norm: grad_norm as f32,
            clipped_norm: clipped_norm as f32,
            learning_rate: lr,
        })
    }

    /// Everything `step` could reject, checked before anything changes.
    fn check(&self, params: &[(String, &mut Param)], grads: &Gradients) -> Result<()> {
        let mut seen = HashSet::with_capacity(params.len());
        for (name, param) in params {
            if !seen.insert(name.as_str()) {
                return Err(Error::DuplicateParameter { name: name.clone() });
            }
            let shape = param.value().shape();
            let grad = grads
                .by_id(param.id())
                .ok_or_else(|| Error::MissingGradient { name: name.clone() })?;
            if grad.shape() != shape {
                return Err(Error::ShapeMismatch {
                    name: name.clone(),
                    param: shape.to_vec(),
                    grad: grad.shape().to_vec(),
                });
            }
            let slots = self.state.slots.get(name).map(|s| s.tensors());
            if let Some(slot) = slots
                .unwrap_or_default()
                .iter()
                .find(|s| s.shape() != shape)
            {
                return Err(Error::StateShapeMismatch {
                    name: name.clone(),
                    param: shape.to_vec(),
                    state: slot.shape().to_vec(),
                });
            }
        }
        Ok(())
    }

    /// The one place where gradients change before the update rule sees them (clipping
    /// now; adaptive clipping later). Returns the global L2 norm before and after, computed
    /// from one `f64` sum of squares per gradient.
    fn transform_gradients(
        &self,
        params: &[(String, &mut Param)],
        grads: &mut Gradients,
    ) -> (f64, f64) {
        let sums: Vec<f64> = params
            .iter()
            .map(|(_, p)| sum_squares(grads.by_id(p.id()).expect("step: checked")))
            .collect();
        let norm = sums.iter().sum::<f64>().sqrt();
        let Some(clip) = self.clip else {
            return (norm, norm);
        };
        let mut after = 0.0;
        for ((_, param), sum) in params.iter().zip(&sums) {
            let grad = grads.by_id_mut(param.id()).expect("step: checked");
            after += clip.apply(grad, sum.sqrt(), norm);
        }
        (norm, after.sqrt())
    }
}

#[cfg(test)]
mod tests;

fn check_learning_rate(learning_rate: f32) -> Result<()> {
    if learning_rate.is_finite() && learning_rate >= 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidLearningRate {
            found: learning_rate,
        })
    }
}
