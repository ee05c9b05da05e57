//! Turning samples of a [`Dataset`] into `f32` batches.

use keel_runtime::for_each_piece;
use keel_runtime::plan::BatchCut;
use multiversion::multiversion;
use ndarray::{Array2, ArrayD, ArrayViewMut2, Axis, Dimension, IxDyn};

use crate::dataset::{Dataset, Features, TargetStore};
use crate::targets::BatchTargets;

/// A batch of samples: features `x` of shape `[n, ..sample_shape]` and their targets.
///
/// # Examples
///
/// ```
/// # fn main() -> keel_data::Result<()> {
/// use keel_data::{BatchTargets, Dataset, Targets};
/// let ds = Dataset::from_u8(vec![10, 20, 30], vec![1], 0.1, Targets::Classes(vec![7, 8, 9]))?;
/// let batch = ds.gather(&[2, 0]);
/// assert_eq!(batch.len(), 2);
/// assert_eq!(batch.x.shape(), [2, 1]);
/// assert_eq!(batch.y, BatchTargets::Classes(vec![9, 7]));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// Features, shape `[n, ..sample_shape]`.
    pub x: ArrayD<f32>,
    /// Targets: `n` classes or an `[n, k]` array.
    pub y: BatchTargets,
}

impl Batch {
    /// The number of samples in the batch.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(keel_data::Batch::default().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether the batch has no samples.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(keel_data::Batch::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for Batch {
    /// An empty batch (`x` of shape `[0]`, no classes) that allocates nothing,
    /// ready to be filled by [`Dataset::gather_into`].
    fn default() -> Self {
        Batch {
            x: empty_array(),
            y: BatchTargets::Classes(Vec::new()),
        }
    }
}

impl Dataset {
    /// Copies the samples at `indices` (relative to this view, in that order,
    /// repeats allowed) into a new [`Batch`], converting bytes to `f32`.
    ///
    /// # Panics
    ///
    /// If an index is `>= len()`: batch indices come from Keel's own
    /// iteration, so a bad one is a bug, not a user error.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> keel_data::Result<()> {
    /// use keel_data::{BatchTargets, Dataset, Targets};
    /// let ds = Dataset::from_u8(vec![0, 1, 2, 3, 4, 5], vec![2], 2.0, Targets::Classes(vec![0, 1, 2]))?;
    /// let batch = ds.gather(&[1, 1]);
    /// assert_eq!(batch.x, ndarray::array![[4.0, 6.0], [4.0, 6.0]].into_dyn());
    /// assert_eq!(batch.y, BatchTargets::Classes(vec![1, 1]));
    /// # Ok(())
    /// # }
    /// ```
    pub fn gather(&self, indices: &[usize]) -> Batch {
        let mut batch = Batch::default();
        self.gather_into(indices, &mut batch);
        batch
    }

    /// Like [`gather`](Dataset::gather), but refills `batch`, reusing its
    /// buffers: once they have grown to the batch size, later calls allocate nothing.
    ///
    /// # Panics
    ///
    /// If an index is `>= len()`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> keel_data::Result<()> {
    /// use keel_data::{batch_ranges, Batch, Dataset, Targets};
    /// let ds = Dataset::from_u8(vec![0; 50], vec![5], 1.0, Targets::Classes(vec![0; 10]))?;
    /// let order: Vec<usize> = (0..ds.len()).rev().collect();
    /// let mut batch = Batch::default();
    /// for range in batch_ranges(ds.len(), 4)? {
    ///     ds.gather_into(&order[range], &mut batch);
    ///     assert_eq!(batch.x.shape()[1..], [5]);
    /// }
    /// assert_eq!(batch.len(), 2); // the last, smaller batch
    /// # Ok(())
    /// # }
    /// ```
    pub fn gather_into(&self, indices: &[usize], batch: &mut Batch) {
        for &i in indices {
            assert!(
                i < self.len(),
                "gather: index {i} out of range for a dataset of length {}",
                self.len()
            );
        }
        let n = indices.len();
        let (mut x, _) = std::mem::replace(&mut batch.x, empty_array()).into_raw_vec_and_offset();
        // Every element is overwritten below; a reused buffer of the right length is not
        // cleared first (the trainer's pooled batches always have it).
        x.resize(n * self.sample_size, 0.0);
        self.write_features(indices.iter().copied(), &mut x);
        let mut shape = IxDyn::zeros(1 + self.sample_shape().len());
        shape.slice_mut()[0] = n;
        shape.slice_mut()[1..].copy_from_slice(self.sample_shape());
        batch.x =
            ArrayD::from_shape_vec(shape, x).expect("gather: buffer length matches batch shape");

        let rows = indices.iter().map(|&i| self.offset + i);
        match &self.targets {
            TargetStore::Classes { data, .. } => {
                if !matches!(batch.y, BatchTargets::Classes(_)) {
                    batch.y = BatchTargets::Classes(Vec::with_capacity(n));
                }
                if let BatchTargets::Classes(y) = &mut batch.y {
                    y.clear();
                    y.extend(rows.map(|r| data[r]));
                }
            }
            TargetStore::Dense(data) => {
                let old = std::mem::replace(&mut batch.y, BatchTargets::Classes(Vec::new()));
                let mut y = match old {
                    BatchTargets::Dense(a) => a.into_raw_vec_and_offset().0,
                    BatchTargets::Classes(_) => Vec::new(),
                };
                y.clear();
                for r in rows {
                    y.extend(data.row(r).iter().copied());
                }
                let y = Array2::from_shape_vec((n, data.ncols()), y)
                    .expect("gather: buffer length matches target shape");
                batch.y = BatchTargets::Dense(y);
            }
        }
    }

