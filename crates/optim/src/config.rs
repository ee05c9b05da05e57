//! A printable, serializable description of an optimizer.

use crate::{Clip, HyperValue};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What an [`Optimizer`](crate::Optimizer) is: its rule's name, the current learning rate,
/// the clipping mode and the rule's hyper-parameters. For model summaries and saved
/// configs; it holds no training state.
///
/// ```
/// use keel_optim::{Clipping, Optimizer, Sgd};
/// # fn main() -> keel_optim::Result<()> {
/// let opt = Optimizer::try_from(Sgd::new(0.1).momentum(0.9).clipnorm(2.0))?;
/// let config = opt.config();
/// assert_eq!(config.name, "sgd");
/// assert_eq!(
///     config.to_string(),
///     "sgd(learning_rate=0.1, momentum=0.9, nesterov=false, clipnorm=2)"
/// );
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimizerConfig {
    /// The update rule's name, such as `"adam"`.
    pub name: String,
    /// The learning rate at the time the config was taken.
    pub learning_rate: f32,
    /// The clipping mode, if any.
    pub clip: Option<Clip>,
    /// The rule's hyper-parameters, in the rule's order.
    pub hyper_parameters: Vec<(String, HyperValue)>,
}

impl fmt::Display for OptimizerConfig {
    /// `name(learning_rate=…, hyper=…, …, clip=…)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(learning_rate={}", self.name, self.learning_rate)?;
        for (name, value) in &self.hyper_parameters {
            write!(f, ", {name}={value}")?;
        }
        if let Some(clip) = self.clip {
            write!(f, ", {clip}")?;
        }
        write!(f, ")")
    }
}
