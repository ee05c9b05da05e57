//! The callback hooks through a real `fit`, and `TerminateOnNaN`, `LearningRateScheduler`,
//! `CSVLogger` and `LambdaCallback`.

mod callback_support;
use callback_support::{clusters, overlapping, tiny_model, weights, Snapshots};
use keel_trainer::{
    CSVLogger, Callback, CallbackContext, Control, EarlyStopping, Error, FitOptions,
    LambdaCallback, LearningRateScheduler, Logs, Result, TerminateOnNaN,
};

/// Records every hook call as a short string.
#[derive(Default)]
struct Recorder(Vec<String>);

impl Callback for Recorder {
    fn on_train_begin(&mut self, ctx: &mut CallbackContext<'_>) -> Result<Control> {
        self.0.push(format!("train_begin {} steps", ctx.steps()));
        Ok(Control::Continue)
    }
    fn on_train_end(&mut self, logs: &Logs, _ctx: &mut CallbackContext<'_>) -> Result<()> {
        self.0.push(format!("train_end {}", logs.len()));
        Ok(())
    }
    fn on_epoch_begin(&mut self, epoch: usize, _ctx: &mut CallbackContext<'_>) -> Result<Control> {
        self.0.push(format!("epoch_begin {epoch}"));
        Ok(Control::Continue)
    }
    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &mut Logs,
        _ctx: &mut CallbackContext<'_>,
    ) -> Result<Control> {
        let names: Vec<&str> = logs.names().collect();
        self.0
            .push(format!("epoch_end {epoch} {}", names.join(",")));
        Ok(Control::Continue)
    }
    fn on_train_batch_begin(
        &mut self,
        batch: usize,
        ctx: &mut CallbackContext<'_>,
    ) -> Result<Control> {
        self.0.push(format!("batch_begin {}.{batch}", ctx.epoch()));
        Ok(Control::Continue)
    }
    fn on_train_batch_end(
        &mut self,
        batch: usize,
        logs: &Logs,
        _ctx: &mut CallbackContext<'_>,
    ) -> Result<Control> {
        assert!(logs.get("loss").is_some_and(f64::is_finite));
        self.0.push(format!("batch_end {batch}"));
        Ok(Control::Continue)
    }
}

#[test]
fn hooks_run_in_keras_order_with_absolute_epochs() {
    let data = clusters(32);
    let mut model = tiny_model(0.1);
    let mut recorder = Recorder::default();
    model
        .fit(
            &data,
            FitOptions::new()
                .epochs(3)
                .initial_epoch(1)
                .batch_size(16)
                .validation_split(0.25) // 24 training samples: 2 batches
                .validation_freq(2)
                .verbose(0)
                .callback(&mut recorder),
        )
        .expect("fit");
    let expected = [
        "train_begin 2 steps",
        "epoch_begin 1",
        "batch_begin 1.0",
        "batch_end 0",
        "batch_begin 1.1",
        "batch_end 1",
        "epoch_end 1 loss,accuracy,val_loss,val_accuracy",
        "epoch_begin 2",
        "batch_begin 2.0",
        "batch_end 0",
        "batch_begin 2.1",
        "batch_end 1",
        "epoch_end 2 loss,accuracy",
        "train_end 2",
    ];
    assert_eq!(recorder.0, expected);
}

#[test]
fn a_stop_at_train_begin_runs_no_epoch() {
    let mut model = tiny_model(0.1);
    let before = weights(&model);
    let stop = LambdaCallback::new().on_train_begin(|| Control::Stop);
    let history = model
        .fit(
            &clusters(32),
            FitOptions::new().epochs(3).verbose(0).callback(stop),
        )
        .expect("fit");
    assert!(history.epochs().is_empty());
    assert_eq!(weights(&model), before);
}

#[test]
fn a_lambda_callback_stops_mid_epoch_and_the_epoch_is_still_recorded() {
    let mut model = tiny_model(0.1);
    let mut batches = 0;
    let history = model
        .fit(
            &clusters(32),
            FitOptions::new()
                .epochs(5)
                .batch_size(4)
                .verbose(0)
                .callback(LambdaCallback::new().on_train_batch_end(|batch, _| {
                    batches += 1;
                    if batch == 2 {
                        Control::Stop
                    } else {
                        Control::Continue
                    }
                })),
        )
        .expect("fit");
    assert_eq!(batches, 3);
    assert_eq!(history.epochs(), &[0]);
}

/// Two good epochs, then a learning rate of 1e38 drives the loss to NaN in epoch 2.
fn explode_at_epoch_2() -> impl Callback {
    LearningRateScheduler::new(|epoch, lr| if epoch == 2 { 1e38 } else { lr })
}

