//! Reverse-mode automatic differentiation on a tape over dense `f32` ndarray tensors.
//!
//! A [`Tape`] records eager computations on [`Var`] handles; [`Var::backward`] walks it
//! once in reverse and returns [`Gradients`]. Trainable weights are [`Param`]s that live
//! outside the tape and are recorded without a copy.
//!
//! ```
//! use keel_autograd::{tensor, Param, Tape};
//! let w = Param::new(tensor(&[2, 1], vec![0.5, -1.0]));
//! let tape = Tape::new();
//! let x = tape.constant(tensor(&[1, 2], vec![2.0, 3.0]));
//! let loss = x.matmul(tape.param(&w)).sum();
//! let grads = loss.backward();
//! assert_eq!(grads.param(&w).unwrap(), &tensor(&[2, 1], vec![2.0, 3.0]));
//! ```

mod elementwise;
mod gradcheck;
mod gradients;
mod linalg;
mod op;
pub mod ops;
mod param;
mod param_path;
mod tape;
mod tensor;
mod var;

/// The current runtime's buffer arena, where the hot ops take their outputs.
use keel_runtime::buffers as pool;

pub use gradcheck::{check_gradients, GradCheck, GradCheckFailure};
pub use gradients::Gradients;
#[cfg(feature = "alloc-audit")]
pub use linalg::inside_gemm;
pub use linalg::matmul_into;
pub use op::Op;
pub use param::{Param, ParamId};
pub use param_path::ParamPath;
pub use tape::Tape;
pub use tensor::{broadcast_shape, sum_to_shape, tensor, Tensor};
pub use var::Var;

/// Runs `f` on a fresh runtime of `threads` threads: the one- against two-thread bit
/// comparisons of the parallel ops.
#[cfg(test)]
pub(crate) fn on_threads<T>(threads: usize, f: impl FnOnce() -> T) -> T {
    keel_runtime::Runtime::builder()
        .threads(threads)
        .build()
        .expect("a runtime of a few threads")
        .install(f)
}
