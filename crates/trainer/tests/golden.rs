//! A tiny model file kept in the repository: any change to the bytes the format writes (a
//! field added to a layer config, say) fails here, so it comes with a `FORMAT_VERSION` bump.
//!
//! After a deliberate format change, bump `FORMAT_VERSION` and rewrite the file with
//! `KEEL_BLESS=1 cargo test -p keel-trainer --test golden` (the file ends in `.bin` because
//! `*.keel` is git-ignored).

use keel_layers::{Activation, Dense, Dropout, Initializer, Regularizer};
use keel_trainer::{Sequential, FORMAT_VERSION};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/golden_v2.bin");

fn model() -> Sequential {
    Sequential::new([3])
        .add(
            Dense::new(2)
                .activation(Activation::Relu)
                .kernel_initializer(Initializer::Ones)
                .kernel_regularizer(Regularizer::L2(0.25))
                .bias_regularizer(Regularizer::L1L2 { l1: 0.5, l2: 0.125 }),
        )
        .add(Dropout::new(0.5))
        .add(Dense::new(1).kernel_initializer(Initializer::Zeros))
}

#[test]
fn the_format_matches_the_golden_file() {
    assert_eq!(FORMAT_VERSION, 2, "a new version needs a new golden file");
    let bytes = model().to_bytes().unwrap();
    if std::env::var_os("KEEL_BLESS").is_some() {
        std::fs::write(GOLDEN, &bytes).unwrap();
    }
    let golden = std::fs::read(GOLDEN).expect("tests/data/golden_v2.bin");
    assert_eq!(bytes, golden, "the model file format changed");
    let loaded = Sequential::from_bytes(&golden).unwrap();
    assert_eq!(
        loaded.layers()[0].config(),
        model().layers()[0].config(),
        "the regularizers survive the round trip"
    );
}
