//! Global max pooling: the largest value of each channel over a channels-last image.
//! Backward routes each gradient to the first largest pixel (in row-major order).

use super::global_avg_pool2d::check_image;
use super::window::for_row_chunks;
use crate::{Op, Tensor, Var};

/// `[batch, h, w, c]` to `[batch, c]`, the max over `h` and `w`.
#[derive(Debug, Clone, Copy)]
pub struct GlobalMaxPool2d;

/// For each channel of one sample (`pixels` rows of `c` values), the index of its first
/// largest pixel, written to `at`.
fn argmax(sample: &[f32], c: usize, best: &mut [f32], at: &mut [usize]) {
    best.copy_from_slice(&sample[..c]);
    at.fill(0);
    for (p, pixel) in sample.chunks_exact(c).enumerate().skip(1) {
        for ch in 0..c {
            if pixel[ch] > best[ch] {
                best[ch] = pixel[ch];
                at[ch] = p;
            }
        }
    }
}

impl Op for GlobalMaxPool2d {
    fn name(&self) -> &'static str {
        "global_max_pool2d"
    }
    fn forward(&self, x: &[&Tensor]) -> Tensor {
        let shape = x[0].shape();
        check_image("global_max_pool2d", shape);
        let sample_len = shape[1] * shape[2] * shape[3];
        let c = shape[3];
        let image = x[0].as_standard_layout();
        let image = image.as_slice().expect("standard layout");
        let mut out = crate::pool::tensor_for_overwrite(&[shape[0], c]);
        for_row_chunks(
            out.as_slice_mut().expect("a fresh tensor"),
            c,
            |first, chunk| {
                let mut at = vec![0; c];
                for (k, row) in chunk.chunks_exact_mut(c).enumerate() {
                    let sample = &image[(first + k) * sample_len..(first + k + 1) * sample_len];
                    argmax(sample, c, row, &mut at);
                }
            },
        );
        out
    }
    fn backward(&self, x: &[&Tensor], _y: &Tensor, g: &Tensor) -> Vec<Tensor> {
        let shape = x[0].shape();
        let sample_len = shape[1] * shape[2] * shape[3];
        let c = shape[3];
        let image = x[0].as_standard_layout();
        let image = image.as_slice().expect("standard layout");
        let g = g.as_standard_layout();
        let g = g.as_slice().expect("standard layout");
        let mut dx = crate::pool::tensor_for_overwrite(shape);
        for_row_chunks(
            dx.as_slice_mut().expect("a fresh tensor"),
            sample_len,
            |first, chunk| {
                let (mut best, mut at) = (vec![0.0; c], vec![0; c]);
                for (k, sample) in chunk.chunks_exact_mut(sample_len).enumerate() {
                    let s = first + k;
                    argmax(
                        &image[s * sample_len..(s + 1) * sample_len],
                        c,
                        &mut best,
                        &mut at,
                    );
                    sample.fill(0.0);
                    for ch in 0..c {
                        sample[at[ch] * c + ch] = g[s * c + ch];
                    }
                }
            },
        );
        vec![dx]
    }
}

impl<'t> Var<'t> {
    /// Global max pooling of channels-last images: `[batch, h, w, c]` to `[batch, c]`.
    ///
    /// # Panics
    /// If the input is not rank 4 or has no pixels (layers check this).
    ///
    /// ```
    /// use keel_autograd::{tensor, Tape};
    /// let tape = Tape::new();
    /// let x = tape.constant(tensor(&[1, 2, 1, 2], vec![1.0, 30.0, 3.0, 20.0]));
    /// assert_eq!(x.global_max_pool2d().value().as_slice().unwrap(), &[3.0, 30.0]);
    /// ```
    pub fn global_max_pool2d(self) -> Var<'t> {
        self.tape().apply(GlobalMaxPool2d, &[self])
    }
}

#[cfg(test)]
mod tests {
    use crate::{check_gradients, tensor, GradCheck, Tape};

    #[test]
    fn the_gradient_goes_to_the_first_largest_pixel() {
        let tape = Tape::new();
        let x = tape.var(tensor(&[1, 2, 2, 1], vec![1.0, 4.0, 4.0, 2.0]));
        let grads = x.global_max_pool2d().sum().backward();
        assert_eq!(
            grads.get(x).unwrap().as_slice().unwrap(),
            &[0.0, 1.0, 0.0, 0.0]
        );
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let x = tensor(
            &[2, 3, 2, 3],
            (0..36).map(|i| ((i * 7) % 36) as f32 * 0.1).collect(),
        );
        check_gradients(|_, v| v[0].global_max_pool2d(), &[x], GradCheck::default()).unwrap();
    }
}
