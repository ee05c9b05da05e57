//! Shape checks shared by the image layers (channels last: `[height, width, channels]`).

use crate::{Error, Result};
use keel_autograd::ops::window::Window2d;

/// The `(height, width, channels)` of a per-sample image shape.
///
/// # Errors
/// [`Error::IncompatibleInput`] naming `layer` unless the shape is rank 3 with no zero axis.
pub(crate) fn image_shape(layer: &str, input_shape: &[usize]) -> Result<(usize, usize, usize)> {
    match *input_shape {
        [h, w, c] if h > 0 && w > 0 && c > 0 => Ok((h, w, c)),
        _ => Err(Error::IncompatibleInput {
            layer: layer.into(),
            expected: "[height, width, channels] (rank 3, channels last, no zero axis; \
                       add a Reshape layer first)"
                .into(),
            found: input_shape.to_vec(),
        }),
    }
}

/// Checks that both entries of a `(rows, columns)` argument are at least 1.
///
/// # Errors
/// [`Error::InvalidArgument`] naming `layer` and `parameter`.
pub(crate) fn positive_pair(
    layer: &str,
    parameter: &'static str,
    value: (usize, usize),
) -> Result<()> {
    if value.0 == 0 || value.1 == 0 {
        return Err(Error::InvalidArgument {
            layer: layer.into(),
            parameter,
            expected: "at least 1 along both axes",
            found: format!("{value:?}"),
        });
    }
    Ok(())
}

/// The output `(height, width)` of `window` (called `what`: "kernel", "pool") on an image
/// of `(height, width)`.
///
/// # Errors
/// [`Error::IncompatibleInput`] naming `layer` when the window (dilated) is larger than
/// the image with `valid` padding.
pub(crate) fn window_output(
    layer: &str,
    what: &str,
    window: &Window2d,
    input_shape: &[usize],
) -> Result<(usize, usize)> {
    let (h, w, _) = image_shape(layer, input_shape)?;
    match window.geometry((h, w)) {
        Some(g) => Ok(g.out),
        None => {
            let span = |size: usize, dilation: usize| {
                (size.saturating_sub(1))
                    .saturating_mul(dilation)
                    .saturating_add(1)
            };
            Err(Error::IncompatibleInput {
                layer: layer.into(),
                expected: format!(
                    "an image at least as large as the {what} ({}, {}) with padding \"{}\"",
                    span(window.size.0, window.dilation.0),
                    span(window.size.1, window.dilation.1),
                    window.padding.name()
                ),
                found: input_shape.to_vec(),
            })
        }
    }
}
