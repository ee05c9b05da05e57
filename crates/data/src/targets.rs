//! What a model should predict for each sample: class indices or dense rows.

use ndarray::{Array2, ArrayView2};

/// The targets of a dataset, one per sample.
///
/// # Examples
///
/// ```
/// use keel_data::Targets;
/// use ndarray::array;
///
/// let classes = Targets::Classes(vec![3, 1, 4]);
/// assert_eq!(classes.len(), 3);
/// let one_hot = Targets::Dense(array![[0.0, 1.0], [1.0, 0.0]]);
/// assert_eq!(one_hot.len(), 2);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Targets {
    /// One class index per sample (for sparse categorical losses).
    Classes(Vec<u32>),
    /// One row per sample: one-hot vectors or regression targets, shape `[n, k]`.
    Dense(Array2<f32>),
}

/// The targets of a [`Batch`](crate::Batch): the same two forms as [`Targets`],
/// `Classes` of length `n` or `Dense` of shape `[n, k]`.
pub type BatchTargets = Targets;

impl Targets {
    /// The targets as a dense `[n, k]` array: dense targets as they are, class labels as
    /// one column of their values (what regression losses compare an output unit with).
    ///
    /// ```
    /// let y = keel_data::Targets::Classes(vec![2, 0]).to_dense();
    /// assert_eq!(y.shape(), &[2, 1]);
    /// assert_eq!(y.as_slice().unwrap(), &[2.0, 0.0]);
    /// ```
    pub fn to_dense(&self) -> ndarray::ArrayD<f32> {
        match self {
            Targets::Dense(t) => t.clone().into_dyn(),
            Targets::Classes(y) => {
                ndarray::Array2::from_shape_fn((y.len(), 1), |(i, _)| y[i] as f32).into_dyn()
            }
        }
    }

    /// The number of samples these targets describe.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(keel_data::Targets::Classes(vec![0, 1]).len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        match self {
            Targets::Classes(c) => c.len(),
            Targets::Dense(d) => d.nrows(),
        }
    }

    /// Whether there are no targets.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(keel_data::Targets::Classes(vec![]).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Borrows these targets as a [`TargetsView`].
    ///
    /// # Examples
    ///
    /// ```
    /// use keel_data::{Targets, TargetsView};
    /// let t = Targets::Classes(vec![7]);
    /// assert!(matches!(t.view(), TargetsView::Classes(&[7])));
    /// ```
    pub fn view(&self) -> TargetsView<'_> {
        match self {
            Targets::Classes(c) => TargetsView::Classes(c),
            Targets::Dense(d) => TargetsView::Dense(d.view()),
        }
    }
}

/// A borrowed view of the targets of a [`Dataset`](crate::Dataset) (or a slice of it).
///
/// # Examples
///
/// ```
/// # fn main() -> keel_data::Result<()> {
/// use keel_data::{Dataset, Targets, TargetsView};
/// let ds = Dataset::from_u8(vec![0, 1, 2], vec![1], 1.0, Targets::Classes(vec![5, 6, 7]))?;
/// let tail = ds.slice(1..)?;
/// assert!(matches!(tail.targets(), TargetsView::Classes(&[6, 7])));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TargetsView<'a> {
    /// One class index per sample.
    Classes(&'a [u32]),
    /// One row per sample, shape `[n, k]`.
    Dense(ArrayView2<'a, f32>),
}

impl TargetsView<'_> {
    /// The number of samples in the view.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(keel_data::TargetsView::Classes(&[1, 2]).len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        match self {
            TargetsView::Classes(c) => c.len(),
            TargetsView::Dense(d) => d.nrows(),
        }
    }

    /// Whether the view is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(keel_data::TargetsView::Classes(&[]).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies the view into owned [`Targets`].
    ///
    /// # Examples
    ///
    /// ```
    /// use keel_data::{Targets, TargetsView};
    /// assert_eq!(TargetsView::Classes(&[4]).to_targets(), Targets::Classes(vec![4]));
    /// ```
    pub fn to_targets(&self) -> Targets {
        match self {
            TargetsView::Classes(c) => Targets::Classes(c.to_vec()),
            TargetsView::Dense(d) => Targets::Dense(d.to_owned()),
        }
    }
}
