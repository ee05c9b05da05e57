//! `Dataset` construction errors, views, validation splits and batch gathering.

use keel_data::{Batch, BatchTargets, Dataset, Error, Targets, TargetsView};
use ndarray::{array, Array2, ArrayD, IxDyn, ShapeBuilder as _};

/// `n` samples of shape `[2, 3]` whose pixel `k` of sample `i` is `10 * i + k`.
fn images(n: usize) -> Dataset {
    let pixels: Vec<u8> = (0..n)
        .flat_map(|i| (0..6).map(move |k| (10 * i + k) as u8))
        .collect();
    let labels = (0..n as u32).map(|i| i % 4).collect();
    Dataset::from_u8(pixels, vec![2, 3], 0.5, Targets::Classes(labels)).unwrap()
}

#[test]
fn from_u8_errors() {
    let classes = |n| Targets::Classes(vec![0; n]);
    let err = Dataset::from_u8(vec![], vec![2], 1.0, classes(0)).unwrap_err();
    assert!(matches!(err, Error::Empty), "{err}");
    let err = Dataset::from_u8(vec![0; 4], vec![2, 0], 1.0, classes(2)).unwrap_err();
    assert!(matches!(err, Error::EmptySample { .. }), "{err}");
    let err = Dataset::from_u8(vec![0; 7], vec![2, 2], 1.0, classes(2)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::PixelCount {
                pixels: 7,
                sample_size: 4,
                ..
            }
        ),
        "{err}"
    );
    let err = Dataset::from_u8(vec![0; 6], vec![usize::MAX, 2], 1.0, classes(1)).unwrap_err();
    assert!(matches!(err, Error::PixelCount { .. }), "{err}");
    let err = Dataset::from_u8(vec![0; 8], vec![2, 2], 1.0, classes(3)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::CountMismatch {
                features: 2,
                targets: 3
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "sample count mismatch: expected 2 targets (one per feature sample), found 3"
    );
    let err = Dataset::from_u8(vec![0; 4], vec![2], f32::NAN, classes(2)).unwrap_err();
    assert!(matches!(err, Error::InvalidScale { .. }), "{err}");
    let dense = Targets::Dense(array![[0.0], [f32::INFINITY]]);
    let err = Dataset::from_u8(vec![0; 4], vec![2], 1.0, dense).unwrap_err();
    assert!(
        matches!(&err, Error::NonFinite { what: "target", index, .. } if index == &[1, 0]),
        "{err}"
    );
}

#[test]
fn from_f32_errors() {
    let err = Dataset::from_f32(ArrayD::zeros(IxDyn(&[])), Targets::Classes(vec![0])).unwrap_err();
    assert!(matches!(err, Error::FeatureRank { found: 0 }), "{err}");
    let err =
        Dataset::from_f32(ArrayD::zeros(IxDyn(&[0, 3])), Targets::Classes(vec![])).unwrap_err();
    assert!(matches!(err, Error::Empty), "{err}");
    let err =
        Dataset::from_f32(ArrayD::zeros(IxDyn(&[2, 0])), Targets::Classes(vec![0, 0])).unwrap_err();
    assert!(matches!(err, Error::EmptySample { .. }), "{err}");
    let mut x = ArrayD::<f32>::zeros(IxDyn(&[3, 2, 2]));
    x[[1, 0, 1]] = f32::NEG_INFINITY;
    x[[2, 0, 0]] = f32::NAN;
    let err = Dataset::from_f32(x, Targets::Classes(vec![0; 3])).unwrap_err();
    assert!(
        matches!(&err, Error::NonFinite { what: "feature", index, .. } if index == &[1, 0, 1]),
        "{err}"
    );
    let err =
        Dataset::from_f32(ArrayD::zeros(IxDyn(&[3, 1])), Targets::Classes(vec![0; 2])).unwrap_err();
    assert!(
        matches!(
            err,
            Error::CountMismatch {
                features: 3,
                targets: 2
            }
        ),
        "{err}"
    );
}

