//! The optimizer base: learning rate, step counter, the gradient-transform stage, weight
//! decay and per-parameter state; the math is delegated to an [`UpdateRule`].

mod finite;
mod rebuild;
mod snapshot;
mod step;

pub use snapshot::OptimizerSnapshot;
pub use step::{Decision, GradientReport, StepOutcome, StepStats};

use crate::learning_rate::check_learning_rate;
use crate::{
    BaseConfig, Clip, Error, LearningRate, OptimizerConfig, OptimizerState, Result, Schedule,
    UpdateRule,
};

/// An optimizer: an [`UpdateRule`] plus what every optimizer shares (the learning rate or its
/// schedule, the step counter, the one gradient-transform stage, decoupled weight decay, and
/// the per-parameter state).
///
/// Build one from an optimizer builder with [`Optimizer::try_from`] (which checks every
/// argument), or from your own rule with [`Optimizer::new`] or [`Optimizer::with_base`].
/// Each [`step`](Optimizer::step), in order: checks the parameters against the gradients,
/// computes every gradient's norm and the global norm in one pass, clips, applies weight
/// decay, runs the rule on each parameter, and increments [`iterations`](Optimizer::iterations).
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
/// assert!(stats.clipped);
/// assert_eq!(opt.iterations(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Optimizer {
    rule: Box<dyn UpdateRule>,
    learning_rate: LearningRate,
    clip: Option<Clip>,
    weight_decay: f32,
    lr_multiplier: f32,
    state: OptimizerState,
}

