//! What every optimizer builder shares: the learning rate, clipping and weight decay.

use crate::{Clip, Clipping, LearningRate};
use serde::{Deserialize, Serialize};

/// The settings every optimizer has, whatever its rule: the learning rate (constant or
/// scheduled), the clipping mode and the decoupled weight decay. Each optimizer builder
/// holds one; [`Optimizer::with_base`](crate::Optimizer::with_base) wraps your own rule with
/// one.
///
/// ```
/// use keel_optim::{BaseConfig, Clip, Clipping, CosineDecay, WeightDecay};
/// let base = BaseConfig::new(CosineDecay::new(1e-3, 1000)).global_clipnorm(1.0).weight_decay(0.01);
/// assert_eq!(base.clip, Some(Clip::GlobalNorm(1.0)));
/// assert_eq!(base.weight_decay, 0.01);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BaseConfig {
    /// The learning rate or its schedule.
    pub learning_rate: LearningRate,
    /// The clipping mode, if any. Defaults to none.
    pub clip: Option<Clip>,
    /// The decoupled weight-decay rate; `0` (the default) turns it off.
    pub weight_decay: f32,
}

impl BaseConfig {
    /// A learning rate, no clipping, no weight decay.
    pub fn new(learning_rate: impl Into<LearningRate>) -> Self {
        BaseConfig {
            learning_rate: learning_rate.into(),
            clip: None,
            weight_decay: 0.0,
        }
    }
}

impl Clipping for BaseConfig {
    fn clip_config(&mut self) -> &mut Option<Clip> {
        &mut self.clip
    }
}

impl WeightDecay for BaseConfig {
    fn weight_decay_config(&mut self) -> &mut f32 {
        &mut self.weight_decay
    }
}

/// The builder method that sets decoupled weight decay, written once for every optimizer
/// builder (Keras's `weight_decay` argument, which every Keras 3 optimizer has).
///
/// Before each update, every parameter is shrunk by the current learning rate times the rate,
/// as Keras 3 does (`variable -= variable * weight_decay * learning_rate`, in
/// `BaseOptimizer._apply_weight_decay`). This is decoupled from the gradient (Loshchilov &
/// Hutter, 2019, "Decoupled Weight Decay Regularization", arXiv:1711.05101): adaptive
/// optimizers do not rescale it. The rate must be finite and `>= 0`; `0` turns it off.
///
/// ```
/// use keel_optim::{Optimizer, Sgd, WeightDecay};
/// # fn main() -> keel_optim::Result<()> {
/// let opt = Optimizer::try_from(Sgd::new(0.1).weight_decay(0.01))?;
/// assert_eq!(opt.weight_decay(), 0.01);
/// assert!(Optimizer::try_from(Sgd::new(0.1).weight_decay(-1.0)).is_err());
/// # Ok(())
/// # }
/// ```
pub trait WeightDecay: Sized {
    /// The weight-decay rate being built.
    fn weight_decay_config(&mut self) -> &mut f32;

    /// Sets the decoupled weight-decay rate (`0` turns it off).
    fn weight_decay(mut self, rate: f32) -> Self {
        *self.weight_decay_config() = rate;
        self
    }
}

/// Implements [`Clipping`] and [`WeightDecay`] for a builder with a `base: BaseConfig` field.
macro_rules! base_builder {
    ($ty:ty) => {
        impl $crate::Clipping for $ty {
            fn clip_config(&mut self) -> &mut Option<$crate::Clip> {
                &mut self.base.clip
            }
        }
        impl $crate::WeightDecay for $ty {
            fn weight_decay_config(&mut self) -> &mut f32 {
                &mut self.base.weight_decay
            }
        }
    };
}
pub(crate) use base_builder;
