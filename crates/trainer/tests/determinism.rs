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

/// Trains a W2-shaped model (its GEMMs are large enough to split over threads) on a runtime
/// of `threads` threads and returns the model file's bytes and how many pieces of work
/// its helper threads ran.
fn weights_with_threads(threads: usize) -> (Vec<u8>, u64) {
    let runtime = keel_runtime::Runtime::builder()
        .threads(threads)
        .build()
        .expect("runtime");
    let bytes = {
        let mut model = common::dropout_mlp(&[512, 512], 5);
        let options = FitOptions::new()
            .epochs(1)
            .batch_size(128)
            .seed(5)
            .verbose(0)
            .runtime(runtime.clone());
        model.fit(&mnist_subset(1024), options).expect("fit");
        model.to_bytes().expect("to_bytes")
    };
    (bytes, runtime.pieces_run_by_helpers())
}

#[test]
fn one_two_and_three_threads_give_bit_identical_weights() {
    let (one, none) = weights_with_threads(1);
    assert_eq!(none, 0, "one thread has no helper");
    let (two, shared) = weights_with_threads(2);
    assert!(one == two, "1 and 2 threads differ");
    let (three, _) = weights_with_threads(3);
    assert!(one == three, "1 and 3 threads differ");
    if keel_runtime::available_cpus() < 2 {
        eprintln!("skipped the helper check: this machine gives the process one CPU");
    } else {
        // A set thread count is never adapted down, so helpers took part in the products.
        assert!(shared > 0, "no helper ran a piece of the 2-thread fit");
    }
}
