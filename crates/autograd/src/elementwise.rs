//! Element-wise passes over contiguous slices: vectorized by the `#[multiversion]` kernels
//! that call them, and cut into runs by [`keel_runtime::plan::runs`] and shared by the
//! runtime's threads when long.
//!
//! The runs depend only on the length, and each element is computed on its own, so the
//! result is bit-identical whatever the thread count.

use keel_runtime::{for_each_piece, plan};
use multiversion::multiversion;

/// Calls `f(rows)` on runs of whole rows of `row_len` elements of `data`.
pub(crate) fn for_rows(data: &mut [f32], row_len: usize, f: impl Fn(&mut [f32]) + Sync) {
    let run = plan::row_runs(data.len(), row_len);
    if run >= data.len() {
        f(data);
    } else {
        for_each_piece(data.chunks_mut(run), &f);
    }
}

/// Calls `f(out, a, b)` on matching runs of three slices of one length.
pub(crate) fn zip3(
    out: &mut [f32],
    a: &[f32],
    b: &[f32],
    f: impl Fn(&mut [f32], &[f32], &[f32]) + Sync,
) {
    assert!(
        out.len() == a.len() && a.len() == b.len(),
        "element-wise: lengths {}, {} and {} differ",
        out.len(),
        a.len(),
        b.len()
    );
    let run = plan::runs(out.len());
    if run >= out.len() {
        f(out, a, b);
    } else {
        let chunks = out.chunks_mut(run).zip(a.chunks(run)).zip(b.chunks(run));
        for_each_piece(chunks, |((o, a), b)| f(o, a, b));
    }
}

/// `out = a · b` element by element.
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
pub(crate) fn multiply(out: &mut [f32], a: &[f32], b: &[f32]) {
    for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
        *o = a * b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_passes_cover_every_element_once() {
        let n = 784 * 100; // above the parallel threshold
        let mut data = vec![1.0f32; n];
        for_rows(&mut data, 784, |rows| {
            assert_eq!(rows.len() % 784, 0, "a run of whole rows");
            rows.iter_mut().for_each(|x| *x += 1.0);
        });
        assert!(data.iter().all(|&x| x == 2.0));
        let (a, b): (Vec<f32>, Vec<f32>) = (0..n).map(|i| (i as f32, 2.0)).unzip();
        let mut out = vec![0.0; n];
        zip3(&mut out, &a, &b, multiply);
        assert!(out.iter().enumerate().all(|(i, &o)| o == 2.0 * i as f32));
    }
}
