//! `EarlyStopping` follows Keras 3's rules (`keras/src/callbacks/early_stopping.py`), on
//! hand-made metric sequences (driven directly and through a real `fit`).
//!
//! Keras 3's rule, which every expected epoch below is derived from: each monitored epoch
//! does `wait += 1`; an improvement (`current - min_delta` beyond `best`) records `best` and
//! resets `wait` to 0 if it also beats `baseline`, then returns; otherwise training stops
//! when `wait >= patience` (and `epoch > 0`).

mod callback_support;
use callback_support::{clusters, drive, stop_epoch, tiny_model, weights, Scripted};
use keel_trainer::{CallbackContext, EarlyStopping, FitOptions, MonitorMode};

fn stops_at(stopper: EarlyStopping, name: &str, values: &[f64]) -> Option<usize> {
    let mut model = tiny_model(0.1);
    let mut ctx = CallbackContext::new(&mut model);
    let mut stopper = stopper;
    let decisions = drive(&mut stopper, &mut ctx, name, values).expect("drive");
    assert_eq!(stop_epoch(&decisions), stopper.stopped_epoch());
    stop_epoch(&decisions)
}

#[test]
fn stops_after_patience_epochs_without_improvement() {
    // best 0.8 at epoch 1; epoch 2 -> wait 1, epoch 3 -> wait 2 = patience: stop
    let es = EarlyStopping::new("val_loss").patience(2);
    assert_eq!(
        stops_at(es, "val_loss", &[1.0, 0.8, 0.9, 0.85, 0.7]),
        Some(3)
    );
    // patience 0: the first epoch that does not improve stops
    let es = EarlyStopping::new("val_loss");
    assert_eq!(stops_at(es, "val_loss", &[1.0, 0.9, 0.95]), Some(2));
    let es = EarlyStopping::new("val_loss").patience(3);
    assert_eq!(stops_at(es, "val_loss", &[1.0, 0.9, 0.8, 0.7]), None);
}

#[test]
fn min_delta_is_taken_as_a_magnitude_and_small_gains_do_not_count() {
    // 0.95 and 0.92 improve on 1.0 by less than 0.1: wait 1, then 2 = patience
    let es = EarlyStopping::new("val_loss").patience(2).min_delta(-0.1);
    assert_eq!(stops_at(es, "val_loss", &[1.0, 0.95, 0.92, 0.85]), Some(2));
    let es = EarlyStopping::new("val_loss").patience(2);
    assert_eq!(stops_at(es, "val_loss", &[1.0, 0.95, 0.92, 0.85]), None);
}

#[test]
fn auto_mode_maximises_accuracies_and_mode_overrides_it() {
    // max: 0.6 repeated is no improvement
    let es = EarlyStopping::new("val_accuracy").patience(1);
    assert_eq!(
        stops_at(es, "val_accuracy", &[0.5, 0.6, 0.6, 0.55]),
        Some(2)
    );
    // min, forced: 0.6 does not improve on 0.5
    let es = EarlyStopping::new("val_accuracy")
        .patience(1)
        .mode(MonitorMode::Min);
    assert_eq!(
        stops_at(es, "val_accuracy", &[0.5, 0.6, 0.6, 0.55]),
        Some(1)
    );
}

#[test]
fn a_baseline_not_beaten_keeps_wait_growing() {
    // baseline 0.5 never beaten: wait is 1, 2 after improving epochs 0 and 1; epoch 2 does
    // not improve and wait 3 >= 2 stops. Without the baseline wait is 1 at epoch 2.
    let values = [1.0, 0.9, 0.95];
    let es = EarlyStopping::new("val_loss").patience(2).baseline(0.5);
    assert_eq!(stops_at(es, "val_loss", &values), Some(2));
    let es = EarlyStopping::new("val_loss").patience(2);
    assert_eq!(stops_at(es, "val_loss", &values), None);
    // beaten at epoch 1 (0.9 < 0.95): wait resets there
    let es = EarlyStopping::new("val_loss").patience(2).baseline(0.95);
    assert_eq!(stops_at(es, "val_loss", &values), None);
}