impl Optimizer {
    /// Wraps an update rule with a learning rate (a number or a [`Schedule`]) and an optional
    /// clipping mode; no weight decay (see [`with_base`](Optimizer::with_base) for that).
    ///
    /// # Errors
    /// [`Error::InvalidLearningRate`] unless a constant rate is finite and `>= 0`;
    /// [`Error::InvalidSchedule`] for a bad schedule argument; [`Error::InvalidClip`] or
    /// [`Error::InvalidClipParameter`] for a bad clipping mode; whatever
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
        learning_rate: impl Into<LearningRate>,
        clip: Option<Clip>,
    ) -> Result<Self> {
        let mut base = BaseConfig::new(learning_rate);
        base.clip = clip;
        Optimizer::with_base(rule, base)
    }

    /// Wraps an update rule with everything a builder holds: learning rate, clipping and
    /// weight decay. The optimizer builders ([`Adam`](crate::Adam), …) end here.
    ///
    /// # Errors
    /// As [`new`](Optimizer::new), and [`Error::InvalidWeightDecay`] unless the weight decay
    /// is finite and `>= 0`.
    ///
    /// ```
    /// use keel_autograd::Tensor;
    /// use keel_optim::{BaseConfig, HyperValue, Optimizer, Slots, UpdateRule, WeightDecay};
    /// #[derive(Debug)]
    /// struct Plain;
    /// impl UpdateRule for Plain {
    ///     fn name(&self) -> &'static str { "plain" }
    ///     fn hyper_parameters(&self) -> Vec<(&'static str, HyperValue)> { Vec::new() }
    ///     fn update(&self, lr: f32, _t: u64, p: &mut Tensor, g: &Tensor, _s: &mut Slots) {
    ///         p.scaled_add(-lr, g);
    ///     }
    /// }
    /// # fn main() -> keel_optim::Result<()> {
    /// let opt = Optimizer::with_base(Plain, BaseConfig::new(0.1).weight_decay(0.01))?;
    /// assert_eq!(opt.config().to_string(), "plain(learning_rate=0.1, weight_decay=0.01)");
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_base(rule: impl UpdateRule + 'static, base: BaseConfig) -> Result<Self> {
        base.learning_rate.validate()?;
        if let Some(clip) = &base.clip {
            clip.validate()?;
        }
        let wd = base.weight_decay;
        if !(wd.is_finite() && wd >= 0.0) {
            return Err(Error::InvalidWeightDecay { found: wd });
        }
        rule.validate()?;
        Ok(Optimizer {
            rule: Box::new(rule),
            learning_rate: base.learning_rate,
            clip: base.clip,
            weight_decay: wd,
            lr_multiplier: 1.0,
            state: OptimizerState::default(),
        })
    }

    /// The learning rate the next step will use: the constant rate, or the schedule at the
    /// current [`iterations`](Optimizer::iterations) (Keras semantics: step 0 first), times
    /// the [`lr_multiplier`](Optimizer::lr_multiplier).
    pub fn learning_rate(&self) -> f32 {
        let base = self.learning_rate.at(self.state.iterations);
        if self.lr_multiplier == 1.0 {
            base
        } else {
            base * self.lr_multiplier
        }
    }

    /// Changes a constant learning rate (for callbacks such as `ReduceLROnPlateau`), so that
    /// [`learning_rate`](Optimizer::learning_rate) returns `learning_rate` afterwards: with a
    /// multiplier `m` in force, the constant becomes `learning_rate / m`.
    ///
    /// # Errors
    /// [`Error::InvalidLearningRate`] unless `learning_rate` is finite and `>= 0`;
    /// [`Error::ScheduledLearningRate`] when a schedule drives the rate (as Keras refuses to
    /// set a scheduled rate); use [`set_lr_multiplier`](Optimizer::set_lr_multiplier) to scale
    /// it. The learning rate is then left unchanged.
    ///
    /// ```
    /// use keel_optim::{CosineDecay, Error, Optimizer, Sgd};
    /// # fn main() -> keel_optim::Result<()> {
    /// let mut opt = Optimizer::try_from(Sgd::new(0.1))?;
    /// opt.set_learning_rate(0.01)?;
    /// assert_eq!(opt.learning_rate(), 0.01);
    /// assert!(opt.set_learning_rate(-1.0).is_err());
    /// let mut scheduled = Optimizer::try_from(Sgd::new(CosineDecay::new(0.1, 100)))?;
    /// let err = scheduled.set_learning_rate(0.01).unwrap_err();
    /// assert_eq!(err, Error::ScheduledLearningRate { schedule: "cosine_decay" });
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_learning_rate(&mut self, learning_rate: f32) -> Result<()> {
        check_learning_rate(learning_rate)?;
        match &mut self.learning_rate {
            LearningRate::Constant(lr) => {
                *lr = if self.lr_multiplier == 1.0 {
                    learning_rate
                } else {
                    learning_rate / self.lr_multiplier
                };
                Ok(())
            }
            LearningRate::Schedule(s) => Err(Error::ScheduledLearningRate { schedule: s.name() }),
        }
    }

    /// The factor applied on top of the constant or scheduled learning rate. Starts at `1`.
    pub fn lr_multiplier(&self) -> f32 {
        self.lr_multiplier
    }

    /// Sets the factor applied on top of the constant or scheduled learning rate, for
    /// example to lower the rate for a while after a rollback. Works with schedules, which
    /// keep running underneath.
    ///
    /// # Errors
    /// [`Error::InvalidLrMultiplier`] unless `multiplier` is finite and `> 0` (to stop
    /// updates, skip the step instead: [`step_with`](Optimizer::step_with)).
    ///
    /// ```
    /// use keel_optim::{Optimizer, Sgd};
    /// # fn main() -> keel_optim::Result<()> {
    /// let mut opt = Optimizer::try_from(Sgd::new(0.1))?;
    /// opt.set_lr_multiplier(0.5)?;
    /// assert_eq!(opt.learning_rate(), 0.05);
    /// assert!(opt.set_lr_multiplier(0.0).is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_lr_multiplier(&mut self, multiplier: f32) -> Result<()> {
        check_lr_multiplier(multiplier)?;
        self.lr_multiplier = multiplier;
        Ok(())
    }

    /// The schedule driving the learning rate, unless it is constant.
    pub fn schedule(&self) -> Option<&Schedule> {
        self.learning_rate.schedule()
    }

    /// The number of steps taken so far (Keras `optimizer.iterations`); skipped steps do not
    /// count.
    pub fn iterations(&self) -> u64 {
        self.state.iterations
    }

    /// The clipping mode, if any.
    pub fn clip(&self) -> Option<Clip> {
        self.clip
    }

    /// The decoupled weight-decay rate (`0` when off).
    pub fn weight_decay(&self) -> f32 {
        self.weight_decay
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
            learning_rate: self.learning_rate(),
            schedule: self.schedule().cloned(),
            clip: self.clip,
            weight_decay: self.weight_decay,
            hyper_parameters: self
                .rule
                .hyper_parameters()
                .into_iter()
                .map(|(name, value)| (name.to_string(), value))
                .collect(),
        }
    }

    /// The step counter, every parameter's slots and the clipping state, as plain data.
    pub fn state(&self) -> &OptimizerState {
        &self.state
    }
}

impl std::fmt::Display for Optimizer {
    /// The [`config`](Optimizer::config), such as
    /// `adam(learning_rate=0.001, beta_1=0.9, …, global_clipnorm=1)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.config())
    }
}

fn check_lr_multiplier(multiplier: f32) -> Result<()> {
    if multiplier.is_finite() && multiplier > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidLrMultiplier { found: multiplier })
    }
}

#[cfg(test)]
mod tests;
