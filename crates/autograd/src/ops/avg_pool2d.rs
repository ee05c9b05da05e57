//! 2-D average pooling over channels-last images.
//!
//! Each output is the mean of the inputs in its window, per channel. As in Keras, taps in
//! the padding (`same`) are left out of both the sum and the count. Backward spreads each
//! output's gradient evenly over the inputs it averaged.

use super::window::{for_row_chunks, Geometry, Window2d};
use crate::{Op, Tensor, Var};

/// The mean over each window of `x: [batch, h, w, channels]`.
#[derive(Debug, Clone, Copy)]
pub struct AvgPool2d {
    /// The pooling window (its dilation is `(1, 1)` in Keras's layers).
    pub window: Window2d,
}

/// Calls `f(out_offset, taps, 1 / count)` for every output position of the samples in
/// `samples`, `taps` holding the offsets of the inputs its window averages; offsets are of
/// the first channel, `c` channels follow each.
fn for_each_window(
    window: &Window2d,
    g: &Geometry,
    shape: &[usize],
    samples: std::ops::Range<usize>,
    mut f: impl FnMut(usize, &[usize], f32),
) {
    let (h, w, c) = (shape[1], shape[2], shape[3]);
    let (oh, ow) = g.out;
    let mut taps = Vec::with_capacity(window.size.0 * window.size.1);
    for b in samples {
        for oy in 0..oh {
            let rows = window.taps(0, oy, g.pad.0, h);
            for ox in 0..ow {
                let cols = window.taps(1, ox, g.pad.1, w);
                taps.clear();
                for i in rows.first..rows.end {
                    for j in cols.first..cols.end {
                        taps.push(((b * h + rows.at(i)) * w + cols.at(j)) * c);
                    }
                }
                let scale = 1.0 / taps.len() as f32;
                f(((b * oh + oy) * ow + ox) * c, &taps, scale);
            }
        }
    }
}

impl Op for AvgPool2d {
    fn name(&self) -> &'static str {
        "avg_pool2d"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        let shape = x[0].shape();
        let g = self.window.expect_geometry("avg_pool2d", shape);
        let image = x[0].as_standard_layout();
        let image = image.as_slice().expect("standard layout");
        let ((oh, ow), c) = (g.out, shape[3]);
        let out_len = oh * ow * c;
        let mut out = crate::pool::tensor_for_overwrite(&[shape[0], oh, ow, c]);
        let slice = out.as_slice_mut().expect("a fresh tensor");
        for_row_chunks(slice, out_len, |first, chunk| {
            let samples = first..first + chunk.len() / out_len;
            let base = first * out_len;
            for_each_window(&self.window, &g, shape, samples, |o, taps, scale| {
                let out = &mut chunk[o - base..o - base + c];
                out.fill(0.0);
                for &i in taps {
                    out.iter_mut()
                        .zip(&image[i..i + c])
                        .for_each(|(d, &v)| *d += v);
                }
                out.iter_mut().for_each(|v| *v *= scale);
            });
        });
        out
    }
    fn backward(&self, x: &[&Tensor], _y: &Tensor, grad: &Tensor) -> Vec<Tensor> {
        let shape = x[0].shape();
        let g = self.window.expect_geometry("avg_pool2d", shape);
        let grad = grad.as_standard_layout();
        let grad = grad.as_slice().expect("standard layout");
        let c = shape[3];
        let in_len = shape[1] * shape[2] * c;
        let mut dx = crate::pool::tensor_for_overwrite(shape);
        let slice = dx.as_slice_mut().expect("a fresh tensor");
        for_row_chunks(slice, in_len, |first, chunk| {
            chunk.fill(0.0);
            let samples = first..first + chunk.len() / in_len;
            let base = first * in_len;
            for_each_window(&self.window, &g, shape, samples, |o, taps, scale| {
                for &i in taps {
                    let d = &mut chunk[i - base..i - base + c];
                    d.iter_mut()
                        .zip(&grad[o..o + c])
                        .for_each(|(d, &g)| *d += g * scale);
                }
            });
        });
        vec![dx]
    }
}

impl<'t> Var<'t> {
    /// Average pooling of channels-last images: `[batch, h, w, c]` to `[batch, out_h,
    /// out_w, c]` with the window's size, strides and padding; with `same` padding, a
    /// window at the border averages only the inputs inside the image (as Keras does).
    ///
    /// # Panics
    /// If the input is not rank 4 or the window does not fit it (layers check this).
    ///
    /// ```
    /// use keel_autograd::ops::window::{Padding, Window2d};
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let x = tape.constant(tensor(&[1, 1, 3, 1], vec![1.0, 2.0, 6.0]));
    /// let pool = Window2d { strides: (1, 2), padding: Padding::Same, ..Window2d::new((1, 2)) };
    /// // Windows [1, 2] and [6, pad]: the second averages one input.
    /// assert_eq!(x.avg_pool2d(pool).value().as_slice().unwrap(), &[1.5, 6.0]);
    /// ```
    pub fn avg_pool2d(self, window: Window2d) -> Var<'t> {
        self.tape().apply(AvgPool2d { window }, &[self])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::window::Padding;
    use crate::{check_gradients, tensor, GradCheck, Tape};

    #[test]
    fn same_padding_leaves_the_padding_out_of_the_count() {
        let tape = Tape::new();
        let x = tape.constant(tensor(&[1, 3, 3, 1], (1..=9).map(|v| v as f32).collect()));
        let y = x.avg_pool2d(Window2d::square(2, 2, Padding::Same)).value();
        // Windows {1,2,4,5}, {3,6}, {7,8}, {9}.
        assert_eq!(y.as_slice().unwrap(), &[3.0, 4.5, 7.5, 9.0]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let len = 2 * 5 * 6 * 3;
        let x = tensor(
            &[2, 5, 6, 3],
            (0..len)
                .map(|i| ((i * 37) % 29) as f32 * 0.1 - 1.0)
                .collect(),
        );
        for (size, stride, padding) in [
            (2, 2, Padding::Valid),
            (3, 1, Padding::Same),
            (3, 2, Padding::Same),
            (2, 1, Padding::Valid),
        ] {
            check_gradients(
                |_, v| v[0].avg_pool2d(Window2d::square(size, stride, padding)),
                std::slice::from_ref(&x),
                GradCheck::default(),
            )
            .unwrap_or_else(|e| panic!("{size} {stride} {padding:?}: {e}"));
        }
    }
}
