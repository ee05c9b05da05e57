//! The per-step records of a `History` as CSV, and the gradient norms of several runs in
//! one chart on a log scale.

use super::export::write;
use super::History;
use crate::{Error, Result, StepAction, StepRecord};
use plotters::prelude::*;
use std::path::Path;

/// One colour per run (matplotlib's first four).
const COLORS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
];

fn action_name(action: StepAction) -> &'static str {
    match action {
        StepAction::Applied => "applied",
        StepAction::Skipped => "skipped",
        StepAction::RolledBack => "rolled_back",
        StepAction::Stopped => "stopped",
    }
}

fn csv_value(v: f32) -> String {
    if v.is_nan() {
        "NA".into()
    } else {
        format!("{v:?}")
    }
}

impl History {
    /// The [step records](History::steps) as CSV: a header
    /// `step,epoch,batch,loss,grad_norm,clipped_grad_norm,learning_rate,action`, then one row
    /// per step (`step` counts every computed step from 0, replays included; `NA` for a
    /// value not computed; infinities as `inf`).
    ///
    /// ```
    /// let history = keel_trainer::History::default();
    /// assert_eq!(
    ///     history.steps_to_csv_string(),
    ///     "step,epoch,batch,loss,grad_norm,clipped_grad_norm,learning_rate,action\n"
    /// );
    /// ```
    pub fn steps_to_csv_string(&self) -> String {
        let mut out = String::from(
            "step,epoch,batch,loss,grad_norm,clipped_grad_norm,learning_rate,action\n",
        );
        for (i, s) in self.steps.iter().enumerate() {
            out.push_str(&format!(
                "{i},{},{},{},{},{},{},{}\n",
                s.epoch,
                s.batch,
                csv_value(s.loss),
                csv_value(s.grad_norm),
                csv_value(s.clipped_grad_norm),
                csv_value(s.learning_rate),
                action_name(s.action)
            ));
        }
        out
    }

    /// Writes [`steps_to_csv_string`](History::steps_to_csv_string) to `path`.
    ///
    /// # Errors
    /// [`Error::Io`] naming `path` when it cannot be written.
    pub fn write_steps_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        write(path.as_ref(), &self.steps_to_csv_string())
    }
}

/// Draws the global gradient norm (before clipping) of every step of each run to an SVG
/// file, on a log scale, one coloured line per run named in the legend; runs longer than 120
/// steps get a close-up of their first 60 steps beside the whole. Steps the guard refused
/// (skipped, rolled back or stopped on) are crosses, drawn at the top edge when their norm is
/// not finite. The runs need per-step records
/// ([`Telemetry::Steps`](crate::Telemetry::Steps)).
///
/// # Errors
/// [`Error::Plot`] for a path that does not end in `.svg`, no runs, or runs without any
/// finite positive norm; [`Error::Io`] when the file cannot be written.
///
/// ```
/// use keel_trainer::{plot_grad_norms, History};
/// let path = std::env::temp_dir().join("keel-grad-norms-doctest.svg");
/// let err = plot_grad_norms(&path, &[("empty", &History::default())]).unwrap_err();
/// assert!(err.to_string().contains("no finite gradient norm"));
/// ```
pub fn plot_grad_norms(path: impl AsRef<Path>, runs: &[(&str, &History)]) -> Result<()> {
    let path = path.as_ref();
    let plot_error = |problem: String| Error::Plot {
        path: path.to_path_buf(),
        problem,
    };
    if !path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("svg"))
    {
        return Err(plot_error(format!(
            "expected a path ending in .svg, found {:?}",
            path.extension().unwrap_or_default()
        )));
    }
    let svg = render(runs).map_err(plot_error)?;
    write(path, &svg)
}

fn positive(v: f32) -> Option<f64> {
    (v.is_finite() && v > 0.0).then_some(f64::from(v))
}

/// Steps shown in the close-up panel, next to the whole run.
const CLOSE_UP: usize = 60;

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn render(runs: &[(&str, &History)]) -> std::result::Result<String, String> {
    let norms = || {
        runs.iter().flat_map(|(_, h)| {
            h.steps
                .iter()
                .filter_map(|s: &StepRecord| positive(s.grad_norm))
        })
    };
    let (lo, hi) = norms().fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if runs.is_empty() || lo > hi {
        return Err("no finite gradient norm to draw (record steps with Telemetry::Steps)".into());
    }
    let (lo, hi) = (lo / 2.0, hi * 2.0);
    let steps = runs
        .iter()
        .map(|(_, h)| h.steps.len())
        .max()
        .unwrap_or(1)
        .max(2);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1280, 540)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        if steps > 2 * CLOSE_UP {
            let (left, right) = root.split_horizontally(480);
            let caption = format!("first {CLOSE_UP} steps");
            panel(&left, runs, 0..CLOSE_UP, &caption, (lo, hi))?;
            panel(&right, runs, 0..steps, "every step", (lo, hi))?;
        } else {
            panel(&root, runs, 0..steps, "every step", (lo, hi))?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// One chart of the runs' norms over `steps`, log scale from `lo` to `hi`.
fn panel(
    area: &Area<'_>,
    runs: &[(&str, &History)],
    steps: std::ops::Range<usize>,
    caption: &str,
    (lo, hi): (f64, f64),
) -> std::result::Result<(), String> {
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("global gradient norm before clipping: {caption}"),
            ("sans-serif", 18),
        )
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(steps.clone(), (lo..hi).log_scale())
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("step (every computed batch, replays included)")
        .y_desc("gradient norm (log scale)")
        .label_style(("sans-serif", 14))
        .light_line_style(BLACK.mix(0.04))
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, (name, history)) in runs.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let shown = || {
            history
                .steps
                .iter()
                .enumerate()
                .take(steps.end)
                .skip(steps.start)
        };
        let points: Vec<(usize, f64)> = shown()
            .filter_map(|(x, s)| Some((x, positive(s.grad_norm)?)))
            .collect();
        // Earlier runs are drawn wider, so a later run that retraces them leaves them seen.
        let width = (runs.len() - i) as u32;
        if steps.len() <= CLOSE_UP {
            let dots = points
                .iter()
                .map(|&p| Circle::new(p, width + 1, color.filled()));
            chart.draw_series(dots).map_err(|e| e.to_string())?;
        }
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(width)))
            .map_err(|e| e.to_string())?
            .label(*name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
        // Refused steps that were computed (a batch skipped unseen has no learning rate).
        let refused = shown()
            .filter(|(_, s)| s.action != StepAction::Applied && !s.learning_rate.is_nan())
            .map(|(x, s)| {
                let y = positive(s.grad_norm).unwrap_or(hi / 1.5);
                Cross::new((x, y), 5, color.stroke_width(2))
            });
        chart.draw_series(refused).map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(|e| e.to_string())
}
