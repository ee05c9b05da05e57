//! Anything a user can get wrong is an `Err` saying what was expected and what was found.

mod common;
use common::{mnist_subset, seed_model, two_cluster_classes};
use keel_data::{Dataset, Targets};
use keel_layers::{Activation, Dense, Dropout, Flatten};
use keel_optim::{Adam, Sgd};
use keel_trainer::{Error, FitOptions, Loss, Metric, Sequential};

fn message(result: keel_trainer::Result<impl std::fmt::Debug>) -> String {
    result.expect_err("expected an error").to_string()
}

#[test]
fn a_layer_that_cannot_take_its_input_fails_at_compile_naming_both_shapes() {
    let mut model = Sequential::new([28, 28])
        .add(Dense::new(32))
        .add(Dense::new(10));
    let msg = message(model.compile(Adam::new(1e-3), Loss::SparseCategoricalCrossentropy, &[]));
    assert!(
        msg.contains("dense") && msg.contains("[28, 28]") && msg.contains("[features]"),
        "{msg}"
    );
}

#[test]
fn a_bad_dropout_rate_fails_at_compile() {
    let mut model = Sequential::new([4])
        .add(Dropout::new(1.5))
        .add(Dense::new(2));
    let msg = message(model.compile(Adam::new(1e-3), Loss::SparseCategoricalCrossentropy, &[]));
    assert!(msg.contains("rate") && msg.contains("1.5"), "{msg}");
}

#[test]
fn a_bad_optimizer_setting_fails_at_compile() {
    let mut model = Sequential::new([2]).add(Dense::new(2));
    assert!(model
        .compile(Sgd::new(-1.0), Loss::SparseCategoricalCrossentropy, &[])
        .is_err());
}

#[test]
fn fit_before_compile_is_an_error() {
    let mut model = Sequential::new([2]).add(Dense::new(2));
    let msg = message(model.fit(&two_cluster_classes(8), FitOptions::new().verbose(0)));
    assert!(msg.contains("compile"), "{msg}");
}

#[test]
fn options_out_of_range_are_errors() {
    let data = two_cluster_classes(16);
    let mut model = Sequential::new([2]).add(Dense::new(2).activation(Activation::Softmax));
    model
        .compile(Adam::new(1e-3), Loss::SparseCategoricalCrossentropy, &[])
        .unwrap();
    let cases = [
        (
            FitOptions::new().validation_split(1.5),
            "validation_split must be in [0, 1), found 1.5",
        ),
        (
            FitOptions::new().batch_size(0),
            "batch_size must be at least 1, found 0",
        ),
        (
            FitOptions::new().epochs(0),
            "epochs must be at least 1, found 0",
        ),
        (
            FitOptions::new().verbose(3),
            "verbose must be 0, 1 or 2, found 3",
        ),
    ];
    for (options, expected) in cases {
        assert_eq!(
            message(model.fit(&data, options.verbose_if_unset())),
            expected
        );
    }
}

trait QuietDefault {
    fn verbose_if_unset(self) -> Self;
}
impl QuietDefault for FitOptions<'_> {
    fn verbose_if_unset(self) -> Self {
        if self.verbose == 1 {
            self.verbose(0)
        } else {
            self
        }
    }
}

#[test]
fn an_input_shape_that_does_not_match_the_model_is_an_error() {
    let mut model = seed_model(0);
    let msg = message(model.fit(&two_cluster_classes(8), FitOptions::new().verbose(0)));
    assert!(msg.contains("[28, 28]") && msg.contains("[2]"), "{msg}");
    let msg = message(model.evaluate(&two_cluster_classes(8)));
    assert!(msg.contains("[28, 28]"), "{msg}");
}

#[test]
fn labels_out_of_range_for_the_output_layer_are_an_error() {
    let (x, _) = common::two_clusters(4);
    let data = Dataset::from_f32(x, Targets::Classes(vec![0, 1, 2, 7])).unwrap();
    let mut model = Sequential::new([2]).add(Dense::new(2).activation(Activation::Softmax));
    model
        .compile(Adam::new(1e-3), Loss::SparseCategoricalCrossentropy, &[])
        .unwrap();
    let msg = message(model.fit(&data, FitOptions::new().verbose(0)));
    assert!(
        msg.contains("labels in 0..2") && msg.contains("label 7"),
        "{msg}"
    );
}

#[test]
fn dense_targets_with_a_sparse_loss_are_an_error() {
    let (x, _) = common::two_clusters(4);
    let data = Dataset::from_f32(x, Targets::Dense(ndarray::Array2::zeros((4, 2)))).unwrap();
    let mut model = Sequential::new([2]).add(Dense::new(2).activation(Activation::Softmax));
    model
        .compile(
            Adam::new(1e-3),
            Loss::SparseCategoricalCrossentropy,
            &[Metric::Accuracy],
        )
        .unwrap();
    let msg = message(model.fit(&data, FitOptions::new().verbose(0)));
    assert!(msg.contains("CategoricalCrossentropy"), "{msg}");
}

#[test]
fn a_diverging_run_stops_with_an_error_and_finite_weights() {
    let data = mnist_subset(256);
    let mut model = Sequential::new([28, 28])
        .add(Flatten::new())
        .add(Dense::new(10));
    model
        .compile(Sgd::new(1e38), Loss::SparseCategoricalCrossentropy, &[])
        .unwrap();
    match model.fit(&data, FitOptions::new().epochs(3).verbose(0)) {
        Err(Error::NonFiniteLoss { epoch, step, .. }) => assert!(epoch >= 1 && step >= 1),
        other => panic!("expected a non-finite loss error, got {other:?}"),
    }
}

#[test]
fn debug_prints_the_sentence_so_main_returning_an_error_reads_well() {
    // `fn main() -> keel::Result<()>` prints the error with Debug.
    let mut model = Sequential::new([2]).add(Dense::new(2));
    let err = model
        .compile(Sgd::new(-1.0), Loss::SparseCategoricalCrossentropy, &[])
        .unwrap_err();
    assert_eq!(format!("{err:?}"), err.to_string());
    assert!(!format!("{err:?}").contains('{'), "{err:?}");
    let data = two_cluster_classes(8);
    let err = Sequential::new([2])
        .add(Dense::new(2))
        .evaluate(&data)
        .unwrap_err();
    assert_eq!(format!("{err:?}"), err.to_string());
}
