//! Keras-style progress output: a live bar (verbose 1) or one line per epoch (verbose 2).
//!
//! The bar shows step/steps, elapsed time, ETA, samples per second and the live logs.
//! Logs are `(name, value)` pairs, so anything `fit` adds to them (a gradient norm, the
//! learning rate, skipped steps) is shown with no change here.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// How much `fit` prints, as Keras's `verbose`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// Nothing (`verbose=0`).
    Silent,
    /// A live progress bar per epoch (`verbose=1`); one line per epoch when stderr is not a terminal.
    ProgressBar,
    /// One line per epoch (`verbose=2`).
    OneLinePerEpoch,
}

fn format_logs(logs: &[(String, f64)]) -> String {
    logs.iter()
        .map(|(k, v)| format!("{k}: {v:.4}"))
        .collect::<Vec<_>>()
        .join(" - ")
}

/// The progress display of one epoch.
pub(crate) struct EpochProgress {
    bar: Option<ProgressBar>,
    verbosity: Verbosity,
    steps: usize,
}

impl EpochProgress {
    pub(crate) fn start(verbosity: Verbosity, epoch: usize, epochs: usize, steps: usize) -> Self {
        if verbosity != Verbosity::Silent {
            println!("Epoch {}/{}", epoch + 1, epochs);
        }
        let live = verbosity == Verbosity::ProgressBar && std::io::stderr().is_terminal();
        let bar = live.then(|| {
            let bar = ProgressBar::with_draw_target(
                Some(steps as u64),
                ProgressDrawTarget::stderr_with_hz(10),
            );
            let style = ProgressStyle::with_template(
                "{pos:>5}/{len} [{bar:30}] {elapsed_precise} ETA {eta} - {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar
        });
        EpochProgress {
            bar,
            verbosity,
            steps,
        }
    }

    /// Shows the step count, the throughput after `samples` samples and the running logs.
    /// Formats only when a bar is drawn, and the logs at the first step and every 16.
    pub(crate) fn step(
        &self,
        step: usize,
        samples: usize,
        logs: impl FnOnce() -> Vec<(String, f64)>,
    ) {
        if let Some(bar) = &self.bar {
            bar.set_position(step as u64);
            if step == 1 || step % 16 == 0 || step == self.steps {
                let per_second = samples as f64 / bar.elapsed().as_secs_f64().max(1e-9);
                bar.set_message(format!(
                    "{per_second:.0} samples/s - {}",
                    format_logs(&logs())
                ));
            }
        }
    }

    /// Ends the epoch's display with its final logs and duration.
    pub(crate) fn finish(self, logs: &[(String, f64)], seconds: f64) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.verbosity != Verbosity::Silent {
            let per_step_ms = seconds * 1e3 / self.steps.max(1) as f64;
            println!(
                "{steps}/{steps} - {seconds:.2}s - {per_step_ms:.2}ms/step - {}",
                format_logs(logs),
                steps = self.steps
            );
        }
    }
}
