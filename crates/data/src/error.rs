//! The one error type of `keel-data`, and its [`Result`] alias.
//!
//! Every message is lowercase, has no trailing period, says what was expected
//! and what was found, and names the file when one is involved.

use std::fmt::Write as _;
use std::path::PathBuf;

/// What can go wrong while reading, building, slicing or batching data.
///
/// Variants whose `path` is an `Option` come from [`parse_idx`](crate::parse_idx),
/// which sees only bytes (`None`); [`read_idx`](crate::read_idx) fills in the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A file starts with the gzip magic bytes but does not decompress.
    #[error("cannot decompress gzip file {}: {source}", path.display())]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        source: std::io::Error,
    },
    /// The IDX header ends early.
    #[error(
        "truncated idx header{}: expected at least {expected} bytes, found {found}",
        at(path)
    )]
    IdxHeader {
        /// The file, if the bytes came from one.
        path: Option<PathBuf>,
        /// How many header bytes the format needs.
        expected: usize,
        /// How many bytes there are.
        found: usize,
    },
    /// The first two bytes of an IDX file are not zero.
    #[error(
        "invalid idx magic{}: expected 00 00 <type> <ndims>, found {}",
        at(path),
        hex(found)
    )]
    IdxMagic {
        /// The file, if the bytes came from one.
        path: Option<PathBuf>,
        /// The first four bytes.
        found: [u8; 4],
    },
    /// The IDX element type is not `0x08` (unsigned byte).
    #[error(
        "unsupported idx element type 0x{code:02x}{}: expected 0x08 (unsigned byte)",
        at(path)
    )]
    IdxType {
        /// The file, if the bytes came from one.
        path: Option<PathBuf>,
        /// The type code found in the third magic byte.
        code: u8,
    },
    /// The IDX dimensions are not the ones the reader needs.
    #[error(
        "unexpected idx dimensions{}: expected {expected}, found {found:?}",
        at(path)
    )]
    IdxDims {
        /// The file, if the bytes came from one.
        path: Option<PathBuf>,
        /// The dimensions wanted, in words.
        expected: &'static str,
        /// The dimensions found.
        found: Vec<usize>,
    },
    /// The product of the IDX dimensions does not fit in `usize`.
    #[error(
        "idx dimensions {dims:?}{} overflow: expected a total size below {}",
        at(path),
        usize::MAX
    )]
    IdxOverflow {
        /// The file, if the bytes came from one.
        path: Option<PathBuf>,
        /// The dimensions as stored.
        dims: Vec<u64>,
    },
    /// The IDX payload is shorter than its dimensions say.
    #[error("truncated idx data{}: expected {expected} payload bytes for dimensions {dims:?}, found {found}", at(path))]
    IdxTruncated {
        /// The file, if the bytes came from one.
        path: Option<PathBuf>,
        /// The dimensions from the header.
        dims: Vec<usize>,
        /// The payload length the dimensions imply.
        expected: usize,
        /// The payload length present.
        found: usize,
    },
    /// The IDX payload is longer than its dimensions say.
    #[error("trailing bytes after idx data{}: expected {expected} payload bytes for dimensions {dims:?}, found {found}", at(path))]
    IdxTrailingBytes {
        /// The file, if the bytes came from one.
        path: Option<PathBuf>,
        /// The dimensions from the header.
        dims: Vec<usize>,
        /// The payload length the dimensions imply.
        expected: usize,
        /// The payload length present.
        found: usize,
    },
    /// An IDX file holds no samples (its first dimension is 0).
    #[error(
        "{} holds no samples: expected at least one {what} (its first dimension is 0)",
        path.display()
    )]
    EmptyFile {
        /// The file.
        path: PathBuf,
        /// What a sample is, such as `"image"`.
        what: &'static str,
    },
    /// A dataset was built from no samples.
    #[error("empty dataset: expected at least one sample, found 0")]
    Empty,
    /// A feature array has no sample axis.
    #[error("invalid feature array: expected at least 1 axis (axis 0 = samples), found {found}")]
    FeatureRank {
        /// The number of axes found.
        found: usize,
    },
    /// A sample shape has a zero dimension.
    #[error("invalid sample shape {shape:?}: expected every dimension to be at least 1")]
    EmptySample {
        /// The sample shape.
        shape: Vec<usize>,
    },
    /// The pixel count is not a whole number of samples.
    #[error("pixel count {pixels} is not a multiple of the sample size {sample_size} (sample shape {sample_shape:?}): expected whole samples")]
    PixelCount {
        /// The number of pixels given.
        pixels: usize,
        /// The sample shape given.
        sample_shape: Vec<usize>,
        /// The product of `sample_shape`.
        sample_size: usize,
    },
    /// Features and targets have different sample counts.
    #[error("sample count mismatch: expected {features} targets (one per feature sample), found {targets}")]
    CountMismatch {
        /// The number of feature samples.
        features: usize,
        /// The number of targets.
        targets: usize,
    },
    /// A feature or target value is NaN or infinite.
    #[error("non-finite {what} value {value} at index {index:?}: expected finite numbers")]
    NonFinite {
        /// `"feature"` or `"target"`.
        what: &'static str,
        /// The index of the first bad value (axis 0 = sample).
        index: Vec<usize>,
        /// The bad value.
        value: f32,
    },
    /// A pixel scale is NaN or infinite, or so large that `255 * scale` is.
    #[error(
        "invalid pixel scale: expected a finite number with 255 * scale finite (|scale| <= \
         1.3e36), found {found}"
    )]
    InvalidScale {
        /// The scale given.
        found: f32,
    },
    /// A validation fraction is outside `[0, 1)`.
    #[error("invalid validation split: expected a fraction in [0, 1), found {found}")]
    ValidationSplit {
        /// The fraction given.
        found: f32,
    },
    /// A validation split would leave the training or the validation part empty.
    #[error("cannot split {len} samples with validation fraction {fraction}: expected at least one training and one validation sample, found {train} and {validation}")]
    ValidationSplitSize {
        /// The number of samples to split.
        len: usize,
        /// The fraction given.
        fraction: f32,
        /// The training samples the split would give.
        train: usize,
        /// The validation samples the split would give.
        validation: usize,
    },
    /// A sample range does not fit in the dataset.
    #[error(
        "invalid sample range {start}..{end}: expected start <= end <= {len} (the dataset length)"
    )]
    SliceRange {
        /// First sample of the range.
        start: usize,
        /// One past the last sample of the range.
        end: usize,
        /// The dataset's length.
        len: usize,
    },
    /// A split point is past the end of the dataset.
    #[error("invalid split point {mid}: expected at most {len} (the dataset length)")]
    SplitPoint {
        /// The split point given.
        mid: usize,
        /// The dataset's length.
        len: usize,
    },
    /// A batch size of zero.
    #[error("invalid batch size: expected at least 1, found {found}")]
    BatchSize {
        /// The batch size given.
        found: usize,
    },
    /// An image file and its label file hold different numbers of samples.
    #[error("label count mismatch: expected {images} labels in {} (one per image in {}), found {labels}", labels_path.display(), images_path.display())]
    LabelCount {
        /// The image file.
        images_path: PathBuf,
        /// The label file.
        labels_path: PathBuf,
        /// The number of images.
        images: usize,
        /// The number of labels.
        labels: usize,
    },
    /// A class label is not below the number of classes.
    #[error("label {label} at index {index} in {} out of range: expected a class below {num_classes}", path.display())]
    LabelRange {
        /// The label file.
        path: PathBuf,
        /// The sample index.
        index: usize,
        /// The label found.
        label: u32,
        /// The number of classes.
        num_classes: u32,
    },
    /// None of the accepted names of a file exists.
    #[error("file not found: expected one of {}", list(candidates))]
    FileNotFound {
        /// The paths tried, in order of preference.
        candidates: Vec<PathBuf>,
    },
    /// A bundled dataset directory was not found anywhere.
    #[error("{dataset} data not found: expected its files in one of {} (or in the directory named by the KEEL_DATA environment variable)", list(searched))]
    DataNotFound {
        /// The dataset's name, e.g. `"mnist"`.
        dataset: &'static str,
        /// The directories searched, in order.
        searched: Vec<PathBuf>,
    },
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// `" in <path>"`, or nothing for in-memory bytes.
fn at(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map(|p| format!(" in {}", p.display()))
        .unwrap_or_default()
}

