//! A golden test of the summary table (Keras 3's layout, box-drawing characters).

mod common;
use keel_layers::{Dense, Dropout, Flatten};
use keel_trainer::Sequential;

#[test]
fn the_seed_model_summary_matches_the_golden_table() {
    let expected = "\
Model: \"sequential\"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ flatten (Flatten)               │ (None, 784)            │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense (Dense)                   │ (None, 32)             │        25,120 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dropout (Dropout)               │ (None, 32)             │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_1 (Dense)                 │ (None, 10)             │           330 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 25,450 (99.41 KB)
 Trainable params: 25,450 (99.41 KB)
 Non-trainable params: 0 (0.00 B)
";
    assert_eq!(common::seed_model(0).summary_string(), expected);
}

#[test]
fn columns_widen_to_fit_a_long_output_shape_and_stay_aligned() {
    let model = Sequential::new([10, 10, 10, 10, 10])
        .add(Dropout::new(0.5))
        .add(Flatten::new())
        .add(Dense::new(10));
    let expected = "\
Model: \"sequential\"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape               ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ dropout (Dropout)               │ (None, 10, 10, 10, 10, 10) │             0 │
├─────────────────────────────────┼────────────────────────────┼───────────────┤
│ flatten (Flatten)               │ (None, 100000)             │             0 │
├─────────────────────────────────┼────────────────────────────┼───────────────┤
│ dense (Dense)                   │ (None, 10)                 │     1,000,010 │
└─────────────────────────────────┴────────────────────────────┴───────────────┘
 Total params: 1,000,010 (3.81 MB)
 Trainable params: 1,000,010 (3.81 MB)
 Non-trainable params: 0 (0.00 B)
";
    assert_eq!(model.summary_string(), expected);
}

#[test]
fn a_model_that_cannot_build_shows_the_build_error() {
    // Dense needs [features]: [28, 28] without a Flatten cannot build.
    let model = Sequential::new([28, 28])
        .add(Dense::new(32))
        .add(Dense::new(10));
    let table = model.summary_string();
    let err = model.check().unwrap_err().to_string();
    assert!(
        table.ends_with(&format!(" The model cannot be built: {err}\n")),
        "{table}"
    );
    assert!(err.contains("dense"), "{err}");
}
