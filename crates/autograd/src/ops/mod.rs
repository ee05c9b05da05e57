//! Every differentiable primitive, one file each (forward and backward side by side).

pub mod binary;
pub mod matmul;
pub mod scalar;
pub mod sigmoid;
