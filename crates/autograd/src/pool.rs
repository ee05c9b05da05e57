//! A process-wide pool of `f32` buffers, so the steady state of training allocates nothing
//! of weight or activation size.
//!
//! Every step of a training loop builds tensors of the same sizes. The tape returns the
//! buffers it uniquely owns to this pool when it is dropped ([`Gradients`](crate::Gradients)
//! do the same), and the hot ops ([`dense`](crate::Var::dense), [`matmul`](crate::Var::matmul),
//! dropout) take their outputs from it, so after the first step the same buffers circulate.
//! Buffers are matched by exact length; small ones are left to the allocator, and each size
//! keeps a bounded number, so the pool cannot grow without limit.

use crate::Tensor;
use ndarray::IxDyn;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Buffers shorter than this go back to the allocator: they are cheap to allocate.
const MIN_POOLED_LEN: usize = 1024;
/// At most this many free buffers of one length are kept.
const MAX_PER_LEN: usize = 16;

/// Free buffers by length. Shared by every thread (pieces of a step run on helper
/// threads); the lock is taken once per buffer, never while computing.
static FREE: Mutex<BTreeMap<usize, Vec<Vec<f32>>>> = Mutex::new(BTreeMap::new());

fn free() -> std::sync::MutexGuard<'static, BTreeMap<usize, Vec<Vec<f32>>>> {
    // A panic while holding the lock cannot leave the map inconsistent (each operation is
    // one push or pop), so a poisoned lock is still usable.
    FREE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A buffer of exactly `len` elements whose contents are unspecified (stale values from an
/// earlier use, or zeros): for outputs that are fully overwritten.
pub fn take(len: usize) -> Vec<f32> {
    if len >= MIN_POOLED_LEN {
        if let Some(v) = free().get_mut(&len).and_then(Vec::pop) {
            return v;
        }
    }
    vec![0.0; len]
}

/// A tensor of `shape` with unspecified contents, to be fully overwritten.
pub fn tensor_for_overwrite(shape: &[usize]) -> Tensor {
    let len = shape.iter().product();
    Tensor::from_shape_vec(IxDyn(shape), take(len)).expect("the length is the shape's product")
}

/// Returns a buffer for reuse.
pub fn recycle_vec(mut v: Vec<f32>) {
    let len = v.len();
    if len < MIN_POOLED_LEN || v.capacity() != len {
        return;
    }
    let mut free = free();
    let bucket = free.entry(len).or_default();
    if bucket.len() < MAX_PER_LEN {
        v.truncate(len);
        bucket.push(v);
    }
}

/// Returns a tensor's storage for reuse.
pub fn recycle(t: Tensor) {
    let (v, _offset) = t.into_raw_vec_and_offset();
    recycle_vec(v);
}

#[cfg(test)]
mod tests {
    use super::*;

    // The pool is process-wide and tests run in parallel: each test uses a length no
    // other test in this crate allocates.

    fn free_of_len(len: usize) -> usize {
        free().get(&len).map_or(0, Vec::len)
    }

    #[test]
    fn a_recycled_buffer_is_handed_out_again() {
        let t = tensor_for_overwrite(&[61, 37]);
        let ptr = t.as_ptr();
        recycle(t);
        let again = tensor_for_overwrite(&[37, 61]);
        assert_eq!(again.as_ptr(), ptr, "same length, same buffer");
        assert_eq!(again.shape(), &[37, 61]);
    }

    #[test]
    fn small_buffers_and_full_buckets_are_not_kept() {
        recycle_vec(vec![0.0; 10]);
        assert_eq!(free_of_len(10), 0);
        for _ in 0..MAX_PER_LEN + 4 {
            recycle_vec(vec![0.0; 3001]);
        }
        assert_eq!(free_of_len(3001), MAX_PER_LEN);
    }
}
