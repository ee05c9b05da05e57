//! Optimizers, gradient clipping and (later) learning-rate schedules for Keel.
//!
//! An [`Optimizer`] is a base shared by every optimizer (learning rate, step counter,
//! gradient clipping, per-parameter state keyed by name) around a small [`UpdateRule`]
//! that holds only the math ([`Adam`], [`Sgd`]). Builders become optimizers with
//! [`Optimizer::try_from`], which checks every hyper-parameter. Clipping ([`Clip`]) is
//! configured on any builder through the [`Clipping`] trait and applied in one place,
//! before the rule sees the gradients.
//!
//! ```
//! use keel_autograd::{tensor, Param, Tape};
//! use keel_optim::{Adam, Clipping, Optimizer};
//! # fn main() -> keel_optim::Result<()> {
//! let mut opt = Optimizer::try_from(Adam::new(1e-3).global_clipnorm(1.0))?;
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

mod adam;
mod clip;
mod config;
mod error;
mod optimizer;
mod rule;
mod sgd;
mod state;
#[cfg(test)]
mod testing;

/// Element-wise updates of at least this many elements are split over rayon's threads;
/// below it the hand-off costs more than the work.
pub(crate) const PARALLEL_MIN_ELEMENTS: usize = 1 << 16;

pub use adam::Adam;
pub use clip::{Clip, Clipping};
pub use config::OptimizerConfig;
pub use error::{Error, Result};
pub use optimizer::{Optimizer, StepStats};
pub use rule::{HyperValue, Slots, UpdateRule};
pub use sgd::Sgd;
pub use state::OptimizerState;
