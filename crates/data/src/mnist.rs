//! The MNIST handwritten digits (LeCun, Cortes & Burges), from IDX files.
//!
//! The repository bundles them under `datasets/mnist/`: 60,000 training and
//! 10,000 test images of 28x28 grey pixels, labelled 0 to 9. [`load_default`]
//! finds them from anywhere inside the repository; [`load`] reads any directory
//! holding the four files, gzipped (`*.gz`) or not.
//!
//! ```
//! # fn main() -> keel_data::Result<()> {
//! let mnist = keel_data::mnist::load_default()?;
//! assert_eq!((mnist.train.len(), mnist.test.len()), (60_000, 10_000));
//! assert_eq!(mnist.train.sample_shape(), [28, 28]);
//! assert_eq!(mnist.train.num_classes(), Some(10));
//! # Ok(())
//! # }
//! ```

use std::path::{Path, PathBuf};

use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::idx::read_idx_of_rank;
use crate::targets::Targets;

/// The environment variable naming a directory that holds the four MNIST files.
pub const ENV_VAR: &str = "KEEL_DATA";
/// The number of digit classes.
pub const NUM_CLASSES: usize = 10;
/// The file names of the training images, training labels, test images and
/// test labels, without the `.gz` that the bundled copies have.
pub const FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];
/// Where the repository bundles MNIST, relative to its root.
const BUNDLED_DIR: &str = "datasets/mnist";

/// The MNIST training and test sets: pixels scaled to `[0, 1]` by 1/255, class labels.
///
/// # Examples
///
/// ```
/// # fn main() -> keel_data::Result<()> {
/// let keel_data::mnist::Mnist { train, test } = keel_data::mnist::load_default()?;
/// let (train, val) = train.split_validation(0.1)?;
/// assert_eq!((train.len(), val.len(), test.len()), (54_000, 6_000, 10_000));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Mnist {
    /// The 60,000 training images.
    pub train: Dataset,
    /// The 10,000 test images.
    pub test: Dataset,
}

/// Reads MNIST from `dir`, which holds the four [`FILES`], each as `NAME.gz`
/// (preferred) or `NAME`. Gzip is detected from the content, not the name.
///
/// Images may be any size (`[n, rows, cols]`); labels must be below 10.
///
/// # Errors
///
/// [`Error::FileNotFound`] listing both names of a missing file, the errors of
/// [`read_idx`](crate::read_idx) for an unreadable or corrupt file, [`Error::IdxDims`] if the
/// images are not 3-dimensional or the labels not 1-dimensional,
/// [`Error::LabelCount`] if image and label counts differ,
/// [`Error::LabelRange`] for a label above 9, and [`Error::EmptyFile`] for a set
/// with no images.
///
/// # Examples
///
/// ```
/// # fn main() -> keel_data::Result<()> {
/// let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/mnist");
/// let mnist = keel_data::mnist::load(root)?;
/// assert_eq!(mnist.test.len(), 10_000);
///
/// let err = keel_data::mnist::load("/nonexistent").unwrap_err();
/// assert!(err.to_string().starts_with("file not found: expected one of /nonexistent/train-images-idx3-ubyte.gz"));
/// # Ok(())
/// # }
/// ```
pub fn load(dir: impl AsRef<Path>) -> Result<Mnist> {
    let dir = dir.as_ref();
    let [train_images, train_labels, test_images, test_labels] =
        FILES.map(|name| locate(dir, name));
    Ok(Mnist {
        train: load_split(&train_images?, &train_labels?)?,
        test: load_split(&test_images?, &test_labels?)?,
    })
}

/// Reads MNIST from the directory named by `KEEL_DATA` if that variable is set,
/// otherwise from the bundled `datasets/mnist`, found by walking up from the
/// current directory and then from this crate's source directory.
///
/// # Errors
///
/// [`Error::DataNotFound`] listing every directory searched, or the errors of
/// [`load`] for the directory chosen.
///
/// # Examples
///
/// ```
/// # fn main() -> keel_data::Result<()> {
/// let mnist = keel_data::mnist::load_default()?;
/// assert_eq!(mnist.train.targets().len(), 60_000);
/// # Ok(())
/// # }
/// ```
pub fn load_default() -> Result<Mnist> {
    load(default_dir()?)
}

