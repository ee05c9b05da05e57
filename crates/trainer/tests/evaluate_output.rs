//! `evaluate` prints its result line as Keras's does at `verbose=1`, and nothing at 0.
//! Run in a child process (this test binary again) to read what it printed.

mod common;
use common::two_cluster_classes;
use keel_layers::{Activation, Dense};
use keel_optim::Sgd;
use keel_trainer::{Loss, Metric, Sequential};
use std::process::Command;

const CHILD: &str = "KEEL_EVALUATE_CHILD_VERBOSE";

/// The child: evaluates a small model with the verbosity in `KEEL_EVALUATE_CHILD_VERBOSE`
/// (`default` for `evaluate`); does nothing when the variable is unset.
#[test]
fn evaluate_child() {
    let Ok(verbose) = std::env::var(CHILD) else {
        return;
    };
    let mut model = Sequential::new([2]).add(Dense::new(2).activation(Activation::Softmax));
    model
        .compile(
            Sgd::new(0.1),
            Loss::SparseCategoricalCrossentropy,
            &[Metric::Accuracy],
        )
        .unwrap();
    let data = two_cluster_classes(40);
    println!("<<<");
    match verbose.as_str() {
        "default" => model.evaluate(&data).map(|_| ()),
        v => model
            .evaluate_verbose(&data, v.parse().unwrap())
            .map(|_| ()),
    }
    .unwrap();
    println!(">>>");
}

/// What the child printed between its markers.
fn printed(verbose: &str) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "evaluate_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, verbose)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}");
    let start = stdout.find("<<<\n").expect("start marker") + 4;
    let end = stdout.find(">>>").expect("end marker");
    stdout[start..end].to_string()
}

#[test]
fn evaluate_prints_its_result_line_by_default_as_keras() {
    let line = printed("default");
    assert!(
        line.starts_with("1/1 [") && line.contains("/step - ") && line.contains("accuracy: "),
        "{line:?}"
    );
    let line = printed("2");
    assert!(
        line.starts_with("1/1 - ") && line.contains("loss: "),
        "{line:?}"
    );
    assert_eq!(printed("0"), "");
}

#[test]
fn a_verbosity_above_2_is_an_error() {
    let model = Sequential::new([2]).add(Dense::new(2));
    let err = model
        .evaluate_verbose(&two_cluster_classes(4), 3)
        .unwrap_err();
    assert!(err.to_string().contains("verbose"), "{err}");
}
