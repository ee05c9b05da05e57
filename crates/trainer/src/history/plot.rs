//! `History::plot`: training curves as an SVG chart, one panel per metric.
//!
//! The SVG backend writes text as `<text>` elements, so no font files are needed and any
//! browser or image viewer renders the labels.

use super::export::write;
use super::History;
use crate::{Error, Result};
use plotters::prelude::*;
use std::path::Path;

/// Panel size in pixels.
const PANEL: (u32, u32) = (560, 360);
/// Training curves in blue, validation in orange (matplotlib's first two colours).
const TRAIN: RGBColor = RGBColor(31, 119, 180);
const VALIDATION: RGBColor = RGBColor(255, 127, 14);

/// The metric families of a history: `loss` first, then the others sorted, each with the
/// names of its train and validation series that exist.
fn families(history: &History) -> Vec<(String, Vec<String>)> {
    let mut bases: Vec<&str> = history
        .names()
        .map(|n| n.strip_prefix("val_").unwrap_or(n))
        .collect();
    bases.sort_by_key(|&b| (b != "loss", b));
    bases.dedup();
    bases
        .into_iter()
        .map(|base| {
            let names = [base.to_string(), format!("val_{base}")]
                .into_iter()
                .filter(|n| history.get(n).is_some())
                .collect();
            (base.to_string(), names)
        })
        .collect()
}

/// The value range of the finite values, padded so that the curves do not touch the frame:
/// by 5% of the spread, or a thousandth of the magnitude for a flat series (a constant
/// learning rate of 1e-3 gets 1e-6, not 1e-3). Never below zero for values that are not.
fn value_range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        return 0.0..1.0;
    }
    let magnitude = lo.abs().max(hi.abs());
    let magnitude = if magnitude > 0.0 { magnitude } else { 1.0 };
    let pad = ((hi - lo) * 0.05).max(magnitude * 1e-3);
    let start = if lo >= 0.0 {
        (lo - pad).max(0.0)
    } else {
        lo - pad
    };
    start..(hi + pad)
}

/// Decimals for the y labels of `range` drawn with at most [`Y_LABELS`] ticks: one more than
/// the tick spacing needs, so no two ticks read the same (0.0005 and 0.001 for a learning
/// rate, not 0.001 twice).
fn label_decimals(range: &std::ops::Range<f64>) -> usize {
    let step = (range.end - range.start) / Y_LABELS as f64;
    if !(step.is_finite() && step > 0.0) {
        return 3;
    }
    // At most 15 decimals: f64 has no more to show.
    ((-step.log10()).ceil().max(0.0) as usize + 1).min(15)
}

/// The most y-axis labels a panel draws.
const Y_LABELS: usize = 8;

/// A drawing step's result; plotters' errors become text for [`Error::Plot`].
type Drawn<T> = std::result::Result<T, String>;

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// Draws one family's train and validation curves on `area`.
fn panel(history: &History, area: &Area<'_>, base: &str, names: &[String]) -> Drawn<()> {
    let epochs: Vec<i32> = history.epochs().iter().map(|&e| e as i32 + 1).collect();
    let first = epochs.first().copied().unwrap_or(1);
    let last = epochs.last().copied().unwrap_or(1).max(first + 1);
    let all = names
        .iter()
        .flat_map(|n| history.get(n).unwrap_or(&[]).iter().copied());
    let range = value_range(all);
    let decimals = label_decimals(&range);
    let mut chart = ChartBuilder::on(area)
        .caption(base, ("sans-serif", 24))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(first..last, range)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(base)
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 16))
        .x_labels(((last - first + 1) as usize).min(10))
        .y_labels(Y_LABELS)
        .light_line_style(BLACK.mix(0.04))
        .y_label_formatter(&|v| format!("{v:.decimals$}"))
        .draw()
        .map_err(|e| e.to_string())?;
    for name in names {
        let color = if name.starts_with("val_") {
            VALIDATION
        } else {
            TRAIN
        };
        let points: Vec<(i32, f64)> = epochs
            .iter()
            .zip(history.get(name).unwrap_or(&[]))
            .filter(|(_, v)| v.is_finite())
            .map(|(&e, &v)| (e, v))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 3, color.filled())),
            )
            .map_err(|e| e.to_string())?;
    }
    let train = history.get(base).unwrap_or(&[]);
    let falling = matches!((train.first(), train.last()), (Some(a), Some(b)) if b < a);
    chart
        .configure_series_labels()
        .position(if falling {
            SeriesLabelPosition::UpperRight
        } else {
            SeriesLabelPosition::LowerRight
        })
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(|e| e.to_string())
}

