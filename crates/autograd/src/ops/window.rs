//! The geometry of a window sliding over channels-last images (`[batch, height, width,
//! channels]`): output sizes and padding as Keras (and TensorFlow) compute them, shared by
//! the convolution and pooling ops and by the layers that check shapes before building.

use keel_runtime::{for_each_piece, plan};
use serde::{Deserialize, Serialize};

/// How a window treats the border of its input, by Keras name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Padding {
    /// No padding: only windows that fit inside the input (the Keras default).
    #[default]
    Valid,
    /// Zero padding so the output has `ceil(input / stride)` positions; the padding is
    /// `max((out - 1) * stride + span - input, 0)`, the smaller half before.
    Same,
}

impl Padding {
    /// The Keras name: `"valid"` or `"same"`.
    ///
    /// ```
    /// assert_eq!(keel_autograd::ops::window::Padding::Same.name(), "same");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Padding::Valid => "valid",
            Padding::Same => "same",
        }
    }
}

/// A 2-D window: its size, strides, dilation and padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window2d {
    /// `(height, width)` of the window (the kernel or pool size).
    pub size: (usize, usize),
    /// Steps between windows, `(rows, columns)`.
    pub strides: (usize, usize),
    /// Spacing between the window's taps, `(rows, columns)`; `(1, 1)` for contiguous.
    pub dilation: (usize, usize),
    /// The border rule.
    pub padding: Padding,
}

/// Where a [`Window2d`] lands on an input of a given height and width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Output `(height, width)`.
    pub out: (usize, usize),
    /// Padding before the first row and column, `(top, left)`.
    pub pad: (usize, usize),
}

/// The output size and padding before along one axis, or `None` when no window fits.
fn axis(
    input: usize,
    size: usize,
    stride: usize,
    dilation: usize,
    padding: Padding,
) -> Option<(usize, usize)> {
    if size == 0 || stride == 0 || dilation == 0 || input == 0 {
        return None;
    }
    let span = (size - 1).checked_mul(dilation)?.checked_add(1)?;
    match padding {
        Padding::Valid => (input >= span).then(|| ((input - span) / stride + 1, 0)),
        Padding::Same => {
            let out = input.div_ceil(stride);
            let total = ((out - 1) * stride)
                .checked_add(span)?
                .saturating_sub(input);
            Some((out, total / 2))
        }
    }
}

impl Window2d {
    /// A square `size` window moving `stride` both ways (the pooling tests' windows).
    #[cfg(test)]
    pub(crate) fn square(size: usize, stride: usize, padding: Padding) -> Window2d {
        Window2d {
            strides: (stride, stride),
            padding,
            ..Window2d::new((size, size))
        }
    }

    /// A window of `size` with unit strides and dilation and `valid` padding.
    pub fn new(size: (usize, usize)) -> Self {
        Window2d {
            size,
            strides: (1, 1),
            dilation: (1, 1),
            padding: Padding::Valid,
        }
    }

    /// Where the window lands on an input of `(height, width)`; `None` when a size, stride
    /// or dilation is zero, the input is empty, or (`valid` padding) the dilated window is
    /// larger than the input.
    ///
    /// ```
    /// use keel_autograd::ops::window::{Padding, Window2d};
    /// let w = Window2d { strides: (2, 2), padding: Padding::Same, ..Window2d::new((3, 3)) };
    /// let g = w.geometry((5, 6)).unwrap();
    /// assert_eq!((g.out, g.pad), ((3, 3), (1, 0))); // pad 2 rows (1 before), 1 column (0 before)
    /// assert_eq!(Window2d::new((3, 3)).geometry((2, 8)), None);
    /// ```
    pub fn geometry(&self, (height, width): (usize, usize)) -> Option<Geometry> {
        let (oh, top) = axis(
            height,
            self.size.0,
            self.strides.0,
            self.dilation.0,
            self.padding,
        )?;
        let (ow, left) = axis(
            width,
            self.size.1,
            self.strides.1,
            self.dilation.1,
            self.padding,
        )?;
        Some(Geometry {
            out: (oh, ow),
            pad: (top, left),
        })
    }

    /// The geometry for an input tensor of shape `[batch, height, width, channels]`.
    ///
    /// # Panics
    /// If the input is not rank 4 or the window does not fit (an internal bug: layers check
    /// shapes when they are built).
    pub(crate) fn expect_geometry(&self, op: &str, shape: &[usize]) -> Geometry {
        assert!(
            shape.len() == 4,
            "{op}: input {shape:?} is not [batch, height, width, channels]"
        );
        self.geometry((shape[1], shape[2]))
            .unwrap_or_else(|| panic!("{op}: window {self:?} does not fit input {shape:?}"))
    }

