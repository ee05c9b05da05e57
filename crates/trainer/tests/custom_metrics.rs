//! A user-defined metric is computed as Keras's `MeanMetricWrapper` (batch means weighted
//! by batch size), logged everywhere built-in metrics are, and monitorable by callbacks.

use keel_autograd::Tensor;
use keel_data::{BatchTargets, Dataset, Targets};
use keel_layers::{Activation, Dense};
use keel_optim::Adam;
use keel_trainer::{
    CSVLogger, CustomMetric, EarlyStopping, Error, FitOptions, Loss, Metric, ModelCheckpoint,
    MonitorMode, ReduceLROnPlateau, Sequential,
};

/// Argmax accuracy written by hand: it must agree with the built-in one.
fn my_accuracy() -> Metric {
    Metric::Custom(CustomMetric::new(
        "my_accuracy",
        |y_pred: &Tensor, y_true: &BatchTargets| {
            let Targets::Classes(labels) = y_true else {
                return f32::NAN;
            };
            let hits = labels
                .iter()
                .enumerate()
                .filter(|&(i, &c)| {
                    let row = y_pred.index_axis(ndarray::Axis(0), i);
                    let best = row.iter().enumerate().fold((0, f32::MIN), |b, (j, &v)| {
                        if v > b.1 {
                            (j, v)
                        } else {
                            b
                        }
                    });
                    best.0 == c as usize
                })
                .count();
            hits as f32 / labels.len() as f32
        },
    ))
}

/// Probabilities must arrive with the softmax applied: every row sums to 1.
fn row_sum() -> Metric {
    Metric::Custom(CustomMetric::new(
        "row_sum",
        |y_pred: &Tensor, _: &BatchTargets| y_pred.sum() / y_pred.shape()[0] as f32,
    ))
}

fn data(n: usize) -> Dataset {
    let x = ndarray::Array2::from_shape_fn((n, 3), |(i, j)| ((i * 7 + j * 3) % 11) as f32 / 11.0);
    let labels = (0..n).map(|i| (i % 3) as u32).collect();
    Dataset::from_f32(x.into_dyn(), Targets::Classes(labels)).unwrap()
}

fn model() -> Sequential {
    let mut model = Sequential::new([3]).add(Dense::new(3).activation(Activation::Softmax));
    model
        .compile(
            Adam::new(0.05),
            Loss::SparseCategoricalCrossentropy,
            &[Metric::Accuracy, my_accuracy(), row_sum()],
        )
        .unwrap();
    model
}

#[test]
fn a_custom_metric_matches_the_built_in_one_in_history_and_evaluate() {
    let mut model = model();
    // 50 samples in batches of 16: the last batch is smaller, so plain batch means would differ.
    let options = FitOptions::new()
        .epochs(3)
        .batch_size(16)
        .validation_split(0.2)
        .verbose(0);
    let history = model.fit(&data(50), options).unwrap();
    for (ours, theirs) in [
        ("my_accuracy", "accuracy"),
        ("val_my_accuracy", "val_accuracy"),
    ] {
        let (a, b) = (history.get(ours).unwrap(), history.get(theirs).unwrap());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-6, "{ours} {a:?} != {theirs} {b:?}");
        }
    }
    for sum in history.get("row_sum").unwrap() {
        assert!((sum - 1.0).abs() < 1e-5, "row sums {sum}");
    }
    let scores = model.evaluate_verbose(&data(40), 0).unwrap();
    assert!((scores.get("my_accuracy").unwrap() - scores.get("accuracy").unwrap()).abs() < 1e-6);
}

#[test]
fn callbacks_monitor_a_custom_metric_and_csv_logs_it() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("log.csv");
    let mut model = model();
    let options = FitOptions::new()
        .epochs(4)
        .batch_size(16)
        .validation_split(0.2)
        .verbose(0)
        .callback(CSVLogger::new(&csv))
        .callback(
            EarlyStopping::new("val_my_accuracy")
                .mode(MonitorMode::Max)
                .patience(10),
        )
        .callback(ReduceLROnPlateau::new("val_my_accuracy").mode(MonitorMode::Max))
        .callback(
            ModelCheckpoint::new(dir.path().join("best.keel").to_str().unwrap())
                .monitor("val_my_accuracy"),
        );
    model.fit(&data(50), options).unwrap();
    let header = std::fs::read_to_string(&csv).unwrap();
    let header = header.lines().next().unwrap();
    assert!(
        header.contains("my_accuracy") && header.contains("val_row_sum"),
        "{header}"
    );
}

#[test]
fn a_metric_may_not_take_a_log_name_of_its_own() {
    let mut model = Sequential::new([3]).add(Dense::new(3));
    for name in ["loss", "val_thing"] {
        let metric = Metric::Custom(CustomMetric::new(name, |_: &Tensor, _: &BatchTargets| 0.0));
        let err = model
            .compile(
                Adam::new(0.01),
                Loss::SparseCategoricalCrossentropy,
                &[metric],
            )
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidOption {
                    option: "metrics",
                    ..
                }
            ),
            "{err}"
        );
    }
}

#[test]
fn a_loaded_model_asks_for_a_custom_metric_s_function_again() {
    let model = model();
    let bytes = model.to_bytes().unwrap();
    let mut loaded = Sequential::from_bytes(&bytes).unwrap();
    let err = loaded.evaluate_verbose(&data(9), 0).unwrap_err();
    assert!(
        err.to_string().contains("my_accuracy") && err.to_string().contains("compile"),
        "{err}"
    );
    loaded
        .compile(
            Adam::new(0.05),
            Loss::SparseCategoricalCrossentropy,
            &[Metric::Accuracy, my_accuracy(), row_sum()],
        )
        .unwrap();
    assert!(loaded.evaluate_verbose(&data(9), 0).is_ok());
}
