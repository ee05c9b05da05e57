//! The same seed gives the same History and the same saved bytes.

mod common;
use common::{mnist_subset, seed_model};
use keel_trainer::FitOptions;

fn run(seed: u64) -> (keel_trainer::History, Vec<u8>) {
    let data = mnist_subset(1500);
    let mut model = seed_model(seed);
    let options = FitOptions::new()
        .epochs(2)
        .batch_size(32)
        .validation_split(0.2)
        .seed(seed)
        .verbose(0);
    let history = model.fit(&data, options).expect("fit");
    (history, model.to_bytes().expect("to_bytes"))
}

#[test]
fn same_seed_gives_same_history_and_bytes() {
    let (h1, b1) = run(3);
    let (h2, b2) = run(3);
    assert_eq!(h1, h2);
    assert_eq!(b1, b2);
    assert_eq!(h1.get("val_accuracy").map(|s| s.len()), Some(2));
}

#[test]
fn another_seed_gives_other_weights() {
    let (h1, b1) = run(3);
    let (h2, b2) = run(4);
    assert_ne!(b1, b2);
    assert_ne!(h1, h2);
}
