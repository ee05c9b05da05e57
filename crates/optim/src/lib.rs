//! Optimizers, gradient clipping and learning-rate schedules for Keel.
//!
//! An [`Optimizer`] is a base shared by every optimizer around a small [`UpdateRule`] that
//! holds only the math ([`Adam`] with its AMSGrad option, [`AdamW`], [`Sgd`], [`RMSprop`],
//! [`Adagrad`]). The base owns what every optimizer shares:
//!
//! - the learning rate, a number or a [`Schedule`] of the step ([`ExponentialDecay`],
//!   [`PiecewiseConstantDecay`], [`PolynomialDecay`], [`InverseTimeDecay`], [`CosineDecay`],
//!   [`CosineDecayRestarts`]), times a multiplier a trainer can lower after a rollback;
//! - the one gradient-transform stage, configured with [`Clip`] through the [`Clipping`]
//!   builder trait: by value, per-tensor norm, global norm, [`Agc`], [`AutoClip`], [`ZClip`];
//! - decoupled weight decay, through the [`WeightDecay`] builder trait;
//! - the state: step counter, per-parameter slots keyed by name, clipping state, which
//!   [`Optimizer::snapshot`] copies and [`Optimizer::restore`] puts back.
//!
//! Builders become optimizers with [`Optimizer::try_from`], which checks every argument.
//! [`Optimizer::step_with`] reports the gradient norms before changing anything and lets the
//! caller skip the step.
//!
//! ```
//! use keel_autograd::{tensor, Param, Tape};
//! use keel_optim::{AdamW, Clipping, CosineDecay, Optimizer};
//! # fn main() -> keel_optim::Result<()> {
//! let schedule = CosineDecay::new(0.0, 100).warmup(1e-3, 10);
//! let mut opt = Optimizer::try_from(AdamW::new(schedule).global_clipnorm(1.0))?;
//! let mut w = Param::new(tensor(&[2, 1], vec![0.5, -1.0]));
//! for _ in 0..3 {
//!     let tape = Tape::new();
//!     let x = tape.constant(tensor(&[1, 2], vec![2.0, 3.0]));
//!     let mut grads = x.matmul(tape.param(&w)).backward();
//!     drop(tape);
//!     let stats = opt.step([("w".to_string(), &mut w)], &mut grads)?;
//!     assert!(stats.grad_norm.is_finite());
//! }
//! assert_eq!(opt.iterations(), 3);
//! # Ok(())
//! # }
//! ```

mod adagrad;
mod adam;
mod adamw;
mod base;
mod clip;
mod config;
mod elementwise;
mod error;
mod learning_rate;
mod optimizer;
mod precision;
mod rmsprop;
mod rule;
mod schedule;
mod serde_tensor;
mod sgd;
mod state;
#[cfg(test)]
mod testing;

pub use adagrad::Adagrad;
pub use adam::Adam;
pub use adamw::AdamW;
pub use base::{BaseConfig, WeightDecay};
pub use clip::{
    Agc, AgcExclude, AutoClip, AutoClipState, Clip, ClipState, Clipping, ZClip, ZClipState,
};
pub use config::OptimizerConfig;
pub use error::{Error, Result};
pub use learning_rate::LearningRate;
pub use optimizer::{
    Decision, GradientReport, Optimizer, OptimizerSnapshot, StepOutcome, StepStats,
};
pub use rmsprop::RMSprop;
pub use rule::{HyperValue, SlotSpec, Slots, UpdateRule};
pub use schedule::{
    CosineDecay, CosineDecayRestarts, ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay,
    PolynomialDecay, Schedule,
};
pub use sgd::Sgd;
pub use state::OptimizerState;
