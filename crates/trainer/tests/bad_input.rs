//! The bad-input audit (issue #6, item 5): each mistake a user can make with data or
//! options, through the public API (`Dataset` constructors, `fit`, `evaluate`, `predict`),
//! is an `Err` whose message says what was expected and what was found. One test per case.

use keel_data::{Dataset, Targets};
use keel_layers::{Activation, Dense, Flatten};
use keel_optim::Adam;
use keel_trainer::{FitOptions, Loss, Sequential};
use ndarray::{array, Array2};

/// Two classes of 2-feature samples.
fn data(n: usize) -> Dataset {
    let x = Array2::from_shape_fn((n, 2), |(i, j)| (i + j) as f32 / n as f32).into_dyn();
    Dataset::from_f32(x, Targets::Classes((0..n as u32).map(|i| i % 2).collect())).unwrap()
}

/// A compiled model taking 2 features and predicting 2 classes.
fn model() -> Sequential {
    let mut model = Sequential::new([2]).add(Dense::new(2).activation(Activation::Softmax));
    model
        .compile(Adam::new(1e-3), Loss::SparseCategoricalCrossentropy, &[])
        .unwrap();
    model
}

fn quiet() -> FitOptions<'static> {
    FitOptions::new().verbose(0)
}

fn message<T: std::fmt::Debug, E: std::fmt::Display>(result: Result<T, E>) -> String {
    match result {
        Ok(value) => panic!("expected an error, got Ok({value:?})"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn nan_pixels_are_refused() {
    let x = array![[0.0f32, 1.0], [f32::NAN, 0.5]].into_dyn();
    assert_eq!(
        message(Dataset::from_f32(x, Targets::Classes(vec![0, 1]))),
        "non-finite feature value NaN at index [1, 0]: expected finite numbers"
    );
}

#[test]
fn infinite_pixels_are_refused() {
    let x = array![[0.0f32, f32::NEG_INFINITY]].into_dyn();
    assert_eq!(
        message(Dataset::from_f32(x, Targets::Classes(vec![0]))),
        "non-finite feature value -inf at index [0, 1]: expected finite numbers"
    );
    // Byte pixels cannot be NaN, but their scale can be infinite.
    assert_eq!(
        message(Dataset::from_u8(
            vec![1, 2],
            vec![2],
            f32::INFINITY,
            Targets::Classes(vec![0])
        )),
        "invalid pixel scale: expected a finite number with 255 * scale finite (|scale| <= 1.3e36), found inf"
    );
}

#[test]
fn nan_targets_are_refused() {
    let x = array![[0.0f32], [1.0]].into_dyn();
    assert_eq!(
        message(Dataset::from_f32(
            x,
            Targets::Dense(array![[0.5], [f32::NAN]])
        )),
        "non-finite target value NaN at index [1, 0]: expected finite numbers"
    );
}

#[test]
fn labels_out_of_range_for_the_output_layer_are_refused_by_fit_and_evaluate() {
    let x = Array2::from_elem((3, 2), 0.5f32).into_dyn();
    let data = Dataset::from_f32(x, Targets::Classes(vec![0, 1, 7])).unwrap();
    let expected = "sparse_categorical_crossentropy: expected labels in 0..2 (the output \
                    layer has 2 units), found label 7";
    assert_eq!(message(model().fit(&data, quiet())), expected);
    assert_eq!(message(model().evaluate(&data)), expected);
}

#[test]
fn images_and_labels_of_different_counts_are_refused() {
    let expected = "sample count mismatch: expected 3 targets (one per feature sample), found 2";
    let pixels = vec![0u8; 3 * 4];
    let labels = Targets::Classes(vec![0, 1]);
    assert_eq!(
        message(Dataset::from_u8(
            pixels,
            vec![2, 2],
            1.0 / 255.0,
            labels.clone()
        )),
        expected
    );
    let x = Array2::<f32>::zeros((3, 4)).into_dyn();
    assert_eq!(message(Dataset::from_f32(x, labels)), expected);
}

/// Writes raw MNIST-named IDX files: 2x2 images and their labels.
fn write_mnist(dir: &std::path::Path, train_images: u32, train_labels: &[u8], test_labels: &[u8]) {
    let idx = |dims: &[u32], payload: Vec<u8>| {
        let mut out = vec![0, 0, 0x08, dims.len() as u8];
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend(payload);
        out
    };
    let images = |n: u32| idx(&[n, 2, 2], vec![7; 4 * n as usize]);
    let labels = |l: &[u8]| idx(&[l.len() as u32], l.to_vec());
    for (name, bytes) in [
        ("train-images-idx3-ubyte", images(train_images)),
        ("train-labels-idx1-ubyte", labels(train_labels)),
        ("t10k-images-idx3-ubyte", images(1)),
        ("t10k-labels-idx1-ubyte", labels(test_labels)),
    ] {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

#[test]
fn idx_files_with_different_image_and_label_counts_or_bad_labels_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).display().to_string();
    write_mnist(dir.path(), 3, &[1, 2], &[0]);
    assert_eq!(
        message(keel_data::mnist::load(dir.path())),
        format!(
            "label count mismatch: expected 3 labels in {} (one per image in {}), found 2",
            at("train-labels-idx1-ubyte"),
            at("train-images-idx3-ubyte")
        )
    );
    write_mnist(dir.path(), 2, &[1, 2], &[10]);
    assert_eq!(
        message(keel_data::mnist::load(dir.path())),
        format!(
            "label 10 at index 0 in {} out of range: expected a class below 10",
            at("t10k-labels-idx1-ubyte")
        )
    );
}

#[test]
fn an_empty_dataset_is_refused_by_constructors_and_by_fit_evaluate_and_predict() {
    let expected = "empty dataset: expected at least one sample, found 0";
    assert_eq!(
        message(Dataset::from_u8(
            Vec::new(),
            vec![2],
            1.0,
            Targets::Classes(Vec::new())
        )),
        expected
    );
    let x = Array2::<f32>::zeros((0, 2)).into_dyn();
    assert_eq!(
        message(Dataset::from_f32(x, Targets::Classes(Vec::new()))),
        expected
    );
    // Views may be empty; training or evaluating on one is an error, not a NaN loss.
    let empty = data(4).slice(4..).unwrap();
    assert_eq!(message(model().fit(&empty, quiet())), expected);
    assert_eq!(message(model().evaluate(&empty)), expected);
    assert_eq!(message(model().predict(&empty)), expected);
    let with_empty_validation = quiet().validation_data(empty);
    assert_eq!(
        message(model().fit(&data(4), with_empty_validation)),
        expected
    );
}

#[test]
fn a_batch_size_of_zero_is_refused() {
    assert_eq!(
        message(model().fit(&data(4), quiet().batch_size(0))),
        "batch_size must be at least 1, found 0"
    );
    assert_eq!(
        message(model().fit(&data(4), quiet().validation_batch_size(0))),
        "validation_batch_size must be at least 1, found 0"
    );
    assert_eq!(
        message(model().predict_batched(&data(4), 0)),
        "batch_size must be at least 1, found 0"
    );
}

#[test]
fn a_validation_split_outside_zero_to_one_is_refused() {
    for (split, shown) in [(1.0, "1"), (1.5, "1.5"), (-0.1, "-0.1"), (f32::NAN, "NaN")] {
        assert_eq!(
            message(model().fit(&data(10), quiet().validation_split(split))),
            format!("validation_split must be in [0, 1), found {shown}")
        );
    }
    // In range, but leaving no validation sample.
    let msg = message(model().fit(&data(1), quiet().validation_split(0.5)));
    assert!(
        msg.starts_with(
            "cannot split 1 samples with validation fraction 0.5: expected at least \
                         one training and one validation sample, found 0 and 1"
        ),
        "{msg}"
    );
}

#[test]
fn zero_epochs_are_refused() {
    assert_eq!(
        message(model().fit(&data(4), quiet().epochs(0))),
        "epochs must be at least 1, found 0"
    );
    assert_eq!(
        message(model().fit(&data(4), quiet().epochs(2).initial_epoch(2))),
        "initial_epoch must be less than epochs, found 2 with epochs = 2"
    );
}

#[test]
fn an_input_shape_that_does_not_match_the_model_is_refused_everywhere() {
    let mut images = Sequential::new([28, 28])
        .add(Flatten::new())
        .add(Dense::new(2).activation(Activation::Softmax));
    images
        .compile(Adam::new(1e-3), Loss::SparseCategoricalCrossentropy, &[])
        .unwrap();
    let expected = "input shape mismatch: the model expects samples of shape [28, 28], found [2]";
    assert_eq!(message(images.fit(&data(4), quiet())), expected);
    assert_eq!(message(images.evaluate(&data(4))), expected);
    assert_eq!(message(images.predict(&data(4))), expected);
    let three_features = Dataset::from_f32(
        Array2::<f32>::zeros((2, 3)).into_dyn(),
        Targets::Classes(vec![0, 1]),
    )
    .unwrap();
    assert_eq!(
        message(model().fit(&data(4), quiet().validation_data(three_features))),
        "input shape mismatch: the model expects samples of shape [2], found [3]"
    );
}

#[test]
fn a_model_whose_layers_do_not_fit_is_refused_by_predict() {
    let unbuilt = Sequential::new([2, 2]).add(Dense::new(3)); // no Flatten
    let x = Array2::<f32>::zeros((1, 4))
        .into_shape_with_order((1, 2, 2))
        .unwrap()
        .into_dyn();
    let images = Dataset::from_f32(x, Targets::Classes(vec![0])).unwrap();
    assert_eq!(
        message(unbuilt.predict(&images)),
        "dense: expected input shape [features] (rank 1; add a Flatten layer first), found [2, 2]"
    );
}
