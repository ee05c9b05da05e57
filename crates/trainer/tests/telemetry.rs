//! Telemetry and regularization in `fit`, on models small enough to compute by hand.

mod common;
use common::{mnist_subset, seed_model};
use keel_data::{Dataset, Targets};
use keel_layers::{Dense, Initializer, Regularizer};
use keel_optim::{Clipping, Sgd};
use keel_trainer::{Error, FitOptions, Loss, ReduceLROnPlateau, Sequential, Telemetry};
use ndarray::array;

/// `y = w · x`, w = [0, 0] (or the given initializer), mean squared error.
fn linear(init: Initializer, sgd: Sgd) -> Sequential {
    let mut model =
        Sequential::new([2]).add(Dense::new(1).use_bias(false).kernel_initializer(init));
    model.compile(sgd, Loss::MeanSquaredError, &[]).unwrap();
    model
}

fn one_sample(x: [f32; 2], y: f32, copies: usize) -> Dataset {
    let xs = ndarray::Array2::from_shape_fn((copies, 2), |(_, j)| x[j]).into_dyn();
    let ys = ndarray::Array2::from_elem((copies, 1), y);
    Dataset::from_f32(xs, Targets::Dense(ys)).unwrap()
}

fn options<'a>(telemetry: Telemetry) -> FitOptions<'a> {
    FitOptions::new()
        .batch_size(1)
        .shuffle(false)
        .verbose(0)
        .telemetry(telemetry)
}

#[test]
fn the_gradient_norm_of_one_step_is_the_hand_computed_one() {
    // x = [3, 4], y = 1, w = 0: dL/dw = 2 (w·x - y) x = [-6, -8], norm 10.
    let mut model = linear(Initializer::Zeros, Sgd::new(0.01));
    let history = model
        .fit(&one_sample([3.0, 4.0], 1.0, 1), options(Telemetry::Steps))
        .unwrap();
    for (name, value) in [
        ("grad_norm", 10.0),
        ("grad_norm_max", 10.0),
        ("clipped_grad_norm", 10.0),
        ("clip_rate", 0.0),
        ("learning_rate", 0.01f32 as f64),
        ("skipped_steps", 0.0),
        ("rollbacks", 0.0),
        ("grad_norm/dense", 10.0),
    ] {
        assert_eq!(history.get(name), Some(&[value][..]), "{name}");
    }
    let step = history.steps()[0];
    assert_eq!(
        (step.grad_norm, step.clipped_grad_norm, step.loss),
        (10.0, 10.0, 1.0)
    );
}

#[test]
fn clipping_shows_in_the_clipped_norm_and_the_clip_rate() {
    // Step 1: norm 10, clipped to 1, w = 0.01 · [0.6, 0.8] = [0.006, 0.008].
    // Step 2: w·x = 0.05, dL/dw = 2 (0.05 - 1) [3, 4], norm 9.5, clipped to 1.
    let mut model = linear(Initializer::Zeros, Sgd::new(0.01).global_clipnorm(1.0));
    let history = model
        .fit(&one_sample([3.0, 4.0], 1.0, 2), options(Telemetry::Epochs))
        .unwrap();
    let at = |name| history.get(name).unwrap()[0];
    assert!((at("grad_norm") - 9.75).abs() < 1e-5, "{}", at("grad_norm"));
    assert_eq!(at("grad_norm_max"), 10.0);
    assert!((at("clipped_grad_norm") - 1.0).abs() < 1e-5);
    assert_eq!(at("clip_rate"), 1.0);
    assert!(
        history.steps().is_empty(),
        "steps are kept only with Telemetry::Steps"
    );
}

#[test]
fn per_layer_norms_add_up_to_the_global_norm() {
    let mut model = seed_model(2);
    let options = FitOptions::new()
        .batch_size(32)
        .steps_per_epoch(1)
        .verbose(0)
        .telemetry(Telemetry::Epochs);
    let history = model.fit(&mnist_subset(64), options).unwrap();
    let global = history.get("grad_norm").unwrap()[0];
    let layers: Vec<f64> = ["grad_norm/dense", "grad_norm/dense_1"]
        .iter()
        .map(|n| history.get(n).unwrap()[0])
        .collect();
    let total = layers.iter().map(|l| l * l).sum::<f64>().sqrt();
    assert!(
        (total - global).abs() < 1e-4 * global,
        "{layers:?} vs {global}"
    );
    assert!(
        history.names().all(|n| !n.contains("dropout")),
        "no series for layers without weights"
    );
}

#[test]
fn telemetry_is_off_by_default_and_callbacks_may_monitor_it_when_on() {
    let data = mnist_subset(64);
    let mut model = seed_model(2);
    let history = model.fit(&data, FitOptions::new().verbose(0)).unwrap();
    assert_eq!(history.names().collect::<Vec<_>>(), ["accuracy", "loss"]);
    let monitor = || ReduceLROnPlateau::new("grad_norm");
    let err = model
        .fit(&data, FitOptions::new().verbose(0).callback(monitor()))
        .unwrap_err();
    assert!(matches!(err, Error::UnknownMetric { .. }), "{err}");
    let options = FitOptions::new().verbose(0).telemetry(Telemetry::Epochs);
    assert!(model.fit(&data, options.callback(monitor())).is_ok());
}

#[test]
fn a_regularizer_adds_its_penalty_to_the_loss_and_its_gradient_to_the_step() {
    // w = [1, 1], x = [3, 4], y = 7: the squared error is 0, the L2 penalty 0.5 · 2 = 1.
    // Its gradient 2 · 0.5 · w = [1, 1] (norm √2) gives w = [0.9, 0.9] after SGD(0.1).
    let mut model = Sequential::new([2]).add(
        Dense::new(1)
            .use_bias(false)
            .kernel_initializer(Initializer::Ones)
            .kernel_regularizer(Regularizer::L2(0.5)),
    );
    model
        .compile(Sgd::new(0.1), Loss::MeanSquaredError, &[])
        .unwrap();
    let data = one_sample([3.0, 4.0], 7.0, 1);
    let history = model.fit(&data, options(Telemetry::Epochs)).unwrap();
    assert_eq!(history.get("loss"), Some(&[1.0][..]));
    assert!((history.get("grad_norm").unwrap()[0] - 2f64.sqrt()).abs() < 1e-6);
    let w = model.named_params()[0].1.value().clone();
    assert_eq!(w, array![[0.9f32], [0.9]].into_dyn());
    // evaluate includes the penalty too, as Keras: (6.3 - 7)² + 0.5 · (0.81 + 0.81) = 1.3.
    let loss = model.evaluate(&data).unwrap().get("loss").unwrap();
    assert!((loss - 1.3).abs() < 1e-5, "{loss}");
}
