//! 2-D max pooling over channels-last images.
//!
//! Each output is the largest input in its window, per channel; taps in the padding
//! (`same`) are ignored. Backward routes each output's gradient to the first input of its
//! window (rows, then columns) equal to the saved maximum.

use super::window::{for_row_chunks, Geometry, Window2d};
use crate::{Op, Tensor, Var};
use multiversion::multiversion;

/// `max` over each window of `x: [batch, h, w, channels]`.
#[derive(Debug, Clone, Copy)]
pub struct MaxPool2d {
    /// The pooling window (its dilation is `(1, 1)` in Keras's layers).
    pub window: Window2d,
}

/// Calls `f(out_offset, taps)` for every output position of the samples in `samples`,
/// `taps` holding the offsets of the inputs in its window (rows, then columns); offsets are
/// of the first channel, `c` channels follow each.
#[inline(always)]
fn for_each_window(
    window: &Window2d,
    g: &Geometry,
    shape: &[usize],
    samples: std::ops::Range<usize>,
    mut f: impl FnMut(usize, &[usize]),
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
                f(((b * oh + oy) * ow + ox) * c, &taps);
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
        let ((oh, ow), c) = (g.out, shape[3]);
        let out_len = oh * ow * c;
        let mut out = crate::pool::tensor_for_overwrite(&[shape[0], oh, ow, c]);
        let slice = out.as_slice_mut().expect("a fresh tensor");
        for_row_chunks(slice, out_len, |first, chunk| {
            max_samples(&self.window, &g, shape, first, chunk, image)
        });
        out
    }
    fn backward(&self, x: &[&Tensor], y: &Tensor, grad: &Tensor) -> Vec<Tensor> {
        let shape = x[0].shape();
        let g = self.window.expect_geometry("max_pool2d", shape);
        let image = x[0].as_standard_layout();
        let image = image.as_slice().expect("standard layout");
        let (y, grad) = (y.as_standard_layout(), grad.as_standard_layout());
        let (y, grad) = (
            y.as_slice().expect("standard layout"),
            grad.as_slice().expect("standard layout"),
        );
        let in_len = shape[1] * shape[2] * shape[3];
        let mut dx = crate::pool::tensor_for_overwrite(shape);
        let slice = dx.as_slice_mut().expect("a fresh tensor");
        for_row_chunks(slice, in_len, |first, chunk| {
            route_samples(&self.window, &g, shape, first, chunk, image, y, grad)
        });
        vec![dx]
    }
}

/// The maxima of the windows of the samples whose outputs `chunk` holds (from sample
/// `first` on), all channels of a tap at once: compiled for AVX-512 and AVX2 (chosen at run
/// time), as the default target has only SSE2.
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn max_samples(
    window: &Window2d,
    g: &Geometry,
    shape: &[usize],
    first: usize,
    chunk: &mut [f32],
    image: &[f32],
) {
    let c = shape[3];
    let out_len = g.out.0 * g.out.1 * c;
    let samples = first..first + chunk.len() / out_len;
    let base = first * out_len;
    for_each_window(window, g, shape, samples, |o, taps| {
        let out = &mut chunk[o - base..o - base + c];
        out.copy_from_slice(&image[taps[0]..taps[0] + c]);
        for &i in &taps[1..] {
            // Strictly larger: the first of equal values is kept.
            for (m, &v) in out.iter_mut().zip(&image[i..i + c]) {
                *m = if v > *m { v } else { *m };
            }
        }
    });
}

/// The input gradient of the samples whose inputs `chunk` holds (from sample `first` on):
/// each output's gradient goes to the first input of its window equal to the saved maximum
/// `y`. Branch-free over the channels (a select per channel, not a branch that mispredicts
/// on every other input), compiled like [`max_samples`].
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
#[allow(clippy::too_many_arguments)]
fn route_samples(
    window: &Window2d,
    g: &Geometry,
    shape: &[usize],
    first: usize,
    chunk: &mut [f32],
    image: &[f32],
    y: &[f32],
    grad: &[f32],
) {
    let c = shape[3];
    let in_len = shape[1] * shape[2] * c;
    // Windows that do not overlap write each input they read once: `=` instead of `+=`,
    // and the zeros first only for the inputs no window reads (none when they tile it).
    let span = |axis: usize| {
        let (size, dilation) = if axis == 0 {
            (window.size.0, window.dilation.0)
        } else {
            (window.size.1, window.dilation.1)
        };
        (size - 1) * dilation + 1
    };
    let disjoint = window.strides.0 >= span(0) && window.strides.1 >= span(1);
    let tiled = disjoint
        && window.dilation == (1, 1)
        && window.strides == window.size
        && g.pad == (0, 0)
        && g.out.0 * window.strides.0 == shape[1]
        && g.out.1 * window.strides.1 == shape[2];
    if !tiled {
        chunk.fill(0.0);
    }
    let samples = first..first + chunk.len() / in_len;
    let base = first * in_len;
    // Whether each channel of the window still has its gradient to hand out.
    let mut open = vec![false; c];
    for_each_window(window, g, shape, samples, |o, taps| {
        open.fill(true);
        let (max, grad) = (&y[o..o + c], &grad[o..o + c]);
        for &i in taps {
            let (dx, x) = (&mut chunk[i - base..i - base + c], &image[i..i + c]);
            let lanes = dx.iter_mut().zip(x).zip(max).zip(grad).zip(open.iter_mut());
            if disjoint {
                for ((((d, &x), &m), &g), open) in lanes {
                    let hit = *open & (x == m);
                    *d = if hit { g } else { 0.0 };
                    *open &= !hit;
                }
            } else {
                for ((((d, &x), &m), &g), open) in lanes {
                    let hit = *open & (x == m);
                    *d += if hit { g } else { 0.0 };
                    *open &= !hit;
                }
            }
        }
    });
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
        // Windows that overlap, that leave a row out (5 rows, 2 × 2 windows), that tile
        // the input (4 rows), and a dilated one.
        let tiled = x.slice(ndarray::s![.., 0..4, .., ..]).to_owned().into_dyn();
        let dilated = Window2d {
            dilation: (2, 1),
            ..pool(2, 2, Padding::Valid)
        };
        for (window, x) in [
            (pool(2, 2, Padding::Valid), &x),
            (pool(3, 1, Padding::Same), &x),
            (pool(3, 2, Padding::Same), &x),
            (pool(2, 1, Padding::Valid), &x),
            (pool(2, 2, Padding::Valid), &tiled),
            (pool(3, 3, Padding::Valid), &x),
            (dilated, &x),
        ] {
            check_gradients(
                |_, v| v[0].max_pool2d(window),
                std::slice::from_ref(x),
                GradCheck::default(),
            )
            .unwrap_or_else(|e| panic!("{window:?}: {e}"));
        }
    }
}
