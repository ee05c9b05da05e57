//! Per-sample loss weights, from `sample_weight` or `class_weight`.
//!
//! The weighted loss of a batch is `sum(w_i * l_i) / batch_size`: Keras 3 reduces weighted
//! per-sample losses with its default `"sum_over_batch_size"` reduction, dividing by the
//! number of samples, not by the sum of the weights (`keras/src/losses/loss.py`,
//! `reduce_values`). Class weights become sample weights first, as Keras's
//! `class_weight_to_sample_weights` (`keras/src/trainers/data_adapters/data_adapter_utils.py`),
//! with weight 1 for classes not listed.

use crate::{Error, FitOptions, Result};
use keel_data::{Dataset, TargetsView};

fn check_weight(option: &'static str, what: String, w: f32) -> Result<()> {
    if w.is_finite() && w >= 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidOption {
            option,
            expected: "finite weights >= 0",
            found: format!("{w} for {what}"),
        })
    }
}

/// The class of each sample, as Keras reads it: the label, the argmax of a row with several
/// columns, or a single column rounded (`None` when negative).
fn classes(targets: TargetsView<'_>) -> Vec<Option<u32>> {
    match targets {
        TargetsView::Classes(labels) => labels.iter().map(|&c| Some(c)).collect(),
        TargetsView::Dense(rows) if rows.ncols() == 1 => rows
            .column(0)
            .iter()
            .map(|v| (v.round() >= 0.0).then(|| v.round() as u32))
            .collect(),
        TargetsView::Dense(rows) => rows
            .rows()
            .into_iter()
            .map(|row| {
                let best = row
                    .iter()
                    .enumerate()
                    .fold(
                        (0, f32::NEG_INFINITY),
                        |b, (i, &v)| if v > b.1 { (i, v) } else { b },
                    );
                Some(best.0 as u32)
            })
            .collect(),
    }
}

/// The loss weight of every training sample, or `None` for unweighted training.
///
/// `data` is what `fit` was given; `train` is its training part (the first samples, when
/// `validation_split` holds out the tail). `classes` is the number of classes the model's
/// output distinguishes.
///
/// # Errors
/// A `sample_weight` whose length differs from `data`'s, a negative or non-finite weight,
/// or a `class_weight` key the model's output has no class for.
pub(crate) fn training_weights(
    options: &FitOptions<'_>,
    data: &Dataset,
    train: &Dataset,
    classes_out: usize,
) -> Result<Option<Vec<f32>>> {
    if let Some(weights) = &options.sample_weight {
        if weights.len() != data.len() {
            return Err(Error::SampleWeightLength {
                expected: data.len(),
                found: weights.len(),
            });
        }
        for (i, &w) in weights.iter().enumerate() {
            check_weight("sample_weight", format!("sample {i}"), w)?;
        }
        return Ok(Some(weights[..train.len()].to_vec()));
    }
    let Some(class_weight) = &options.class_weight else {
        return Ok(None);
    };
    for (&class, &w) in class_weight {
        check_weight("class_weight", format!("class {class}"), w)?;
        if class as usize >= classes_out {
            return Err(Error::InvalidOption {
                option: "class_weight",
                expected: "keys that are classes of the model's output",
                found: format!("class {class} (the output has {classes_out} classes)"),
            });
        }
    }
    Ok(Some(
        classes(train.targets())
            .into_iter()
            .map(|class| {
                class
                    .and_then(|c| class_weight.get(&c).copied())
                    .unwrap_or(1.0)
            })
            .collect(),
    ))
}
