//! A printable, serializable description of an optimizer.

use crate::{Clip, HyperValue, Schedule};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What an [`Optimizer`](crate::Optimizer) is: its rule's name, the learning rate (and its
/// schedule), the rule's hyper-parameters, the weight decay and the clipping mode. For model
/// summaries and saved configs; it holds no training state.
///
/// ```
/// use keel_optim::{Clipping, CosineDecay, Optimizer, Sgd, WeightDecay};
/// # fn main() -> keel_optim::Result<()> {
/// let opt = Optimizer::try_from(Sgd::new(0.1).momentum(0.9).clipnorm(2.0))?;
/// let config = opt.config();
/// assert_eq!(config.name, "sgd");
/// assert_eq!(
///     config.to_string(),
///     "sgd(learning_rate=0.1, momentum=0.9, nesterov=false, clipnorm=2)"
/// );
/// let opt = Optimizer::try_from(Sgd::new(CosineDecay::new(0.1, 100)).weight_decay(0.01))?;
/// assert_eq!(
///     opt.config().to_string(),
///     "sgd(learning_rate=cosine_decay(initial_learning_rate=0.1, decay_steps=100, alpha=0), \
///      momentum=0, nesterov=false, weight_decay=0.01)"
/// );
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OptimizerConfig {
    /// The update rule's name, such as `"adam"`.
    pub name: String,
    /// The learning rate the next step will use (schedule and multiplier included).
    pub learning_rate: f32,
    /// The schedule driving the learning rate, if any.
    pub schedule: Option<Schedule>,
    /// The clipping mode, if any.
    pub clip: Option<Clip>,
    /// The decoupled weight-decay rate (`0` when off).
    pub weight_decay: f32,
    /// The rule's hyper-parameters, in the rule's order.
    pub hyper_parameters: Vec<(String, HyperValue)>,
}

impl fmt::Display for OptimizerConfig {
    /// `name(learning_rate=…, hyper=…, …, weight_decay=…, clip=…)`; the learning rate is
    /// the schedule when there is one, and weight decay is shown only when on.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schedule {
            Some(s) => write!(f, "{}(learning_rate={s}", self.name)?,
            None => write!(f, "{}(learning_rate={}", self.name, self.learning_rate)?,
        }
        for (name, value) in &self.hyper_parameters {
            write!(f, ", {name}={value}")?;
        }
        if self.weight_decay != 0.0 {
            write!(f, ", weight_decay={}", self.weight_decay)?;
        }
        if let Some(clip) = self.clip {
            write!(f, ", {clip}")?;
        }
        write!(f, ")")
    }
}
