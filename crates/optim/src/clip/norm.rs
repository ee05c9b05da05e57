//! Norms, and clipping each tensor by its own L2 norm.

use keel_autograd::Tensor;
use keel_runtime::plan::{self, MAX_PIECES};
use multiversion::multiversion;

/// Added to a norm before dividing by it, as PyTorch's `clip_grad_norm_` does.
pub(crate) const NORM_EPS: f64 = 1e-6;

/// Scales `grad` by `max / (norm + 1e-6)` when `norm` is finite and above `max`.
/// Returns the sum of squares after scaling, from the one before (`sum`, no extra pass), and
/// whether `grad` was scaled.
pub(crate) fn scale_down(grad: &mut Tensor, sum: f64, norm: f64, max: f64) -> (f64, bool) {
    match super::global::factor(max, norm) {
        Some(scale) => {
            let s = scale as f32;
            grad.mapv_inplace(|x| x * s);
            (sum * scale * scale, true)
        }
        None => (sum, false),
    }
}

/// The sum of squares of a tensor, accumulated in `f64`.
///
/// The order of additions depends only on the length (never on the thread count), so the
/// result is deterministic. The sum of `f32` squares cannot overflow an `f64`, so it is
/// finite exactly when every element is: the optimizer's finite check is free.
pub(crate) fn sum_squares(t: &Tensor) -> f64 {
    match t.as_slice_memory_order() {
        Some(data) => sum_squares_split(data),
        None => t.iter().map(|&x| f64::from(x) * f64::from(x)).sum(),
    }
}

/// Long data is summed in the runs of [`plan::runs`] shared between threads (the runs the
/// optimizer updates, so each core sums what it holds), whose sums are then added in order.
/// The runs depend on the length alone.
fn sum_squares_split(data: &[f32]) -> f64 {
    let run = plan::runs(data.len());
    if run >= data.len() {
        return sum_squares_run(data);
    }
    let mut sums = [0.0f64; MAX_PIECES];
    keel_runtime::for_each_piece(data.chunks(run).zip(&mut sums), |(run, sum)| {
        *sum = sum_squares_run(run)
    });
    sums.iter().sum()
}

/// Thirty-two independent accumulators: enough for the compiler to keep four AVX-512
/// registers of `f64` adds in flight (one accumulator is one long dependency chain).
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn sum_squares_run(data: &[f32]) -> f64 {
    let square = |x: f32| f64::from(x) * f64::from(x);
    let mut lanes = [0.0f64; 32];
    let chunks = data.chunks_exact(lanes.len());
    let tail: f64 = chunks.remainder().iter().map(|&x| square(x)).sum();
    for chunk in chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane += square(x);
        }
    }
    lanes.iter().sum::<f64>() + tail
}
