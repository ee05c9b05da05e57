//! Data-parallel training: the collective operations `fit` needs from a group of processes
//! (or threads), and what `fit` does with them.
//!
//! [`FitOptions::data_parallel`](crate::FitOptions::data_parallel) trains one model on every
//! member of a group, each on its share of every global batch. The `keel-distributed`
//! crate implements [`Collective`] over MPI; [`ThreadGroup`] implements it between threads
//! of one process (tests, and two replicas on one machine).

mod replica;
mod threads;

pub(crate) use replica::DataParallel;
pub use threads::ThreadGroup;

use crate::Result;

/// What data-parallel `fit` needs from the group it trains in: every member calls the same
/// operations in the same order (`fit` makes every decision that could differ between
/// members collective, so they do).
///
/// Implementations return [`Error::Collective`](crate::Error::Collective) when the group
/// cannot complete an operation (a member failed); every sum must give the same bits on
/// every member.
pub trait Collective {
    /// This member's index in the group, `0..size()`; member 0 writes files and progress.
    fn rank(&self) -> usize;

    /// The number of members.
    fn size(&self) -> usize;

    /// Replaces each value of `values` with its sum over the group, element by element. The
    /// same length on every member; `operation` names it in errors and stall reports.
    ///
    /// # Errors
    /// The group could not complete the sum.
    fn sum_f32(&mut self, operation: &'static str, values: &mut [f32]) -> Result<()>;

    /// Returns once every member has called it: a barrier. `fit` calls it before each
    /// step's [`sum_f32_each`](Collective::sum_f32_each), so the time spent waiting for the
    /// slowest member is measured apart from the sum (and a group may wait without
    /// occupying a core). Does nothing by default.
    ///
    /// # Errors
    /// The group could not complete the barrier.
    fn arrive(&mut self, operation: &'static str) -> Result<()> {
        let _ = operation;
        Ok(())
    }

    /// For each pair `(values, sums)`, writes into `sums` the element-wise sums over the
    /// group of `values` (each pair's two slices of one length, the same lengths in the same
    /// order on every member). By default a copy and a [`sum_f32`](Collective::sum_f32) for
    /// one pair after another; a group that can receive into another buffer and run the
    /// sums at once saves the copies and overlaps them (what `fit` calls every step, once
    /// per gradient tensor, after [`arrive`](Collective::arrive)).
    ///
    /// # Errors
    /// The group could not complete a sum.
    ///
    /// # Panics
    /// If a pair's lengths differ.
    fn sum_f32_each(
        &mut self,
        operation: &'static str,
        pairs: &mut [(&[f32], &mut [f32])],
    ) -> Result<()> {
        pairs.iter_mut().try_for_each(|(values, sums)| {
            sums.copy_from_slice(values);
            self.sum_f32(operation, sums)
        })
    }

    /// [`sum_f32`](Collective::sum_f32) in double precision (counts and metric sums).
    ///
    /// # Errors
    /// The group could not complete the sum.
    fn sum_f64(&mut self, operation: &'static str, values: &mut [f64]) -> Result<()>;

    /// The smallest and the largest of `value` over the group.
    ///
    /// # Errors
    /// The group could not complete the operation.
    fn min_max(&mut self, operation: &'static str, value: u64) -> Result<(u64, u64)>;

    /// Replaces `bytes` on every member with member 0's.
    ///
    /// # Errors
    /// The group could not complete the broadcast.
    fn broadcast(&mut self, operation: &'static str, bytes: &mut Vec<u8>) -> Result<()>;

    /// Tells the group where training is (0-based epoch and batch), for the messages of a
    /// failure or a stall. Does nothing by default.
    fn set_position(&mut self, epoch: usize, batch: usize) {
        let _ = (epoch, batch);
    }

    /// Ends the group's run because this member failed with `error`: the others must not
    /// wait for it. An MPI group aborts the job (this does not return); a thread group
    /// makes the others' next operation fail.
    fn abort(&mut self, error: &crate::Error);
}

/// Whether any member of the group says `yes`.
pub(crate) fn any(
    collective: &mut dyn Collective,
    operation: &'static str,
    yes: bool,
) -> Result<bool> {
    Ok(collective.min_max(operation, u64::from(yes))?.1 == 1)
}

/// The rows `start..end` of a global batch that member `rank` of `size` trains on: a
/// contiguous share, the sizes differing by at most one.
pub(crate) fn share(start: usize, end: usize, rank: usize, size: usize) -> std::ops::Range<usize> {
    let len = end - start;
    start + len * rank / size..start + len * (rank + 1) / size
}

#[cfg(test)]
mod tests {
    use super::share;

    #[test]
    fn shares_cover_a_batch_once_in_order() {
        for (len, size) in [(128, 2), (7, 4), (1, 2), (3, 3), (0, 2)] {
            let shares: Vec<_> = (0..size).map(|r| share(10, 10 + len, r, size)).collect();
            assert_eq!(shares[0].start, 10);
            assert_eq!(shares[size - 1].end, 10 + len);
            for pair in shares.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
                assert!(pair[1].len().abs_diff(pair[0].len()) <= 1);
            }
        }
    }
}
