//! Patch gathering for the convolution: `im2col` lays every window of a channels-last
//! image out as one row, so a convolution is one matrix product; `col2im` adds rows of
//! patch gradients back onto the image they were gathered from.
//!
//! A patch row holds the taps in `(row, column, channel)` order, the order of a Keras
//! kernel `[kh, kw, in, out]` read as a `[kh * kw * in, out]` matrix. Taps in the padding
//! are zero.

use super::window::{for_row_chunks, Geometry, Padding, Window2d};
use multiversion::multiversion;

/// The shape of a channels-last image batch and the window sliding over it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Patches<'a> {
    /// `[batch, height, width, channels]` of the image.
    pub image: [usize; 4],
    /// The window.
    pub window: &'a Window2d,
    /// Where it lands.
    pub geometry: Geometry,
}

impl Patches<'_> {
    /// Values in one patch row: `kh * kw * channels`.
    pub fn row_len(&self) -> usize {
        self.window.size.0 * self.window.size.1 * self.image[3]
    }

    /// Patch rows: one per output position, `batch * out_h * out_w`.
    pub fn rows(&self) -> usize {
        self.image[0] * self.geometry.out.0 * self.geometry.out.1
    }

    /// Calls `f(patch_offset, image_offset, len)` for the taps of patch row `r` that lie
    /// inside the image, `len` values at each offset: a whole row of the window's taps at
    /// once when its columns are contiguous (dilation 1), else one tap's `channels` values.
    /// First calls `clipped(state, true)` if the row has taps in the padding.
    #[inline(always)]
    fn for_runs<S: ?Sized>(
        &self,
        r: usize,
        state: &mut S,
        clipped: impl FnOnce(&mut S),
        mut f: impl FnMut(&mut S, usize, usize, usize),
    ) {
        let [_, h, w, c] = self.image;
        let (oh, ow) = self.geometry.out;
        let (kh, kw) = self.window.size;
        let (b, oy, ox) = (r / (oh * ow), (r / ow) % oh, r % ow);
        let rows = self.window.taps(0, oy, self.geometry.pad.0, h);
        let cols = self.window.taps(1, ox, self.geometry.pad.1, w);
        if rows.count() < kh || cols.count() < kw {
            clipped(state);
        }
        if cols.count() == 0 {
            return;
        }
        let contiguous = self.window.dilation.1 == 1;
        for i in rows.first..rows.end {
            let image_row = (b * h + rows.at(i)) * w;
            if contiguous {
                let j = cols.first;
                f(
                    state,
                    (i * kw + j) * c,
                    (image_row + cols.at(j)) * c,
                    cols.count() * c,
                );
            } else {
                for j in cols.first..cols.end {
                    f(state, (i * kw + j) * c, (image_row + cols.at(j)) * c, c);
                }
            }
        }
    }
}

/// `dst = src` for slices of equal length; short runs (a window row of a one-channel
/// image is a few values) element by element, runs up to 256 values sixteen at a time
/// (W4's second layer copies runs of 96), both instead of through a `memcpy` call.
#[inline(always)]
#[allow(clippy::manual_memcpy)] // the point: no `memcpy` call for a few values
fn copy(dst: &mut [f32], src: &[f32]) {
    if dst.len() <= 16 {
        for k in 0..dst.len() {
            dst[k] = src[k];
        }
    } else if dst.len() <= 256 {
        let mut d = dst.chunks_exact_mut(16);
        let mut s = src.chunks_exact(16);
        for (d, s) in (&mut d).zip(&mut s) {
            let s: &[f32; 16] = s.try_into().expect("16 values");
            d.copy_from_slice(s);
        }
        for (d, &s) in d.into_remainder().iter_mut().zip(s.remainder()) {
            *d = s;
        }
    } else {
        dst.copy_from_slice(src);
    }
}

/// Writes every patch of `image` as a row of `out` (`rows() x row_len()`, fully
/// overwritten).
pub(crate) fn im2col(p: &Patches<'_>, image: &[f32], out: &mut [f32]) {
    let row_len = p.row_len();
    debug_assert_eq!(out.len(), p.rows() * row_len);
    for_row_chunks(out, row_len, |first, chunk| {
        im2col_rows(p, image, first, chunk)
    });
}

/// Writes the patches of rows `first..` of `image` as the rows of `out` (whole rows,
/// fully overwritten), on the calling thread.
pub(crate) fn im2col_rows(p: &Patches<'_>, image: &[f32], first: usize, out: &mut [f32]) {
    let row_len = p.row_len();
    if p.window.padding == Padding::Valid {
        return im2col_rows_valid(p, image, first, out);
    }
    for (k, row) in out.chunks_exact_mut(row_len).enumerate() {
        p.for_runs(
            first + k,
            row,
            |row| row.fill(0.0),
            |row, dst, src, len| copy(&mut row[dst..dst + len], &image[src..src + len]),
        );
    }
}