    /// The input rows (or columns, with `axis` 1) the window at output position `o` reads,
    /// as `(first tap, number of taps inside the input)` with the taps that fall in the
    /// padding skipped: tap `t` of the window reads input `start + t * dilation`.
    pub(crate) fn taps(&self, axis: usize, o: usize, pad: usize, input: usize) -> Taps {
        let (size, stride, dilation) = if axis == 0 {
            (self.size.0, self.strides.0, self.dilation.0)
        } else {
            (self.size.1, self.strides.1, self.dilation.1)
        };
        let origin = (o * stride) as isize - pad as isize;
        let d = dilation as isize;
        // The first tap at or after row 0, and the last before `input`.
        let first = if origin >= 0 {
            0
        } else {
            (-origin + d - 1) / d
        } as usize;
        let mut last = size;
        while last > first && origin + (last as isize - 1) * d >= input as isize {
            last -= 1;
        }
        Taps {
            first,
            end: last.max(first),
            origin,
            dilation: d,
        }
    }
}

/// The taps of a window along one axis that fall inside the input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Taps {
    /// The first tap inside the input.
    pub first: usize,
    /// One past the last tap inside the input.
    pub end: usize,
    origin: isize,
    dilation: isize,
}

impl Taps {
    /// The input index tap `t` reads (`first <= t < end`).
    pub fn at(&self, t: usize) -> usize {
        (self.origin + t as isize * self.dilation) as usize
    }

    /// How many taps fall inside the input.
    pub fn count(&self) -> usize {
        self.end - self.first
    }
}

/// Calls `f(first_row, chunk)` on runs of whole rows of `row_len` elements of `data` (a
/// row is a sample, or a patch), cut by [`plan::row_runs`] (by length alone, so each
/// element is computed the same way whatever the thread count) and shared by the
/// runtime's threads when long.
pub(crate) fn for_row_chunks(
    data: &mut [f32],
    row_len: usize,
    f: impl Fn(usize, &mut [f32]) + Sync,
) {
    if data.is_empty() || row_len == 0 {
        return;
    }
    let run = plan::row_runs(data.len(), row_len);
    if run >= data.len() {
        f(0, data);
    } else {
        let per_run = run / row_len;
        for_each_piece(data.chunks_mut(run).enumerate(), |(i, chunk)| {
            f(i * per_run, chunk)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_sizes_follow_keras() {
        // valid: floor((in - span) / s) + 1
        assert_eq!(axis(28, 3, 1, 1, Padding::Valid), Some((26, 0)));
        assert_eq!(axis(7, 3, 2, 1, Padding::Valid), Some((3, 0)));
        assert_eq!(axis(7, 3, 1, 2, Padding::Valid), Some((3, 0))); // span 5
        assert_eq!(axis(4, 3, 1, 2, Padding::Valid), None);
        // same: ceil(in / s), pad_total = max((out - 1) s + span - in, 0)
        assert_eq!(axis(5, 3, 1, 1, Padding::Same), Some((5, 1)));
        assert_eq!(axis(6, 3, 2, 1, Padding::Same), Some((3, 0))); // total 1
        assert_eq!(axis(5, 2, 2, 1, Padding::Same), Some((3, 0))); // total 1
        assert_eq!(axis(2, 5, 1, 1, Padding::Same), Some((2, 2))); // total 4
        assert_eq!(axis(5, 3, 0, 1, Padding::Same), None);
        assert_eq!(axis(0, 1, 1, 1, Padding::Same), None);
    }

    #[test]
    fn taps_skip_the_padding() {
        let w = Window2d {
            padding: Padding::Same,
            ..Window2d::new((3, 3))
        };
        let t = w.taps(0, 0, 1, 4); // rows -1, 0, 1
        assert_eq!((t.first, t.end, t.at(1)), (1, 3, 0));
        let t = w.taps(0, 3, 1, 4); // rows 2, 3, 4
        assert_eq!((t.first, t.end, t.at(0)), (0, 2, 2));
        let dilated = Window2d {
            dilation: (2, 2),
            ..w
        };
        let t = dilated.taps(1, 0, 2, 4); // columns -2, 0, 2
        assert_eq!((t.first, t.end, t.at(1), t.at(2)), (1, 3, 0, 2));
    }

    #[test]
    fn samples_are_visited_once_with_their_index() {
        let sample = 1000;
        let mut data = vec![0.0f32; sample * 300]; // long enough to be cut
        for_row_chunks(&mut data, sample, |first, chunk| {
            assert_eq!(chunk.len() % sample, 0);
            for (i, s) in chunk.chunks_mut(sample).enumerate() {
                s.fill((first + i) as f32 + 1.0);
            }
        });
        for (i, s) in data.chunks(sample).enumerate() {
            assert!(s.iter().all(|&v| v == i as f32 + 1.0));
        }
    }
}