#[test]
fn from_f32_accepts_non_standard_layouts() {
    let x = array![[1.0_f32, 2.0], [3.0, 4.0], [5.0, 6.0]];
    let transposed = Array2::from_shape_vec((3, 2).f(), vec![1.0_f32, 3.0, 5.0, 2.0, 4.0, 6.0])
        .unwrap()
        .into_dyn(); // column-major
    assert!(!transposed.is_standard_layout());
    let ds = Dataset::from_f32(transposed, Targets::Classes(vec![0, 1, 2])).unwrap();
    assert_eq!(ds.x_f32(), x.clone().into_dyn());
    // An array whose buffer starts after an offset.
    let mut y = array![[0.0_f32, 0.0], [1.0, 2.0], [3.0, 4.0], [5.0, 6.0]];
    y.slice_collapse(ndarray::s![1.., ..]);
    let ds = Dataset::from_f32(y.into_dyn(), Targets::Classes(vec![0; 3])).unwrap();
    assert_eq!(ds.x_f32(), x.into_dyn());
}

#[test]
fn accessors() {
    let ds = images(5);
    assert_eq!(ds.len(), 5);
    assert!(!ds.is_empty());
    assert_eq!(ds.sample_shape(), [2, 3]);
    assert_eq!(ds.sample_size(), 6);
    assert_eq!(ds.num_classes(), Some(4));
    assert_eq!(ds.targets(), TargetsView::Classes(&[0, 1, 2, 3, 0]));
    let dense = Dataset::from_u8(
        vec![0; 2],
        vec![1],
        1.0,
        Targets::Dense(Array2::zeros((2, 3))),
    )
    .unwrap();
    assert_eq!(dense.num_classes(), None);
}

#[test]
fn slices_are_views_relative_to_their_parent() {
    let ds = images(10);
    let mid = ds.slice(2..8).unwrap();
    let inner = mid.slice(1..=2).unwrap();
    assert_eq!(inner.len(), 2);
    assert_eq!(inner.targets(), TargetsView::Classes(&[3, 0]));
    assert_eq!(inner.gather(&[0]).x[[0, 0, 0]], 15.0); // sample 3, pixel 30 * 0.5
    assert!(ds.slice(..).unwrap().len() == 10);
    assert!(ds.slice(10..).unwrap().is_empty());
    let err = mid.slice(3..7).unwrap_err();
    assert!(
        matches!(
            err,
            Error::SliceRange {
                start: 3,
                end: 7,
                len: 6
            }
        ),
        "{err}"
    );
    #[allow(clippy::reversed_empty_ranges)]
    let err = ds.slice(5..4).unwrap_err();
    assert!(matches!(err, Error::SliceRange { .. }), "{err}");
    let (a, b) = ds.split_at(4).unwrap();
    assert_eq!((a.len(), b.len()), (4, 6));
    assert!(matches!(
        ds.split_at(11),
        Err(Error::SplitPoint { mid: 11, len: 10 })
    ));
}

#[test]
fn split_validation_counts_follow_keras() {
    let ds = Dataset::from_u8(
        vec![0; 60_000],
        vec![1],
        1.0,
        Targets::Classes(vec![0; 60_000]),
    )
    .unwrap();
    // Keras: split_at = floor(n * (1 - fraction)), validation = the rest.
    for (fraction, train) in [
        (0.1, 54_000),
        (0.2, 48_000),
        (0.25, 45_000),
        (0.3, 42_000),
        (0.7, 18_000),
    ] {
        let (t, v) = ds.split_validation(fraction).unwrap();
        assert_eq!(
            (t.len(), v.len()),
            (train, 60_000 - train),
            "fraction {fraction}"
        );
    }
    let small = images(10);
    for (fraction, train) in [(0.05, 9), (0.15, 8), (0.33, 6), (0.9, 1)] {
        let (t, v) = small.split_validation(fraction).unwrap();
        assert_eq!(
            (t.len(), v.len()),
            (train, 10 - train),
            "fraction {fraction}"
        );
    }
    // A tiny fraction of many samples still leaves one for validation.
    let many = Dataset::from_u8(
        vec![0; 1_000_000],
        vec![],
        1.0,
        Targets::Classes(vec![0; 1_000_000]),
    )
    .unwrap();
    let (t, v) = many.split_validation(1e-7).unwrap();
    assert_eq!((t.len(), v.len()), (999_999, 1));
    // Validation is the last part, in order.
    let (_, v) = small.split_validation(0.2).unwrap();
    assert_eq!(v.targets(), TargetsView::Classes(&[0, 1]));
    // 0 means no validation.
    let (t, v) = small.split_validation(0.0).unwrap();
    assert_eq!((t.len(), v.len()), (10, 0));
}