/// [`im2col_rows`] for `valid` padding, where every tap lies inside the image: the
/// window's position advances from row to row instead of being worked out again (three
/// divisions and the clipping of each axis a row, most of the time of W4's first layer,
/// whose rows are 9 values).
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn im2col_rows_valid<'a>(p: &Patches<'a>, image: &[f32], first: usize, out: &mut [f32]) {
    let [_, h, w, c] = p.image;
    let (oh, ow) = p.geometry.out;
    let (kh, kw) = p.window.size;
    let (sy, sx) = p.window.strides;
    let (dy, dx) = p.window.dilation;
    let row_len = p.row_len();
    let (mut b, mut oy, mut ox) = (first / (oh * ow), (first / ow) % oh, first % ow);
    for row in out.chunks_exact_mut(row_len) {
        for i in 0..kh {
            let start = ((b * h + oy * sy + i * dy) * w + ox * sx) * c;
            let dst = &mut row[i * kw * c..(i + 1) * kw * c];
            if dx == 1 {
                copy(dst, &image[start..start + kw * c]);
            } else {
                for (j, dst) in dst.chunks_exact_mut(c).enumerate() {
                    let at = start + j * dx * c;
                    copy(dst, &image[at..at + c]);
                }
            }
        }
        ox += 1;
        if ox == ow {
            ox = 0;
            oy += 1;
            if oy == oh {
                oy = 0;
                b += 1;
            }
        }
    }
}

/// `image_grad = Σ` of every patch row of `patch_grad` added back where it was gathered
/// (`image_grad` is fully overwritten). Each sample is summed on one thread in row order,
/// so the result does not depend on the thread count.
pub(crate) fn col2im(p: &Patches<'_>, patch_grad: &[f32], image_grad: &mut [f32]) {
    let [_, h, w, c] = p.image;
    let (row_len, sample_len) = (p.row_len(), h * w * c);
    let rows_per_sample = p.geometry.out.0 * p.geometry.out.1;
    for_row_chunks(image_grad, sample_len, |first, chunk| {
        let rows = first * rows_per_sample * row_len
            ..(first + chunk.len() / sample_len) * rows_per_sample * row_len;
        col2im_samples(p, &patch_grad[rows], first, chunk)
    });
}

/// [`col2im`] for the samples from `first` on whose image gradients `image_grad` holds
/// (whole samples, fully overwritten), from their patch rows `patch_grad`, on the calling
/// thread, in row order.
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
pub(crate) fn col2im_samples<'a>(
    p: &Patches<'a>,
    patch_grad: &[f32],
    first: usize,
    image_grad: &mut [f32],
) {
    let [_, h, w, c] = p.image;
    let (row_len, sample_len) = (p.row_len(), h * w * c);
    let rows_per_sample = p.geometry.out.0 * p.geometry.out.1;
    image_grad.fill(0.0);
    let base = first * sample_len;
    let first_row = first * rows_per_sample;
    for (k, row) in patch_grad.chunks_exact(row_len).enumerate() {
        p.for_runs(
            first_row + k,
            &mut *image_grad,
            |_| {},
            |chunk, src, dst, len| {
                let dst = dst - base;
                for (d, &g) in chunk[dst..dst + len].iter_mut().zip(&row[src..src + len]) {
                    *d += g;
                }
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_patches_from_any_first_row_match_a_direct_gather() {
        let image_shape = [3, 7, 9, 2];
        let image: Vec<f32> = (0..3 * 7 * 9 * 2).map(|v| v as f32).collect();
        for (strides, dilation, size) in [((1, 1), (1, 1), (3, 3)), ((2, 3), (1, 2), (2, 3))] {
            let window = Window2d {
                strides,
                dilation,
                ..Window2d::new(size)
            };
            let geometry = window.geometry((7, 9)).unwrap();
            let p = Patches {
                image: image_shape,
                window: &window,
                geometry,
            };
            let (oh, ow) = geometry.out;
            let first = oh * ow + 1; // inside the second sample
            let rows = p.rows() - first;
            let mut got = vec![f32::NAN; rows * p.row_len()];
            im2col_rows(&p, &image, first, &mut got);
            let mut want = Vec::new();
            for r in first..p.rows() {
                let (b, oy, ox) = (r / (oh * ow), (r / ow) % oh, r % ow);
                for i in 0..size.0 {
                    for j in 0..size.1 {
                        let (y, x) = (
                            oy * strides.0 + i * dilation.0,
                            ox * strides.1 + j * dilation.1,
                        );
                        let at = ((b * 7 + y) * 9 + x) * 2;
                        want.extend_from_slice(&image[at..at + 2]);
                    }
                }
            }
            assert_eq!(got, want, "{window:?}");
        }
    }

    #[test]
    fn patches_of_a_padded_image_hold_zeros_outside_it() {
        // One 2x2 single-channel image, a 2x2 window with `same` padding: pad 1 after.
        let window = Window2d {
            padding: Padding::Same,
            ..Window2d::new((2, 2))
        };
        let geometry = window.geometry((2, 2)).unwrap();
        let p = Patches {
            image: [1, 2, 2, 1],
            window: &window,
            geometry,
        };
        let mut out = vec![f32::NAN; p.rows() * p.row_len()];
        im2col(&p, &[1.0, 2.0, 3.0, 4.0], &mut out);
        #[rustfmt::skip]
        assert_eq!(out, [
            1.0, 2.0, 3.0, 4.0,
            2.0, 0.0, 4.0, 0.0,
            3.0, 4.0, 0.0, 0.0,
            4.0, 0.0, 0.0, 0.0,
        ]);
        // col2im of ones counts how many patches read each pixel.
        let mut counts = vec![f32::NAN; 4];
        col2im(&p, &[1.0; 16], &mut counts);
        assert_eq!(counts, [1.0, 2.0, 2.0, 4.0]);
    }
}
