//! A golden training-state checkpoint: the committed file still decodes, describes the
//! run it was written from, and re-encodes to exactly its own bytes. Decoding with a
//! changed record layout fails or re-encodes differently, so an accidental format change
//! is caught; the bytes themselves come from training, whose last bits may differ between
//! CPUs, so the file is compared with itself rather than with a fresh run. If a format
//! change is intended, bump `CHECKPOINT_FORMAT_VERSION`, update
//! docs/decisions/0006-training-state-checkpoints.md, and regenerate with
//!
//! ```text
//! cargo test -p keel-trainer --test golden_checkpoint -- --ignored regenerate
//! ```

use keel_data::{Dataset, Targets};
use keel_layers::{Activation, Dense, Dropout};
use keel_optim::{Adam, Clipping};
use keel_trainer::{
    FitOptions, Guard, Loss, Metric, Sequential, Telemetry, TrainingState,
    CHECKPOINT_FORMAT_VERSION, CHECKPOINT_MAGIC,
};
use std::path::PathBuf;

const FILE: &str = "tiny_checkpoint_v3.keel";

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(FILE)
}

#[test]
fn the_golden_checkpoint_decodes_and_reencodes_to_the_same_bytes() {
    let bytes = std::fs::read(path()).expect("the golden checkpoint (see this file's header)");
    assert_eq!(&bytes[..8], CHECKPOINT_MAGIC);
    assert_eq!(bytes[8..12], CHECKPOINT_FORMAT_VERSION.to_le_bytes());
    let state = TrainingState::from_bytes(&bytes)
        .expect("the checkpoint format changed (see this file's header)");
    assert_eq!(
        (state.epoch(), state.batch()),
        (2, 0),
        "written at the end of epoch 2"
    );
    assert_eq!(state.iterations(), 2 * 4, "4 steps an epoch");
    assert_eq!(state.history().epochs(), [0, 1]);
    let model = state.model().expect("the architecture rebuilds");
    assert_eq!(model.layer_names(), ["dense", "dropout", "dense_1"]);
    let optimizer = model.optimizer().expect("compiled as the checkpoint says");
    assert_eq!(optimizer.iterations(), 2 * 4);
    assert_eq!(optimizer.name(), "adam");
    assert!(
        state.to_bytes() == bytes,
        "the checkpoint format changed (see this file's header)"
    );
}

/// Writes the golden file: 2 epochs of a tiny model with Adam, clipping, the guard and
/// telemetry, so every part of the training state is present.
#[test]
#[ignore = "regenerates the golden checkpoint; run by hand after an intended format change"]
fn regenerate() {
    let x = ndarray::Array2::from_shape_fn((32, 3), |(i, j)| ((i * 5 + j * 3) % 7) as f32 / 7.0)
        .into_dyn();
    let y = (0..32).map(|i| (i % 2) as u32).collect();
    let data = Dataset::from_f32(x, Targets::Classes(y)).unwrap();
    let mut model = Sequential::new([3])
        .add(Dense::new(4).activation(Activation::Relu))
        .add(Dropout::new(0.25))
        .add(Dense::new(2).activation(Activation::Softmax))
        .seed(3);
    model
        .compile(
            Adam::new(1e-2).global_clipnorm(1.0),
            Loss::SparseCategoricalCrossentropy,
            &[Metric::Accuracy],
        )
        .unwrap();
    let options = FitOptions::new()
        .epochs(2)
        .batch_size(8)
        .verbose(0)
        .guard(Guard::recommended())
        .telemetry(Telemetry::Epochs)
        .checkpoint(path());
    model.fit(&data, options).unwrap();
}
