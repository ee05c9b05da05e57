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

/// One value as the bar shows it: counts as integers, very large or very small magnitudes
/// (an exploding gradient norm) in scientific notation, the rest with 4 decimals as Keras.
fn format_value(name: &str, v: f64) -> String {
    let magnitude = v.abs();
    if matches!(name, "skipped_steps" | "rollbacks") && v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.is_finite() && (magnitude >= 1e5 || (magnitude < 1e-3 && magnitude > 0.0)) {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

/// The logs as the bar and the epoch line show them; per-layer gradient norms
/// (`grad_norm/…`) are left to the History.
fn format_logs(logs: &[(String, f64)]) -> String {
    logs.iter()
        .filter(|(k, _)| !k.starts_with("grad_norm/"))
        .map(|(k, v)| format!("{k}: {}", format_value(k, *v)))
        .collect::<Vec<_>>()
        .join(" - ")
}

/// The progress display of one epoch.
pub(crate) struct EpochProgress {
    bar: Option<ProgressBar>,
    /// Whether this epoch draws a live bar (kept after `steps_done` takes it off).
    live: bool,
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
            live,
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

    /// Prints a line above the bar (or as is without one), unless silent.
    pub(crate) fn println(&self, line: &str) {
        match (&self.bar, self.verbosity) {
            (_, Verbosity::Silent) => {}
            (Some(bar), _) => bar.println(line),
            (None, _) => println!("{line}"),
        }
    }

    /// Takes the live bar off the terminal once the steps are done, before the epoch-end
    /// callbacks run: what they print then starts on a clean line instead of after a
    /// half-drawn bar, and [`finish`](EpochProgress::finish) draws the completed bar below.
    pub(crate) fn steps_done(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    /// Ends the epoch's display with its final logs (those callbacks added included) and
    /// duration: with a bar, the completed bar as Keras leaves it (`2s 3ms/step`).
    pub(crate) fn finish(mut self, logs: &[(String, f64)], seconds: f64) {
        self.steps_done();
        if self.verbosity != Verbosity::Silent {
            println!("{}", final_line(self.steps, seconds, logs, self.live));
        }
    }
}

/// The epoch's last line: `steps/steps [====] 2s 3ms/step - logs` after a live bar, as
/// Keras's verbose 1, else Keras's verbose 2 line `steps/steps - 2s - 3ms/step - logs`.
pub(crate) fn final_line(steps: usize, seconds: f64, logs: &[(String, f64)], bar: bool) -> String {
    let per_step = keras_duration(seconds / steps.max(1) as f64);
    let total = format!("{seconds:.0}s"); // Keras: whole seconds, "0s" included
    let logs = format_logs(logs);
    if bar {
        let full = "=".repeat(30);
        format!("{steps}/{steps} [{full}] {total} {per_step}/step - {logs}")
    } else {
        format!("{steps}/{steps} - {total} - {per_step}/step - {logs}")
    }
}

/// A time per step as Keras's progress bar prints it: whole seconds, milliseconds or
/// microseconds (`2s`, `15ms`, `480us`).
fn keras_duration(seconds: f64) -> String {
    if seconds >= 1.0 {
        format!("{seconds:.0}s")
    } else if seconds >= 1e-3 {
        format!("{:.0}ms", seconds * 1e3)
    } else {
        format!("{:.0}us", seconds * 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_line_is_the_completed_bar_with_keras_timings() {
        let logs = [("loss".to_string(), 0.25)];
        assert_eq!(
            final_line(100, 2.4, &logs, true),
            format!("100/100 [{}] 2s 24ms/step - loss: 0.2500", "=".repeat(30))
        );
        assert_eq!(
            final_line(1000, 0.48, &logs, false),
            "1000/1000 - 0s - 480us/step - loss: 0.2500"
        );
    }

    #[test]
    fn values_are_readable_whatever_their_size() {
        let logs = [
            ("loss".to_string(), 0.25),
            ("grad_norm".to_string(), 7.29e26),
            ("learning_rate".to_string(), 1e-4),
            ("skipped_steps".to_string(), 3.0),
            ("grad_norm/dense".to_string(), 2.0),
        ];
        assert_eq!(
            format_logs(&logs),
            "loss: 0.2500 - grad_norm: 7.290e26 - learning_rate: 1.000e-4 - skipped_steps: 3"
        );
    }
}
