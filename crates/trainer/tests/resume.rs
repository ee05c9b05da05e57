//! Full training-state checkpoints: a run interrupted and resumed (at an epoch boundary,
//! mid-epoch, and killed with SIGKILL in a child process) ends bit for bit where the run
//! that was not interrupted ends.

mod common;

use keel_layers::{Activation, Dense, Dropout, Flatten};
use keel_optim::{Adam, Clipping};
use keel_trainer::{
    BackupAndRestore, Callback, CallbackContext, Control, EarlyStopping, Error, FitOptions, Guard,
    History, Logs, Loss, Metric, ReduceLROnPlateau, Result, SaveFreq, Sequential, Telemetry,
    TrainingState,
};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

const EPOCHS: usize = 3;

/// MNIST MLP with dropout, Adam with global clipping; 384 training samples, 12 batches.
fn model() -> Sequential {
    let mut model = Sequential::new([28, 28])
        .add(Flatten::new())
        .add(Dense::new(32).activation(Activation::Relu))
        .add(Dropout::new(0.2))
        .add(Dense::new(10).activation(Activation::Softmax))
        .seed(3);
    model
        .compile(
            Adam::new(1e-3).global_clipnorm(1.0),
            Loss::SparseCategoricalCrossentropy,
            &[Metric::Accuracy],
        )
        .unwrap();
    model
}

fn options<'a>() -> FitOptions<'a> {
    FitOptions::new()
        .epochs(EPOCHS)
        .batch_size(32)
        .validation_split(0.25)
        .seed(7)
        .verbose(0)
        .guard(Guard::recommended())
        .telemetry(Telemetry::Epochs)
        .callback(EarlyStopping::new("val_loss").patience(5))
        .callback(ReduceLROnPlateau::new("val_loss").patience(1).factor(0.5))
}

fn uninterrupted() -> (Vec<u8>, History) {
    let mut m = model();
    let history = m.fit(&common::mnist_subset(512), options()).unwrap();
    (m.to_bytes().unwrap(), history)
}

/// Fails (as a crash would end the process) at the end of `batch` of `epoch`, or never.
struct Crash {
    at: Option<(usize, usize)>,
    epoch: usize,
}

impl Callback for Crash {
    fn on_epoch_begin(&mut self, epoch: usize, _: &mut CallbackContext<'_>) -> Result<Control> {
        self.epoch = epoch;
        Ok(Control::Continue)
    }
    fn on_train_batch_end(
        &mut self,
        batch: usize,
        _: &Logs,
        _: &mut CallbackContext<'_>,
    ) -> Result<Control> {
        if self.at == Some((self.epoch, batch)) {
            return Err(Error::NotCompiled { operation: "crash" });
        }
        Ok(Control::Continue)
    }
}

#[test]
fn resuming_at_an_epoch_boundary_is_bit_identical() {
    let (bytes, history) = uninterrupted();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.keel");
    let data = common::mnist_subset(512);
    let mut first = model();
    first
        .fit(&data, options().epochs(2).checkpoint(&path))
        .unwrap();
    let state = TrainingState::load(&path).unwrap();
    assert_eq!((state.epoch(), state.batch()), (2, 0));
    let mut resumed = model();
    let resumed_history = resumed.fit(&data, options().resume(state)).unwrap();
    assert_eq!(resumed_history, history);
    assert_eq!(resumed.to_bytes().unwrap(), bytes);
}

#[test]
fn resuming_mid_epoch_from_a_step_backup_is_bit_identical() {
    let (bytes, history) = uninterrupted();
    let dir = tempfile::tempdir().unwrap();
    let backup = || BackupAndRestore::new(dir.path()).save_freq(SaveFreq::Steps(5));
    let data = common::mnist_subset(512);
    let crash = |at| Crash { at, epoch: 0 };
    let err = model()
        .fit(
            &data,
            options()
                .backup_and_restore(backup())
                .callback(crash(Some((1, 7)))),
        )
        .unwrap_err();
    assert!(err.to_string().contains("crash"));
    // The last backup was after global step 15: epoch 1, before its batch 3.
    let state = TrainingState::load(backup().path()).unwrap();
    assert_eq!(
        (state.epoch(), state.batch(), state.iterations()),
        (1, 3, 15)
    );
    // The same command again resumes from the backup, and deletes it when done.
    let mut resumed = model();
    let resumed_history = resumed
        .fit(
            &data,
            options().backup_and_restore(backup()).callback(crash(None)),
        )
        .unwrap();
    assert_eq!(resumed_history, history);
    assert_eq!(resumed.to_bytes().unwrap(), bytes);
    assert!(!backup().path().exists());
}

