//! A model file holds the whole model: architecture, trainable flags, weights and, for a
//! compiled model, the optimizer with its state, the loss and the metrics.

mod common;
use common::two_cluster_classes;
use keel_layers::{Activation, Dense};
use keel_optim::{Adam, Clipping, CosineDecay, Sgd};
use keel_trainer::{CustomLoss, Error, FitOptions, Loss, Metric, Sequential};

/// A model without dropout compiled with Adam on a cosine schedule with clipping, so the
/// step counter, the moments and the schedule position all matter.
fn compiled(seed: u64) -> Sequential {
    let mut model = Sequential::new([2])
        .add(Dense::new(8).activation(Activation::Relu))
        .add(Dense::new(2).activation(Activation::Softmax))
        .seed(seed);
    model
        .compile(
            Adam::new(CosineDecay::new(0.05, 20)).global_clipnorm(1.0),
            Loss::SparseCategoricalCrossentropy,
            &[Metric::Accuracy],
        )
        .unwrap();
    model
}

/// One epoch of 8 steps, in a fixed order (each `fit` call reseeds shuffling and dropout,
/// which a model file does not hold: a checkpoint does).
fn fit_epochs(model: &mut Sequential, epochs: usize) {
    let options = FitOptions::new()
        .epochs(epochs)
        .batch_size(8)
        .shuffle(false)
        .verbose(0);
    model.fit(&two_cluster_classes(64), options).unwrap();
}

fn weights(model: &Sequential) -> Vec<Vec<f32>> {
    model
        .named_params()
        .iter()
        .map(|(_, p)| p.value().iter().copied().collect())
        .collect()
}

#[test]
fn fit_goes_on_after_save_and_load_as_if_never_saved() {
    let mut straight = compiled(5);
    fit_epochs(&mut straight, 2);

    let mut first = compiled(5);
    fit_epochs(&mut first, 1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.keel");
    first.save(&path).unwrap();
    let mut loaded = Sequential::load(&path).unwrap();
    let optimizer = loaded.optimizer().expect("loaded compiled");
    assert_eq!(optimizer.iterations(), 8);
    assert_eq!(optimizer.config(), first.optimizer().unwrap().config());
    fit_epochs(&mut loaded, 1);

    assert_eq!(weights(&loaded), weights(&straight), "bit for bit");
    assert_eq!(loaded.optimizer().unwrap().iterations(), 16);
    assert_eq!(loaded.to_bytes().unwrap(), straight.to_bytes().unwrap());

    // The optimizer's state is what makes this exact: compiled afresh, the run differs.
    let mut fresh = Sequential::load_uncompiled(&path).unwrap();
    assert!(fresh.optimizer().is_none());
    fresh
        .compile(
            Adam::new(CosineDecay::new(0.05, 20)).global_clipnorm(1.0),
            Loss::SparseCategoricalCrossentropy,
            &[Metric::Accuracy],
        )
        .unwrap();
    fit_epochs(&mut fresh, 1);
    assert_ne!(weights(&fresh), weights(&straight));
}

#[test]
fn a_loaded_model_evaluates_at_once_with_its_loss_and_metrics() {
    let mut model = compiled(2);
    fit_epochs(&mut model, 1);
    let loaded = Sequential::from_bytes(&model.to_bytes().unwrap()).unwrap();
    let data = two_cluster_classes(32);
    let (ours, theirs) = (
        model.evaluate_verbose(&data, 0).unwrap(),
        loaded.evaluate_verbose(&data, 0).unwrap(),
    );
    assert_eq!(theirs.get("loss"), ours.get("loss"));
    assert_eq!(theirs.get("accuracy"), ours.get("accuracy"));
    assert!(ours.get("accuracy").is_some());
}

#[test]
fn an_uncompiled_model_loads_uncompiled() {
    let model = Sequential::new([2]).add(Dense::new(1));
    let loaded = Sequential::from_bytes(&model.to_bytes().unwrap()).unwrap();
    assert!(loaded.optimizer().is_none());
    let err = loaded
        .evaluate_verbose(&two_cluster_classes(8), 0)
        .unwrap_err();
    assert!(matches!(err, Error::NotCompiled { .. }), "{err}");
}

#[test]
fn frozen_layers_come_back_frozen_and_stay_frozen() {
    let mut model = compiled(3);
    model.set_trainable("dense", false).unwrap();
    let bytes = model.to_bytes().unwrap();
    let mut loaded = Sequential::from_bytes(&bytes).unwrap();
    assert!(!loaded.is_trainable("dense").unwrap());
    assert!(loaded.is_trainable("dense_1").unwrap());
    let before = weights(&loaded);
    fit_epochs(&mut loaded, 1);
    let after = weights(&loaded);
    assert_eq!(
        after[..2],
        before[..2],
        "the frozen layer's kernel and bias"
    );
    assert_ne!(after[2..], before[2..]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frozen.keel");
    model.save(&path).unwrap();
    assert!(!Sequential::load_uncompiled(&path)
        .unwrap()
        .is_trainable("dense")
        .unwrap());
}

#[test]
fn a_custom_loss_loads_as_a_placeholder_until_compiled_again() {
    let squared = || {
        CustomLoss::new("squared_error_of_class_1", |y_pred, y_true| {
            let t = y_pred.tape().constant(y_true.to_dense());
            let e = y_pred - t;
            (e * e).mean_axis(1, false)
        })
    };
    let mut model = Sequential::new([2])
        .add(Dense::new(1).activation(Activation::Sigmoid))
        .seed(1);
    model
        .compile(Sgd::new(0.1), Loss::Custom(squared()), &[Metric::Accuracy])
        .unwrap();
    let data = two_cluster_classes(16);
    let expected = model.evaluate_verbose(&data, 0).unwrap();

    let mut loaded = Sequential::from_bytes(&model.to_bytes().unwrap()).unwrap();
    assert!(
        loaded.optimizer().is_some(),
        "compiled, with a placeholder loss"
    );
    let message = loaded.evaluate_verbose(&data, 0).unwrap_err().to_string();
    assert!(
        message.contains("squared_error_of_class_1")
            && message.contains("compile it again")
            && message.contains("read back from a file"),
        "{message}"
    );
    loaded
        .compile(Sgd::new(0.1), Loss::Custom(squared()), &[Metric::Accuracy])
        .unwrap();
    let scores = loaded.evaluate_verbose(&data, 0).unwrap();
    assert_eq!(scores.get("loss"), expected.get("loss"));
}
