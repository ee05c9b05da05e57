//! A runtime's arena of `f32` buffers, so the steady state of training allocates nothing of
//! weight or activation size, within a byte budget.
//!
//! Every step of a training loop builds tensors of the same sizes; the tape hands the
//! buffers it owns back here when it is dropped and the hot ops take their outputs from
//! here. Buffers are matched by exact length (their capacity): the buffers of one step's
//! sizes circulate.
//!
//! What it holds is bounded three ways:
//! - Lengths that the last whole step did not use go back to the allocator (`fit`,
//!   `evaluate` and `predict` end a step after each batch): when sizes change (validation
//!   batches, prediction at ever new batch sizes) the old sizes make way instead of piling
//!   up, while the sizes of a training step, used every step, stay.
//! - A buffer of a length no take asked for (made elsewhere, at a size the hot ops never
//!   use) is not kept.
//! - The free bytes stay within the byte budget, the least recently used length going
//!   first.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Buffers shorter than this go back to the allocator: small allocations are cheap, and
/// most come from a thread-local cache.
pub const MIN_POOLED_LEN: usize = 1024;

/// The default byte budget of an arena: enough for the activations and gradients of a
/// convnet step at batch 128 several times over, small beside the memory of any machine
/// that trains one.
pub const DEFAULT_BUDGET: usize = 256 << 20;

/// Free buffers by length, within a byte budget.
pub(crate) struct Arena {
    budget: usize,
    free: Mutex<Free>,
}

#[derive(Default)]
struct Free {
    by_len: HashMap<usize, SameLength>,
    /// Bytes held in `by_len`.
    bytes: usize,
    /// Counts takes and recycles, to order lengths by last use.
    clock: u64,
    /// The lengths takes asked for, with the clock of the last ask: a buffer of a length
    /// nobody asks for (made elsewhere, at a size the hot ops never use) is not kept.
    asked: HashMap<usize, u64>,
    /// Steps ended so far (see [`Arena::end_step`]).
    steps: u64,
}

/// At most this many asked-for lengths are remembered; the older half is forgotten beyond.
const MAX_ASKED: usize = 4096;

#[derive(Default)]
struct SameLength {
    buffers: Vec<Vec<f32>>,
    last_used: u64,
    /// The step in which a buffer of this length was last taken or given back.
    last_step: u64,
}

/// Lengths not used for this many whole steps are given back to the allocator: a training
/// step uses the same lengths as the one before.
const IDLE_STEPS: u64 = 1;

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
        let reused = {
            let mut free = self.free();
            free.clock += 1;
            let clock = free.clock;
            free.remember_ask(len, clock);
            let step = free.steps;
            let found = free.by_len.get_mut(&len).and_then(|c| {
                (c.last_used, c.last_step) = (clock, step);
                c.buffers.pop()
            });
            if let Some(buffer) = &found {
                free.bytes -= buffer.capacity() * size_of::<f32>();
            }
            found
        };
        let mut v = reused.unwrap_or_default();
        // A buffer given back at its full length (the steady state) is handed out as it is.
        v.resize(len, 0.0);
        v
    }

    /// Keeps `v` for reuse if its length was asked for and it fits the budget (buffers made
    /// elsewhere, by ndarray, come back here too).
    pub(crate) fn recycle(&self, v: Vec<f32>) {
        let len = v.capacity();
        let bytes = v.capacity() * size_of::<f32>();
        if len < MIN_POOLED_LEN || bytes > self.budget {
            return;
        }
        let mut free = self.free();
        if !free.asked.contains_key(&len) {
            return;
        }
        let mut dropped = Vec::new();
        while free.bytes + bytes > self.budget {
            match free.take_least_recent() {
                Some(buffer) => dropped.push(buffer),
                None => break,
            }
        }
        free.clock += 1;
        let clock = free.clock;
        let step = free.steps;
        let entry = free.by_len.entry(len).or_default();
        (entry.last_used, entry.last_step) = (clock, step);
        entry.buffers.push(v);
        free.bytes += bytes;
        drop(free);
        drop(dropped); // freed outside the lock
    }

    /// Bytes of free buffers held.
    pub(crate) fn bytes(&self) -> usize {
        self.free().bytes
    }

    /// Ends a step (a training step, a batch of prediction): lengths that no take or
    /// give-back used for [`IDLE_STEPS`] whole steps go back to the allocator.
    pub(crate) fn end_step(&self) {
        let stale: Vec<Vec<f32>> = {
            let mut free = self.free();
            free.steps += 1;
            let idle_before = free.steps.saturating_sub(IDLE_STEPS);
            let mut stale = Vec::new();
            free.by_len.retain(|_, same| {
                let keep = same.last_step >= idle_before;
                if !keep {
                    stale.append(&mut same.buffers);
                }
                keep
            });
            free.bytes -= stale.iter().map(Vec::capacity).sum::<usize>() * size_of::<f32>();
            stale
        };
        drop(stale); // freed outside the lock
    }

    /// Gives every free buffer back to the allocator.
    pub(crate) fn trim(&self) {
        let mut free = self.free();
        free.by_len.clear();
        free.bytes = 0;
    }
}

