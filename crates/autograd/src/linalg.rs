//! Matrix products on every core: one safe wrapper over the `gemm` crate.
//!
//! `gemm` picks AVX-512/AVX2/FMA kernels at run time and reads operands through strides,
//! so transposed views (`a.t()`) are multiplied without a copy. A large product is cut
//! into pieces (column blocks, halves of the inner dimension or row halves) computed by
//! single-threaded calls on the [`parallel`](crate::parallel) threads (gemm's own
//! threading handed off per small block and scaled poorly on two cores). The cut depends
//! only on the shapes, so every element is summed in the same order with 1 or 2 threads:
//! results are bit-identical (tested below and in the trainer).

use ndarray::{ArrayView2, ArrayViewMut2, Axis};
use std::cell::Cell;

thread_local! {
    static INSIDE_GEMM: Cell<bool> = const { Cell::new(false) };
}

/// True while this thread is inside the GEMM library. The library allocates a packing
/// workspace for some calls; an allocation audit (the trainer's steady-state test) uses
/// this to tell that workspace apart from Keel's own tensors, which are all reused.
pub fn inside_gemm() -> bool {
    INSIDE_GEMM.with(Cell::get)
}

/// Products with fewer multiply-adds than this (about 2.5 µs of work on one core) run on the
/// calling thread: below it, sharing costs more than it saves.
const PARALLEL_MIN_MACS: usize = 1 << 18;
/// Column splits land on multiples of the widest SIMD register (16 `f32`).
const SPLIT_ALIGN: usize = 16;

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
    let ((m, k), (k2, n)) = (a.dim(), b.dim());
    assert!(
        k == k2 && out.dim() == (m, n),
        "matmul: lhs {:?} and rhs {:?} do not give output {:?}",
        a.shape(),
        b.shape(),
        out.shape()
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            out.fill(0.0);
        }
        return;
    }
    if !splits_across_threads(m, k, n) {
        gemm_serial(a, b, out, accumulate);
    } else if n >= 2 * MIN_BLOCK_COLS {
        split_columns(a, b, out, accumulate);
    } else if k >= 4 * m {
        split_inner(a, b, out, accumulate);
    } else {
        split_rows(a, b, out, accumulate);
    }
}

/// `out (+)= a[:, ..h] @ b[..h] + a[:, h..] @ b[h..]` with `h = k / 2`, the two products on
/// the [`parallel`](crate::parallel) threads: for a long inner dimension and a small output
/// (a batch times a first-layer kernel). Each core then reads only its half of the kernel's
/// rows, the half the optimizer updates on that core, and its half of the batch's columns,
/// the half it gathered; only the small output crosses between cores.
fn split_inner(
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    mut out: ArrayViewMut2<'_, f32>,
    accumulate: bool,
) {
    let half = a.ncols() / 2;
    let (a_first, a_second) = a.split_at(Axis(1), half);
    let (b_first, b_second) = b.split_at(Axis(0), half);
    let mut scratch = crate::pool::take(out.len());
    let mut second = ArrayViewMut2::from_shape(out.dim(), &mut scratch)
        .expect("the scratch holds exactly the output");
    let products = [
        (a_first, b_first, out.view_mut(), accumulate),
        (a_second, b_second, second.view_mut(), false),
    ];
    crate::parallel::for_each_piece(products, |(a, b, out, accumulate)| {
        gemm_serial(a, b, out, accumulate)
    });
    out += &second;
    crate::pool::recycle_vec(scratch);
}

/// Column blocks of a product cut in more than two are at least this wide and hold at least
/// [`MIN_BLOCK_MACS`] multiply-adds.
const MIN_BLOCK_COLS: usize = 128;
const MIN_BLOCK_MACS: usize = 1 << 20;

/// `out (+)= a @ b` as column blocks computed by single-threaded calls on the
/// [`parallel`](crate::parallel) threads. A product narrower than two blocks is halved;
/// a wider one is cut into blocks, so that the core that finishes first takes the other's
/// last block (on a shared host one virtual core often runs slower for a while, and with
/// fixed halves the whole step waited for it). The cut depends only on the shape.
fn split_columns(
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    mut out: ArrayViewMut2<'_, f32>,
    accumulate: bool,
) {
    let width = block_width(a.len(), b.ncols());
    let blocks = b
        .axis_chunks_iter(Axis(1), width)
        .zip(out.axis_chunks_iter_mut(Axis(1), width));
    crate::parallel::for_each_piece(blocks, |(b, out)| gemm_serial(a, b, out, accumulate));
}