    /// All features of this view as one `f32` array of shape `[len, ..sample_shape]`.
    ///
    /// Converts every sample at once: fine for small sets, prefer
    /// [`gather`](Dataset::gather) batch by batch for large ones.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> keel_data::Result<()> {
    /// use keel_data::{Dataset, Targets};
    /// let ds = Dataset::from_u8(vec![0, 255], vec![1, 1], 1.0 / 255.0, Targets::Classes(vec![0, 1]))?;
    /// let x = ds.x_f32();
    /// assert_eq!(x.shape(), [2, 1, 1]);
    /// assert_eq!(x[[1, 0, 0]], 1.0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn x_f32(&self) -> ArrayD<f32> {
        let mut x = vec![0.0; self.len() * self.sample_size];
        self.write_features(0..self.len(), &mut x);
        let shape: Vec<usize> = std::iter::once(self.len())
            .chain(self.sample_shape().iter().copied())
            .collect();
        ArrayD::from_shape_vec(shape, x).expect("x_f32: buffer length matches shape")
    }

    /// Writes the samples at `indices` (relative, in range) into `out`, one after another,
    /// in the halves [`keel_runtime::plan::batch`] gives on the runtime's threads: the halves
    /// the first layer's product of this batch reads, so each core multiplies what it
    /// wrote, already in its cache.
    fn write_features(&self, indices: impl Iterator<Item = usize> + Clone + Sync, out: &mut [f32]) {
        let size = self.sample_size;
        let rows = out.len().checked_div(size).unwrap_or(0);
        let mut out = ArrayViewMut2::from_shape((rows, size), out)
            .expect("the buffer holds rows × sample size values");
        match keel_runtime::plan::batch(rows, size) {
            BatchCut::Serial => self.write_columns(indices, 0, out),
            BatchCut::Columns { at } => {
                let (first, second) = out.view_mut().split_at(Axis(1), at);
                for_each_piece([(0, first), (at, second)], |(from, out)| {
                    self.write_columns(indices.clone(), from, out)
                });
            }
            BatchCut::Rows { at } => {
                let (first, second) = out.view_mut().split_at(Axis(0), at);
                for_each_piece([(0, first), (at, second)], |(skip, out)| {
                    self.write_columns(indices.clone().skip(skip), 0, out)
                });
            }
        }
    }

    /// Writes features `from..from + out.ncols()` of the samples at `indices` into the rows of
    /// `out`, on the calling thread.
    fn write_columns(
        &self,
        indices: impl Iterator<Item = usize> + Clone,
        from: usize,
        mut out: ArrayViewMut2<'_, f32>,
    ) {
        let (size, width) = (self.sample_size, out.ncols());
        let indices = indices.take(out.nrows());
        if let Features::U8 { data, .. } = &self.features {
            touch_cache_lines(
                data,
                indices.clone().map(|i| (self.offset + i) * size + from),
                width,
            );
        }
        for (mut row, i) in out.rows_mut().into_iter().zip(indices) {
            let start = (self.offset + i) * size + from;
            let row = row
                .as_slice_mut()
                .expect("rows of a row-major buffer are contiguous");
            match &self.features {
                Features::U8 { data, scale } => {
                    bytes_to_f32(&data[start..start + width], *scale, row)
                }
                Features::F32(data) => row.copy_from_slice(&data[start..start + width]),
            }
        }
    }
}

/// Reads one byte of every cache line of the samples starting at `starts`, `size` bytes
/// each. Samples sit at random places in a dataset larger than the cache; these loads are
/// independent, so the processor has dozens of misses in flight at once, where the
/// conversion loop, one sample after another, waits for the prefetcher to find each stream.
fn touch_cache_lines(data: &[u8], starts: impl Iterator<Item = usize>, size: usize) {
    const LINE: usize = 64;
    let mut sum = 0u8;
    for start in starts {
        for &byte in data[start..start + size].iter().step_by(LINE) {
            sum ^= byte;
        }
    }
    std::hint::black_box(sum);
}

/// `out[j] = bytes[j] · scale`, compiled for AVX-512 and AVX2 (picked at run time).
#[multiversion(targets("x86_64+avx512f+avx512bw", "x86_64+avx2+fma"))]
fn bytes_to_f32(bytes: &[u8], scale: f32, out: &mut [f32]) {
    for (o, &b) in out.iter_mut().zip(bytes) {
        *o = f32::from(b) * scale;
    }
}

/// An `[0]`-shaped array, which allocates nothing.
fn empty_array() -> ArrayD<f32> {
    ArrayD::from_shape_vec(IxDyn(&[0]), Vec::new()).expect("shape [0] holds 0 elements")
}
