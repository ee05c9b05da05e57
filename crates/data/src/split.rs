//! Zero-copy views of a [`Dataset`]: slices and splits.

use std::ops::{Bound, RangeBounds};

use crate::dataset::Dataset;
use crate::error::{Error, Result};

impl Dataset {
    /// A zero-copy view of the samples in `range` (relative to this view).
    ///
    /// # Errors
    ///
    /// [`Error::SliceRange`] if the range is reversed or ends past [`len`](Dataset::len).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> keel_data::Result<()> {
    /// let ds = keel_data::Dataset::from_u8((0..10).collect(), vec![1], 1.0, keel_data::Targets::Classes(vec![0; 10]))?;
    /// let middle = ds.slice(2..5)?;
    /// assert_eq!(middle.len(), 3);
    /// assert_eq!(middle.gather(&[0]).x[[0, 0]], 2.0);
    /// assert!(ds.slice(5..11).is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn slice(&self, range: impl RangeBounds<usize>) -> Result<Dataset> {
        let start = match range.start_bound() {
            Bound::Included(&s) => s,
            Bound::Excluded(&s) => s.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&e) => e.saturating_add(1),
            Bound::Excluded(&e) => e,
            Bound::Unbounded => self.len,
        };
        if start > end || end > self.len {
            return Err(Error::SliceRange {
                start,
                end,
                len: self.len,
            });
        }
        Ok(Dataset {
            offset: self.offset + start,
            len: end - start,
            ..self.clone()
        })
    }

    /// Splits into the samples before `mid` and from `mid` on, without copying.
    ///
    /// # Errors
    ///
    /// [`Error::SplitPoint`] if `mid > len()`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> keel_data::Result<()> {
    /// let ds = keel_data::Dataset::from_u8(vec![0; 10], vec![1], 1.0, keel_data::Targets::Classes(vec![0; 10]))?;
    /// let (a, b) = ds.split_at(7)?;
    /// assert_eq!((a.len(), b.len()), (7, 3));
    /// # Ok(())
    /// # }
    /// ```
    pub fn split_at(&self, mid: usize) -> Result<(Dataset, Dataset)> {
        if mid > self.len {
            return Err(Error::SplitPoint { mid, len: self.len });
        }
        Ok((self.slice(..mid)?, self.slice(mid..)?))
    }

    /// Splits off the last `fraction` of the samples for validation, as Keras's
    /// `validation_split` does: no shuffling, the training part keeps the first
    /// `floor(len × (1 − fraction))` samples, so 0.1 of 60,000 gives 54,000 and 6,000.
    ///
    /// The `f32` fraction is read as the decimal it was written as: a product
    /// within `f32` rounding of a whole number counts as that number.
    /// A fraction of 0 gives the whole dataset and an empty validation view.
    ///
    /// # Errors
    ///
    /// [`Error::ValidationSplit`] if `fraction` is not in `[0, 1)`;
    /// [`Error::ValidationSplitSize`] if a positive fraction would leave either
    /// part empty.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> keel_data::Result<()> {
    /// use keel_data::{Dataset, Targets};
    /// let ds = Dataset::from_u8(vec![0; 60_000], vec![1], 1.0, Targets::Classes(vec![0; 60_000]))?;
    /// let (train, val) = ds.split_validation(0.1)?;
    /// assert_eq!((train.len(), val.len()), (54_000, 6_000));
    ///
    /// let err = ds.split_validation(1.5).unwrap_err();
    /// assert_eq!(err.to_string(), "invalid validation split: expected a fraction in [0, 1), found 1.5");
    /// # Ok(())
    /// # }
    /// ```
    pub fn split_validation(&self, fraction: f32) -> Result<(Dataset, Dataset)> {
        if !(0.0..1.0).contains(&fraction) {
            return Err(Error::ValidationSplit { found: fraction });
        }
        if fraction == 0.0 {
            return self.split_at(self.len);
        }
        // Keras keeps floor(len * (1 - f)) for training, i.e. ceil(len * f) for
        // validation. An f32 fraction is off from its decimal by at most half an
        // ulp (relative 2^-24), so a product within twice that of a whole number
        // is taken to be that number: 0.1_f32 * 60_000 is 6_000.00009, not 6_001.
        let exact = self.len as f64 * f64::from(fraction);
        let nearest = exact.round();
        let validation = if (exact - nearest).abs() <= exact * f64::from(f32::EPSILON) {
            nearest
        } else {
            exact.ceil()
        } as usize;
        let train = self.len.saturating_sub(validation);
        if train == 0 || validation == 0 {
            return Err(Error::ValidationSplitSize {
                len: self.len,
                fraction,
                train,
                validation: self.len - train,
            });
        }
        self.split_at(train)
    }
}
