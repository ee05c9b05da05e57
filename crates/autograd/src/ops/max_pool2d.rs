//! 2-D max pooling over channels-last images.
//!
//! Each output is the largest input in its window, per channel; taps in the padding
//! (`same`) are ignored. Backward routes each output's gradient to the first input of its
//! window (rows, then columns) equal to the saved maximum.

use super::kept::Kept;
use super::window::{for_row_chunks, Geometry, Window2d};
use crate::{Op, Tensor, Var};
use keel_runtime::{for_each_piece, plan};
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

impl MaxPool2d {
    /// The forward pass; with `argmax`, also the tap (0-based, rows then columns) each
    /// maximum came from, per output value, kept there for the backward pass.
    fn run_forward(&self, x: &[&Tensor], argmax: Option<&Kept>) -> Tensor {
        let shape = x[0].shape();
        let g = self.window.expect_geometry("max_pool2d", shape);
        let image = x[0].as_standard_layout();
        let image = image.as_slice().expect("standard layout");
        let ((oh, ow), c) = (g.out, shape[3]);
        let out_len = oh * ow * c;
        let mut out = crate::pool::tensor_for_overwrite(&[shape[0], oh, ow, c]);
        let slice = out.as_slice_mut().expect("a fresh tensor");
        let Some(kept) = argmax else {
            for_row_chunks(slice, out_len, |first, chunk| {
                max_samples(&self.window, &g, shape, first, chunk, None, image)
            });
            return out;
        };
        let mut taps = crate::pool::take(slice.len());
        if out_len > 0 {
            let run = plan::row_runs(slice.len(), out_len);
            let per_run = run / out_len;
            let serial = run >= slice.len();
            let pieces = slice.chunks_mut(run).zip(taps.chunks_mut(run)).enumerate();
            let task = |(i, (chunk, taps)): (usize, (&mut [f32], &mut [f32]))| {
                max_samples(
                    &self.window,
                    &g,
                    shape,
                    i * per_run,
                    chunk,
                    Some(taps),
                    image,
                )
            };
            if serial {
                pieces.for_each(task);
            } else {
                for_each_piece(pieces, task);
            }
        }
        kept.put(taps);
        out
    }

    /// The backward pass: from the kept taps of the maxima when there are, else by
    /// finding in the input the first value equal to each saved maximum.
    fn run_backward(
        &self,
        x: &[&Tensor],
        y: &Tensor,
        grad: &Tensor,
        argmax: Option<Vec<f32>>,
    ) -> Vec<Tensor> {
        let shape = x[0].shape();
        let g = self.window.expect_geometry("max_pool2d", shape);
        let grad = grad.as_standard_layout();
        let grad = grad.as_slice().expect("standard layout");
        let in_len = shape[1] * shape[2] * shape[3];
        let mut dx = crate::pool::tensor_for_overwrite(shape);
        let slice = dx.as_slice_mut().expect("a fresh tensor");
        match argmax {
            Some(taps) => {
                for_row_chunks(slice, in_len, |first, chunk| {
                    route_to_taps(&self.window, &g, shape, first, chunk, &taps, grad)
                });
                crate::pool::recycle_vec(taps);
            }
            None => {
                let image = x[0].as_standard_layout();
                let image = image.as_slice().expect("standard layout");
                let y = y.as_standard_layout();
                let y = y.as_slice().expect("standard layout");
                for_row_chunks(slice, in_len, |first, chunk| {
                    route_samples(&self.window, &g, shape, first, chunk, image, y, grad)
                });
            }
        }
        vec![dx]
    }
}

impl Op for MaxPool2d {
    fn name(&self) -> &'static str {
        "max_pool2d"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        self.run_forward(x, None)
    }
    fn backward(&self, x: &[&Tensor], y: &Tensor, grad: &Tensor) -> Vec<Tensor> {
        self.run_backward(x, y, grad, None)
    }
}

/// A [`MaxPool2d`] on a tape that will differentiate its input: the forward pass keeps
/// which tap each maximum came from (one value per output, a quarter of the input for a
/// 2×2 window), so the backward pass routes each gradient without reading the input again
/// (11 MB for W4's first pooling at batch 128, long out of the cache by then).
#[derive(Debug)]
struct KeepingArgmax {
    pool: MaxPool2d,
    argmax: Kept,
}

