//! [`Dataset`]: samples with features and targets, behind shared storage so that
//! slices and splits are zero-copy views.

use std::sync::Arc;

use ndarray::{s, Array2, ArrayD, Dimension as _};

use crate::error::{Error, Result};
use crate::targets::{Targets, TargetsView};

/// Feature storage, shared by every view of one dataset.
#[derive(Clone, Debug)]
pub(crate) enum Features {
    /// Bytes, converted to `p as f32 * scale` when a batch is gathered.
    U8 { data: Arc<Vec<u8>>, scale: f32 },
    /// Ready-to-use values.
    F32(Arc<Vec<f32>>),
}

/// Target storage, shared by every view of one dataset.
#[derive(Clone, Debug)]
pub(crate) enum TargetStore {
    /// Class indices and `max + 1` over all of them.
    Classes {
        data: Arc<Vec<u32>>,
        num_classes: usize,
    },
    /// One row per sample.
    Dense(Arc<Array2<f32>>),
}

/// Samples with features and targets, as `fit`, `evaluate` and `predict` take them.
///
/// Features are `[len, ..sample_shape]` and stored compactly: [`Dataset::from_u8`]
/// keeps the bytes (60,000 MNIST images take 47 MB, not 188 MB) and converts
/// `p as f32 * scale` only when a batch is [gathered](Dataset::gather). Storage
/// is shared ([`Arc`]), so `clone`, [`slice`](Dataset::slice),
/// [`split_at`](Dataset::split_at) and
/// [`split_validation`](Dataset::split_validation) copy no samples.
///
/// Constructors reject empty data; views made from a dataset may be empty.
///
/// # Examples
///
/// ```
/// # fn main() -> keel_data::Result<()> {
/// use keel_data::{Dataset, Targets};
///
/// // Four 2x2 "images" with pixel values 0..=255, labelled 0, 1, 0, 1.
/// let pixels: Vec<u8> = (0..16).map(|i| i * 17).collect();
/// let ds = Dataset::from_u8(pixels, vec![2, 2], 1.0 / 255.0, Targets::Classes(vec![0, 1, 0, 1]))?;
/// assert_eq!((ds.len(), ds.sample_shape()), (4, &[2, 2][..]));
/// assert_eq!(ds.num_classes(), Some(2));
///
/// let (train, val) = ds.split_validation(0.25)?;
/// assert_eq!((train.len(), val.len()), (3, 1));
/// let batch = val.gather(&[0]);
/// assert_eq!(batch.x.shape(), [1, 2, 2]);
/// assert_eq!(batch.x[[0, 1, 1]], 1.0); // pixel 255
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Dataset {
    pub(crate) features: Features,
    pub(crate) targets: TargetStore,
    pub(crate) sample_shape: Arc<[usize]>,
    pub(crate) sample_size: usize,
    /// The first sample of the storage that this view shows.
    pub(crate) offset: usize,
    pub(crate) len: usize,
}

