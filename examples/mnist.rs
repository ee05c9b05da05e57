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

use clap::Parser;
use keel::prelude::*;

/// Train the seed MNIST model.
#[derive(Parser, Debug)]
#[command(about)]
struct Args {
    /// Passes over the training data.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Samples per gradient step.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f32,
    /// Seeds the weights, shuffling and dropout.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// One line per epoch instead of a live progress bar.
    #[arg(long)]
    quiet: bool,
    /// Save the trained model to this path.
    #[arg(long)]
    save: Option<std::path::PathBuf>,
    /// Draw the training curves (loss and accuracy, train and validation) to this SVG file.
    #[arg(long, value_name = "PATH")]
    plot: Option<std::path::PathBuf>,
    /// Print the confusion matrix and per-class precision, recall and F1 on the test set.
    #[arg(long)]
    confusion_matrix: bool,
    /// Write the full training state (weights, optimizer, RNG, History, ...) to this file at
    /// the end of every epoch.
    #[arg(long, value_name = "PATH")]
    checkpoint: Option<std::path::PathBuf>,
    /// Continue the run saved with --checkpoint; the epochs already done are not repeated.
    #[arg(long, value_name = "PATH")]
    resume: Option<std::path::PathBuf>,
}

fn main() {
    // A user error (such as a truncated file given to --resume) ends with its message and
    // exit code 1, not a panic or a Debug dump.
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> keel::Result<()> {
    // Read the checkpoint first, so a bad file is reported before anything else is done.
    let resume = args.resume.as_ref().map(TrainingState::load).transpose()?;
    let mnist = keel::data::mnist::load_default()?;
    let mut model = Sequential::new([28, 28])
        .add(Flatten::new())
        .add(Dense::new(32).activation(Activation::Relu))
        .add(Dropout::new(0.2))
        .add(Dense::new(10).activation(Activation::Softmax))
        .seed(args.seed);
    model.compile(
        Adam::new(args.lr),
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy],
    )?;
    model.summary();

    let mut options = FitOptions::new()
        .epochs(args.epochs)
        .batch_size(args.batch_size)
        .validation_split(0.1)
        .seed(args.seed)
        .verbose(if args.quiet { 2 } else { 1 });
    if let Some(path) = &args.checkpoint {
        options = options.checkpoint(path);
    }
    if let Some(state) = resume {
        println!("Resuming at epoch {} of {}", state.epoch() + 1, args.epochs);
        options = options.resume(state);
    }
    let history = model.fit(&mnist.train, options)?;

    let mut seconds = history.epoch_seconds().to_vec();
    seconds.sort_by(f64::total_cmp);
    if let Some(median) = seconds.get(seconds.len() / 2) {
        println!(
            "Median epoch time: {median:.2}s over {} epochs",
            seconds.len()
        );
    }
    let scores = model.evaluate(&mnist.test)?;
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