#[test]
fn split_validation_errors() {
    let ds = images(3);
    for bad in [1.0, 1.5, -0.1, f32::NAN, f32::INFINITY] {
        let err = ds.split_validation(bad).unwrap_err();
        assert!(matches!(err, Error::ValidationSplit { .. }), "{err}");
    }
    let err = ds.split_validation(0.99).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ValidationSplitSize {
                len: 3,
                train: 0,
                validation: 3,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn gather_converts_and_orders_samples() {
    let ds = images(4);
    let batch = ds.gather(&[3, 0, 3]);
    assert_eq!(batch.x.shape(), [3, 2, 3]);
    let expected: Vec<f32> = [
        30, 31, 32, 33, 34, 35, 0, 1, 2, 3, 4, 5, 30, 31, 32, 33, 34, 35,
    ]
    .iter()
    .map(|&p| p as f32 * 0.5)
    .collect();
    assert_eq!(batch.x.iter().copied().collect::<Vec<_>>(), expected);
    assert_eq!(batch.y, BatchTargets::Classes(vec![3, 0, 3]));
    assert!(ds.gather(&[]).is_empty());
    assert_eq!(ds.gather(&[]).x.shape(), [0, 2, 3]);
}

#[test]
fn a_large_batch_gathered_in_two_halves_matches_row_by_row() {
    let ds = images(40);
    let order: Vec<usize> = (0..40).map(|i| (i * 7) % 40).collect();
    let batch = ds.gather(&order[..33]);
    for (row, &i) in order[..33].iter().enumerate() {
        let want = ds.gather(&[i]).x; // one row: gathered on one thread
        assert_eq!(
            batch.x.index_axis(ndarray::Axis(0), row),
            want.index_axis(ndarray::Axis(0), 0),
            "row {row}"
        );
    }
    assert_eq!(ds.x_f32(), ds.gather(&(0..40).collect::<Vec<_>>()).x);
    // Samples at least four times longer than the batch are cut into two halves each
    // (an odd length into unequal ones) rather than the batch into two halves of its rows.
    let pixels = (0..40 * 201).map(|p| (p % 251) as u8).collect();
    let long = Dataset::from_u8(pixels, vec![201], 1.0, Targets::Classes(vec![0; 40])).unwrap();
    let batch = long.gather(&order[..33]);
    for (row, &i) in order[..33].iter().enumerate() {
        let want: Vec<f32> = (0..201).map(|k| ((i * 201 + k) % 251) as f32).collect();
        let got: Vec<f32> = batch
            .x
            .index_axis(ndarray::Axis(0), row)
            .iter()
            .copied()
            .collect();
        assert_eq!(got, want, "row {row}");
    }
}

#[test]
fn gather_into_reuses_buffers_and_switches_target_kinds() {
    let y = array![[1.0_f32, 0.0], [0.0, 1.0], [0.5, 0.5]];
    let x = array![[1.0_f32], [2.0], [3.0]].into_dyn();
    let dense = Dataset::from_f32(x, Targets::Dense(y)).unwrap();
    let classes = images(3);

    let mut batch = Batch::default();
    classes.gather_into(&[0, 1, 2], &mut batch);
    let x_ptr = batch.x.as_ptr();
    classes.gather_into(&[2, 1], &mut batch);
    assert_eq!(batch.x.as_ptr(), x_ptr, "x buffer reused");
    assert_eq!(batch.y, BatchTargets::Classes(vec![2, 1]));

    dense.slice(1..).unwrap().gather_into(&[1, 0], &mut batch);
    assert_eq!(batch.x, array![[3.0_f32], [2.0]].into_dyn());
    assert_eq!(batch.y, BatchTargets::Dense(array![[0.5, 0.5], [0.0, 1.0]]));
    assert_eq!(batch.len(), 2);
    classes.gather_into(&[0], &mut batch);
    assert_eq!(batch.y, BatchTargets::Classes(vec![0]));
}

#[test]
#[should_panic(expected = "gather: index 2 out of range for a dataset of length 2")]
fn gather_out_of_range_panics() {
    images(4).slice(..2).unwrap().gather(&[1, 2]);
}

#[test]
fn clones_and_views_share_storage() {
    let ds = images(3);
    let a = ds.slice(..).unwrap().x_f32();
    let b = ds.clone().x_f32();
    assert_eq!(a, b);
    assert_eq!(ds.targets().to_targets(), Targets::Classes(vec![0, 1, 2]));
}