/// The whole chart as SVG text.
fn render(history: &History) -> Drawn<String> {
    let families = families(history);
    if history.epochs().is_empty() || families.is_empty() {
        return Err("the history has no epochs".into());
    }
    let columns = families.len().min(2);
    let rows = families.len().div_ceil(columns);
    let size = (PANEL.0 * columns as u32, PANEL.1 * rows as u32);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        for (area, (base, names)) in root.split_evenly((rows, columns)).iter().zip(&families) {
            panel(history, area, base, names)?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

impl History {
    /// Draws the training curves to an SVG file at `path`: one panel per metric (`loss`
    /// first, then `accuracy`, ...), each with the training series in blue and the
    /// validation series (`val_…`) in orange, against the 1-based epoch, with labelled axes
    /// and a legend. Epochs where a series is missing (validation skipped) are left out of
    /// its curve. Open the file in a browser or any image viewer.
    ///
    /// # Errors
    /// [`Error::Plot`] for a path that does not end in `.svg` (PNG would need font files to
    /// draw text) or a history with no epochs; [`Error::Io`] when the file cannot be written.
    ///
    /// ```
    /// let mut history = keel_trainer::History::default();
    /// history.push(0, &[("loss".into(), 0.9), ("val_loss".into(), 1.0)], 1.0);
    /// history.push(1, &[("loss".into(), 0.5), ("val_loss".into(), 0.7)], 1.0);
    /// let path = std::env::temp_dir().join("keel-history-doctest.svg");
    /// history.plot(&path)?;
    /// assert!(std::fs::read_to_string(&path)?.contains("val_loss"));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn plot(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let plot_error = |problem: String| Error::Plot {
            path: path.to_path_buf(),
            problem,
        };
        let is_svg = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("svg"));
        if !is_svg {
            return Err(plot_error(format!(
                "expected a path ending in .svg, found {:?}",
                path.extension().unwrap_or_default()
            )));
        }
        let svg = render(self).map_err(plot_error)?;
        write(path, &svg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history() -> History {
        let mut h = History::default();
        for epoch in 0..4 {
            let e = epoch as f64;
            let mut logs = vec![
                ("loss".to_string(), 1.0 / (1.0 + e)),
                ("accuracy".to_string(), 0.5 + 0.1 * e),
            ];
            if epoch % 2 == 1 {
                logs.push(("val_loss".into(), 1.2 / (1.0 + e)));
                logs.push(("val_accuracy".into(), 0.45 + 0.1 * e));
            }
            h.push(epoch, &logs, 0.1);
        }
        h
    }

    /// The labels of ticks `step` apart over `range`, as the panel formats them.
    fn labels(range: &std::ops::Range<f64>, step: f64) -> Vec<String> {
        let d = label_decimals(range);
        let first = (range.start / step).ceil() as i64;
        let last = (range.end / step).floor() as i64;
        (first..=last)
            .map(|i| format!("{:.d$}", i as f64 * step))
            .collect()
    }

    #[test]
    fn a_learning_rate_panel_stays_above_zero_with_distinct_labels() {
        // Halved twice by ReduceLROnPlateau, and a constant rate.
        for lrs in [&[1e-3, 1e-3, 5e-4, 2.5e-4][..], &[1e-3; 4], &[1e-6, 5e-7]] {
            let range = value_range(lrs.iter().copied());
            assert!(range.start >= 0.0, "{lrs:?}: {range:?}");
            assert!(range.start < range.end);
            // Plotters ticks at a round step no finer than the range over Y_LABELS.
            let span = range.end - range.start;
            let step = 10f64.powf((span / Y_LABELS as f64).log10().floor());
            for step in [step, 2.0 * step, 5.0 * step] {
                let shown = labels(&range, step);
                let mut unique = shown.clone();
                unique.dedup();
                assert_eq!(shown, unique, "{lrs:?} at step {step}");
            }
        }
        // Negative values still get room below.
        assert!(value_range([-1.0, 1.0].into_iter()).start < -1.0);
    }

    #[test]
    fn families_put_loss_first_and_pair_validation_series() {
        let f = families(&history());
        assert_eq!(
            f[0],
            ("loss".into(), vec!["loss".into(), "val_loss".into()])
        );
        assert_eq!(f[1].0, "accuracy");
        assert_eq!(f.len(), 2);
    }

    #[test]
    fn the_svg_names_every_series_and_labels_the_axes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("training.SVG");
        history().plot(&path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg") && svg.len() > 2000, "{svg}");
        for text in ["loss", "val_loss", "accuracy", "val_accuracy", "epoch"] {
            let element = format!("\n{text}\n</text>"); // plotters writes text on its own line
            assert!(svg.contains(&element), "{text} missing");
        }
        assert!(svg.contains("<polyline"), "curves are drawn");
    }

    #[test]
    fn other_formats_and_empty_histories_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let msg = history()
            .plot(dir.path().join("a.png"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("a.png") && msg.contains(".svg"), "{msg}");
        let msg = History::default()
            .plot(dir.path().join("a.svg"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("no epochs"), "{msg}");
    }
}