#[test]
fn start_from_epoch_ignores_the_warm_up() {
    let values = [1.0, 2.0, 3.0, 4.0];
    let es = EarlyStopping::new("val_loss").start_from_epoch(2);
    assert_eq!(stops_at(es, "val_loss", &values), Some(3));
    let es = EarlyStopping::new("val_loss");
    assert_eq!(stops_at(es, "val_loss", &values), Some(1));
}

#[test]
fn a_real_fit_stops_at_the_right_epoch_and_restores_the_best_weights() {
    let data = clusters(32);
    let mut model = tiny_model(0.1);
    let mut score = Scripted::new("score", &[1.0, 0.8, 0.9, 0.85, 0.7, 0.6]);
    let mut stopper = EarlyStopping::new("score")
        .patience(2)
        .restore_best_weights(true);
    let history = model
        .fit(
            &data,
            FitOptions::new()
                .epochs(6)
                .batch_size(8)
                .verbose(0)
                .callback(&mut score)
                .callback(&mut stopper),
        )
        .expect("fit");
    assert_eq!(history.epochs(), &[0, 1, 2, 3]);
    assert_eq!(history.get("score"), Some(&[1.0, 0.8, 0.9, 0.85][..]));
    assert_eq!(stopper.stopped_epoch(), Some(3));
    assert_eq!((stopper.best(), stopper.best_epoch()), (Some(0.8), Some(1)));
    assert_ne!(
        score.weights[1], score.weights[3],
        "training moved the weights"
    );
    assert_eq!(weights(&model), score.weights[1]);
}

#[test]
fn best_weights_are_restored_even_when_the_stop_never_fires() {
    let data = clusters(32);
    let mut model = tiny_model(0.1);
    let mut score = Scripted::new("score", &[0.5, 0.3, 0.4, 0.35, 0.45]);
    let mut stopper = EarlyStopping::new("score")
        .patience(10)
        .restore_best_weights(true);
    let options = FitOptions::new()
        .epochs(5)
        .batch_size(8)
        .verbose(0)
        .callback(&mut score)
        .callback(&mut stopper);
    let history = model.fit(&data, options).expect("fit");
    assert_eq!(history.epochs().len(), 5);
    assert_eq!(stopper.stopped_epoch(), None);
    assert_eq!(weights(&model), score.weights[1]);
}

#[test]
fn epochs_without_validation_are_not_counted() {
    // lr 0: val_loss is the same on every validated epoch (1, 3, 5); epoch 1 sets the best,
    // epoch 3 does not improve and wait 1 = patience stops there.
    let data = clusters(32);
    let mut model = tiny_model(0.0);
    let mut stopper = EarlyStopping::new("val_loss").patience(1);
    let history = model
        .fit(
            &data,
            FitOptions::new()
                .epochs(6)
                .validation_split(0.25)
                .validation_freq(2)
                .verbose(0)
                .callback(&mut stopper),
        )
        .expect("fit");
    assert_eq!(stopper.stopped_epoch(), Some(3));
    assert_eq!(history.epochs().len(), 4);
}

#[test]
fn an_unknown_monitor_fails_before_training_listing_the_available_names() {
    let data = clusters(32);
    let mut model = tiny_model(0.1);
    let before = weights(&model);
    let err = model
        .fit(
            &data,
            FitOptions::new()
                .epochs(3)
                .validation_split(0.25)
                .verbose(0)
                .callback(EarlyStopping::new("val_acc")),
        )
        .expect_err("unknown monitor");
    assert_eq!(
        err.to_string(),
        "early_stopping: monitor 'val_acc' is not available; available metrics are: \
         accuracy, loss, val_accuracy, val_loss"
    );
    assert_eq!(weights(&model), before, "no epoch ran");
}

#[test]
fn a_non_finite_min_delta_or_baseline_is_an_error() {
    let mut model = tiny_model(0.1);
    let mut ctx = CallbackContext::new(&mut model);
    for mut es in [
        EarlyStopping::new("loss").min_delta(f64::NAN),
        EarlyStopping::new("loss").baseline(f64::INFINITY),
    ] {
        let err = drive(&mut es, &mut ctx, "loss", &[1.0]).expect_err("bad argument");
        assert!(err.to_string().starts_with("early_stopping: "), "{err}");
        assert!(err.to_string().contains("must be a finite number"), "{err}");
    }
}
