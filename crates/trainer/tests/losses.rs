//! The losses added for custom training: values against hand computations, Keras's
//! `from_logits` rules, a custom loss in `fit`, and frozen layers under `fit`.

use keel_autograd::{tensor, Tape};
use keel_data::{Dataset, Targets};
use keel_layers::{Activation, Dense};
use keel_optim::Adam;
use keel_trainer::{CustomLoss, FitOptions, Loss, Sequential};
use ndarray::array;

fn close(a: f32, b: f32) {
    assert!((a - b).abs() < 1e-5, "{a} != {b}");
}

#[test]
fn regression_losses_match_hand_values() {
    let tape = Tape::new();
    let y = tape.var(tensor(&[2, 2], vec![0.5, 3.0, -1.0, 0.0]));
    let t = Targets::Dense(array![[0.0, 0.0], [0.0, 0.2]]);
    // errors: 0.5, 3.0 | 1.0, 0.2
    let mae = Loss::MeanAbsoluteError.call(y, &t).unwrap().scalar();
    close(mae, ((0.5 + 3.0) / 2.0 + (1.0 + 0.2) / 2.0) / 2.0);
    // delta 1: 0.5·e² up to 1, else e − 0.5
    let huber = Loss::Huber { delta: 1.0 }.call(y, &t).unwrap().scalar();
    let h = |e: f32| if e <= 1.0 { 0.5 * e * e } else { e - 0.5 };
    close(
        huber,
        ((h(0.5) + h(3.0)) / 2.0 + (h(1.0) + h(0.2)) / 2.0) / 2.0,
    );
    assert!(Loss::Huber { delta: 0.0 }.call(y, &t).is_err());
}

#[test]
fn kl_divergence_clips_as_keras_does() {
    let tape = Tape::new();
    let p = tape.var(tensor(&[1, 2], vec![0.25, 0.75]));
    let t = Targets::Dense(array![[0.5, 0.5]]);
    let kl = Loss::KLDivergence.call(p, &t).unwrap().scalar();
    close(kl, 0.5 * (0.5f32 / 0.25).ln() + 0.5 * (0.5f32 / 0.75).ln());
    assert!(Loss::KLDivergence
        .call(p, &Targets::Classes(vec![1]))
        .is_err());
}

#[test]
fn crossentropy_on_probabilities_and_on_logits_agree() {
    let tape = Tape::new();
    let logits = tape.var(tensor(&[2, 3], vec![1.0, 2.0, 0.5, -1.0, 0.0, 2.5]));
    let labels = Targets::Classes(vec![1, 2]);
    let one_hot = Targets::Dense(array![[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]);
    let from_logits = Loss::sparse_categorical_crossentropy(true)
        .call(logits, &labels)
        .unwrap()
        .scalar();
    // Probabilities made without a softmax op: the explicit from_logits=false path.
    let p = logits.value().map_axis(ndarray::Axis(1), |row| {
        let e: Vec<f32> = row.iter().map(|v| v.exp()).collect();
        e.iter().sum::<f32>()
    });
    let probabilities = tape.var(
        ndarray::Array2::from_shape_fn((2, 3), |(i, j)| logits.value()[[i, j]].exp() / p[i])
            .into_dyn(),
    );
    for (loss, targets) in [
        (Loss::sparse_categorical_crossentropy(false), &labels),
        (Loss::categorical_crossentropy(false), &one_hot),
    ] {
        close(
            loss.call(probabilities, targets).unwrap().scalar(),
            from_logits,
        );
    }
    let binary = Loss::binary_crossentropy(false)
        .call(
            tape.var(tensor(&[1, 1], vec![0.8])),
            &Targets::Classes(vec![1]),
        )
        .unwrap()
        .scalar();
    close(binary, -(0.8f32).ln());
}

#[test]
fn a_custom_loss_trains_in_fit_and_is_logged() {
    let x = array![[1.0f32, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]].into_dyn();
    let data = Dataset::from_f32(x, Targets::Dense(array![[1.0], [0.0], [1.0], [0.0]])).unwrap();
    let squared = CustomLoss::new("my_squared_error", |y_pred, y_true| {
        let t = y_pred.tape().constant(y_true.to_dense());
        let e = y_pred - t;
        (e * e).mean_axis(1, false)
    });
    let mut model = Sequential::new([2]).add(Dense::new(1));
    model
        .compile(Adam::new(0.05), Loss::Custom(squared), &[])
        .unwrap();
    let history = model
        .fit(&data, FitOptions::new().epochs(30).batch_size(4).verbose(0))
        .unwrap();
    let losses = history.get("loss").unwrap();
    assert!(losses.last().unwrap() < &(losses[0] * 0.5), "{losses:?}");

    let wrong_shape = CustomLoss::new("wrong", |y_pred, _| y_pred);
    model
        .compile(Adam::new(0.05), Loss::Custom(wrong_shape), &[])
        .unwrap();
    let err = model
        .fit(&data, FitOptions::new().epochs(1).verbose(0))
        .unwrap_err();
    assert!(err.to_string().contains("one loss per sample"), "{err}");
}

#[test]
fn fit_leaves_a_frozen_layer_alone_and_files_keep_it() {
    let x = array![[1.0f32, 0.0], [0.0, 1.0]].into_dyn();
    let data = Dataset::from_f32(x, Targets::Classes(vec![0, 1])).unwrap();
    let mut model = Sequential::new([2])
        .add(Dense::new(4).activation(Activation::Relu).trainable(false))
        .add(Dense::new(2).activation(Activation::Softmax));
    model
        .compile(Adam::new(0.1), Loss::SparseCategoricalCrossentropy, &[])
        .unwrap();
    let frozen = model.get_layer("dense").unwrap().get_weights();
    let head = model.get_layer("dense_1").unwrap().get_weights();
    model
        .fit(&data, FitOptions::new().epochs(3).verbose(0))
        .unwrap();
    assert_eq!(model.get_layer("dense").unwrap().get_weights(), frozen);
    assert_ne!(model.get_layer("dense_1").unwrap().get_weights(), head);
    assert!(model.summary_string().contains("Non-trainable params: 12"));
    let bytes = model.weights_to_bytes().unwrap();
    let mut copy = Sequential::new([2])
        .add(Dense::new(4).activation(Activation::Relu))
        .add(Dense::new(2).activation(Activation::Softmax))
        .seed(9);
    copy.load_weights_from_bytes(&bytes).unwrap();
    assert_eq!(copy.get_weights(), model.get_weights());
}

#[test]
fn only_a_softmax_over_the_last_axis_is_fused_back_to_logits() {
    let tape = Tape::new();
    let logits = tape.var(tensor(&[2, 3], vec![1.0, 2.0, 0.5, -1.0, 0.0, 2.5]));
    let labels = Targets::Classes(vec![1, 2]);
    let over_rows = logits.softmax(0); // not the model's output activation: taken as logits
    let auto = Loss::SparseCategoricalCrossentropy
        .call(over_rows, &labels)
        .unwrap();
    let as_logits = Loss::sparse_categorical_crossentropy(true)
        .call(over_rows, &labels)
        .unwrap();
    assert_eq!(auto.scalar(), as_logits.scalar());
    let fused = Loss::SparseCategoricalCrossentropy
        .call(logits.softmax(1), &labels)
        .unwrap();
    let direct = Loss::sparse_categorical_crossentropy(true)
        .call(logits, &labels)
        .unwrap();
    assert_eq!(fused.scalar(), direct.scalar());
}
