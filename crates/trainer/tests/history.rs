//! The History of a real `fit` exported as CSV and JSON and drawn as an SVG chart.

mod common;
use common::two_cluster_classes;
use keel_layers::{Activation, Dense};
use keel_optim::Adam;
use keel_trainer::{Average, FitOptions, Loss, Metric, Sequential};

fn trained_history() -> keel_trainer::History {
    let mut model = Sequential::new([2]).add(Dense::new(2).activation(Activation::Softmax));
    let metrics = [
        Metric::Accuracy,
        Metric::F1Score {
            average: Average::Macro,
        },
    ];
    model
        .compile(
            Adam::new(0.05),
            Loss::SparseCategoricalCrossentropy,
            &metrics,
        )
        .unwrap();
    let options = FitOptions::new()
        .epochs(3)
        .batch_size(16)
        .validation_split(0.25)
        .verbose(0);
    model.fit(&two_cluster_classes(64), options).unwrap()
}

#[test]
fn csv_json_and_svg_hold_every_series() {
    let history = trained_history();
    let dir = tempfile::tempdir().unwrap();
    history.write_csv(dir.path().join("history.csv")).unwrap();
    history.write_json(dir.path().join("history.json")).unwrap();
    history.plot(dir.path().join("training.svg")).unwrap();

    let csv = std::fs::read_to_string(dir.path().join("history.csv")).unwrap();
    let mut lines = csv.lines();
    let header = "epoch,accuracy,f1_score,loss,val_accuracy,val_f1_score,val_loss";
    assert_eq!(lines.next(), Some(header));
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2][0], 2.0, "0-based epochs, as Keras's CSVLogger");
    assert_eq!(rows[2][3], history.last("loss").unwrap(), "full precision");

    let json = std::fs::read_to_string(dir.path().join("history.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["epoch"], serde_json::json!([0, 1, 2]));
    assert_eq!(json["val_f1_score"].as_array().map(Vec::len), Some(3));

    let svg = std::fs::read_to_string(dir.path().join("training.svg")).unwrap();
    for name in [
        "loss",
        "val_loss",
        "accuracy",
        "val_accuracy",
        "f1_score",
        "val_f1_score",
    ] {
        assert!(
            svg.contains(&format!("\n{name}\n</text>")),
            "{name} missing from the chart"
        );
    }
}