impl Op for KeepingArgmax {
    fn name(&self) -> &'static str {
        self.pool.name()
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        self.pool.run_forward(x, Some(&self.argmax))
    }
    fn backward(&self, x: &[&Tensor], y: &Tensor, grad: &Tensor) -> Vec<Tensor> {
        // Taken, not borrowed: a second backward pass over the same tape searches again.
        let taps = self.argmax.take();
        self.pool.run_backward(x, y, grad, taps)
    }
}

/// Windows of at most this many taps keep their maxima's taps (as `f32`, exact to 2^24).
const MAX_KEPT_TAPS: usize = 1 << 16;

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
    mut argmax: Option<&mut [f32]>,
    image: &[f32],
) {
    let c = shape[3];
    let out_len = g.out.0 * g.out.1 * c;
    let samples = first..first + chunk.len() / out_len;
    let base = first * out_len;
    for_each_window(window, g, shape, samples, |o, taps| {
        let out = &mut chunk[o - base..o - base + c];
        let mut which = argmax
            .as_deref_mut()
            .map(|a| &mut a[o - base..o - base + c]);
        // Sixteen channels at a time, their maxima (and taps) kept in registers across the
        // taps (not stored after each tap and loaded again: a masked store does not
        // forward).
        let mut ch = 0;
        while ch + LANES <= c {
            let mut m: [f32; LANES] = image[taps[0] + ch..taps[0] + ch + LANES]
                .try_into()
                .expect("LANES values");
            let mut at = [0.0f32; LANES];
            for (t, &i) in taps.iter().enumerate().skip(1) {
                let x: &[f32; LANES] = image[i + ch..i + ch + LANES]
                    .try_into()
                    .expect("LANES values");
                let t = t as f32;
                for l in 0..LANES {
                    // Strictly larger: the first of equal values is kept.
                    let larger = x[l] > m[l];
                    m[l] = if larger { x[l] } else { m[l] };
                    at[l] = if larger { t } else { at[l] };
                }
            }
            out[ch..ch + LANES].copy_from_slice(&m);
            if let Some(which) = which.as_deref_mut() {
                which[ch..ch + LANES].copy_from_slice(&at);
            }
            ch += LANES;
        }
        for ch in ch..c {
            let mut m = image[taps[0] + ch];
            let mut at = 0.0f32;
            for (t, &i) in taps.iter().enumerate().skip(1) {
                let x = image[i + ch];
                if x > m {
                    m = x;
                    at = t as f32;
                }
            }
            out[ch] = m;
            if let Some(which) = which.as_deref_mut() {
                which[ch] = at;
            }
        }
    });
}

/// The input gradient of the samples whose inputs `chunk` holds (from sample `first` on)
/// from the kept taps of the maxima: each output's gradient goes to its window's tap
/// `taps_of_max`. Compiled like [`max_samples`].
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn route_to_taps(
    window: &Window2d,
    g: &Geometry,
    shape: &[usize],
    first: usize,
    chunk: &mut [f32],
    taps_of_max: &[f32],
    grad: &[f32],
) {
    let c = shape[3];
    let in_len = shape[1] * shape[2] * c;
    let (disjoint, tiled) = coverage(window, g, shape);
    if !tiled {
        chunk.fill(0.0);
    }
    let samples = first..first + chunk.len() / in_len;
    let base = first * in_len;
    for_each_window(window, g, shape, samples, |o, taps| {
        let mut ch = 0;
        while ch + LANES <= c {
            let which: &[f32; LANES] = taps_of_max[o + ch..o + ch + LANES]
                .try_into()
                .expect("LANES");
            let gr: &[f32; LANES] = grad[o + ch..o + ch + LANES].try_into().expect("LANES");
            for (t, &i) in taps.iter().enumerate() {
                let t = t as f32;
                let at = i - base + ch;
                let dx: &mut [f32; LANES] = (&mut chunk[at..at + LANES]).try_into().expect("LANES");
                let mut v = [0.0f32; LANES];
                for l in 0..LANES {
                    // A mask, not a select: the select compiled to a branch per lane.
                    let hit = if which[l] == t { u32::MAX } else { 0 };
                    v[l] = f32::from_bits(gr[l].to_bits() & hit); // g or +0
                }
                if disjoint {
                    *dx = v;
                } else {
                    for l in 0..LANES {
                        dx[l] += v[l];
                    }
                }
            }
            ch += LANES;
        }
        for ch in ch..c {
            let (which, gr) = (taps_of_max[o + ch], grad[o + ch]);
            for (t, &i) in taps.iter().enumerate() {
                let v = if which == t as f32 { gr } else { 0.0 };
                let d = &mut chunk[i - base + ch];
                *d = if disjoint { v } else { *d + v };
            }
        }
    });
}

