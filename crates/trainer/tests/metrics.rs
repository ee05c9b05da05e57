//! Every metric against numbers computed by hand, through `evaluate` and `fit`.
//!
//! The models are one bias-free `Dense` layer whose kernel is the identity, so the output
//! before the final softmax or sigmoid is the input itself: each row of `x` below is the
//! score vector the metrics read.

use keel_data::{Dataset, Targets};
use keel_layers::{Activation, Dense};
use keel_optim::Sgd;
use keel_trainer::{Average, ConfusionMatrix, Error, FitOptions, Loss, Metric, Scores, Sequential};
use ndarray::{Array2, ArrayD};

/// Seven samples of three classes: scores, label, argmax, whether the label is in the top 2.
/// ```text
///  i  scores            label  argmax  top-2 (classes scoring strictly more than the label)
///  0  [0.7, 0.2, 0.1]   0      0 ✓     ✓ (none)
///  1  [0.1, 0.6, 0.3]   1      1 ✓     ✓ (none)
///  2  [0.5, 0.4, 0.1]   1      0 ✗     ✓ (one: class 0)
///  3  [0.2, 0.2, 0.6]   2      2 ✓     ✓ (none)
///  4  [0.4, 0.3, 0.3]   2      0 ✗     ✓ (one: class 0; the tie with class 1 counts for it)
///  5  [0.1, 0.3, 0.6]   0      2 ✗     ✗ (two)
///  6  [0.2, 0.5, 0.3]   1      1 ✓     ✓ (none)
/// ```
/// accuracy 4/7, top-2 accuracy 6/7. Confusion matrix (rows true, columns predicted):
/// ```text
///        p0 p1 p2   support
///   t0 [  1  0  1 ]   2
///   t1 [  1  2  0 ]   3
///   t2 [  1  0  1 ]   2
///   predicted: 3  2  2
/// ```
/// precision 1/3, 2/2, 1/2 -> macro (1/3 + 1 + 1/2) / 3 = 11/18;
/// recall 1/2, 2/3, 1/2 -> macro (1/2 + 2/3 + 1/2) / 3 = 5/9;
/// F1 = 2TP / (support + predicted) = 2/5, 4/5, 2/4 -> macro (0.4 + 0.8 + 0.5) / 3 = 17/30,
/// weighted (2·0.4 + 3·0.8 + 2·0.5) / 7 = 0.6, micro = accuracy = 4/7.
const SCORES: [[f32; 3]; 7] = [
    [0.7, 0.2, 0.1],
    [0.1, 0.6, 0.3],
    [0.5, 0.4, 0.1],
    [0.2, 0.2, 0.6],
    [0.4, 0.3, 0.3],
    [0.1, 0.3, 0.6],
    [0.2, 0.5, 0.3],
];
const LABELS: [u32; 7] = [0, 1, 1, 2, 2, 0, 1];

fn scores_x() -> ArrayD<f32> {
    Array2::from_shape_fn((7, 3), |(i, j)| SCORES[i][j]).into_dyn()
}

fn one_hot() -> Array2<f32> {
    Array2::from_shape_fn((7, 3), |(i, j)| (LABELS[i] as usize == j) as u8 as f32)
}

/// A model whose output before its final activation is its input.
fn identity_model(units: usize, activation: Activation) -> Sequential {
    let mut model =
        Sequential::new([units]).add(Dense::new(units).use_bias(false).activation(activation));
    for (_, param) in model.named_params_mut() {
        param.set_value(Array2::<f32>::eye(units).into_dyn());
    }
    model
}

fn close(scores: &Scores, name: &str, expected: f64) {
    let value = scores.get(name).unwrap_or_else(|| panic!("{name} missing"));
    assert!(
        (value - expected).abs() < 1e-6,
        "{name}: {value}, expected {expected}"
    );
}

/// Mean sparse categorical cross-entropy of the scores as logits: logsumexp(z) - z[label].
fn expected_loss() -> f64 {
    let per_sample = SCORES.iter().zip(LABELS).map(|(z, y)| {
        let lse = z.iter().map(|&v| f64::from(v).exp()).sum::<f64>().ln();
        lse - f64::from(z[y as usize])
    });
    per_sample.sum::<f64>() / 7.0
}

