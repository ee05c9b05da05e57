//! The result of a backward pass, owned apart from the tape.

use crate::{Param, ParamId, Tensor, Var};
use std::collections::HashMap;

/// Gradients of one backward pass: by parameter id and by differentiable leaf.
///
/// They own their data, so the tape can be dropped before parameters are updated.
#[derive(Debug, Default, Clone)]
pub struct Gradients {
    leaves: HashMap<usize, Tensor>,
    params: HashMap<ParamId, Tensor>,
}

impl Gradients {
    pub(crate) fn new(leaves: HashMap<usize, Tensor>, params: HashMap<ParamId, Tensor>) -> Self {
        Gradients { leaves, params }
    }

    /// The gradient of a leaf made with [`Tape::var`](crate::Tape::var), if it received one.
    pub fn get(&self, var: Var<'_>) -> Option<&Tensor> {
        self.leaves.get(&var.id())
    }

    /// The gradient of a parameter, if it took part in the computation.
    pub fn param(&self, param: &Param) -> Option<&Tensor> {
        self.params.get(&param.id())
    }

    /// The gradient of a parameter by id.
    pub fn by_id(&self, id: ParamId) -> Option<&Tensor> {
        self.params.get(&id)
    }

    /// Mutable access to a parameter's gradient, for in-place transforms such as clipping.
    pub fn by_id_mut(&mut self, id: ParamId) -> Option<&mut Tensor> {
        self.params.get_mut(&id)
    }

    /// Inserts or replaces a parameter's gradient.
    pub fn insert(&mut self, id: ParamId, grad: Tensor) {
        self.params.insert(id, grad);
    }

    /// The number of parameters with a gradient.
    pub fn num_params(&self) -> usize {
        self.params.len()
    }
}

impl Drop for Gradients {
    /// Returns the gradient buffers to the [`pool`](crate::pool) for the next step.
    fn drop(&mut self) {
        let leaves = self.leaves.drain().map(|(_, g)| g);
        for g in leaves.chain(self.params.drain().map(|(_, g)| g)) {
            crate::pool::recycle(g);
        }
    }
}