impl Dataset {
    /// Builds a dataset from bytes, e.g. image pixels, scaled by `scale` when batched.
    ///
    /// `pixels` holds `n` samples of shape `sample_shape` one after another
    /// (row-major); a batch element is `pixels[i] as f32 * scale`.
    ///
    /// # Errors
    ///
    /// [`Error::Empty`] if there are no pixels, [`Error::EmptySample`] if a
    /// dimension of `sample_shape` is 0, [`Error::PixelCount`] if the pixels are
    /// not a whole number of samples, [`Error::InvalidScale`] if `255 * scale` is
    /// not finite, [`Error::CountMismatch`] if the targets are not one per sample,
    /// and [`Error::NonFinite`] for a NaN or infinite dense target.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> keel_data::Result<()> {
    /// use keel_data::{Dataset, Targets};
    /// let ds = Dataset::from_u8(vec![0, 2, 4, 6], vec![2], 0.5, Targets::Classes(vec![1, 0]))?;
    /// assert_eq!(ds.len(), 2);
    /// assert_eq!(ds.x_f32(), ndarray::array![[0.0, 1.0], [2.0, 3.0]].into_dyn());
    ///
    /// let err = Dataset::from_u8(vec![0; 5], vec![2], 1.0, Targets::Classes(vec![0, 0])).unwrap_err();
    /// assert!(err.to_string().starts_with("pixel count 5 is not a multiple of the sample size 2"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_u8(
        pixels: Vec<u8>,
        sample_shape: Vec<usize>,
        scale: f32,
        targets: Targets,
    ) -> Result<Dataset> {
        // 255 × scale must be finite too, or a bright pixel becomes infinite in a batch.
        if !(f32::from(u8::MAX) * scale).is_finite() {
            return Err(Error::InvalidScale { found: scale });
        }
        let sample_size = checked_sample_size(&sample_shape)?;
        if pixels.is_empty() {
            return Err(Error::Empty);
        }
        if pixels.len() % sample_size != 0 {
            return Err(Error::PixelCount {
                pixels: pixels.len(),
                sample_shape,
                sample_size,
            });
        }
        let len = pixels.len() / sample_size;
        let features = Features::U8 {
            data: Arc::new(pixels),
            scale,
        };
        Dataset::new(features, sample_shape, sample_size, len, targets)
    }

    /// Builds a dataset from an `f32` array whose axis 0 indexes samples.
    ///
    /// The sample shape is `x.shape()[1..]`.
    ///
    /// # Errors
    ///
    /// [`Error::FeatureRank`] if `x` is a scalar, [`Error::Empty`] if it has no
    /// samples, [`Error::EmptySample`] if a sample has a zero dimension,
    /// [`Error::NonFinite`] naming the first NaN or infinite value (in features,
    /// then in dense targets), and [`Error::CountMismatch`] if the targets are
    /// not one per sample.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> keel_data::Result<()> {
    /// use keel_data::{Dataset, Targets};
    /// use ndarray::array;
    ///
    /// let x = array![[0.0_f32, 1.0], [2.0, 3.0], [4.0, 5.0]].into_dyn();
    /// let y = array![[1.0_f32], [0.5], [0.0]]; // regression targets
    /// let ds = Dataset::from_f32(x, Targets::Dense(y))?;
    /// assert_eq!((ds.len(), ds.sample_shape()), (3, &[2][..]));
    ///
    /// let bad = array![[0.0_f32, f32::NAN]].into_dyn();
    /// let err = Dataset::from_f32(bad, Targets::Classes(vec![0])).unwrap_err();
    /// assert_eq!(err.to_string(), "non-finite feature value NaN at index [0, 1]: expected finite numbers");
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_f32(x: ArrayD<f32>, targets: Targets) -> Result<Dataset> {
        if x.ndim() == 0 {
            return Err(Error::FeatureRank { found: 0 });
        }
        let sample_shape = x.shape()[1..].to_vec();
        let sample_size = checked_sample_size(&sample_shape)?;
        let len = x.shape()[0];
        if len == 0 {
            return Err(Error::Empty);
        }
        if let Some((index, &value)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: "feature",
                index: index.slice().to_vec(),
                value,
            });
        }
        let data = into_row_major_vec(x);
        Dataset::new(
            Features::F32(Arc::new(data)),
            sample_shape,
            sample_size,
            len,
            targets,
        )
    }

    /// Checks the targets and puts the parts together.
    fn new(
        features: Features,
        sample_shape: Vec<usize>,
        sample_size: usize,
        len: usize,
        targets: Targets,
    ) -> Result<Dataset> {
        if targets.len() != len {
            return Err(Error::CountMismatch {
                features: len,
                targets: targets.len(),
            });
        }
        let targets = match targets {
            Targets::Classes(data) => TargetStore::Classes {
                num_classes: data
                    .iter()
                    .max()
                    .map_or(0, |&m| (m as usize).saturating_add(1)),
                data: Arc::new(data),
            },
            Targets::Dense(data) => {
                if let Some(((r, c), &value)) = data.indexed_iter().find(|(_, v)| !v.is_finite()) {
                    return Err(Error::NonFinite {
                        what: "target",
                        index: vec![r, c],
                        value,
                    });
                }
                TargetStore::Dense(Arc::new(data))
            }
        };
        Ok(Dataset {
            features,
            targets,
            sample_shape: sample_shape.into(),
            sample_size,
            offset: 0,
            len,
        })
    }

    /// The number of samples.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> keel_data::Result<()> {
    /// let ds = keel_data::Dataset::from_u8(vec![1, 2, 3], vec![], 1.0, keel_data::Targets::Classes(vec![0; 3]))?;
    /// assert_eq!(ds.len(), 3);
    /// # Ok(())
    /// # }
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the dataset has no samples (only views can be empty).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> keel_data::Result<()> {
    /// let ds = keel_data::Dataset::from_u8(vec![1, 2], vec![1], 1.0, keel_data::Targets::Classes(vec![0; 2]))?;
    /// assert!(!ds.is_empty());
    /// assert!(ds.slice(2..)?.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The shape of one sample's features, e.g. `[28, 28]` for MNIST.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> keel_data::Result<()> {
    /// let ds = keel_data::Dataset::from_u8(vec![0; 12], vec![2, 3], 1.0, keel_data::Targets::Classes(vec![0; 2]))?;
    /// assert_eq!(ds.sample_shape(), [2, 3]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn sample_shape(&self) -> &[usize] {
        &self.sample_shape
    }

    /// The number of feature values per sample (the product of [`sample_shape`](Dataset::sample_shape)).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> keel_data::Result<()> {
    /// let ds = keel_data::Dataset::from_u8(vec![0; 12], vec![2, 3], 1.0, keel_data::Targets::Classes(vec![0; 2]))?;
    /// assert_eq!(ds.sample_size(), 6);
    /// # Ok(())
    /// # }
    /// ```
    pub fn sample_size(&self) -> usize {
        self.sample_size
    }

    /// The targets of the samples in this view.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> keel_data::Result<()> {
    /// use keel_data::{Dataset, Targets, TargetsView};
    /// let ds = Dataset::from_u8(vec![0; 3], vec![1], 1.0, Targets::Classes(vec![2, 0, 1]))?;
    /// assert!(matches!(ds.targets(), TargetsView::Classes(&[2, 0, 1])));
    /// # Ok(())
    /// # }
    /// ```
    pub fn targets(&self) -> TargetsView<'_> {
        let range = self.offset..self.offset + self.len;
        match &self.targets {
            TargetStore::Classes { data, .. } => TargetsView::Classes(&data[range]),
            TargetStore::Dense(data) => TargetsView::Dense(data.slice(s![range, ..])),
        }
    }

    /// For class targets, the largest class index plus one; `None` for dense targets.
    ///
    /// The count is taken over all the samples the dataset was built from, so
    /// a slice or a validation split reports the same count as the whole.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> keel_data::Result<()> {
    /// use keel_data::{Dataset, Targets};
    /// let ds = Dataset::from_u8(vec![0; 3], vec![1], 1.0, Targets::Classes(vec![2, 0, 9]))?;
    /// assert_eq!(ds.num_classes(), Some(10));
    /// assert_eq!(ds.slice(..1)?.num_classes(), Some(10));
    /// # Ok(())
    /// # }
    /// ```
    pub fn num_classes(&self) -> Option<usize> {
        match &self.targets {
            TargetStore::Classes { num_classes, .. } => Some(*num_classes),
            TargetStore::Dense(_) => None,
        }
    }
}

/// The product of `shape` (saturating: no buffer in memory is that large),
/// or an error if a dimension is 0.
fn checked_sample_size(shape: &[usize]) -> Result<usize> {
    if shape.contains(&0) {
        return Err(Error::EmptySample {
            shape: shape.to_vec(),
        });
    }
    Ok(shape.iter().fold(1usize, |acc, &d| acc.saturating_mul(d)))
}

/// The elements of `x` in row-major order, reusing its buffer when it has one.
fn into_row_major_vec(x: ArrayD<f32>) -> Vec<f32> {
    if x.is_standard_layout() {
        let n = x.len();
        let (mut data, offset) = x.into_raw_vec_and_offset();
        let offset = offset.unwrap_or(0);
        data.truncate(offset + n);
        data.drain(..offset);
        data
    } else {
        x.iter().copied().collect()
    }
}