#[test]
fn a_damaged_or_mismatched_checkpoint_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.keel");
    let data = common::mnist_subset(512);
    model()
        .fit(&data, options().epochs(1).checkpoint(&path))
        .unwrap();
    let good = std::fs::read(&path).unwrap();
    let truncated = TrainingState::from_bytes(&good[..good.len() / 2]).unwrap_err();
    assert!(truncated.to_string().contains("truncated"), "{truncated}");
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x40;
    let corrupt = TrainingState::from_bytes(&flipped).unwrap_err();
    assert!(corrupt.to_string().contains("checksum"), "{corrupt}");
    let as_model = Sequential::from_bytes(&good).unwrap_err();
    assert!(as_model.to_string().contains("checkpoint"), "{as_model}");
    let state = TrainingState::from_bytes(&good).unwrap();
    let err = model()
        .fit(&data, options().batch_size(16).resume(state))
        .unwrap_err();
    assert!(matches!(err, Error::CheckpointMismatch { .. }), "{err}");
    // One sentence naming the setting and both values, no Debug records.
    let msg = err.to_string();
    assert!(
        msg.contains("the batch size: expected 16 as in this run, found 32 in the checkpoint"),
        "{msg}"
    );
    assert!(!msg.contains('{'), "{msg}");
    // A layer frozen in this run but not in the checkpoint's.
    let mut frozen = model();
    frozen.set_trainable("dense", false).unwrap();
    let state = TrainingState::from_bytes(&good).unwrap();
    let msg = frozen
        .fit(&data, options().resume(state))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("the frozen layers: expected frozen dense, found no frozen layer"),
        "{msg}"
    );
    // A non-finite weight is never written.
    let mut bad = model();
    bad.named_params_mut()[0].1.value_mut()[[0, 0]] = f32::NAN;
    assert!(bad
        .fit(&data, options().epochs(1).checkpoint(&path))
        .is_err());
}

/// The child process of `a_run_killed_with_sigkill_continues_from_its_last_backup`: trains
/// with a step backup in `KEEL_BACKUP_CHILD_DIR`, slowly, printing each step; does nothing
/// when the variable is unset.
#[test]
fn backup_child() {
    let Ok(dir) = std::env::var("KEEL_BACKUP_CHILD_DIR") else {
        return;
    };
    struct Print {
        epoch: usize,
        first: bool,
    }
    impl Callback for Print {
        fn on_epoch_begin(&mut self, e: usize, _: &mut CallbackContext<'_>) -> Result<Control> {
            self.epoch = e;
            Ok(Control::Continue)
        }
        fn on_train_batch_begin(
            &mut self,
            b: usize,
            _: &mut CallbackContext<'_>,
        ) -> Result<Control> {
            if std::mem::take(&mut self.first) {
                println!("begin {} {}", self.epoch, b);
            }
            Ok(Control::Continue)
        }
        fn on_train_batch_end(
            &mut self,
            b: usize,
            _: &Logs,
            ctx: &mut CallbackContext<'_>,
        ) -> Result<Control> {
            println!("step {}", self.epoch * ctx.steps() + b + 1);
            std::io::stdout().flush().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(30));
            Ok(Control::Continue)
        }
    }
    let dir = std::path::PathBuf::from(dir);
    let mut m = model();
    let backup = BackupAndRestore::new(&dir).save_freq(SaveFreq::Steps(4));
    let print = Print {
        epoch: 0,
        first: true,
    };
    m.fit(
        &common::mnist_subset(512),
        options().backup_and_restore(backup).callback(print),
    )
    .unwrap();
    m.save(dir.join("final.keel")).unwrap();
    println!("done");
}

#[test]
fn a_run_killed_with_sigkill_continues_from_its_last_backup() {
    let dir = tempfile::tempdir().unwrap();
    let spawn = || {
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "backup_child", "--nocapture", "--test-threads=1"])
            .env("KEEL_BACKUP_CHILD_DIR", dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut child = spawn();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines {
        // Step 18 is mid-epoch 1 (12 steps an epoch), after the backup of step 16.
        if line.unwrap().ends_with("step 18") {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    let state = TrainingState::load(dir.path().join("training_state.keel")).unwrap();
    assert!(state.iterations() >= 16, "{}", state.iterations());

    let output = spawn().wait_with_output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    // libtest may print its "test backup_child ... " on the same line.
    let begin = stdout
        .find("begin ")
        .map(|i| stdout[i..].lines().next().unwrap());
    assert!(begin.is_some(), "{stdout}");
    assert_ne!(
        begin,
        Some("begin 0 0"),
        "the second run started over:\n{stdout}"
    );
    println!("second run: {}", begin.unwrap());
    assert!(!stdout.contains("\nstep 1\n"), "{stdout}");
    assert!(stdout.contains("done"));
    let (bytes, _) = uninterrupted();
    let final_model = std::fs::read(dir.path().join("final.keel")).unwrap();
    assert_eq!(final_model, bytes);
}