#[test]
fn terminate_on_nan_ends_fit_with_ok_and_finite_weights() {
    let data = overlapping(64);
    let mut model = tiny_model(0.1);
    let mut terminate = TerminateOnNaN::new();
    let mut ended = false;
    let history = model
        .fit(
            &data,
            FitOptions::new()
                .epochs(5)
                .batch_size(8)
                .verbose(0)
                .callback(explode_at_epoch_2())
                .callback(&mut terminate)
                .callback(LambdaCallback::new().on_train_end(|_| ended = true)),
        )
        .expect("TerminateOnNaN makes it graceful");
    let (epoch, batch) = terminate.terminated_at().expect("terminated");
    assert_eq!(epoch, 2);
    assert!(
        batch >= 1,
        "the first batch at 1e38 still has a finite loss"
    );
    assert_eq!(
        history.epochs(),
        &[0, 1],
        "the interrupted epoch is not recorded"
    );
    assert!(ended, "on_train_end ran");
    for (name, p) in model.named_params() {
        assert!(p.value().iter().all(|v| v.is_finite()), "{name}");
    }
    // without it, the same run is an error
    let mut model = tiny_model(0.1);
    let err = model
        .fit(
            &data,
            FitOptions::new()
                .epochs(5)
                .batch_size(8)
                .verbose(0)
                .callback(explode_at_epoch_2()),
        )
        .expect_err("non-finite loss");
    assert!(
        matches!(err, Error::NonFiniteLoss { epoch: 3, .. }),
        "{err}"
    );
}

#[test]
fn early_stopping_restores_its_best_weights_even_when_the_loss_explodes() {
    // two good epochs, then a learning rate of 1e38 blows the loss up in epoch 2
    let mut model = tiny_model(0.1);
    let mut snapshots = Snapshots::default();
    let mut stopper = EarlyStopping::new("loss")
        .patience(10)
        .restore_best_weights(true);
    let err = model
        .fit(
            &overlapping(32),
            FitOptions::new()
                .epochs(10)
                .batch_size(8)
                .verbose(0)
                .callback(LearningRateScheduler::new(|epoch, lr| {
                    if epoch == 3 {
                        1e38
                    } else {
                        lr
                    }
                }))
                .callback(&mut snapshots)
                .callback(&mut stopper),
        )
        .expect_err("the loss explodes");
    assert!(
        matches!(err, Error::NonFiniteLoss { epoch: 4, .. }),
        "{err}"
    );
    let best = stopper.best_epoch().expect("a best epoch");
    assert_eq!(weights(&model), snapshots.0[best]);
}

#[test]
fn a_learning_rate_scheduler_sets_the_rate_each_epoch() {
    let mut model = tiny_model(0.1);
    let mut seen = Vec::new();
    let history = model
        .fit(
            &clusters(32),
            FitOptions::new()
                .epochs(4)
                .initial_epoch(1)
                .verbose(0)
                .callback(LearningRateScheduler::new(|epoch, lr| {
                    seen.push((epoch, lr));
                    0.1 / (1 << epoch) as f32
                })),
        )
        .expect("fit");
    assert_eq!(seen, [(1, 0.1), (2, 0.05), (3, 0.025)]);
    assert_eq!(
        history.get("learning_rate"),
        Some(&[0.05f32 as f64, 0.025f32 as f64, 0.0125f32 as f64][..])
    );
    let err = model
        .fit(
            &clusters(32),
            FitOptions::new()
                .verbose(0)
                .callback(LearningRateScheduler::new(|_, _| f32::NAN)),
        )
        .expect_err("a NaN rate");
    assert!(err.to_string().contains("learning rate"), "{err}");
}

#[test]
fn csv_logger_writes_a_header_and_a_row_per_epoch_and_can_append() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.csv");
    let mut model = tiny_model(0.1);
    let options = |append| {
        FitOptions::new()
            .epochs(3)
            .validation_split(0.25)
            .validation_freq(2)
            .verbose(0)
            .callback(CSVLogger::new(&path).append(append))
    };
    let history = model.fit(&clusters(32), options(false)).expect("fit");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "epoch,accuracy,loss,val_accuracy,val_loss");
    assert_eq!(lines.len(), 4);
    let row0 = format!(
        "0,{},{},NA,NA",
        history.get("accuracy").unwrap()[0],
        history.get("loss").unwrap()[0]
    );
    assert_eq!(lines[1], row0);
    let row1: Vec<&str> = lines[2].split(',').collect();
    assert_eq!(row1[4], history.get("val_loss").unwrap()[1].to_string());
    model.fit(&clusters(32), options(true)).expect("fit");
    let appended = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        appended.lines().count(),
        7,
        "three rows more, no second header"
    );
    model.fit(&clusters(32), options(false)).expect("fit");
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 4);
}
