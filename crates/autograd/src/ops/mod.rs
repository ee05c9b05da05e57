//! Every differentiable primitive, one file each (forward and backward side by side).
//!
//! Composite operations with no backward of their own ([`Var::mean`](crate::Var::mean),
//! [`Var::mean_squared_error`](crate::Var::mean_squared_error)) also live here, one file
//! each, next to the primitives they are built from.

pub mod abs_clamp;
pub mod avg_pool2d;
pub mod binary;
pub mod binary_cross_entropy;
pub mod conv2d;
pub mod dense;
pub mod dropout;
pub mod elu;
pub mod exp;
pub mod gelu;
pub mod global_avg_pool2d;
pub mod global_max_pool2d;
mod im2col;
mod kept;
pub mod log;
pub mod matmul;
pub mod max_pool2d;
pub mod mean;
pub mod mean_squared_error;
pub mod permute;
pub mod powf;
pub mod relu;
pub mod reshape;
pub mod scalar;
pub mod sigmoid;
pub mod sigmoid_binary_cross_entropy;
pub mod silu;
pub mod softmax;
pub mod softmax_cross_entropy;
pub mod softplus;
pub mod sparse_softmax_cross_entropy;
pub mod sqrt;
pub mod sum;
pub mod tanh;
pub mod window;

/// Panics unless `axis` is an axis of `shape`.
pub(crate) fn check_axis(op: &str, shape: &[usize], axis: usize) {
    assert!(
        axis < shape.len(),
        "{op}: axis {axis} is out of range for shape {shape:?}"
    );
}

/// Panics unless two operands that must match element for element have equal shapes.
pub(crate) fn check_same_shape(op: &str, lhs: (&str, &[usize]), rhs: (&str, &[usize])) {
    assert!(
        lhs.1 == rhs.1,
        "{op}: {} {:?} and {} {:?} must have the same shape",
        lhs.0,
        lhs.1,
        rhs.0,
        rhs.1
    );
}

/// The last axis of `shape`, which per-sample losses reduce.
///
/// # Panics
/// If `shape` is rank 0.
pub(crate) fn last_axis(op: &str, shape: &[usize]) -> usize {
    assert!(
        !shape.is_empty(),
        "{op}: input of shape {shape:?} has no last axis to reduce"
    );
    shape.len() - 1
}
