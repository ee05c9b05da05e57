//! Trains the seed model on the bundled MNIST: Flatten → Dense(32, relu) → Dropout(0.2) →
//! Dense(10, softmax), Adam(1e-3), sparse categorical cross-entropy, batch 32, 10 epochs,
//! `validation_split` 0.1, then reports the test accuracy.
//!
//! Data: `datasets/mnist/` (the original gzipped IDX files, no download), or `KEEL_DATA`.
//!
//! ```sh
//! cargo run --release --example mnist                  # about 0.96 test accuracy
//! cargo run --release --example mnist -- --epochs 2 --save mnist.keel
//! cargo run --release --example mnist -- --epochs 3 --plot training.svg --confusion-matrix
//! cargo run --release --example mnist -- --epochs 2 --checkpoint state.keel
//! cargo run --release --example mnist -- --epochs 3 --resume state.keel  # runs epoch 3 only
//! ```
//!
//! Built with the `mpi` feature it trains data parallel under `mpirun` (each process on its
//! share of every batch of `--batch-size`; only rank 0 prints and writes files):
//!
//! ```sh
//! cargo build --release --features mpi --example mnist
//! mpirun -np 2 --bind-to none target/release/examples/mnist --epochs 2
//! ```

use clap::Parser;
use keel::prelude::*;
use std::path::{Path, PathBuf};

/// Train the seed MNIST model.
#[derive(Parser, Debug)]
#[command(about)]
struct Args {
    /// Passes over the training data (with --resume: the total, epochs already done included).
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Samples per gradient step [default: 32] (with --resume: the checkpoint's, which it
    /// must match).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Adam's learning rate [default: 0.001] (not with --resume: the checkpoint carries it).
    #[arg(long)]
    lr: Option<f32>,
    /// Seeds the weights, shuffling and dropout.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// One line per epoch instead of a live progress bar.
    #[arg(long)]
    quiet: bool,
    /// Save the trained model to this path.
    #[arg(long)]
    save: Option<PathBuf>,
    /// Draw the training curves (loss and accuracy, train and validation) to this SVG file.
    #[arg(long, value_name = "PATH")]
    plot: Option<PathBuf>,
    /// Print the confusion matrix and per-class precision, recall and F1 on the test set.
    #[arg(long)]
    confusion_matrix: bool,
    /// Write the full training state (weights, optimizer, RNG, History, ...) to this file at
    /// the end of every epoch.
    #[arg(long, value_name = "PATH")]
    checkpoint: Option<PathBuf>,
    /// Continue the run saved with --checkpoint; the epochs already done are not repeated.
    #[arg(long, value_name = "PATH")]
    resume: Option<PathBuf>,
}

/// The batch size when neither --batch-size nor a checkpoint gives one.
const BATCH_SIZE: usize = 32;
/// Adam's learning rate unless --lr gives one.
const LEARNING_RATE: f32 = 1e-3;

fn main() {
    // A user error (such as a truncated file given to --resume) ends with its message and
    // exit code 1, not a panic or a Debug dump.
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // Everything a user can get wrong is checked before the first epoch, not after the last.
    for (option, path) in [("--save", &args.save), ("--plot", &args.plot)] {
        if let Some(path) = path {
            check_parent_dir(option, path)?;
        }
    }
    let resume = args.resume.as_ref().map(TrainingState::load).transpose()?;
    let checkpoint_batch_size = resume.as_ref().map(TrainingState::batch_size);
    let batch_size = batch_size(args.batch_size, checkpoint_batch_size)?;
    check_lr(args.lr, resume.is_some())?;
    let mnist = keel::data::mnist::load_default()?;
    // Under mpirun (with the `mpi` feature) this process is one of a data-parallel group.
    #[cfg(feature = "mpi")]
    let mut group = keel::distributed::Mpi::init()?;
    #[cfg(feature = "mpi")]
    let chief = group.is_chief();
    #[cfg(not(feature = "mpi"))]
    let chief = true;
    let mut model = Sequential::new([28, 28])
        .add(Flatten::new())
        .add(Dense::new(32).activation(Activation::Relu))
        .add(Dropout::new(0.2))
        .add(Dense::new(10).activation(Activation::Softmax))
        .seed(args.seed);
    model.compile(
        Adam::new(args.lr.unwrap_or(LEARNING_RATE)),
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy],
    )?;
    if chief {
        model.summary();
    }

    let mut options = FitOptions::new()
        .epochs(args.epochs)
        .batch_size(batch_size)
        .validation_split(0.1)
        .seed(args.seed)
        .verbose(if args.quiet { 2 } else { 1 });
    if let Some(path) = &args.checkpoint {
        options = options.checkpoint(path);
    }
    if let Some(state) = resume {
        if chief {
            println!("{}", resume_note(state.epoch(), args.epochs));
        }
        options = options.resume(state);
    }
    #[cfg(feature = "mpi")]
    {
        options = options
            .threads(group.threads_per_process())
            .data_parallel(&mut group);
    }
    let history = model.fit(&mnist.train, options)?;
    let scores = model.evaluate_verbose(&mnist.test, if chief { 1 } else { 0 })?;
    if !chief {
        return Ok(());
    }