/// The directory [`load_default`] reads: `KEEL_DATA` if set, else the first
/// `datasets/mnist` holding the four files found by walking up from the
/// current directory, then from this crate's source directory.
///
/// # Errors
///
/// [`Error::DataNotFound`] listing every directory searched. A `KEEL_DATA`
/// directory is returned without checking it; [`load`] reports what it lacks.
///
/// # Examples
///
/// ```
/// # fn main() -> keel_data::Result<()> {
/// let dir = keel_data::mnist::default_dir()?;
/// assert!(dir.ends_with("datasets/mnist") || std::env::var_os("KEEL_DATA").is_some());
/// # Ok(())
/// # }
/// ```
pub fn default_dir() -> Result<PathBuf> {
    let mut starts: Vec<PathBuf> = std::env::current_dir().into_iter().collect();
    starts.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    find_dir(std::env::var_os(ENV_VAR), &starts)
}

/// `env` if set and non-empty, else the first bundled directory above a start.
fn find_dir(env: Option<std::ffi::OsString>, starts: &[PathBuf]) -> Result<PathBuf> {
    if let Some(dir) = env.filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let mut searched = Vec::new();
    for ancestor in starts.iter().flat_map(|s| s.ancestors()) {
        let dir = ancestor.join(BUNDLED_DIR);
        if searched.contains(&dir) {
            continue;
        }
        if FILES.iter().all(|name| locate(&dir, name).is_ok()) {
            return Ok(dir);
        }
        searched.push(dir);
    }
    Err(Error::DataNotFound {
        dataset: "mnist",
        searched,
    })
}

/// `dir/NAME.gz` if it exists, else `dir/NAME` if it exists.
fn locate(dir: &Path, name: &str) -> Result<PathBuf> {
    let candidates = vec![dir.join(format!("{name}.gz")), dir.join(name)];
    match candidates.iter().find(|p| p.is_file()) {
        Some(path) => Ok(path.clone()),
        None => Err(Error::FileNotFound { candidates }),
    }
}

