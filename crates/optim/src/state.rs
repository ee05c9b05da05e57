//! The optimizer's mutable state as plain data, for checkpoints.

use crate::Slots;
use std::collections::BTreeMap;

/// Everything an [`Optimizer`](crate::Optimizer) changes while training: the step counter
/// and each parameter's [`Slots`], keyed by parameter name.
///
/// Plain data in a `BTreeMap`, so it iterates (and will serialize) in a deterministic order.
///
/// ```
/// use keel_autograd::{tensor, Gradients, Param};
/// use keel_optim::{Adam, Optimizer};
/// # fn main() -> keel_optim::Result<()> {
/// let mut opt = Optimizer::try_from(Adam::default())?;
/// let mut w = Param::new(tensor(&[3], vec![0.0; 3]));
/// let mut grads = Gradients::default();
/// grads.insert(w.id(), tensor(&[3], vec![1.0; 3]));
/// opt.step([("0.dense.kernel".to_string(), &mut w)], &mut grads)?;
/// let state = opt.state();
/// assert_eq!(state.iterations(), 1);
/// assert_eq!(state.slots()["0.dense.kernel"].len(), 2); // Adam's m and v
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OptimizerState {
    pub(crate) iterations: u64,
    pub(crate) slots: BTreeMap<String, Slots>,
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
}