    let mut seconds = history.epoch_seconds().to_vec();
    seconds.sort_by(f64::total_cmp);
    if let Some(median) = seconds.get(seconds.len() / 2) {
        let n = seconds.len();
        println!(
            "Median epoch time: {median:.2}s over {n} {}",
            plural(n, "epoch")
        );
    }
    println!("Test loss: {:.4}", scores.get("loss").unwrap_or(f64::NAN));
    println!(
        "Test accuracy: {:.4}",
        scores.get("accuracy").unwrap_or(f64::NAN)
    );
    if args.confusion_matrix {
        println!("{}", model.confusion_matrix(&mnist.test)?);
    }
    if let Some(path) = args.plot {
        history.plot(&path)?;
        println!("Wrote the training curves to {}", path.display());
    }
    if let Some(path) = args.save {
        model.save(&path)?;
        println!("Saved the model to {}", path.display());
    }
    Ok(())
}

/// The batch size: --batch-size, else the checkpoint's, else the default; an error when
/// --batch-size differs from the checkpoint's.
fn batch_size(asked: Option<usize>, checkpoint: Option<usize>) -> Result<usize, String> {
    match (asked, checkpoint) {
        (Some(asked), Some(saved)) if asked != saved => Err(format!(
            "--batch-size {asked} does not match the checkpoint, which was written with batch \
             size {saved}: drop --batch-size or pass --batch-size {saved}"
        )),
        (asked, saved) => Ok(asked.or(saved).unwrap_or(BATCH_SIZE)),
    }
}

/// An error for --lr with --resume, which would otherwise be silently overridden by the
/// learning rate in the checkpoint's optimizer state.
fn check_lr(lr: Option<f32>, resuming: bool) -> Result<(), String> {
    match lr {
        Some(lr) if resuming => Err(format!(
            "--lr {lr} cannot change a resumed run: the checkpoint's optimizer state carries \
             its learning rate; drop --lr, or drop --resume to train from scratch"
        )),
        _ => Ok(()),
    }
}

/// What resuming after `done` finished epochs of `epochs` will do.
fn resume_note(done: usize, epochs: usize) -> String {
    if done >= epochs {
        format!(
            "The checkpoint has finished {done} {}, and --epochs {epochs} asks for no more: \
             nothing to train (pass --epochs {} or more to continue)",
            plural(done, "epoch"),
            done + 1
        )
    } else {
        format!("Resuming at epoch {} of {epochs}", done + 1)
    }
}

/// An error unless the directory `path` will be written into exists.
fn check_parent_dir(option: &str, path: &Path) -> Result<(), String> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) if !dir.is_dir() => Err(format!(
            "{option} {}: the directory {} does not exist: create it first or choose another \
             path",
            path.display(),
            dir.display()
        )),
        _ => Ok(()),
    }
}

/// `noun`, with an `s` unless `n` is 1.
fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        noun.to_string()
    } else {
        format!("{noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_size_other_than_the_checkpoints_is_one_sentence_naming_both() {
        let msg = batch_size(Some(64), Some(32)).unwrap_err();
        assert!(
            msg.contains("--batch-size 64") && msg.contains("--batch-size 32"),
            "{msg}"
        );
        assert!(!msg.contains('{'), "no Debug structs: {msg}");
        assert_eq!(batch_size(None, Some(64)), Ok(64));
        assert_eq!(batch_size(Some(16), None), Ok(16));
        assert_eq!(batch_size(None, None), Ok(BATCH_SIZE));
    }

    #[test]
    fn lr_with_resume_is_an_error_not_silently_ignored() {
        assert!(check_lr(Some(0.01), true)
            .unwrap_err()
            .contains("--lr 0.01"));
        assert!(check_lr(Some(0.01), false).is_ok());
        assert!(check_lr(None, true).is_ok());
    }

    #[test]
    fn resuming_a_finished_run_says_there_is_nothing_to_train() {
        let note = resume_note(3, 3);
        assert!(!note.contains("epoch 4 of 3"), "{note}");
        assert!(
            note.contains("nothing to train") && note.contains("--epochs 4"),
            "{note}"
        );
        assert_eq!(resume_note(2, 3), "Resuming at epoch 3 of 3");
        assert!(
            resume_note(1, 1).contains("finished 1 epoch,"),
            "{}",
            resume_note(1, 1)
        );
    }

    #[test]
    fn one_epoch_is_singular() {
        assert_eq!(plural(1, "epoch"), "epoch");
        assert_eq!(plural(2, "epoch"), "epochs");
    }

    #[test]
    fn an_output_path_in_a_missing_directory_fails_before_training() {
        let dir = std::env::temp_dir().join("keel-mnist-example-no-such-dir");
        let msg = check_parent_dir("--plot", &dir.join("curves.svg")).unwrap_err();
        assert!(
            msg.contains("--plot") && msg.contains("does not exist"),
            "{msg}"
        );
        assert!(check_parent_dir("--save", Path::new("model.keel")).is_ok());
        assert!(check_parent_dir("--save", &std::env::temp_dir().join("m.keel")).is_ok());
    }
}
