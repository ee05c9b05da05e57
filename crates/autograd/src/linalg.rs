//! Matrix products on every core: one safe wrapper over the `gemm` crate.
//!
//! `gemm` picks AVX-512/AVX2/FMA kernels at run time and reads operands through strides,
//! so transposed views (`a.t()`) are multiplied without a copy. A large product is cut
//! into pieces as [`keel_runtime::plan::product`] says (column blocks, halves of the inner
//! dimension or row halves), each computed by a single-threaded call on the runtime's
//! threads (gemm's own threading handed off per small block and scaled poorly). The cut
//! depends only on the shapes, so every element is summed in the same order whatever the
//! thread count: results are bit-identical (tested below and in the trainer).

use keel_runtime::plan::{self, ProductCut};
use ndarray::{ArrayView2, ArrayViewMut2, Axis};

#[cfg(feature = "alloc-audit")]
thread_local! {
    static INSIDE_GEMM: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// True while this thread is inside the GEMM library. The library allocates a packing
/// workspace for some calls; an allocation audit (the trainer's steady-state test) uses
/// this to tell that workspace apart from Keel's own tensors, which are all reused.
#[cfg(feature = "alloc-audit")]
pub fn inside_gemm() -> bool {
    INSIDE_GEMM.with(std::cell::Cell::get)
}

/// Marks this thread as inside GEMM while `f` runs (for the allocation audit).
fn in_gemm(f: impl FnOnce()) {
    #[cfg(feature = "alloc-audit")]
    INSIDE_GEMM.with(|flag| flag.set(true));
    f();
    #[cfg(feature = "alloc-audit")]
    INSIDE_GEMM.with(|flag| flag.set(false));
}

/// `out = a @ b`, or `out += a @ b` when `accumulate` is true.
///
/// # Panics
/// If the shapes do not chain (`a: [m, k]`, `b: [k, n]`, `out: [m, n]`); all three are named.
///
/// ```
/// use keel_autograd::matmul_into;
/// use ndarray::array;
/// let a = array![[1.0f32, 2.0], [3.0, 4.0]];
/// let mut out = ndarray::Array2::zeros((2, 2));
/// matmul_into(a.view(), a.t(), out.view_mut(), false); // a @ aᵀ
/// assert_eq!(out, array![[5.0, 11.0], [11.0, 25.0]]);
/// ```
pub fn matmul_into(
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    mut out: ArrayViewMut2<'_, f32>,
    accumulate: bool,
) {
    if !has_work(&a, &b, &mut out, accumulate) {
        return;
    }
    let ((m, k), n) = (a.dim(), b.ncols());
    match plan::product(m, k, n) {
        ProductCut::Serial => gemm_serial(a, b, out, accumulate),
        ProductCut::Columns { width } => split_columns(a, b, out, accumulate, width),
        ProductCut::Inner { at } => split_inner(a, b, out, accumulate, at),
        ProductCut::Rows { at } => split_rows(a, b, out, accumulate, at),
    }
}

/// `out (+)= a[:, ..h] @ b[..h] + a[:, h..] @ b[h..]`, the two products on the runtime's
/// threads: for a long inner dimension and a small output (a batch times a first-layer
/// kernel). Each core then reads only its half of the kernel's rows, the half the optimizer
/// updates on that core, and its half of the batch's columns, the half it gathered; only
/// the small output crosses between cores.
fn split_inner(
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    mut out: ArrayViewMut2<'_, f32>,
    accumulate: bool,
    half: usize,
) {
    let (a_first, a_second) = a.split_at(Axis(1), half);
    let (b_first, b_second) = b.split_at(Axis(0), half);
    let mut scratch = keel_runtime::buffers::take(out.len());
    let mut second = ArrayViewMut2::from_shape(out.dim(), &mut scratch)
        .expect("the scratch holds exactly the output");
    let products = [
        (a_first, b_first, out.view_mut(), accumulate),
        (a_second, b_second, second.view_mut(), false),
    ];
    keel_runtime::for_each_piece(products, |(a, b, out, accumulate)| {
        gemm_serial(a, b, out, accumulate)
    });
    out += &second;
    keel_runtime::buffers::recycle_vec(scratch);
}

/// `out (+)= a @ b` as column blocks of `width` computed by single-threaded calls on the
/// runtime's threads; the core that finishes first takes the other's last block.
fn split_columns(
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    mut out: ArrayViewMut2<'_, f32>,
    accumulate: bool,
    width: usize,
) {
    let blocks = b
        .axis_chunks_iter(Axis(1), width)
        .zip(out.axis_chunks_iter_mut(Axis(1), width));
    keel_runtime::for_each_piece(blocks, |(b, out)| gemm_serial(a, b, out, accumulate));
}

/// `out (+)= a @ b` as two halves of its rows on the runtime's threads: for products too
/// narrow for column blocks, whose halves would share cache lines of the output.
fn split_rows(
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    mut out: ArrayViewMut2<'_, f32>,
    accumulate: bool,
    half: usize,
) {
    let halves = a
        .axis_chunks_iter(Axis(0), half)
        .zip(out.axis_chunks_iter_mut(Axis(0), half));
    keel_runtime::for_each_piece(halves, |(a, out)| gemm_serial(a, b, out, accumulate));
}

/// `out = a @ b`, or `out += a @ b` when `accumulate` is true, on the calling thread
/// whatever the shapes (for pieces that already run on the runtime's threads).
///
/// # Panics
/// If the shapes do not chain.
pub(crate) fn matmul_serial_into(
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    mut out: ArrayViewMut2<'_, f32>,
    accumulate: bool,
) {
    if !has_work(&a, &b, &mut out, accumulate) {
        return;
    }
    gemm_serial(a, b, out, accumulate);
}

/// One single-threaded `gemm` call: `out (+)= a @ b`, shapes already checked.
fn gemm_serial(
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    mut out: ArrayViewMut2<'_, f32>,
    accumulate: bool,
) {
    let ((m, k), n) = (a.dim(), b.ncols());
    let (a_rs, a_cs) = (a.strides()[0], a.strides()[1]);
    let (b_rs, b_cs) = (b.strides()[0], b.strides()[1]);
    let (o_rs, o_cs) = (out.strides()[0], out.strides()[1]);
    // SAFETY: `gemm::gemm` reads `m×k` elements of `a` at `a_ptr + i*a_rs + p*a_cs`, `k×n`
    // of `b` likewise, and reads/writes `m×n` of `out`. Each pointer and its strides come
    // from a live ndarray view of exactly these shapes (`matmul_into` asserted they chain),
    // so every address touched lies inside that view's allocation (ndarray guarantees this
    // for any valid view, including negative or zero strides). `out` is a unique (`&mut`)
    // view, so it cannot alias `a` or `b`, which are shared borrows held for the whole call;
    // the two halves of a split are disjoint views from `split_at`. `T = f32` is a type
    // `gemm` supports, so it does not panic on the type. `Parallelism::None` runs the call
    // on this thread only.
    in_gemm(|| unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            o_cs,
            o_rs,
            accumulate,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            1.0, // alpha: the weight of the old `out` when accumulating
            1.0, // beta: the weight of `a @ b`
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    });
}

