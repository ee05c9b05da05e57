//! Layer access by name and position, and weights in Keras order: every mistake is an
//! `Err` naming what was expected, and changes nothing.

use keel_autograd::tensor;
use keel_layers::{Dense, Flatten};
use keel_trainer::{Error, Sequential};

fn model() -> Sequential {
    Sequential::new([2, 2])
        .add(Flatten::new())
        .add(Dense::new(3))
        .add(Dense::new(2))
}

#[test]
fn names_match_summary_and_unknown_names_list_the_known_ones() {
    let model = model();
    let paths: Vec<String> = model
        .named_params()
        .iter()
        .map(|(p, _)| p.to_string())
        .collect();
    assert_eq!(
        paths,
        [
            "dense/kernel",
            "dense/bias",
            "dense_1/kernel",
            "dense_1/bias"
        ]
    );
    assert_eq!(model.get_layer_at(0).unwrap().kind(), "flatten");
    let err = model.get_layer("dense_7").unwrap_err();
    assert_eq!(
        err.to_string(),
        "no layer named 'dense_7': expected one of flatten, dense, dense_1"
    );
    assert!(matches!(
        model.get_layer_at(3),
        Err(Error::UnknownLayer { .. })
    ));
    assert!(model.is_trainable("nope").is_err());
}

#[test]
fn set_weights_refuses_a_wrong_count_shape_or_value_and_changes_nothing() {
    let mut model = model();
    let before = model.get_weights();
    let mut short = before.clone();
    short.pop();
    let mut misshaped = before.clone();
    misshaped[2] = tensor(&[2, 3], vec![0.0; 6]);
    let mut nan = before.clone();
    nan[3] = tensor(&[2], vec![0.0, f32::NAN]);
    let messages: Vec<String> = [short, misshaped, nan]
        .into_iter()
        .map(|w| model.set_weights(w).unwrap_err().to_string())
        .collect();
    assert_eq!(
        messages,
        [
            "set_weights of the model: expected 4 weights, found 3 weights",
            "set_weights of the model: expected dense_1/kernel of shape [3, 2], found shape [2, 3]",
            "set_weights of the model: expected finite values in dense_1/bias, found NaN",
        ]
    );
    assert_eq!(model.get_weights(), before);
    let layer_err = model
        .get_layer_mut("dense")
        .unwrap()
        .set_weights(vec![tensor(&[4, 3], vec![0.0; 12])])
        .unwrap_err();
    assert_eq!(
        layer_err.to_string(),
        "dense: set_weights expected 2 weights, found 1 weights"
    );
    assert_eq!(model.get_weights(), before);
}

#[test]
fn a_frozen_layer_gets_no_gradient() {
    use keel_autograd::Tape;
    use keel_layers::{Ctx, Mode};
    use rand::SeedableRng;
    let mut model = model();
    model.set_trainable("dense", false).unwrap();
    let tape = Tape::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let x = ndarray::ArrayD::from_elem(vec![2, 2, 2], 0.5);
    let y = model
        .forward(&tape, x, &mut Ctx::new(Mode::Train, &mut rng))
        .unwrap();
    let grads = y.sum().backward();
    let params = model.named_params();
    assert!(grads.param(params[0].1).is_none(), "dense/kernel is frozen");
    assert!(grads.param(params[2].1).is_some(), "dense_1/kernel trains");
}
