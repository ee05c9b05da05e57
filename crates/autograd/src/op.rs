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

    /// Computes the output value from the input values.
    fn forward(&self, inputs: &[&Tensor]) -> Tensor;

    /// Given dL/d(output), returns dL/d(input_i) for every input, in order.
    ///
    /// A returned gradient may have the broadcast (output) shape; the tape reduces it to
    /// the input's shape with [`sum_to_shape`](crate::sum_to_shape).
    fn backward(&self, inputs: &[&Tensor], output: &Tensor, grad_output: &Tensor) -> Vec<Tensor>;
}
