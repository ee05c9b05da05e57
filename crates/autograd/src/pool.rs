//! A per-thread pool of `f32` buffers, so the steady state of training allocates nothing
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
use std::cell::RefCell;
use std::collections::HashMap;

/// Buffers shorter than this go back to the allocator: they are cheap to allocate.
const MIN_POOLED_LEN: usize = 1024;
/// At most this many free buffers of one length are kept.
const MAX_PER_LEN: usize = 16;

thread_local! {
    static FREE: RefCell<HashMap<usize, Vec<Vec<f32>>>> = RefCell::new(HashMap::new());
}

/// A buffer of exactly `len` elements whose contents are unspecified (stale values from an
/// earlier use, or zeros): for outputs that are fully overwritten.
pub fn take(len: usize) -> Vec<f32> {
    if len >= MIN_POOLED_LEN {
        if let Some(v) = FREE.with(|f| f.borrow_mut().get_mut(&len).and_then(Vec::pop)) {
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

/// A tensor of `shape` filled by `f` for each element in row-major order.
pub fn tensor_from_fn(shape: &[usize], mut f: impl FnMut() -> f32) -> Tensor {
    let mut t = tensor_for_overwrite(shape);
    t.iter_mut().for_each(|v| *v = f());
    t
}

/// Returns a buffer for reuse.
pub fn recycle_vec(mut v: Vec<f32>) {
    let len = v.len();
    if len < MIN_POOLED_LEN || v.capacity() != len {
        return;
    }
    FREE.with(|f| {
        let mut free = f.borrow_mut();
        let bucket = free.entry(len).or_default();
        if bucket.len() < MAX_PER_LEN {
            v.truncate(len);
            bucket.push(v);
        }
    });
}

/// Returns a tensor's storage for reuse.
pub fn recycle(t: Tensor) {
    let (v, _offset) = t.into_raw_vec_and_offset();
    recycle_vec(v);
}

/// The number of free buffers held, for tests.
pub fn free_buffers() -> usize {
    FREE.with(|f| f.borrow().values().map(Vec::len).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recycled_buffer_is_handed_out_again() {
        let t = tensor_for_overwrite(&[64, 32]);
        let ptr = t.as_ptr();
        recycle(t);
        let again = tensor_for_overwrite(&[32, 64]);
        assert_eq!(again.as_ptr(), ptr, "same length, same buffer");
        assert_eq!(again.shape(), &[32, 64]);
    }

    #[test]
    fn small_buffers_and_full_buckets_are_not_kept() {
        let before = free_buffers();
        recycle_vec(vec![0.0; 10]);
        assert_eq!(free_buffers(), before);
        for _ in 0..MAX_PER_LEN + 4 {
            recycle_vec(vec![0.0; 3000]);
        }
        assert_eq!(free_buffers(), before + MAX_PER_LEN);
    }
}