/// Reads one image file and its label file into a dataset.
fn load_split(images_path: &Path, labels_path: &Path) -> Result<Dataset> {
    let images = read_idx_of_rank(images_path, 3, "3 dimensions [images, rows, columns]")?;
    let labels = read_idx_of_rank(labels_path, 1, "1 dimension [labels]")?;
    if images.dims[0] == 0 {
        return Err(Error::EmptyFile {
            path: images_path.to_path_buf(),
            what: "image",
        });
    }
    if images.dims[0] != labels.dims[0] {
        return Err(Error::LabelCount {
            images_path: images_path.to_path_buf(),
            labels_path: labels_path.to_path_buf(),
            images: images.dims[0],
            labels: labels.dims[0],
        });
    }
    if let Some((index, &label)) = labels
        .data
        .iter()
        .enumerate()
        .find(|(_, &l)| usize::from(l) >= NUM_CLASSES)
    {
        return Err(Error::LabelRange {
            path: labels_path.to_path_buf(),
            index,
            label: u32::from(label),
            num_classes: NUM_CLASSES as u32,
        });
    }
    let sample_shape = images.dims[1..].to_vec();
    let classes = labels.data.iter().map(|&l| u32::from(l)).collect();
    Dataset::from_u8(
        images.data,
        sample_shape,
        1.0 / 255.0,
        Targets::Classes(classes),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(dims: &[u32], payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(payload);
        out
    }

    /// Writes a tiny MNIST-like set (3x2 images) with the given test labels.
    fn write_tiny(dir: &Path, test_labels: &[u8]) {
        std::fs::write(
            dir.join(FILES[0]),
            idx(&[2, 3, 2], &[0, 255, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6]),
        )
        .unwrap();
        std::fs::write(dir.join(FILES[1]), idx(&[2], &[5, 0])).unwrap();
        std::fs::write(dir.join(FILES[2]), idx(&[1, 3, 2], &[9; 6])).unwrap();
        std::fs::write(
            dir.join(FILES[3]),
            idx(&[test_labels.len() as u32], test_labels),
        )
        .unwrap();
    }

    #[test]
    fn loads_the_bundled_mnist() {
        let mnist = load_default().unwrap();
        assert_eq!(mnist.train.len(), 60_000);
        assert_eq!(mnist.test.len(), 10_000);
        assert_eq!(mnist.train.sample_shape(), [28, 28]);
        assert_eq!(mnist.test.sample_shape(), [28, 28]);
        assert_eq!(mnist.train.num_classes(), Some(10));
        let first = mnist.train.gather(&[0]);
        assert_eq!(first.y, Targets::Classes(vec![5]));
        let max = first.x.iter().copied().fold(f32::MIN, f32::max);
        assert_eq!(max, 1.0);
        assert!(first.x.iter().all(|&p| (0.0..=1.0).contains(&p)));
        // Compact storage: one byte per pixel.
        match &mnist.train.features {
            crate::dataset::Features::U8 { data, .. } => assert_eq!(data.len(), 60_000 * 784),
            other => panic!("expected byte storage, found {other:?}"),
        }
    }

    #[test]
    fn loads_raw_files_of_any_image_size() {
        let dir = tempfile::tempdir().unwrap();
        write_tiny(dir.path(), &[3]);
        let mnist = load(dir.path()).unwrap();
        assert_eq!(mnist.train.sample_shape(), [3, 2]);
        assert_eq!(mnist.train.len(), 2);
        assert_eq!(mnist.test.len(), 1);
        assert_eq!(mnist.train.gather(&[0]).x[[0, 0, 1]], 1.0);
    }

    #[test]
    fn rejects_count_mismatch_and_bad_labels() {
        let dir = tempfile::tempdir().unwrap();
        write_tiny(dir.path(), &[3, 4]);
        let err = load(dir.path()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::LabelCount {
                    images: 1,
                    labels: 2,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("t10k-labels-idx1-ubyte"), "{err}");

        write_tiny(dir.path(), &[10]);
        let err = load(dir.path()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::LabelRange {
                    label: 10,
                    index: 0,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn rejects_wrong_ranks() {
        let dir = tempfile::tempdir().unwrap();
        write_tiny(dir.path(), &[3]);
        std::fs::write(dir.path().join(FILES[0]), idx(&[2, 6], &[0; 12])).unwrap();
        let err = load(dir.path()).unwrap_err();
        assert!(matches!(err, Error::IdxDims { .. }), "{err}");
        assert!(err.to_string().contains("train-images-idx3-ubyte"), "{err}");
    }

    #[test]
    fn search_honours_env_then_walks_up() {
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        let env = Some(std::ffi::OsString::from("/data/mnist"));
        assert_eq!(
            find_dir(env, std::slice::from_ref(&deep)).unwrap(),
            Path::new("/data/mnist")
        );

        // Nothing bundled: the error lists every directory looked at.
        let err = find_dir(Some("".into()), std::slice::from_ref(&deep)).unwrap_err();
        let Error::DataNotFound { searched, .. } = &err else {
            panic!("expected DataNotFound, found {err}");
        };
        assert_eq!(searched[0], deep.join("datasets/mnist"));
        assert!(searched.contains(&root.path().join("datasets/mnist")));
        assert!(err.to_string().contains("KEEL_DATA"), "{err}");

        // Bundled two levels up: found from the deeper start.
        let bundled = root.path().join("datasets/mnist");
        std::fs::create_dir_all(&bundled).unwrap();
        write_tiny(&bundled, &[1]);
        assert_eq!(find_dir(None, &[deep]).unwrap(), bundled);
    }

    #[test]
    fn missing_files_list_both_names() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(dir.path()).unwrap_err();
        let Error::FileNotFound { candidates } = &err else {
            panic!("expected FileNotFound, found {err}");
        };
        assert_eq!(candidates[0], dir.path().join("train-images-idx3-ubyte.gz"));
        assert_eq!(candidates[1], dir.path().join("train-images-idx3-ubyte"));
    }
}
