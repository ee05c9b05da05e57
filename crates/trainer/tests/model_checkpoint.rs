//! `ModelCheckpoint`: Keras's file-name patterns, `save_best_only`, and never a checkpoint of
//! a non-finite model.

mod callback_support;
use callback_support::{clusters, drive, tiny_model, weights, Scripted};
use keel_trainer::{CallbackContext, Error, FitOptions, ModelCheckpoint, MonitorMode, Sequential};
use std::path::Path;

fn file_names(paths: &[std::path::PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

fn pattern(dir: &Path, name: &str) -> String {
    dir.join(name).to_string_lossy().into_owned()
}

#[test]
fn saves_every_epoch_under_a_one_based_patterned_name() {
    let dir = tempfile::tempdir().unwrap();
    let data = clusters(32);
    let mut model = tiny_model(0.1);
    let mut checkpoint = ModelCheckpoint::new(pattern(
        dir.path(),
        "run/ckpt-{epoch:02d}-{val_loss:.4f}.keel",
    ));
    let history = model
        .fit(
            &data,
            FitOptions::new()
                .epochs(3)
                .validation_split(0.25)
                .verbose(0)
                .callback(&mut checkpoint),
        )
        .expect("fit");
    let val_loss = history.get("val_loss").unwrap();
    let expected: Vec<String> = (0..3)
        .map(|e| format!("ckpt-{:02}-{:.4}.keel", e + 1, val_loss[e]))
        .collect();
    assert_eq!(file_names(checkpoint.saved()), expected);
    // the last file is the final model, and the directory was created
    let restored = Sequential::load(&checkpoint.saved()[2]).expect("load");
    assert_eq!(weights(&restored), weights(&model));
}

#[test]
fn save_best_only_saves_on_improvement_in_the_monitored_direction() {
    let dir = tempfile::tempdir().unwrap();
    let data = clusters(32);
    let mut model = tiny_model(0.1);
    let mut score = Scripted::new("score", &[0.5, 0.7, 0.6, 0.9, 0.9]);
    let mut checkpoint = ModelCheckpoint::new(pattern(dir.path(), "best-{epoch}.keel"))
        .monitor("score")
        .mode(MonitorMode::Max)
        .save_best_only(true);
    model
        .fit(
            &data,
            FitOptions::new()
                .epochs(5)
                .verbose(0)
                .callback(&mut score)
                .callback(&mut checkpoint),
        )
        .expect("fit");
    assert_eq!(
        file_names(checkpoint.saved()),
        ["best-1.keel", "best-2.keel", "best-4.keel"]
    );
    assert_eq!(checkpoint.best(), Some(0.9));
    let best = Sequential::load(&checkpoint.saved()[2]).unwrap();
    assert_eq!(weights(&best), score.weights[3]);
}

#[test]
fn never_saves_a_non_finite_metric_or_non_finite_weights() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = tiny_model(0.1);
    let mut ctx = CallbackContext::new(&mut model);
    // every epoch is saved except the NaN one; the pattern has no placeholder, so an
    // earlier good file would have been overwritten by a bad one
    let mut checkpoint = ModelCheckpoint::new(pattern(dir.path(), "m-{epoch}.keel"));
    drive(&mut checkpoint, &mut ctx, "val_loss", &[0.5, f64::NAN, 0.4]).unwrap();
    assert_eq!(file_names(checkpoint.saved()), ["m-1.keel", "m-3.keel"]);
    // with save_best_only, -inf would be the best ever for a loss: never saved either
    let mut best = ModelCheckpoint::new(pattern(dir.path(), "b-{epoch}.keel")).save_best_only(true);
    drive(
        &mut best,
        &mut ctx,
        "val_loss",
        &[0.5, f64::NEG_INFINITY, 0.4],
    )
    .unwrap();
    assert_eq!(file_names(best.saved()), ["b-1.keel", "b-3.keel"]);
    // a NaN weight: nothing saved
    for (_, p) in ctx.model_mut().named_params_mut() {
        p.value_mut().fill(f32::NAN);
    }
    let mut checkpoint = ModelCheckpoint::new(pattern(dir.path(), "nan-{epoch}.keel"));
    drive(&mut checkpoint, &mut ctx, "val_loss", &[0.5]).unwrap();
    assert!(checkpoint.saved().is_empty());
    assert!(!dir.path().join("nan-1.keel").exists());
}

#[test]
fn an_unknown_placeholder_fails_before_training_listing_the_available_names() {
    let dir = tempfile::tempdir().unwrap();
    let data = clusters(32);
    let mut model = tiny_model(0.1);
    let err = model
        .fit(
            &data,
            FitOptions::new()
                .verbose(0)
                .callback(ModelCheckpoint::new(pattern(
                    dir.path(),
                    "{epoch}-{val_acc:.2}.keel",
                ))),
        )
        .expect_err("unknown placeholder");
    assert_eq!(
        err.to_string(),
        "model_checkpoint: filepath placeholder 'val_acc' is not available; available \
         metrics are: epoch, accuracy, loss"
    );
}

#[test]
fn a_malformed_pattern_or_monitor_is_an_error() {
    let data = clusters(32);
    let mut model = tiny_model(0.1);
    let err = model
        .fit(
            &data,
            FitOptions::new()
                .verbose(0)
                .callback(ModelCheckpoint::new("ckpt-{epoch:02.keel")),
        )
        .expect_err("unclosed brace");
    assert!(matches!(err, Error::FilepathPattern { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "model_checkpoint: filepath pattern 'ckpt-{epoch:02.keel': expected '}' to close \
         '{epoch:02.keel', found the end"
    );
    let err = model
        .fit(
            &data,
            FitOptions::new().verbose(0).callback(
                ModelCheckpoint::new("ckpt.keel")
                    .monitor("val_loss")
                    .save_best_only(true),
            ),
        )
        .expect_err("no validation");
    assert!(
        err.to_string()
            .starts_with("model_checkpoint: monitor 'val_loss' is not available"),
        "{err}"
    );
}
