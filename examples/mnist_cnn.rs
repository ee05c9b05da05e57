//! Trains Keras's "simple MNIST convnet" on the bundled MNIST: Reshape(28, 28, 1) →
//! Conv2D(32, 3×3, relu) → MaxPooling2D(2) → Conv2D(64, 3×3, relu) → MaxPooling2D(2) →
//! Flatten → Dropout(0.5) → Dense(10, softmax) (34,826 parameters), Adam(1e-3), sparse
//! categorical cross-entropy, batch 128, `validation_split` 0.1, then reports the test
//! accuracy.
//!
//! Data: `datasets/mnist/` (the original gzipped IDX files, no download), or `KEEL_DATA`.
//!
//! ```sh
//! cargo run --release --example mnist_cnn
//! cargo run --release --example mnist_cnn -- --epochs 3 --save cnn.keel --plot cnn.svg
//! ```

use clap::Parser;
use keel::prelude::*;
use std::path::{Path, PathBuf};

/// Train the MNIST convnet.
#[derive(Parser, Debug)]
#[command(about)]
struct Args {
    /// Passes over the training data.
    #[arg(long, default_value_t = 12)]
    epochs: usize,
    /// Samples per gradient step.
    #[arg(long, default_value_t = 128)]
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
    save: Option<PathBuf>,
    /// Draw the training curves (loss and accuracy, train and validation) to this SVG file.
    #[arg(long, value_name = "PATH")]
    plot: Option<PathBuf>,
    /// Print the confusion matrix and per-class precision, recall and F1 on the test set.
    #[arg(long)]
    confusion_matrix: bool,
    /// Write the full training state to this file at the end of every epoch.
    #[arg(long, value_name = "PATH")]
    checkpoint: Option<PathBuf>,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// The convnet, unbuilt until `compile`.
fn convnet(seed: u64) -> Sequential {
    Sequential::new([28, 28])
        .add(Reshape::new([28, 28, 1]))
        .add(Conv2D::new(32, (3, 3)).activation(Activation::Relu))
        .add(MaxPooling2D::new((2, 2)))
        .add(Conv2D::new(64, (3, 3)).activation(Activation::Relu))
        .add(MaxPooling2D::new((2, 2)))
        .add(Flatten::new())
        .add(Dropout::new(0.5))
        .add(Dense::new(10).activation(Activation::Softmax))
        .seed(seed)
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    for (option, path) in [
        ("--save", &args.save),
        ("--plot", &args.plot),
        ("--checkpoint", &args.checkpoint),
    ] {
        if let Some(path) = path {
            check_parent_dir(option, path)?;
        }
    }
    let mnist = keel::data::mnist::load_default()?;
    let mut model = convnet(args.seed);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_convnet_has_keras_parameter_count() {
        let model = convnet(0);
        model.check().unwrap();
        assert!(model
            .summary_string()
            .contains(" Total params: 34,826 (136.04 KB)"));
    }

    #[test]
    fn an_output_path_in_a_missing_directory_fails_before_training() {
        let dir = std::env::temp_dir().join("keel-mnist-cnn-example-no-such-dir");
        let msg = check_parent_dir("--save", &dir.join("cnn.keel")).unwrap_err();
        assert!(
            msg.contains("--save") && msg.contains("does not exist"),
            "{msg}"
        );
    }
}