#[test]
fn sparse_classification_metrics_match_hand_computed_values() {
    let data = Dataset::from_f32(scores_x(), Targets::Classes(LABELS.to_vec())).unwrap();
    let mut model = identity_model(3, Activation::Softmax);
    let metrics = [
        Metric::Accuracy,
        Metric::SparseTopKCategoricalAccuracy { k: 2 },
        Metric::Precision,
        Metric::Recall,
        Metric::F1Score {
            average: Average::Macro,
        },
    ];
    model
        .compile(Sgd::new(0.0), Loss::SparseCategoricalCrossentropy, &metrics)
        .unwrap();
    let scores = model.evaluate(&data).unwrap();
    assert_eq!(
        scores.iter().count(),
        6,
        "the loss and every compiled metric: {scores:?}"
    );
    close(&scores, "loss", expected_loss());
    close(&scores, "accuracy", 4.0 / 7.0);
    close(&scores, "sparse_top_k_categorical_accuracy", 6.0 / 7.0);
    close(&scores, "precision", 11.0 / 18.0);
    close(&scores, "recall", 5.0 / 9.0);
    close(&scores, "f1_score", 17.0 / 30.0);
}

#[test]
fn categorical_metrics_read_one_hot_rows_the_same_way() {
    let data = Dataset::from_f32(scores_x(), Targets::Dense(one_hot())).unwrap();
    let mut model = identity_model(3, Activation::Softmax);
    let metrics = [
        Metric::CategoricalAccuracy,
        Metric::TopKCategoricalAccuracy { k: 2 },
        Metric::F1Score {
            average: Average::Weighted,
        },
    ];
    model
        .compile(Sgd::new(0.0), Loss::CategoricalCrossentropy, &metrics)
        .unwrap();
    let scores = model.evaluate(&data).unwrap();
    close(&scores, "loss", expected_loss());
    close(&scores, "categorical_accuracy", 4.0 / 7.0);
    close(&scores, "top_k_categorical_accuracy", 6.0 / 7.0);
    close(&scores, "f1_score", 0.6);
}

#[test]
fn the_confusion_matrix_of_a_model_is_the_hand_computed_one() {
    let data = Dataset::from_f32(scores_x(), Targets::Classes(LABELS.to_vec())).unwrap();
    let m = identity_model(3, Activation::Softmax)
        .confusion_matrix(&data)
        .unwrap();
    let pairs = [(0, 0), (1, 1), (1, 0), (2, 2), (2, 0), (0, 2), (1, 1)];
    assert_eq!(m, ConfusionMatrix::from_pairs(3, pairs));
    assert!((m.f1_score(Average::Micro) - 4.0 / 7.0).abs() < 1e-12);
    assert!((m.precision(0) - 1.0 / 3.0).abs() < 1e-12 && m.recall(1) == 2.0 / 3.0);
}

#[test]
fn fit_streams_metrics_over_batches_and_weights_the_loss_by_batch_size() {
    // Batches of 3, 3 and 1 samples. With a learning rate of 0 the weights never change, so
    // the epoch's values are those of the whole set. A mean of per-batch values would differ
    // (the first batch alone, samples 0-2, has macro precision (1/2 + 1/1 + 0) / 3 = 1/2),
    // and so would an unweighted mean of the three batch losses.
    let data = Dataset::from_f32(scores_x(), Targets::Classes(LABELS.to_vec())).unwrap();
    let mut model = identity_model(3, Activation::Softmax);
    let metrics = [
        Metric::Accuracy,
        Metric::Precision,
        Metric::F1Score {
            average: Average::Micro,
        },
    ];
    model
        .compile(Sgd::new(0.0), Loss::SparseCategoricalCrossentropy, &metrics)
        .unwrap();
    let options = FitOptions::new()
        .epochs(2)
        .batch_size(3)
        .shuffle(false)
        .validation_data(data.clone())
        .validation_batch_size(2)
        .verbose(0);
    let history = model.fit(&data, options).unwrap();
    for prefix in ["", "val_"] {
        let last = |name: &str| history.last(&format!("{prefix}{name}")).unwrap();
        assert!(
            (last("loss") - expected_loss()).abs() < 1e-6,
            "{prefix}loss"
        );
        assert!((last("accuracy") - 4.0 / 7.0).abs() < 1e-12);
        assert!((last("precision") - 11.0 / 18.0).abs() < 1e-12);
        assert!(
            (last("f1_score") - 4.0 / 7.0).abs() < 1e-12,
            "micro F1 is accuracy"
        );
    }
    assert_eq!(history.get("val_precision").map(<[f64]>::len), Some(2));
}

