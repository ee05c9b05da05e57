//! The trait every differentiable primitive implements.
//!
//! To add an op, write one file under `ops/` holding the op struct, `impl Op` with
//! `forward` directly above `backward`, the `Var` method users call, and a test module
//! with a value test and a [`check_gradients`](crate::check_gradients) call.
//! Constants that are not differentiated (an axis, a mask, targets) live in the op struct,
//! so `backward` always returns exactly one gradient per input.

use crate::Tensor;

/// One differentiable primitive: its forward value and its vector-Jacobian product.
pub trait Op: std::fmt::Debug {
    /// A short lowercase name used in error messages and telemetry ("matmul", "relu").
    fn name(&self) -> &'static str;

    /// The axis the op works along, for ops that have one (softmax): recorded with the op's
    /// name, so code reading a graph (a loss fusing a softmax back to its logits) can tell
    /// without the op. `None` by default.
    fn axis(&self) -> Option<usize> {
        None
    }

    /// Computes the output value from the input values.
    fn forward(&self, inputs: &[&Tensor]) -> Tensor;

    /// Given dL/d(output), returns dL/d(input_i) for every input, in order.
    ///
    /// A returned gradient may have the broadcast (output) shape; the tape reduces it to
    /// the input's shape with [`sum_to_shape`](crate::sum_to_shape).
    fn backward(&self, inputs: &[&Tensor], output: &Tensor, grad_output: &Tensor) -> Vec<Tensor>;

    /// Like [`backward`](Op::backward), but computes only the gradients whose `needed` flag is
    /// set (an input batch, say, needs none). Ops whose unneeded gradients cost real work
    /// (`matmul`, `dense`) override this; the default computes all of them.
    fn backward_needed(
        &self,
        inputs: &[&Tensor],
        output: &Tensor,
        grad_output: &Tensor,
        needed: &[bool],
    ) -> Vec<Option<Tensor>> {
        let grads = self.backward(inputs, output, grad_output);
        grads
            .into_iter()
            .zip(needed)
            .map(|(g, &n)| n.then_some(g))
            .collect()
    }

    /// Like [`backward_needed`](Op::backward_needed), but owning `grad_output`: an op may
    /// reuse its storage (the convolution applies its activation's derivative in place)
    /// instead of taking a new buffer of the output's size. The tape calls this one; the
    /// default calls `backward_needed` and gives the buffer back to the runtime's arena.
    fn backward_owned(
        &self,
        inputs: &[&Tensor],
        output: &Tensor,
        grad_output: Tensor,
        needed: &[bool],
    ) -> Vec<Option<Tensor>> {
        let grads = self.backward_needed(inputs, output, &grad_output, needed);
        crate::pool::recycle(grad_output);
        grads
    }
}

/// Every input's gradient through [`Op::backward_needed`]: the `backward` of an op that
/// computes its gradients there (the ones that can skip an unneeded one).
pub(crate) fn every_gradient(
    op: &(impl Op + ?Sized),
    inputs: &[&Tensor],
    output: &Tensor,
    grad_output: &Tensor,
) -> Vec<Tensor> {
    let all = vec![true; inputs.len()];
    op.backward_needed(inputs, output, grad_output, &all)
        .into_iter()
        .map(|g| g.expect("every gradient was requested"))
        .collect()
}

/// [`Op::backward_needed`] of an op that reuses the output gradient's storage in
/// [`Op::backward_owned`]: a pooled copy of `grad_output` for it to own.
pub(crate) fn needed_through_owned(
    op: &(impl Op + ?Sized),
    inputs: &[&Tensor],
    output: &Tensor,
    grad_output: &Tensor,
    needed: &[bool],
) -> Vec<Option<Tensor>> {
    let mut own = crate::pool::tensor_for_overwrite(grad_output.shape());
    own.assign(grad_output);
    op.backward_owned(inputs, output, own, needed)
}
