//! Batch boundaries and shuffled sample orders for one epoch.

use std::ops::Range;

use rand::seq::SliceRandom as _;
use rand::Rng;

use crate::error::{Error, Result};

/// Splits `0..len` into consecutive ranges of `batch_size`; the last may be smaller.
///
/// Index an order of samples with each range (`&order[range]`), or use the
/// range directly for an unshuffled pass.
///
/// # Errors
///
/// [`Error::BatchSize`] if `batch_size` is 0.
///
/// # Examples
///
/// ```
/// # fn main() -> keel_data::Result<()> {
/// let ranges: Vec<_> = keel_data::batch_ranges(10, 4)?.collect();
/// assert_eq!(ranges, [0..4, 4..8, 8..10]);
/// assert_eq!(keel_data::batch_ranges(0, 4)?.count(), 0);
/// assert!(keel_data::batch_ranges(10, 0).is_err());
/// # Ok(())
/// # }
/// ```
pub fn batch_ranges(len: usize, batch_size: usize) -> Result<BatchRanges> {
    if batch_size == 0 {
        return Err(Error::BatchSize { found: 0 });
    }
    Ok(BatchRanges {
        next: 0,
        len,
        batch_size,
    })
}

/// The iterator returned by [`batch_ranges`].
///
/// # Examples
///
/// ```
/// # fn main() -> keel_data::Result<()> {
/// let ranges: keel_data::BatchRanges = keel_data::batch_ranges(60_000, 32)?;
/// assert_eq!(ranges.len(), 1875); // steps per epoch
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct BatchRanges {
    next: usize,
    len: usize,
    batch_size: usize,
}

impl Iterator for BatchRanges {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        if self.next >= self.len {
            return None;
        }
        let start = self.next;
        let end = start + self.batch_size.min(self.len - start);
        self.next = end;
        Some(start..end)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = (self.len - self.next).div_ceil(self.batch_size);
        (n, Some(n))
    }
}

impl ExactSizeIterator for BatchRanges {}

impl std::iter::FusedIterator for BatchRanges {}

/// The indices `0..len` in a random order drawn from `rng`.
///
/// The same `rng` state gives the same order.
///
/// # Examples
///
/// ```
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(42);
/// let mut order = keel_data::shuffled_indices(5, &mut rng);
/// order.sort();
/// assert_eq!(order, [0, 1, 2, 3, 4]);
/// ```
pub fn shuffled_indices<R: Rng + ?Sized>(len: usize, rng: &mut R) -> Vec<usize> {
    let mut indices: Vec<usize> = (0..len).collect();
    indices.shuffle(rng);
    indices
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn ranges_cover_everything_once() {
        for (len, bs) in [(0, 1), (1, 1), (7, 3), (9, 3), (5, 100)] {
            let ranges: Vec<_> = batch_ranges(len, bs).unwrap().collect();
            assert_eq!(ranges.len(), batch_ranges(len, bs).unwrap().len());
            let flat: Vec<usize> = ranges.iter().cloned().flatten().collect();
            assert_eq!(flat, (0..len).collect::<Vec<_>>());
            assert!(ranges.iter().all(|r| r.len() <= bs && !r.is_empty()));
        }
    }

    #[test]
    fn zero_batch_size_is_an_error() {
        let err = batch_ranges(10, 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid batch size: expected at least 1, found 0"
        );
    }

    #[test]
    fn shuffle_is_a_deterministic_permutation() {
        let a = shuffled_indices(100, &mut rand::rngs::StdRng::seed_from_u64(7));
        let b = shuffled_indices(100, &mut rand::rngs::StdRng::seed_from_u64(7));
        assert_eq!(a, b);
        assert_ne!(a, (0..100).collect::<Vec<_>>());
        let mut sorted = a;
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    }
}
