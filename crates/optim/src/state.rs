//! The optimizer's mutable state as plain data, for snapshots and checkpoints.

use crate::{ClipState, Slots};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything an [`Optimizer`](crate::Optimizer) changes while training: the step counter,
/// each parameter's [`Slots`] keyed by parameter name, and the [`ClipState`] of a stateful
/// clipping mode.
///
/// Plain data in a `BTreeMap`, so it iterates and serializes in a deterministic order.
///
/// ```
/// use keel_autograd::{tensor, Gradients, Param, ParamPath};
/// use keel_optim::{Adam, ClipState, Optimizer};
/// # fn main() -> keel_optim::Result<()> {
/// let mut opt = Optimizer::try_from(Adam::default())?;
/// let mut w = Param::new(tensor(&[3], vec![0.0; 3]));
/// let mut grads = Gradients::default();
/// grads.insert(w.id(), tensor(&[3], vec![1.0; 3]));
/// opt.step([(ParamPath::new(0, "dense", "kernel"), &mut w)], &mut grads)?;
/// let state = opt.state();
/// assert_eq!(state.iterations(), 1);
/// assert_eq!(state.slots()["dense/kernel"].len(), 2); // Adam's m and v
/// assert_eq!(state.clip_state(), &ClipState::Stateless);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OptimizerState {
    pub(crate) iterations: u64,
    pub(crate) slots: BTreeMap<String, Slots>,
    pub(crate) clip: ClipState,
}

impl OptimizerState {
    /// The number of steps taken so far (Keras `optimizer.iterations`).
    pub fn iterations(&self) -> u64 {
        self.iterations
    }

    /// Each parameter's slots, by parameter name.
    pub fn slots(&self) -> &BTreeMap<String, Slots> {
        &self.slots
    }

    /// The state of the clipping mode (AutoClip's history, ZClip's averages), if it has any.
    pub fn clip_state(&self) -> &ClipState {
        &self.clip
    }
}
