//! Callbacks that set the learning rate refuse a scheduled one as training begins, before
//! any step, instead of at their first change epochs later.

mod callback_support;
use callback_support::clusters;
use keel_layers::{Activation, Dense};
use keel_optim::{CosineDecay, Sgd};
use keel_trainer::{
    Error, FitOptions, LambdaCallback, LearningRateScheduler, Loss, ReduceLROnPlateau, Sequential,
};

fn scheduled_model() -> Sequential {
    let mut model = Sequential::new([2])
        .add(Dense::new(2).activation(Activation::Softmax))
        .seed(1);
    model
        .compile(
            Sgd::new(CosineDecay::new(0.1, 100)),
            Loss::SparseCategoricalCrossentropy,
            &[],
        )
        .unwrap();
    model
}

/// Fits 5 epochs with `callback`; returns the error and the batches that ran.
fn fit_with(callback: impl keel_trainer::Callback + 'static) -> (Error, usize) {
    let mut batches = 0;
    let err = scheduled_model()
        .fit(
            &clusters(16),
            FitOptions::new()
                .epochs(5)
                .batch_size(8)
                .verbose(0)
                .callback(callback)
                .callback(LambdaCallback::new().on_train_batch_end(|_, _| {
                    batches += 1;
                    keel_trainer::Control::Continue
                })),
        )
        .unwrap_err();
    (err, batches)
}

#[test]
fn reduce_lr_on_plateau_with_a_schedule_fails_before_the_first_step() {
    let (err, batches) = fit_with(ReduceLROnPlateau::new("loss").patience(0));
    assert_eq!(batches, 0, "{err}");
    assert!(
        matches!(
            err,
            Error::ScheduledLearningRate {
                callback: "ReduceLROnPlateau",
                schedule: "cosine_decay"
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("compile with a number"), "{err}");
}

#[test]
fn learning_rate_scheduler_with_a_schedule_fails_before_the_first_step() {
    let (err, batches) = fit_with(LearningRateScheduler::new(|_, lr| lr * 0.5));
    assert_eq!(batches, 0, "{err}");
    assert!(
        matches!(
            err,
            Error::ScheduledLearningRate {
                callback: "LearningRateScheduler",
                ..
            }
        ),
        "{err}"
    );
}
