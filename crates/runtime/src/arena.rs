//! A runtime's arena of `f32` buffers, so the steady state of training allocates nothing of
//! weight or activation size, within a byte budget.
//!
//! Every step of a training loop builds tensors of the same sizes; the tape hands the
//! buffers it owns back here when it is dropped and the hot ops take their outputs from
//! here. Buffers are kept by size class (eight classes per power of two, so a buffer is at
//! most 12.5 % longer than asked for): a batch of 1,000 rows and one of 1,013 share
//! buffers, as PyTorch's caching allocator rounds its blocks. When keeping a buffer would
//! pass the budget, the least recently used classes are dropped first.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Buffers shorter than this go back to the allocator: small allocations are cheap, and
/// most come from a thread-local cache.
pub const MIN_POOLED_LEN: usize = 1024;

/// The default byte budget of an arena: enough for the activations and gradients of a
/// convnet step at batch 128 several times over, small beside the memory of any machine
/// that trains one.
pub const DEFAULT_BUDGET: usize = 256 << 20;

/// Free buffers by capacity class, within a byte budget.
pub(crate) struct Arena {
    budget: usize,
    free: Mutex<Free>,
}

#[derive(Default)]
struct Free {
    classes: HashMap<usize, Class>,
    /// Bytes held in `classes`.
    bytes: usize,
    /// Counts takes and recycles, to order classes by last use.
    clock: u64,
}

#[derive(Default)]
struct Class {
    buffers: Vec<Vec<f32>>,
    last_used: u64,
}

/// The capacity class of a buffer of `len` elements: `len` rounded up to three significant
/// bits (eight classes per power of two).
pub(crate) fn class_of(len: usize) -> usize {
    let bits = usize::BITS - len.leading_zeros();
    let shift = bits.saturating_sub(4);
    len.div_ceil(1 << shift) << shift
}

impl Arena {
    pub(crate) fn new(budget: usize) -> Self {
        Arena {
            budget,
            free: Mutex::new(Free::default()),
        }
    }

    pub(crate) fn budget(&self) -> usize {
        self.budget
    }

    fn free(&self) -> MutexGuard<'_, Free> {
        // Each operation under the lock leaves the map consistent before it can panic, so a
        // poisoned lock is still usable.
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A buffer of exactly `len` elements whose contents are unspecified (stale values of
    /// an earlier use, or zeros): for outputs that are fully overwritten.
    pub(crate) fn take(&self, len: usize) -> Vec<f32> {
        if len < MIN_POOLED_LEN {
            return vec![0.0; len];
        }
        let class = class_of(len);
        let reused = {
            let mut free = self.free();
            free.clock += 1;
            let clock = free.clock;
            let found = free.classes.get_mut(&class).and_then(|c| {
                c.last_used = clock;
                c.buffers.pop()
            });
            if found.is_some() {
                free.bytes -= class * size_of::<f32>();
            }
            found
        };
        let mut v = reused.unwrap_or_else(|| Vec::with_capacity(class));
        // A buffer kept at the same length (the steady state) is handed out as it is.
        if v.len() > len {
            v.truncate(len);
        } else {
            v.resize(len, 0.0);
        }
        v
    }

    /// Keeps `v` for reuse if it is one of this arena's classes and fits the budget.
    pub(crate) fn recycle(&self, v: Vec<f32>) {
        let class = v.capacity();
        let bytes = class * size_of::<f32>();
        if v.len() < MIN_POOLED_LEN || class_of(class) != class || bytes > self.budget {
            return;
        }
        let mut free = self.free();
        while free.bytes + bytes > self.budget {
            free.drop_least_recent();
        }
        free.clock += 1;
        let clock = free.clock;
        let entry = free.classes.entry(class).or_default();
        entry.last_used = clock;
        entry.buffers.push(v);
        free.bytes += bytes;
    }

    /// Bytes of free buffers held.
    pub(crate) fn bytes(&self) -> usize {
        self.free().bytes
    }

    /// Gives every free buffer back to the allocator.
    pub(crate) fn trim(&self) {
        let mut free = self.free();
        free.classes.clear();
        free.bytes = 0;
    }
}

impl Free {
    /// Drops one buffer of the least recently used class (and the class once empty).
    fn drop_least_recent(&mut self) {
        let Some((&class, _)) = self.classes.iter().min_by_key(|(_, c)| c.last_used) else {
            return;
        };
        let entry = self
            .classes
            .get_mut(&class)
            .expect("the class was just found");
        if entry.buffers.pop().is_some() {
            self.bytes -= class * size_of::<f32>();
        }
        if entry.buffers.is_empty() {
            self.classes.remove(&class);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_round_up_to_three_significant_bits() {
        assert_eq!(class_of(1024), 1024);
        assert_eq!(class_of(1025), 1152);
        assert_eq!(class_of(1000 * 784), 786_432);
        for len in [1024, 3000, 12_345, 1 << 20, 999_999] {
            let c = class_of(len);
            assert!(c >= len && (c - len) * 8 <= len, "{len} -> {c}");
            assert_eq!(class_of(c), c);
        }
    }

    #[test]
    fn a_recycled_buffer_is_handed_out_again_for_any_length_of_its_class() {
        let arena = Arena::new(DEFAULT_BUDGET);
        let v = arena.take(61 * 37);
        let ptr = v.as_ptr();
        arena.recycle(v);
        let again = arena.take(37 * 61 + 20);
        assert_eq!((again.as_ptr(), again.len()), (ptr, 37 * 61 + 20));
        assert_eq!(arena.bytes(), 0);
    }

    #[test]
    fn small_and_foreign_buffers_are_not_kept() {
        let arena = Arena::new(DEFAULT_BUDGET);
        arena.recycle(vec![0.0; 10]);
        arena.recycle(vec![0.0; 1025]); // capacity 1025 is no class
        assert_eq!(arena.bytes(), 0);
    }

    #[test]
    fn the_budget_drops_the_least_recently_used_class_first() {
        let arena = Arena::new(3 * 4096 * size_of::<f32>());
        let old = arena.take(4096);
        let new = arena.take(2048);
        let newer = arena.take(2048);
        arena.recycle(old);
        arena.recycle(new);
        arena.recycle(newer);
        assert_eq!(arena.bytes(), 2 * 4096 * size_of::<f32>());
        let big = arena.take(8192);
        arena.recycle(big); // 8K + 4K + 2·2K floats pass the 12K budget: the 4K class goes
        assert_eq!(arena.bytes(), (8192 + 4096) * size_of::<f32>());
        assert_eq!(arena.take(4096).capacity(), 4096);
        assert_eq!(
            arena.bytes(),
            (8192 + 4096) * size_of::<f32>(),
            "4K was a new buffer"
        );
        arena.trim();
        assert_eq!(arena.bytes(), 0);
    }
}
