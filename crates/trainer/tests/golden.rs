//! Golden files: the current code writes exactly the committed bytes for a tiny model and
//! reads them back. A failure here means the file format changed: if that is intended,
//! bump the kind's format version (`FORMAT_VERSION`, `WEIGHTS_FORMAT_VERSION`), update
//! docs/decisions/0003-model-file-format.md, and regenerate the files with
//!
//! ```text
//! cargo test -p keel-trainer --test golden -- --ignored regenerate
//! ```

use keel_layers::{Activation, Dense, Dropout, Flatten};
use keel_optim::{Adam, Clipping, CosineDecay, Optimizer};
use keel_trainer::{
    Loss, Metric, Sequential, FORMAT_VERSION, MAGIC, WEIGHTS_FORMAT_VERSION, WEIGHTS_MAGIC,
};
use std::path::PathBuf;

fn data_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

const MODEL_FILE: &str = "tiny_model_v5.keel";
const COMPILED_MODEL_FILE: &str = "tiny_compiled_model_v5.keel";
const WEIGHTS_FILE: &str = "tiny_weights_v2.keel";

/// A tiny model with every built-in layer kind that has a config, and weights set by
/// formula (not drawn), so the bytes do not depend on the random-number generator.
fn tiny() -> Sequential {
    let mut model = Sequential::new([2, 2])
        .add(Flatten::new())
        .add(Dense::new(3).activation(Activation::Relu))
        .add(Dropout::new(0.25))
        .add(Dense::new(2).activation(Activation::Softmax))
        .seed(7);
    for (k, (_, param)) in model.named_params_mut().into_iter().enumerate() {
        for (i, w) in param.value_mut().iter_mut().enumerate() {
            *w = (k as f32 + 1.0) * 0.125 - i as f32 * 0.0625;
        }
    }
    model
}

/// The optimizer of [`tiny_compiled`]: a schedule, non-default hyper-parameters, clipping.
fn adam() -> Adam {
    Adam::new(CosineDecay::new(0.01, 100))
        .beta_2(0.99)
        .amsgrad(true)
        .global_clipnorm(1.0)
}

/// [`tiny`] with its first Dense layer frozen, compiled (its optimizer has not stepped, so
/// its state is empty and the bytes do not depend on training).
fn tiny_compiled() -> Sequential {
    let mut model = tiny();
    model.set_trainable("dense", false).unwrap();
    model
        .compile(
            adam(),
            Loss::SparseCategoricalCrossentropy,
            &[
                Metric::Accuracy,
                Metric::SparseTopKCategoricalAccuracy { k: 2 },
            ],
        )
        .unwrap();
    model
}

fn golden(name: &str) -> Vec<u8> {
    std::fs::read(data_file(name)).unwrap_or_else(|e| {
        panic!("{name}: {e}; regenerate with `cargo test -p keel-trainer --test golden -- --ignored regenerate`")
    })
}

#[test]
fn the_model_file_format_has_not_changed() {
    let bytes = tiny().to_bytes().unwrap();
    assert_eq!(&bytes[..8], MAGIC);
    assert_eq!(bytes[8..12], FORMAT_VERSION.to_le_bytes());
    assert!(
        bytes == golden(MODEL_FILE),
        "the model file format changed (see this file's header)"
    );
}

#[test]
fn the_golden_model_file_loads_to_the_same_model() {
    let model = Sequential::from_bytes(&golden(MODEL_FILE)).unwrap();
    let expected = tiny();
    assert_eq!(model.layer_names(), expected.layer_names());
    assert_eq!(model.seed_value(), 7);
    assert_eq!(model.input_shape(), [2, 2]);
    for ((name, p), (expected_name, q)) in model.named_params().iter().zip(expected.named_params())
    {
        assert_eq!(name, &expected_name);
        assert_eq!(p.value(), q.value());
    }
}

#[test]
fn the_compiled_model_file_format_has_not_changed() {
    let bytes = tiny_compiled().to_bytes().unwrap();
    assert!(
        bytes == golden(COMPILED_MODEL_FILE),
        "the model file format changed (see this file's header)"
    );
}

#[test]
fn the_golden_compiled_model_file_loads_compiled_with_its_frozen_layer() {
    let model = Sequential::from_bytes(&golden(COMPILED_MODEL_FILE)).unwrap();
    assert!(!model.is_trainable("dense").unwrap());
    assert!(model.is_trainable("dense_1").unwrap());
    let optimizer = model.optimizer().expect("compiled");
    assert_eq!(
        optimizer.config(),
        Optimizer::try_from(adam()).unwrap().config()
    );
    assert_eq!(optimizer.iterations(), 0);
    assert_eq!(model.to_bytes().unwrap(), golden(COMPILED_MODEL_FILE));
}

#[test]
fn the_weights_file_format_has_not_changed() {
    let bytes = tiny().weights_to_bytes().unwrap();
    assert_eq!(&bytes[..8], WEIGHTS_MAGIC);
    assert_eq!(bytes[8..12], WEIGHTS_FORMAT_VERSION.to_le_bytes());
    assert!(
        bytes == golden(WEIGHTS_FILE),
        "the weights file format changed (see this file's header)"
    );
    let mut model = tiny().seed(99); // same architecture, other weights
    model.load_weights(data_file(WEIGHTS_FILE)).unwrap();
    assert_eq!(model.weights_to_bytes().unwrap(), bytes);
}

/// Writes the golden files. Run by hand only when a format change is intended.
#[test]
#[ignore = "regenerates the golden files; run by hand after an intended format change"]
fn regenerate() {
    std::fs::create_dir_all(data_file("")).unwrap();
    tiny().save(data_file(MODEL_FILE)).unwrap();
    tiny_compiled()
        .save(data_file(COMPILED_MODEL_FILE))
        .unwrap();
    tiny().save_weights(data_file(WEIGHTS_FILE)).unwrap();
}