/// `out (+)= a @ b` as two halves of its rows on the [`parallel`](crate::parallel) threads:
/// for products too narrow for column blocks. Halves of a narrow row-major output would
/// share every cache line between the two cores (a 16-column half is one line, and buffers
/// are not line-aligned), which cost more than the split saved; row halves share at most one.
fn split_rows(
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    mut out: ArrayViewMut2<'_, f32>,
    accumulate: bool,
) {
    let half = a.nrows().div_ceil(2);
    let halves = a
        .axis_chunks_iter(Axis(0), half)
        .zip(out.axis_chunks_iter_mut(Axis(0), half));
    crate::parallel::for_each_piece(halves, |(a, out)| gemm_serial(a, b, out, accumulate));
}

/// The width of [`split_columns`]' blocks for an `[m, k] @ [k, n]` product (`lhs_len = m·k`):
/// half the columns at most, [`MIN_BLOCK_COLS`] at least, doubled until a block holds
/// [`MIN_BLOCK_MACS`], and no more than [`MAX_PIECES`](crate::parallel::MAX_PIECES) blocks.
fn block_width(lhs_len: usize, n: usize) -> usize {
    let half = (n / 2).next_multiple_of(SPLIT_ALIGN);
    let mut width = MIN_BLOCK_COLS;
    while width < half && lhs_len * width < MIN_BLOCK_MACS {
        width *= 2;
    }
    let fewest = n
        .div_ceil(crate::parallel::MAX_PIECES)
        .next_multiple_of(SPLIT_ALIGN);
    width.max(fewest).min(half)
}

/// Whether [`matmul_into`] splits an `[m, k] @ [k, n]` product across threads: when it
/// has at least 256K multiply-adds, and either 256 columns (cut into column blocks) or 32
/// rows (cut into two halves of the inner dimension when it is at least four times longer,
/// else into row halves). Below that, sharing costs more than it saves.
///
/// ```
/// assert!(keel_autograd::splits_across_threads(32, 784, 32));
/// assert!(!keel_autograd::splits_across_threads(32, 32, 10));
/// ```
pub fn splits_across_threads(m: usize, k: usize, n: usize) -> bool {
    m * n * k >= PARALLEL_MIN_MACS && (n >= 2 * MIN_BLOCK_COLS || m >= 2 * SPLIT_ALIGN)
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
    INSIDE_GEMM.with(|f| f.set(true));
    unsafe {
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
    }
    INSIDE_GEMM.with(|f| f.set(false));
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
            (200, 33, 32),   // into row halves of unequal length
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
    fn the_split_threshold_is_where_the_docs_say() {
        assert!(splits_across_threads(32, 256, 32)); // row halves
        assert!(!splits_across_threads(32, 256, 31)); // below 256K multiply-adds
        assert!(!splits_across_threads(16, 1 << 20, 128)); // too few rows and columns
        assert!(splits_across_threads(16, 1 << 20, 256)); // column blocks
    }

    #[test]
    fn blocks_are_halves_of_narrow_products_and_128_columns_of_wide_ones() {
        assert_eq!(block_width(32 * 784, 32), 16); // W1's first layer: two halves
        assert_eq!(block_width(128 * 784, 512), 128); // W2's: four blocks
        assert_eq!(block_width(128 * 10, 784), 400); // a thin lhs: wider blocks
        assert_eq!(block_width(1 << 20, 64 * 512), 512); // at most 64 blocks
    }

    #[test]
    fn one_and_two_threads_give_identical_bits() {
        for (m, k, n) in [(128, 784, 512), (784, 32, 32), (32, 784, 32)] {
            let (a, b) = (sample(m, k, 3), sample(k, n, 4));
            let run = |threads| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let mut out = Array2::zeros((m, n));
                pool.install(|| matmul_into(a.view(), b.view(), out.view_mut(), false));
                out
            };
            assert_eq!(run(1), run(2), "{m}x{k}x{n}");
        }
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
