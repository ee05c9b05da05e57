//! Patch gathering for the convolution: `im2col` lays every window of a channels-last
//! image out as one row, so a convolution is one matrix product; `col2im` adds rows of
//! patch gradients back onto the image they were gathered from.
//!
//! A patch row holds the taps in `(row, column, channel)` order, the order of a Keras
//! kernel `[kh, kw, in, out]` read as a `[kh * kw * in, out]` matrix. Taps in the padding
//! are zero.

use super::window::{for_row_chunks, Geometry, Window2d};

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
/// image is a few values) element by element instead of through a `memcpy` call.
#[inline(always)]
#[allow(clippy::manual_memcpy)] // the point: no `memcpy` call for a few values
fn copy(dst: &mut [f32], src: &[f32]) {
    if dst.len() <= 16 {
        for k in 0..dst.len() {
            dst[k] = src[k];
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
    for (k, row) in out.chunks_exact_mut(row_len).enumerate() {
        p.for_runs(
            first + k,
            row,
            |row| row.fill(0.0),
            |row, dst, src, len| copy(&mut row[dst..dst + len], &image[src..src + len]),
        );
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
pub(crate) fn col2im_samples(
    p: &Patches<'_>,
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
    use crate::ops::window::Padding;

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