/// One sigmoid unit; logits x = [2, -1, 0.5, -0.2, 3, -3, 1], labels [1, 1, 0, 0, 1, 0, 0].
/// Predictions (x > 0): 1, 0, 1, 0, 1, 0, 1. TP = 2 (samples 0, 4), FN = 1 (1),
/// FP = 2 (2, 6), TN = 2 (3, 5): accuracy 4/7, precision 2/4, recall 2/3,
/// F1 = 2·2 / (2·2 + 2 + 1) = 4/7.
fn binary_data() -> Dataset {
    let x = ndarray::arr2(&[[2.0f32], [-1.0], [0.5], [-0.2], [3.0], [-3.0], [1.0]]).into_dyn();
    Dataset::from_f32(x, Targets::Classes(vec![1, 1, 0, 0, 1, 0, 0])).unwrap()
}

#[test]
fn binary_metrics_read_the_positive_class_of_one_unit() {
    let mut model = identity_model(1, Activation::Sigmoid);
    let metrics = [
        Metric::Accuracy,
        Metric::Precision,
        Metric::Recall,
        Metric::F1Score {
            average: Average::Weighted,
        },
    ];
    model
        .compile(Sgd::new(0.0), Loss::BinaryCrossentropy, &metrics)
        .unwrap();
    let scores = model.evaluate(&binary_data()).unwrap();
    close(&scores, "accuracy", 4.0 / 7.0);
    close(&scores, "precision", 0.5);
    close(&scores, "recall", 2.0 / 3.0);
    close(&scores, "f1_score", 4.0 / 7.0);
}

#[test]
fn a_linear_unit_trained_with_binary_crossentropy_is_read_as_a_logit() {
    // Thresholding at 0.5 instead of 0 would call sample 2 (x = 0.5, label 0) negative: 5/7.
    let mut model = identity_model(1, Activation::Linear);
    model
        .compile(
            Sgd::new(0.0),
            Loss::BinaryCrossentropy,
            &[Metric::BinaryAccuracy],
        )
        .unwrap();
    close(
        &model.evaluate(&binary_data()).unwrap(),
        "binary_accuracy",
        4.0 / 7.0,
    );
}

#[test]
fn metrics_that_cannot_read_the_targets_or_collide_are_errors() {
    let data = Dataset::from_f32(scores_x(), Targets::Dense(one_hot())).unwrap();
    let mut model = identity_model(3, Activation::Softmax);
    let sparse = [Metric::SparseCategoricalAccuracy];
    model
        .compile(Sgd::new(0.0), Loss::CategoricalCrossentropy, &sparse)
        .unwrap();
    let err = model.evaluate(&data).unwrap_err();
    assert!(
        matches!(
            err,
            Error::MetricTargets { ref metric, .. } if metric == "sparse_categorical_accuracy"
        ),
        "{err}"
    );
    let err = model
        .fit(&data, FitOptions::new().verbose(0))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("use CategoricalAccuracy") && err.contains("3 columns"),
        "{err}"
    );

    let two_f1 = [
        Metric::F1Score {
            average: Average::Macro,
        },
        Metric::F1Score {
            average: Average::Weighted,
        },
    ];
    let err = model
        .compile(Sgd::new(0.0), Loss::CategoricalCrossentropy, &two_f1)
        .unwrap_err();
    assert!(err.to_string().contains("both named f1_score"), "{err}");
    let zero = [Metric::TopKCategoricalAccuracy { k: 0 }];
    let err = model
        .compile(Sgd::new(0.0), Loss::CategoricalCrossentropy, &zero)
        .unwrap_err();
    assert_eq!(err.to_string(), "k must be at least 1, found 0");
}