/// Whether the windows do not overlap (each input is read by one window at most), and
/// whether they also tile the input (each is read by exactly one).
fn coverage(window: &Window2d, g: &Geometry, shape: &[usize]) -> (bool, bool) {
    let span = |size: usize, dilation: usize| (size - 1) * dilation + 1;
    let disjoint = window.strides.0 >= span(window.size.0, window.dilation.0)
        && window.strides.1 >= span(window.size.1, window.dilation.1);
    let tiled = disjoint
        && window.dilation == (1, 1)
        && window.strides == window.size
        && g.pad == (0, 0)
        && g.out.0 * window.strides.0 == shape[1]
        && g.out.1 * window.strides.1 == shape[2];
    (disjoint, tiled)
}

/// Channels handled together by the pooling loops (one AVX-512 register).
const LANES: usize = 16;

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
    let (disjoint, tiled) = coverage(window, g, shape);
    if !tiled {
        chunk.fill(0.0);
    }
    let samples = first..first + chunk.len() / in_len;
    let base = first * in_len;
    for_each_window(window, g, shape, samples, |o, taps| {
        // Sixteen channels at a time; whether each still has its gradient to hand out
        // stays in a register across the taps.
        let mut ch = 0;
        while ch + LANES <= c {
            let m: &[f32; LANES] = y[o + ch..o + ch + LANES].try_into().expect("LANES");
            let gr: &[f32; LANES] = grad[o + ch..o + ch + LANES].try_into().expect("LANES");
            // All ones while the channel's gradient is still to hand out; integer masks
            // (not bools) so the loop stays in vector registers.
            let mut open = [u32::MAX; LANES];
            for &i in taps {
                let x: &[f32; LANES] = image[i + ch..i + ch + LANES].try_into().expect("LANES");
                let at = i - base + ch;
                let dx: &mut [f32; LANES] = (&mut chunk[at..at + LANES]).try_into().expect("LANES");
                let mut v = [0.0f32; LANES];
                for l in 0..LANES {
                    let hit = open[l] & if x[l] == m[l] { u32::MAX } else { 0 };
                    v[l] = f32::from_bits(gr[l].to_bits() & hit); // g or +0
                    open[l] &= !hit;
                }
                if disjoint {
                    *dx = v;
                } else {
                    for l in 0..LANES {
                        dx[l] += v[l];
                    }
                }
            }
            ch += LANES;
        }
        for ch in ch..c {
            let (m, gr) = (y[o + ch], grad[o + ch]);
            let mut open = true;
            for &i in taps {
                let hit = open & (image[i + ch] == m);
                let v = if hit { gr } else { 0.0 };
                let d = &mut chunk[i - base + ch];
                *d = if disjoint { v } else { *d + v };
                open &= !hit;
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
        let (tape, pool) = (self.tape(), MaxPool2d { window });
        if tape.requires_grad(self.id()) && window.size.0 * window.size.1 <= MAX_KEPT_TAPS {
            let op = KeepingArgmax {
                pool,
                argmax: Kept::default(),
            };
            tape.apply(op, &[self])
        } else {
            tape.apply(pool, &[self])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::window::Padding;
    use crate::{check_gradients, tensor, GradCheck, Tape};

    #[test]
    fn same_padding_ignores_the_border() {
        let tape = Tape::new();
        let x = tape.constant(tensor(
            &[1, 3, 3, 1],
            vec![-1.0, -2.0, -3.0, -4.0, -5.0, -6.0, -7.0, -8.0, -9.0],
        ));
        let y = x.max_pool2d(Window2d::square(2, 2, Padding::Same)).value();
        assert_eq!(y.shape(), &[1, 2, 2, 1]);
        assert_eq!(y.as_slice().unwrap(), &[-1.0, -3.0, -7.0, -9.0]);
    }

    #[test]
    fn the_gradient_goes_to_the_first_largest_input() {
        let tape = Tape::new();
        let x = tape.var(tensor(&[1, 2, 2, 1], vec![1.0, 3.0, 3.0, 2.0]));
        let grads = x
            .max_pool2d(Window2d::square(2, 2, Padding::Valid))
            .sum()
            .backward();
        assert_eq!(
            grads.get(x).unwrap().as_slice().unwrap(),
            &[0.0, 1.0, 0.0, 0.0]
        );
    }

    /// Distinct values, far apart relative to a finite-difference step.
    fn distinct(shape: &[usize]) -> Tensor {
        let len: usize = shape.iter().product();
        let step = (1..)
            .find(|s| len % s != 0 && s % 2 == 1 && *s > 30)
            .unwrap();
        tensor(
            shape,
            (0..len).map(|i| ((i * step) % len) as f32 * 0.1).collect(),
        )
    }

    #[test]
    fn many_channels_kept_and_searched_taps_agree_with_a_direct_maximum() {
        // 19 channels: a run of sixteen and three more; with ties (relu-like zeros).
        let shape = [3, 7, 6, 19];
        let mut x = distinct(&shape);
        x.iter_mut().step_by(3).for_each(|v| *v = 0.0);
        for window in [
            Window2d::square(2, 2, Padding::Valid),
            Window2d::square(3, 1, Padding::Same),
            Window2d::square(3, 2, Padding::Same),
        ] {
            let tape = Tape::new();
            let xv = tape.var(x.clone());
            let kept = xv.max_pool2d(window); // keeps the taps of the maxima
            let searched = tape.apply(MaxPool2d { window }, &[xv]);
            let g = window.geometry((7, 6)).unwrap();
            let want = Tensor::from_shape_fn(vec![3, g.out.0, g.out.1, 19], |i| {
                let rows = window.taps(0, i[1], g.pad.0, 7);
                let cols = window.taps(1, i[2], g.pad.1, 6);
                let mut m = f32::NEG_INFINITY;
                for r in rows.first..rows.end {
                    for c in cols.first..cols.end {
                        m = m.max(x[[i[0], rows.at(r), cols.at(c), i[3]]]);
                    }
                }
                m
            });
            assert_eq!(*kept.value(), want, "{window:?}");
            assert_eq!(*searched.value(), want, "{window:?}");
            let weights = distinct(kept.value().shape());
            let w = tape.constant(weights);
            let a = (kept * w).sum().backward();
            let b = (searched * w).sum().backward();
            assert_eq!(a.get(xv), b.get(xv), "{window:?}");
            let again = (kept * w).sum().backward(); // taps used up: searched again
            assert_eq!(a.get(xv), again.get(xv), "{window:?}");
        }
    }

    #[test]
    fn one_and_two_threads_give_identical_bits() {
        let x = distinct(&[64, 12, 12, 32]);
        let run = |threads: usize| {
            crate::on_threads(threads, || {
                let tape = Tape::new();
                let xv = tape.var(x.clone());
                let y = xv.max_pool2d(Window2d::square(2, 2, Padding::Valid));
                let grads = (y * y).sum().backward();
                (y.value().as_ref().clone(), grads.get(xv).unwrap().clone())
            })
        };
        assert_eq!(run(1), run(2));
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
            ..Window2d::square(2, 2, Padding::Valid)
        };
        for (window, x) in [
            (Window2d::square(2, 2, Padding::Valid), &x),
            (Window2d::square(3, 1, Padding::Same), &x),
            (Window2d::square(3, 2, Padding::Same), &x),
            (Window2d::square(2, 1, Padding::Valid), &x),
            (Window2d::square(2, 2, Padding::Valid), &tiled),
            (Window2d::square(3, 3, Padding::Valid), &x),
            (dilated, &x),
        ] {
            check_gradients(
                |_, v| v[0].max_pool2d(window),
                std::slice::from_ref(x),
                GradCheck::default(),
            )
            .unwrap_or_else(|e| panic!("{window:?}: {e}"));
        }
        // Sixteen channels and more (the vector runs), kept taps and searched.
        let wide = distinct(&[2, 4, 5, 18]);
        for window in [
            Window2d::square(2, 2, Padding::Valid),
            Window2d::square(3, 1, Padding::Same),
        ] {
            for keep in [true, false] {
                check_gradients(
                    |tape, v| {
                        if keep {
                            v[0].max_pool2d(window)
                        } else {
                            tape.apply(MaxPool2d { window }, &[v[0]])
                        }
                    },
                    std::slice::from_ref(&wide),
                    GradCheck::default(),
                )
                .unwrap_or_else(|e| panic!("{window:?} {keep}: {e}"));
            }
        }
    }
}