/// Bytes as space-separated lowercase hex pairs.
fn hex(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, b) in bytes.iter().enumerate() {
        let sep = if i == 0 { "" } else { " " };
        let _ = write!(out, "{sep}{b:02x}");
    }
    out
}

/// Paths separated by commas.
fn list(paths: &[PathBuf]) -> String {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    shown.join(", ")
}

impl Error {
    /// Attaches `path` to an IDX format error that came from in-memory bytes.
    pub(crate) fn with_path(mut self, file: &std::path::Path) -> Self {
        match &mut self {
            Error::IdxHeader { path, .. }
            | Error::IdxMagic { path, .. }
            | Error::IdxType { path, .. }
            | Error::IdxDims { path, .. }
            | Error::IdxOverflow { path, .. }
            | Error::IdxTruncated { path, .. }
            | Error::IdxTrailingBytes { path, .. } => *path = Some(file.to_path_buf()),
            _ => {}
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_send_sync_static() {
        fn check<T: Send + Sync + 'static + std::error::Error>() {}
        check::<Error>();
    }

    #[test]
    fn messages_name_expected_found_and_path() {
        let e = Error::IdxMagic {
            path: None,
            found: [1, 2, 8, 3],
        };
        assert_eq!(
            e.to_string(),
            "invalid idx magic: expected 00 00 <type> <ndims>, found 01 02 08 03"
        );
        let e = e.with_path(std::path::Path::new("/d/x.idx"));
        assert_eq!(
            e.to_string(),
            "invalid idx magic in /d/x.idx: expected 00 00 <type> <ndims>, found 01 02 08 03"
        );
        let e = Error::FileNotFound {
            candidates: vec!["a.gz".into(), "a".into()],
        };
        assert_eq!(e.to_string(), "file not found: expected one of a.gz, a");
    }
}
