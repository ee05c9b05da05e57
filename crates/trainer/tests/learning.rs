//! Every loss trains a small model on data it can fit.

mod common;
use common::{two_cluster_classes, two_clusters};
use keel_data::{Dataset, Targets};
use keel_layers::{Activation, Dense};
use keel_optim::{Adam, Clipping, Sgd};
use keel_trainer::{FitOptions, Loss, Metric, Sequential};

fn fit_and_score(mut model: Sequential, data: &Dataset, loss: Loss) -> (f64, f64, f64) {
    model
        .compile(Adam::new(0.05), loss, &[Metric::Accuracy])
        .unwrap();
    let before = model.evaluate(data).unwrap().get("loss").unwrap();
    model
        .fit(data, FitOptions::new().epochs(30).batch_size(16).verbose(0))
        .unwrap();
    let scores = model.evaluate(data).unwrap();
    (
        before,
        scores.get("loss").unwrap(),
        scores.get("accuracy").unwrap(),
    )
}

#[test]
fn sparse_categorical_crossentropy_learns_two_clusters() {
    let model = Sequential::new([2]).add(Dense::new(2).activation(Activation::Softmax));
    let (before, after, acc) = fit_and_score(
        model,
        &two_cluster_classes(128),
        Loss::SparseCategoricalCrossentropy,
    );
    assert!(
        after < before / 4.0 && acc == 1.0,
        "loss {before} -> {after}, accuracy {acc}"
    );
}

#[test]
fn categorical_crossentropy_learns_two_clusters() {
    let (x, y) = two_clusters(128);
    let onehot =
        ndarray::Array2::from_shape_fn((128, 2), |(i, j)| (y[i] as usize == j) as u8 as f32);
    let data = Dataset::from_f32(x, Targets::Dense(onehot)).unwrap();
    let model = Sequential::new([2]).add(Dense::new(2).activation(Activation::Softmax));
    let (before, after, acc) = fit_and_score(model, &data, Loss::CategoricalCrossentropy);
    assert!(
        after < before / 4.0 && acc == 1.0,
        "loss {before} -> {after}, accuracy {acc}"
    );
}

#[test]
fn binary_crossentropy_learns_two_clusters_from_class_labels() {
    let model = Sequential::new([2]).add(Dense::new(1).activation(Activation::Sigmoid));
    let (before, after, acc) =
        fit_and_score(model, &two_cluster_classes(128), Loss::BinaryCrossentropy);
    assert!(
        after < before / 4.0 && acc == 1.0,
        "loss {before} -> {after}, accuracy {acc}"
    );
}

#[test]
fn mean_squared_error_fits_a_linear_map() {
    let (x, _) = two_clusters(128);
    let targets =
        ndarray::Array2::from_shape_fn((128, 1), |(i, _)| 2.0 * x[[i, 0]] - x[[i, 1]] + 0.5);
    let data = Dataset::from_f32(x, Targets::Dense(targets)).unwrap();
    let mut model = Sequential::new([2]).add(Dense::new(1));
    model
        .compile(Sgd::new(0.05).clipnorm(10.0), Loss::MeanSquaredError, &[])
        .unwrap();
    model
        .fit(
            &data,
            FitOptions::new().epochs(50).batch_size(16).verbose(0),
        )
        .unwrap();
    let mse = model.evaluate(&data).unwrap().get("loss").unwrap();
    assert!(mse < 1e-3, "mse {mse}");
}

#[test]
fn a_hidden_layer_learns_xor() {
    let x = ndarray::arr2(&[[0.0f32, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]).into_dyn();
    let data = Dataset::from_f32(x, Targets::Classes(vec![0, 1, 1, 0])).unwrap();
    let mut model = Sequential::new([2])
        .add(Dense::new(8).activation(Activation::Tanh))
        .add(Dense::new(2).activation(Activation::Softmax))
        .seed(1);
    model
        .compile(
            Adam::new(0.05),
            Loss::SparseCategoricalCrossentropy,
            &[Metric::Accuracy],
        )
        .unwrap();
    model
        .fit(
            &data,
            FitOptions::new().epochs(300).batch_size(4).verbose(0),
        )
        .unwrap();
    assert_eq!(model.evaluate(&data).unwrap().get("accuracy"), Some(1.0));
    let probabilities = model.predict(&data).unwrap();
    assert_eq!(probabilities.shape(), &[4, 2]);
    for row in probabilities.rows() {
        assert!(
            (row.sum() - 1.0).abs() < 1e-5,
            "predict applies the softmax"
        );
    }
}
