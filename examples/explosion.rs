//! Gradient explosion, seen and handled three ways: the peer workload W3r
//! (`shared/peers/README.md`): Flatten → 16 × Dense(256, relu) with RandomNormal(0.1) kernels
//! and zero biases → Dense(10, softmax) (Glorot), plain SGD at 0.1, batch 64, 2 epochs,
//! `validation_split` 0.1, the same seed for every run:
//!
//! 1. **unprotected**: no clipping, the default guard (stop at the first non-finite step;
//!    `TerminateOnNaN` makes that a graceful end). PyTorch and Keras reach inf, then NaN,
//!    within 3-4 steps.
//! 2. **clipped**: `global_clipnorm(1.0)`, as the peers' protected runs (0.936-0.940).
//! 3. **rollback**: no clipping; the guard rolls back to an in-memory snapshot on a
//!    non-finite step, skips the offending batch and lowers the learning rate for a while.
//!
//! For each run it prints whether the loss went non-finite, the largest gradient norm, the
//! steps skipped and the rollbacks, and the test accuracy; writes every step's gradient norm
//! to `<out>/grad_norms.csv` and draws them in `<out>/grad_norms.svg` (log scale); and ends
//! with one `RESULT {json}` line per run.
//!
//! ```sh
//! cargo run --release --example explosion                 # about a minute on 2 cores
//! cargo run --release --example explosion -- --out /tmp/w3r --epochs 1
//! ```

use clap::Parser;
use keel::prelude::*;
use keel::trainer::{plot_grad_norms, StepAction, StepRecord, Trigger};
use std::path::PathBuf;

/// Train W3r unprotected, clipped and with rollback, and compare.
#[derive(Parser, Debug)]
#[command(about)]
struct Args {
    /// Passes over the training data.
    #[arg(long, default_value_t = 2)]
    epochs: usize,
    /// Seeds the weights and the shuffling, the same for every run.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where the CSV and the chart go.
    #[arg(long, default_value = "target/explosion")]
    out: PathBuf,
}

/// The three ways of training.
#[derive(Debug, Clone, Copy)]
enum Run {
    Unprotected,
    Clipped,
    Rollback,
}

impl Run {
    fn name(self) -> &'static str {
        match self {
            Run::Unprotected => "unprotected",
            Run::Clipped => "clipped",
            Run::Rollback => "rollback",
        }
    }
}

/// W3r: 16 hidden Dense(256, relu) layers with N(0, 0.1) kernels, a Glorot softmax output.
fn w3r(seed: u64) -> Sequential {
    let mut model = Sequential::new([28, 28]).add(Flatten::new());
    for _ in 0..16 {
        model = model.add(
            Dense::new(256)
                .activation(Activation::Relu)
                .kernel_initializer(Initializer::RandomNormal {
                    mean: 0.0,
                    stddev: 0.1,
                }),
        );
    }
    model
        .add(Dense::new(10).activation(Activation::Softmax))
        .seed(seed)
}

/// What one run gives.
struct Outcome {
    history: History,
    test_acc: f64,
}

fn train(run: Run, mnist: &keel::data::mnist::Mnist, args: &Args) -> keel::Result<Outcome> {
    println!("\n=== {} ===", run.name());
    let mut model = w3r(args.seed);
    let sgd = Sgd::new(0.1);
    let options = FitOptions::new()
        .epochs(args.epochs)
        .batch_size(64)
        .validation_split(0.1)
        .seed(args.seed)
        .verbose(2)
        .telemetry(Telemetry::Steps);
    let options = match run {
        Run::Unprotected => {
            model.compile(
                sgd,
                Loss::SparseCategoricalCrossentropy,
                &[Metric::Accuracy],
            )?;
            options.callback(TerminateOnNaN::new())
        }
        Run::Clipped => {
            let sgd = sgd.global_clipnorm(1.0);
            model.compile(
                sgd,
                Loss::SparseCategoricalCrossentropy,
                &[Metric::Accuracy],
            )?;
            options
        }
        Run::Rollback => {
            model.compile(
                sgd,
                Loss::SparseCategoricalCrossentropy,
                &[Metric::Accuracy],
            )?;
            options.guard(Guard::new().on_nonfinite(Policy::Rollback(Rollback::default())))
        }
    };
    let history = model.fit(&mnist.train, options)?;
    let test_acc = model
        .evaluate(&mnist.test)?
        .get("accuracy")
        .unwrap_or(f64::NAN);
    Ok(Outcome { history, test_acc })
}