impl Free {
    fn remember_ask(&mut self, len: usize, clock: u64) {
        self.asked.insert(len, clock);
        if self.asked.len() > MAX_ASKED {
            let mut clocks: Vec<u64> = self.asked.values().copied().collect();
            let (_, &mut median, _) = clocks.select_nth_unstable(MAX_ASKED / 2);
            self.asked.retain(|_, &mut asked| asked >= median);
        }
    }

    /// Removes one buffer of the least recently used length (and forgets the length once empty).
    fn take_least_recent(&mut self) -> Option<Vec<f32>> {
        let (&len, _) = self.by_len.iter().min_by_key(|(_, c)| c.last_used)?;
        let entry = self
            .by_len
            .get_mut(&len)
            .expect("the length was just found");
        let buffer = entry.buffers.pop();
        if let Some(buffer) = &buffer {
            self.bytes -= buffer.capacity() * size_of::<f32>();
        }
        if entry.buffers.is_empty() {
            self.by_len.remove(&len);
        }
        buffer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recycled_buffer_is_handed_out_again_for_its_length() {
        let arena = Arena::new(DEFAULT_BUDGET);
        let v = arena.take(61 * 37);
        let ptr = v.as_ptr();
        arena.recycle(v);
        let again = arena.take(37 * 61);
        assert_eq!((again.as_ptr(), again.len()), (ptr, 37 * 61));
        assert_eq!(arena.bytes(), 0);
    }

    #[test]
    fn small_buffers_and_lengths_nobody_asked_for_are_not_kept() {
        let arena = Arena::new(DEFAULT_BUDGET);
        arena.recycle(vec![0.0; 10]);
        arena.recycle(vec![0.0; 1200]);
        assert_eq!(arena.bytes(), 0, "nobody asked for 1200 elements yet");
        drop(arena.take(1200));
        let made_elsewhere = vec![0.0; 1200];
        let ptr = made_elsewhere.as_ptr();
        arena.recycle(made_elsewhere);
        assert_eq!(arena.bytes(), 1200 * size_of::<f32>());
        let again = arena.take(1200);
        assert_eq!(again.as_ptr(), ptr);
    }

    #[test]
    fn the_budget_drops_the_least_recently_used_length_first() {
        let arena = Arena::new(3 * 4096 * size_of::<f32>());
        let (a, b, c) = (arena.take(4096), arena.take(2048), arena.take(2048));
        let big = arena.take(8192);
        arena.recycle(a);
        arena.recycle(b);
        arena.recycle(c);
        assert_eq!(arena.bytes(), 2 * 4096 * size_of::<f32>());
        arena.recycle(big); // 8K + 4K + 2·2K floats pass the 12K budget: the 4K length goes
        assert_eq!(arena.bytes(), (8192 + 4096) * size_of::<f32>());
        arena.trim();
        assert_eq!(arena.bytes(), 0);
    }

    #[test]
    fn lengths_the_last_step_did_not_use_make_way() {
        let arena = Arena::new(DEFAULT_BUDGET);
        // Steps that use the same sizes keep them, whatever else they allocate.
        for _ in 0..3 {
            let (a, b) = (arena.take(2048), arena.take(4096));
            drop(arena.take(3000)); // kept elsewhere: a new buffer every step
            arena.recycle(a);
            arena.recycle(b);
            arena.end_step();
            assert_eq!(arena.bytes(), 6144 * size_of::<f32>());
        }
        // Prediction at ever new sizes holds one step's buffers.
        arena.trim();
        for len in (5000..50_000).step_by(997) {
            let v = arena.take(len);
            arena.recycle(v);
            arena.end_step();
            assert_eq!(arena.bytes(), len * size_of::<f32>(), "{len}");
        }
    }
}
