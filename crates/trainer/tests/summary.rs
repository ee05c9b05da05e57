//! A golden test of the summary table.

mod common;

#[test]
fn the_seed_model_summary_matches_the_golden_table() {
    let expected = "\
Model: \"sequential\"
==================================================================
Layer (type)                  Output Shape                 Param #
==================================================================
flatten (Flatten)             (None, 784)                        0
------------------------------------------------------------------
dense (Dense)                 (None, 32)                     25120
------------------------------------------------------------------
dropout (Dropout)             (None, 32)                         0
------------------------------------------------------------------
dense_1 (Dense)               (None, 10)                       330
==================================================================
Total params: 25450 (99.41 KB)
Trainable params: 25450 (99.41 KB)
Non-trainable params: 0 (0.00 B)
";
    assert_eq!(common::seed_model(0).summary_string(), expected);
}
