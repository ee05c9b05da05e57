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

    /// Calls `f(patch_offset, image_offset)` for every tap of patch row `r` that lies
    /// inside the image: `channels` values start at each offset.
    fn for_taps(&self, r: usize, mut f: impl FnMut(usize, usize)) {
        let [_, h, w, c] = self.image;
        let (oh, ow) = self.geometry.out;
        let kw = self.window.size.1;
        let (b, oy, ox) = (r / (oh * ow), (r / ow) % oh, r % ow);
        let rows = self.window.taps(0, oy, self.geometry.pad.0, h);
        let cols = self.window.taps(1, ox, self.geometry.pad.1, w);
        for i in rows.first..rows.end {
            let y = rows.at(i);
            for j in cols.first..cols.end {
                f((i * kw + j) * c, ((b * h + y) * w + cols.at(j)) * c);
            }
        }
    }

    /// Whether patch row `r` has taps in the padding.
    fn is_clipped(&self, r: usize) -> bool {
        let (oh, ow) = self.geometry.out;
        let (oy, ox) = ((r / ow) % oh, r % ow);
        let rows = self.window.taps(0, oy, self.geometry.pad.0, self.image[1]);
        let cols = self.window.taps(1, ox, self.geometry.pad.1, self.image[2]);
        rows.count() < self.window.size.0 || cols.count() < self.window.size.1
    }
}

/// Writes every patch of `image` as a row of `out` (`rows() x row_len()`, fully
/// overwritten).
pub(crate) fn im2col(p: &Patches<'_>, image: &[f32], out: &mut [f32]) {
    let (row_len, c) = (p.row_len(), p.image[3]);
    debug_assert_eq!(out.len(), p.rows() * row_len);
    for_row_chunks(out, row_len, |first, chunk| {
        for (k, row) in chunk.chunks_exact_mut(row_len).enumerate() {
            let r = first + k;
            if p.is_clipped(r) {
                row.fill(0.0);
            }
            p.for_taps(r, |dst, src| {
                row[dst..dst + c].copy_from_slice(&image[src..src + c]);
            });
        }
    });
}

/// `image_grad = Σ` of every patch row of `patch_grad` added back where it was gathered
/// (`image_grad` is fully overwritten). Each sample is summed on one thread in row order,
/// so the result does not depend on the thread count.
pub(crate) fn col2im(p: &Patches<'_>, patch_grad: &[f32], image_grad: &mut [f32]) {
    let [_, h, w, c] = p.image;
    let (row_len, sample_len) = (p.row_len(), h * w * c);
    let rows_per_sample = p.geometry.out.0 * p.geometry.out.1;
    for_row_chunks(image_grad, sample_len, |first, chunk| {
        chunk.fill(0.0);
        let base = first * sample_len;
        let rows = first * rows_per_sample..(first + chunk.len() / sample_len) * rows_per_sample;
        for r in rows {
            let row = &patch_grad[r * row_len..(r + 1) * row_len];
            p.for_taps(r, |src, dst| {
                let dst = dst - base;
                for (d, &g) in chunk[dst..dst + c].iter_mut().zip(&row[src..src + c]) {
                    *d += g;
                }
            });
        }
    });
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
