//! 2-D max pooling over channels-last images.
//!
//! Each output is the largest input in its window, per channel; taps in the padding
//! (`same`) are ignored. Backward routes each output's gradient to the first largest input
//! of its window (rows, then columns), found again from the input rather than kept.

use super::window::{for_row_chunks, Geometry, Window2d};
use crate::{Op, Tensor, Var};

/// `max` over each window of `x: [batch, h, w, channels]`.
#[derive(Debug, Clone, Copy)]
pub struct MaxPool2d {
    /// The pooling window (its dilation is `(1, 1)` in Keras's layers).
    pub window: Window2d,
}

/// Calls `f(out_offset, image_offset_of_max)` for every output position and channel of the
/// samples starting at `first`, each sample's outputs `out_len` long: the offset of the
/// first largest input of each window.
fn for_each_argmax(
    window: &Window2d,
    g: &Geometry,
    image: &[f32],
    shape: &[usize],
    samples: std::ops::Range<usize>,
    best: &mut [f32],
    mut f: impl FnMut(usize, usize),
) {
    let (h, w, c) = (shape[1], shape[2], shape[3]);
    let (oh, ow) = g.out;
    let mut at = vec![0usize; c];
    for b in samples {
        for oy in 0..oh {
            let rows = window.taps(0, oy, g.pad.0, h);
            for ox in 0..ow {
                let cols = window.taps(1, ox, g.pad.1, w);
                best.fill(f32::NEG_INFINITY);
                at.fill(usize::MAX);
                for i in rows.first..rows.end {
                    for j in cols.first..cols.end {
                        let src = ((b * h + rows.at(i)) * w + cols.at(j)) * c;
                        for ch in 0..c {
                            let v = image[src + ch];
                            // Strictly larger keeps the first; a NaN is taken once.
                            if v > best[ch] || (at[ch] == usize::MAX) {
                                best[ch] = v;
                                at[ch] = src + ch;
                            }
                        }
                    }
                }
                let out = ((b * oh + oy) * ow + ox) * c;
                for ch in 0..c {
                    f(out + ch, at[ch]);
                }
            }
        }
    }
}

impl Op for MaxPool2d {
    fn name(&self) -> &'static str {
        "max_pool2d"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        let shape = x[0].shape();
        let g = self.window.expect_geometry("max_pool2d", shape);
        let image = x[0].as_standard_layout();
        let image = image.as_slice().expect("standard layout");
        let (oh, ow) = g.out;
        let c = shape[3];
        let mut out = crate::pool::tensor_for_overwrite(&[shape[0], oh, ow, c]);
        let out_len = oh * ow * c;
        let slice = out.as_slice_mut().expect("a fresh tensor");
        for_row_chunks(slice, out_len, |first, chunk| {
            let mut best = vec![0.0; c];
            let samples = first..first + chunk.len() / out_len;
            let base = first * out_len;
            for_each_argmax(
                &self.window,
                &g,
                image,
                shape,
                samples,
                &mut best,
                |o, i| {
                    chunk[o - base] = image[i];
                },
            );
        });
        out
    }
    fn backward(&self, x: &[&Tensor], _y: &Tensor, grad: &Tensor) -> Vec<Tensor> {
        let shape = x[0].shape();
        let g = self.window.expect_geometry("max_pool2d", shape);
        let image = x[0].as_standard_layout();
        let image = image.as_slice().expect("standard layout");
        let grad = grad.as_standard_layout();
        let grad = grad.as_slice().expect("standard layout");
        let c = shape[3];
        let in_len = shape[1] * shape[2] * c;
        let mut dx = crate::pool::tensor_for_overwrite(shape);
        let slice = dx.as_slice_mut().expect("a fresh tensor");
        for_row_chunks(slice, in_len, |first, chunk| {
            chunk.fill(0.0);
            let mut best = vec![0.0; c];
            let samples = first..first + chunk.len() / in_len;
            let base = first * in_len;
            for_each_argmax(
                &self.window,
                &g,
                image,
                shape,
                samples,
                &mut best,
                |o, i| {
                    chunk[i - base] += grad[o];
                },
            );
        });
        vec![dx]
    }
}

impl<'t> Var<'t> {
    /// Max pooling of channels-last images: `[batch, h, w, c]` to `[batch, out_h, out_w, c]`
    /// with the window's size, strides and padding (its dilation is usually `(1, 1)`).
    ///
    /// # Panics
    /// If the input is not rank 4 or the window does not fit it (layers check this).
    ///
    /// ```
    /// use keel_autograd::ops::window::Window2d;
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let x = tape.constant(tensor(&[1, 2, 4, 1], vec![1.0, 5.0, 2.0, 0.0, 3.0, 4.0, 8.0, 6.0]));
    /// let pool = Window2d { strides: (2, 2), ..Window2d::new((2, 2)) };
    /// assert_eq!(x.max_pool2d(pool).value().as_slice().unwrap(), &[5.0, 8.0]);
    /// ```
    pub fn max_pool2d(self, window: Window2d) -> Var<'t> {
        self.tape().apply(MaxPool2d { window }, &[self])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::window::Padding;
    use crate::{check_gradients, tensor, GradCheck, Tape};

    fn pool(size: usize, stride: usize, padding: Padding) -> Window2d {
        Window2d {
            strides: (stride, stride),
            padding,
            ..Window2d::new((size, size))
        }
    }

    #[test]
    fn same_padding_ignores_the_border() {
        let tape = Tape::new();
        let x = tape.constant(tensor(
            &[1, 3, 3, 1],
            vec![-1.0, -2.0, -3.0, -4.0, -5.0, -6.0, -7.0, -8.0, -9.0],
        ));
        let y = x.max_pool2d(pool(2, 2, Padding::Same)).value();
        assert_eq!(y.shape(), &[1, 2, 2, 1]);
        assert_eq!(y.as_slice().unwrap(), &[-1.0, -3.0, -7.0, -9.0]);
    }

    #[test]
    fn the_gradient_goes_to_the_first_largest_input() {
        let tape = Tape::new();
        let x = tape.var(tensor(&[1, 2, 2, 1], vec![1.0, 3.0, 3.0, 2.0]));
        let grads = x.max_pool2d(pool(2, 2, Padding::Valid)).sum().backward();
        assert_eq!(
            grads.get(x).unwrap().as_slice().unwrap(),
            &[0.0, 1.0, 0.0, 0.0]
        );
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Distinct values, far apart relative to the step, so no window has a near tie.
        let len = 2 * 5 * 6 * 3;
        let x = tensor(
            &[2, 5, 6, 3],
            (0..len).map(|i| ((i * 37) % len) as f32 * 0.1).collect(),
        );
        for (size, stride, padding) in [
            (2, 2, Padding::Valid),
            (3, 1, Padding::Same),
            (3, 2, Padding::Same),
            (2, 1, Padding::Valid),
        ] {
            check_gradients(
                |_, v| v[0].max_pool2d(pool(size, stride, padding)),
                &[x.clone()],
                GradCheck::default(),
            )
            .unwrap_or_else(|e| panic!("{size} {stride} {padding:?}: {e}"));
        }
    }
}
