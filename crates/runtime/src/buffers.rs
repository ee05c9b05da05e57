//! Buffers from the current runtime's arena: the hot ops take their outputs here and the
//! tape gives them back when it is dropped, so the steady state of training allocates
//! nothing of weight or activation size.

use crate::arena::MIN_POOLED_LEN;
use crate::Runtime;
use ndarray::{ArrayD, IxDyn};

/// A buffer of exactly `len` elements with unspecified contents (stale values of an earlier
/// use, or zeros): for outputs that are fully overwritten.
///
/// ```
/// let v = keel_runtime::buffers::take(5000);
/// assert_eq!(v.len(), 5000);
/// keel_runtime::buffers::recycle_vec(v);
/// ```
pub fn take(len: usize) -> Vec<f32> {
    if len < MIN_POOLED_LEN {
        return vec![0.0; len];
    }
    Runtime::with_current(|rt| rt.arena().take(len))
}

/// A tensor of `shape` with unspecified contents, to be fully overwritten.
pub fn tensor_for_overwrite(shape: &[usize]) -> ArrayD<f32> {
    let len = shape.iter().product();
    ArrayD::from_shape_vec(IxDyn(shape), take(len)).expect("the length is the shape's product")
}

/// Gives a buffer back for reuse (kept only if the arena's budget allows).
pub fn recycle_vec(v: Vec<f32>) {
    if v.capacity() >= MIN_POOLED_LEN {
        Runtime::with_current(|rt| rt.arena().recycle(v));
    }
}

/// Gives a tensor's storage back for reuse.
pub fn recycle(t: ArrayD<f32>) {
    let (v, _offset) = t.into_raw_vec_and_offset();
    recycle_vec(v);
}

/// Ends a step (a training step, a batch of prediction) for the current runtime's arena:
/// buffer lengths that the step did not use go back to the allocator, so
/// changing sizes do not pile up. `fit`, `evaluate` and `predict` call it after each batch;
/// a custom training loop should call it after each step.
pub fn end_step() {
    Runtime::with_current(|rt| rt.arena().end_step());
}
