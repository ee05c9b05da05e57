//! Hostile inputs to every public loader: huge and tiny scales, empty and wrong-rank files,
//! non-finite features. Each is a clear `Err` naming its cause, or data whose batches are
//! finite; none panics.

use keel_data::mnist::{self, FILES};
use keel_data::{Dataset, Error, Targets};
use ndarray::ArrayD;
use std::path::Path;

/// An IDX file of unsigned bytes with the given dims and payload.
fn idx(dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(payload);
    out
}

/// A tiny MNIST directory (2×2 images) whose training images file is `train_images`.
fn mnist_dir(train_images: Vec<u8>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: Vec<u8>| std::fs::write(dir.path().join(name), bytes);
    write(FILES[0], train_images).unwrap();
    write(FILES[1], idx(&[1], &[3])).unwrap();
    write(FILES[2], idx(&[1, 2, 2], &[1, 2, 3, 4])).unwrap();
    write(FILES[3], idx(&[1], &[7])).unwrap();
    dir
}

fn load_err(dir: &Path) -> String {
    mnist::load(dir).map(|_| ()).unwrap_err().to_string()
}

#[test]
fn a_scale_that_makes_a_bright_pixel_infinite_is_refused() {
    // 255 * 1e37 overflows f32: before, the dataset was built and batches held inf.
    for scale in [1e37, f32::MAX, -1e38, f32::NAN, f32::INFINITY] {
        let err =
            Dataset::from_u8(vec![255, 0], vec![2], scale, Targets::Classes(vec![0])).unwrap_err();
        assert!(matches!(err, Error::InvalidScale { .. }), "{scale}: {err}");
        assert!(err.to_string().contains("255 * scale"), "{err}");
    }
}

#[test]
fn huge_and_tiny_finite_scales_give_finite_batches() {
    for scale in [1e36, 1e-38, -1e30, 0.0, f32::MIN_POSITIVE / 1024.0] {
        let data =
            Dataset::from_u8(vec![255, 7], vec![2], scale, Targets::Classes(vec![0])).unwrap();
        let batch = data.gather(&[0]);
        assert!(batch.x.iter().all(|x| x.is_finite()), "{scale}");
    }
}

#[test]
fn an_idx_file_with_zero_images_names_the_file() {
    let dir = mnist_dir(idx(&[0, 2, 2], &[]));
    let msg = load_err(dir.path());
    assert!(
        msg.contains(FILES[0]) && msg.contains("no samples") && msg.contains("image"),
        "{msg}"
    );
}

#[test]
fn an_idx_header_of_the_wrong_rank_says_how_many_dimensions_it_needs() {
    // A 3-D file whose rank byte says 4: the payload must not be read as a 4th dimension.
    let mut bytes = idx(&[1, 2, 2], &[1, 2, 3, 4]);
    bytes[3] = 4;
    let msg = load_err(mnist_dir(bytes).path());
    assert!(
        msg.contains("expected 3 dimensions") && msg.contains(FILES[0]),
        "{msg}"
    );
    // Too few dimensions, down to one.
    for dims in [&[4, 1][..], &[4]] {
        let msg = load_err(mnist_dir(idx(dims, &[1, 2, 3, 4])).path());
        assert!(msg.contains("expected 3 dimensions"), "{dims:?}: {msg}");
    }
}

#[test]
fn truncated_empty_and_garbage_files_are_errors_naming_the_file() {
    let cases: [Vec<u8>; 5] = [
        Vec::new(),
        vec![0, 0],
        vec![0x1f, 0x8b, 1, 2, 3],
        idx(&[1, 2, 2], &[1, 2]),
        idx(&[u32::MAX, u32::MAX, u32::MAX], &[]),
    ];
    for bytes in cases {
        let msg = load_err(mnist_dir(bytes.clone()).path());
        assert!(msg.contains(FILES[0]), "{bytes:?}: {msg}");
    }
}

#[test]
fn non_finite_or_empty_features_are_refused() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let x = ArrayD::from_shape_vec(vec![2, 1], vec![1.0, bad]).unwrap();
        let err = Dataset::from_f32(x, Targets::Classes(vec![0, 1])).unwrap_err();
        assert!(matches!(err, Error::NonFinite { .. }), "{err}");
    }
    let empty = ArrayD::<f32>::zeros(vec![0, 3]);
    assert!(Dataset::from_f32(empty, Targets::Classes(vec![])).is_err());
    let scalar = ArrayD::from_elem(vec![], 1.0);
    assert!(Dataset::from_f32(scalar, Targets::Classes(vec![0])).is_err());
}

#[test]
fn huge_and_tiny_finite_features_are_kept_exactly() {
    let values = vec![
        1e20,
        -1e20,
        1e-38,
        f32::MAX,
        -f32::MAX,
        f32::MIN_POSITIVE / 8.0,
    ];
    let x = ArrayD::from_shape_vec(vec![6, 1], values.clone()).unwrap();
    let data = Dataset::from_f32(x, Targets::Classes(vec![0; 6])).unwrap();
    let batch = data.gather(&[0, 1, 2, 3, 4, 5]);
    assert_eq!(batch.x.iter().copied().collect::<Vec<_>>(), values);
}
