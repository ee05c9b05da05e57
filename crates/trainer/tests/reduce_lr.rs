//! `ReduceLROnPlateau` follows Keras's rules (`keras/src/callbacks/reduce_lr_on_plateau.py`)
//! on a hand-made `val_loss` sequence, driven directly and through a real `fit`.

mod callback_support;
use callback_support::{clusters, drive, tiny_model, Scripted};
use keel_trainer::{Callback, CallbackContext, FitOptions, Logs, MonitorMode, ReduceLROnPlateau};

/// factor 0.5, patience 2, cooldown 1, min_lr 0.2, min_delta 0, from lr 1. Keras's rule per
/// epoch: in cooldown, `cooldown_counter -= 1; wait = 0`; then an improvement resets `wait`;
/// else, out of cooldown, `wait += 1` and at `wait >= patience` with `lr > min_lr`:
/// `lr = max(lr * factor, min_lr)`, `cooldown_counter = cooldown`, `wait = 0`.
///
/// epoch  val_loss  best  cooldown  wait  lr after
///   0     1.00     1.00     0        0     1
///   1     0.90     0.90     0        0     1
///   2     0.95              0        1     1
///   3     0.93              0->1     2->0  0.5    (reduced)
///   4     0.92              1->0     0->1  0.5    (cooldown ends this epoch, then wait 1)
///   5     0.91              0->1     2->0  0.25   (reduced)
///   6     0.99              1->0     0->1  0.25
///   7     0.98              0->1     2->0  0.2    (0.125 clipped to min_lr)
///   8     0.97              1->0     0->1  0.2
///   9     0.96              0        2     0.2    (lr = min_lr: not reduced, wait grows)
///  10     0.95              0        3     0.2
///  11     0.50     0.50     0        0     0.2
const VAL_LOSS: [f64; 12] = [
    1.0, 0.9, 0.95, 0.93, 0.92, 0.91, 0.99, 0.98, 0.97, 0.96, 0.95, 0.5,
];
const LR_AFTER: [f32; 12] = [1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2, 0.2, 0.2, 0.2];

fn keras_example() -> ReduceLROnPlateau {
    ReduceLROnPlateau::new("val_loss")
        .factor(0.5)
        .patience(2)
        .cooldown(1)
        .min_lr(0.2)
        .min_delta(0.0)
}

#[test]
fn the_learning_rate_schedule_matches_keras_rules() {
    let mut model = tiny_model(1.0);
    let mut ctx = CallbackContext::new(&mut model);
    let mut reduce = keras_example();
    reduce.on_train_begin(&mut ctx).unwrap();
    let mut lrs = Vec::new();
    let mut logged = Vec::new();
    for (epoch, &v) in VAL_LOSS.iter().enumerate() {
        let mut logs = Logs::from([("val_loss", v)]);
        reduce.on_epoch_end(epoch, &mut logs, &mut ctx).unwrap();
        lrs.push(ctx.learning_rate().unwrap());
        logged.push(logs.get("learning_rate").unwrap() as f32);
    }
    assert_eq!(lrs, LR_AFTER);
    // the logged rate is the one the epoch trained with (before any reduction)
    let mut before = vec![1.0];
    before.extend_from_slice(&LR_AFTER[..11]);
    assert_eq!(logged, before);
    assert_eq!((reduce.wait(), reduce.best()), (0, Some(0.5)));
}

#[test]
fn through_fit_the_history_records_the_schedule() {
    let data = clusters(32);
    let mut model = tiny_model(1.0);
    let history = model
        .fit(
            &data,
            FitOptions::new()
                .epochs(12)
                .batch_size(16)
                .verbose(0)
                .callback(Scripted::new("val_loss", &VAL_LOSS))
                .callback(keras_example()),
        )
        .expect("fit");
    let logged: Vec<f32> = history
        .get("learning_rate")
        .unwrap()
        .iter()
        .map(|&v| v as f32)
        .collect();
    assert_eq!(logged[1..], LR_AFTER[..11]);
    let ctx = CallbackContext::new(&mut model);
    assert_eq!(ctx.learning_rate().unwrap(), 0.2);
}

#[test]
fn min_delta_and_max_mode_follow_keras() {
    // max (auto for "accuracy"): 0.805 does not beat 0.8 by more than 0.01
    let mut model = tiny_model(1.0);
    let mut ctx = CallbackContext::new(&mut model);
    let mut reduce = ReduceLROnPlateau::new("val_accuracy")
        .patience(1)
        .min_delta(0.01);
    drive(&mut reduce, &mut ctx, "val_accuracy", &[0.8, 0.805, 0.9]).unwrap();
    assert!((ctx.learning_rate().unwrap() - 0.1).abs() < 1e-7);
    // forced min on the same sequence: 0.805 and 0.9 are both worse, reduced twice
    let mut ctx = CallbackContext::new(&mut model);
    ctx.set_learning_rate(1.0).unwrap();
    let mut reduce = ReduceLROnPlateau::new("val_accuracy")
        .patience(1)
        .mode(MonitorMode::Min);
    drive(&mut reduce, &mut ctx, "val_accuracy", &[0.8, 0.805, 0.9]).unwrap();
    assert!((ctx.learning_rate().unwrap() - 0.01).abs() < 1e-8);
}

#[test]
fn bad_arguments_are_errors_saying_expected_and_found() {
    let data = clusters(32);
    let mut model = tiny_model(1.0);
    let cases = [
        (
            ReduceLROnPlateau::new("loss").factor(1.0),
            "reduce_lr_on_plateau: factor must be in (0, 1), found 1",
        ),
        (
            ReduceLROnPlateau::new("loss").factor(0.0),
            "reduce_lr_on_plateau: factor must be in (0, 1), found 0",
        ),
        (
            ReduceLROnPlateau::new("loss").min_lr(-1.0),
            "reduce_lr_on_plateau: min_lr must be a finite number >= 0, found -1",
        ),
        (
            ReduceLROnPlateau::new("loss").min_delta(-0.5),
            "reduce_lr_on_plateau: min_delta must be >= 0, found -0.5",
        ),
        (
            ReduceLROnPlateau::new("val_loss"),
            "reduce_lr_on_plateau: monitor 'val_loss' is not available; available metrics \
             are: accuracy, learning_rate, loss",
        ),
    ];
    for (reduce, expected) in cases {
        let options = FitOptions::new().verbose(0).callback(reduce);
        let err = model.fit(&data, options).expect_err(expected);
        assert_eq!(err.to_string(), expected);
    }
}
