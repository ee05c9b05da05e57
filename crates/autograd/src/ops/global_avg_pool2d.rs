//! Global average pooling: the mean of each channel over a channels-last image.

use super::window::for_row_chunks;
use crate::{Op, Tensor, Var};

/// `[batch, h, w, c]` to `[batch, c]`, the mean over `h` and `w`.
#[derive(Debug, Clone, Copy)]
pub struct GlobalAvgPool2d;

/// Panics unless `shape` is `[batch, h, w, c]` with at least one pixel.
pub(crate) fn check_image(op: &str, shape: &[usize]) {
    assert!(
        shape.len() == 4 && shape[1] * shape[2] > 0,
        "{op}: input {shape:?} is not [batch, h, w, channels] with h, w >= 1"
    );
}

impl Op for GlobalAvgPool2d {
    fn name(&self) -> &'static str {
        "global_avg_pool2d"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        let shape = x[0].shape();
        check_image("global_avg_pool2d", shape);
        let (pixels, c) = (shape[1] * shape[2], shape[3]);
        let image = x[0].as_standard_layout();
        let image = image.as_slice().expect("standard layout");
        let mut out = crate::pool::tensor_for_overwrite(&[shape[0], c]);
        let scale = 1.0 / pixels as f32;
        for_row_chunks(
            out.as_slice_mut().expect("a fresh tensor"),
            c,
            |first, chunk| {
                for (k, row) in chunk.chunks_exact_mut(c).enumerate() {
                    let sample = &image[(first + k) * pixels * c..(first + k + 1) * pixels * c];
                    row.fill(0.0);
                    for pixel in sample.chunks_exact(c) {
                        row.iter_mut().zip(pixel).for_each(|(o, &v)| *o += v);
                    }
                    row.iter_mut().for_each(|o| *o *= scale);
                }
            },
        );
        out
    }
    fn backward(&self, x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        let shape = x[0].shape();
        let (pixels, c) = (shape[1] * shape[2], shape[3]);
        let g = g.as_standard_layout();
        let g = g.as_slice().expect("standard layout");
        let scale = 1.0 / pixels as f32;
        let mut dx = crate::pool::tensor_for_overwrite(shape);
        let sample_len = pixels * c;
        for_row_chunks(
            dx.as_slice_mut().expect("a fresh tensor"),
            sample_len,
            |first, chunk| {
                for (k, sample) in chunk.chunks_exact_mut(sample_len).enumerate() {
                    let row = &g[(first + k) * c..(first + k + 1) * c];
                    for pixel in sample.chunks_exact_mut(c) {
                        pixel.iter_mut().zip(row).for_each(|(d, &g)| *d = g * scale);
                    }
                }
            },
        );
        vec![dx]
    }
}

impl<'t> Var<'t> {
    /// Global average pooling of channels-last images: `[batch, h, w, c]` to `[batch, c]`.
    ///
    /// # Panics
    /// If the input is not rank 4 or has no pixels (layers check this).
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let x = tape.constant(tensor(&[1, 2, 1, 2], vec![1.0, 10.0, 3.0, 20.0]));
    /// assert_eq!(x.global_avg_pool2d().value().as_slice().unwrap(), &[2.0, 15.0]);
    /// ```
    pub fn global_avg_pool2d(self) -> Var<'t> {
        self.tape().apply(GlobalAvgPool2d, &[self])
    }
}

#[cfg(test)]
mod tests {
    use crate::{check_gradients, tensor, GradCheck, Tape};

    #[test]
    fn equals_the_mean_over_both_image_axes() {
        let x = tensor(
            &[2, 3, 4, 5],
            (0..120).map(|i| (i % 17) as f32 - 8.0).collect(),
        );
        let tape = Tape::new();
        let v = tape.constant(x.clone());
        let want = v.mean_axis(1, false).mean_axis(1, false).value();
        let got = v.global_avg_pool2d().value();
        let diff = (&*got - &*want)
            .mapv(f32::abs)
            .fold(0.0f32, |a, &b| a.max(b));
        assert!(diff < 1e-5, "{diff}");
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let x = tensor(
            &[2, 3, 2, 3],
            (0..36).map(|i| (i % 7) as f32 * 0.3 - 1.0).collect(),
        );
        check_gradients(|_, v| v[0].global_avg_pool2d(), &[x], GradCheck::default()).unwrap();
    }
}