/// Whether any computed step had a non-finite loss or gradient norm.
fn went_nonfinite(steps: &[StepRecord]) -> bool {
    // A batch skipped without being computed has no learning rate.
    steps
        .iter()
        .filter(|s| !s.learning_rate.is_nan())
        .any(|s| !s.loss.is_finite() || !s.grad_norm.is_finite())
}

fn summary(run: Run, outcome: &Outcome) -> serde_json::Value {
    let steps = outcome.history.steps();
    let max_grad_norm = steps
        .iter()
        .map(|s| s.grad_norm)
        .filter(|v| v.is_finite())
        .fold(0.0f32, f32::max);
    let count = |action| steps.iter().filter(|s| s.action == action).count();
    let first_nonfinite = outcome.history.events().iter().find(|e| {
        matches!(
            e.trigger,
            Trigger::NonFiniteLoss { .. } | Trigger::NonFiniteGradient
        )
    });
    let nonfinite = went_nonfinite(steps);
    let stopped = count(StepAction::Stopped) > 0;
    println!(
        "{:<12} non-finite: {:<5} max grad norm: {:>10.4e}  skipped: {:>3}  rollbacks: {:>2}  test accuracy: {:.4}{}",
        run.name(),
        nonfinite,
        max_grad_norm,
        count(StepAction::Skipped),
        count(StepAction::RolledBack),
        outcome.test_acc,
        if stopped { "  (stopped)" } else { "" }
    );
    serde_json::json!({
        "framework": "keel",
        "workload": "w3r",
        "run": run.name(),
        "nonfinite": nonfinite,
        "first_nonfinite_step": first_nonfinite.map(|e| e.batch + 1),
        "first_nonfinite": first_nonfinite.map(|e| e.to_string()),
        "stopped": stopped,
        "max_grad_norm": max_grad_norm,
        "steps": steps.len(),
        "skipped_steps": count(StepAction::Skipped),
        "rollbacks": count(StepAction::RolledBack),
        "test_acc": outcome.test_acc,
        "epoch_s": outcome.history.epoch_seconds(),
    })
}

/// One row per step of each run: `run,step,epoch,batch,grad_norm,clipped_grad_norm,loss,action`.
fn write_csv(path: &std::path::Path, runs: &[(Run, Outcome)]) -> keel::Result<()> {
    let mut csv = String::from("run,step,epoch,batch,grad_norm,clipped_grad_norm,loss,action\n");
    for (run, outcome) in runs {
        for (i, s) in outcome.history.steps().iter().enumerate() {
            csv.push_str(&format!(
                "{},{i},{},{},{},{},{},{:?}\n",
                run.name(),
                s.epoch,
                s.batch,
                s.grad_norm,
                s.clipped_grad_norm,
                s.loss,
                s.action
            ));
        }
    }
    std::fs::write(path, csv).map_err(|source| keel::Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn main() -> keel::Result<()> {
    let args = Args::parse();
    let mnist = keel::data::mnist::load_default()?;
    let mut runs = Vec::new();
    for run in [Run::Unprotected, Run::Clipped, Run::Rollback] {
        let outcome = train(run, &mnist, &args)?;
        runs.push((run, outcome));
    }
    std::fs::create_dir_all(&args.out).map_err(|source| keel::Error::Io {
        path: args.out.clone(),
        source,
    })?;
    let csv = args.out.join("grad_norms.csv");
    write_csv(&csv, &runs)?;
    let chart = args.out.join("grad_norms.svg");
    let named: Vec<(&str, &History)> = runs.iter().map(|(r, o)| (r.name(), &o.history)).collect();
    plot_grad_norms(&chart, &named)?;
    println!("\nWrote {} and {}\n", csv.display(), chart.display());
    let results: Vec<_> = runs
        .iter()
        .map(|(run, outcome)| summary(*run, outcome))
        .collect();
    for result in results {
        println!("RESULT {result}");
    }
    Ok(())
}