/// Checks that `a · b` chains into `out` and settles the empty products: `false` when
/// there is nothing to multiply (`out` is then zeroed unless `accumulate`).
///
/// # Panics
/// If the shapes do not chain.
fn has_work(
    a: &ArrayView2<'_, f32>,
    b: &ArrayView2<'_, f32>,
    out: &mut ArrayViewMut2<'_, f32>,
    accumulate: bool,
) -> bool {
    let ((m, k), (k2, n)) = (a.dim(), b.dim());
    assert!(
        k == k2 && out.dim() == (m, n),
        "matmul: lhs {:?} and rhs {:?} do not give output {:?}",
        a.shape(),
        b.shape(),
        out.shape()
    );
    if k == 0 && m != 0 && n != 0 && !accumulate {
        out.fill(0.0);
    }
    m != 0 && n != 0 && k != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, ShapeBuilder};

    fn sample(rows: usize, cols: usize, seed: usize) -> Array2<f32> {
        Array2::from_shape_fn((rows, cols), |(i, j)| {
            ((i * 31 + j * 17 + seed) % 23) as f32 / 7.0 - 1.5
        })
    }

    fn close(a: &Array2<f32>, b: &Array2<f32>, tol: f32) -> bool {
        a.shape() == b.shape() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
    }

    fn naive(a: &Array2<f32>, b: &Array2<f32>) -> Array2<f32> {
        Array2::from_shape_fn((a.nrows(), b.ncols()), |(i, j)| {
            (0..a.ncols())
                .map(|p| a[[i, p]] as f64 * b[[p, j]] as f64)
                .sum::<f64>() as f32
        })
    }

    #[test]
    fn matches_a_naive_product_for_plain_transposed_and_column_major_operands() {
        for &(m, k, n) in &[
            (1, 1, 1),
            (3, 5, 2),
            (32, 784, 32),
            (128, 64, 10),
            (7, 0, 3),
            (64, 256, 260),  // large enough to be split into column blocks
            (32, 128, 1040), // of 256 columns
            (33, 784, 32),   // into halves of the inner dimension
            (301, 33, 32),   // into row halves of unequal length
        ] {
            let (a, b) = (sample(m, k, 1), sample(k, n, 2));
            let want = naive(&a, &b);
            let mut out = Array2::zeros((m, n));
            matmul_into(a.view(), b.view(), out.view_mut(), false);
            assert!(close(&out, &want, 1e-3), "{m}x{k}x{n}");
            // Transposed views and a column-major output read and write through strides.
            let (at, bt) = (a.t().to_owned(), b.t().to_owned());
            let mut out_f = Array2::zeros((m, n).f());
            matmul_into(at.t(), bt.t(), out_f.view_mut(), false);
            assert!(close(&out_f, &want, 1e-3), "{m}x{k}x{n} strided");
            // Accumulation adds to what is there.
            matmul_into(a.view(), b.view(), out.view_mut(), true);
            assert!(close(&out, &(&want * 2.0), 2e-3), "{m}x{k}x{n} accumulate");
        }
    }

    #[test]
    fn one_and_two_threads_give_identical_bits_on_every_split_path() {
        let two = keel_runtime::Runtime::builder().threads(2).build().unwrap();
        let one = keel_runtime::Runtime::builder().threads(1).build().unwrap();
        for (m, k, n) in [(128, 784, 512), (784, 32, 32), (32, 784, 32), (301, 33, 32)] {
            assert_ne!(plan::product(m, k, n), ProductCut::Serial, "{m}x{k}x{n}");
            let (a, b) = (sample(m, k, 3), sample(k, n, 4));
            let run = |runtime: &keel_runtime::Runtime| {
                let mut out = Array2::zeros((m, n));
                runtime.install(|| matmul_into(a.view(), b.view(), out.view_mut(), false));
                out
            };
            assert_eq!(run(&one), run(&two), "{m}x{k}x{n}");
        }
        if keel_runtime::available_cpus() < 2 {
            eprintln!("skipped: one CPU, so the helper may never have run a piece");
        } else {
            // A helper that is not given a core in time leaves its pieces to the caller:
            // retry a few products until one ran a piece.
            let (a, b) = (sample(128, 784, 5), sample(784, 512, 6));
            let mut out = Array2::zeros((128, 512));
            for _ in 0..1000 {
                if two.pieces_run_by_helpers() > 0 {
                    break;
                }
                two.install(|| matmul_into(a.view(), b.view(), out.view_mut(), false));
            }
            assert!(two.pieces_run_by_helpers() > 0, "no helper ran a piece");
        }
        assert_eq!(one.pieces_run_by_helpers(), 0);
    }

    #[test]
    #[should_panic(expected = "matmul: lhs [2, 3] and rhs [4, 2] do not give output [2, 2]")]
    fn mismatched_shapes_name_all_three() {
        let mut out = Array2::zeros((2, 2));
        matmul_into(
            sample(2, 3, 0).view(),
            sample(4, 2, 0).view(),
            out.view_mut(),
            false,
        );
    }
}
