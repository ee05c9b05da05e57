//! How work is cut into pieces: the one definition that products, batch gathers, optimizer
//! runs, norms and element-wise passes all query.
//!
//! Every cut depends on the size of the work alone, never on the thread count or on which
//! thread is free, so each element is computed and each sum is added in the same order
//! whatever the runtime: results are bit-identical for any number of threads. The thread
//! count only decides how many of the pieces run at the same time.
//!
//! The cuts also line up with each other, so on two threads each core keeps "its" part of
//! a layer from one stage of a step to the next: the first layer's product is cut the way
//! its batch was gathered ([`batch`] follows [`product`]), and a weight matrix is updated
//! and its gradient's norm summed in the same halves ([`runs`]), the halves the caller
//! (front) and a helper (back) claim step after step.

/// At most this many pieces are handed out at once by
/// [`for_each_piece`](crate::for_each_piece); further pieces wait for the next round.
pub const MAX_PIECES: usize = 64;

/// Products with fewer multiply-adds run on the calling thread. Handing a piece to a
/// running helper and waiting for it costs about a microsecond; this much work takes a few
/// microseconds on one core with wide vector units, so below it sharing saves less than it
/// costs.
pub const PRODUCT_MIN_MACS: usize = 1 << 18;
/// Column blocks are at least this wide: narrower blocks of a row-major output read the
/// same rows of the left operand once per block and lose the kernel's full register tiles.
const MIN_BLOCK_COLS: usize = 128;
/// ... and hold at least this many multiply-adds (~10 µs of work), so the core that
/// finishes first can take a last block that is worth the hand-over.
const MIN_BLOCK_MACS: usize = 1 << 20;
/// Splits land on multiples of the widest SIMD register (16 `f32`), so no vector straddles
/// two pieces.
const ALIGN: usize = 16;

/// How [`product`] cuts an `[m, k] @ [k, n]` product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductCut {
    /// Too small to share: one call on the calling thread.
    Serial,
    /// Column blocks of `width` columns (the last may be narrower).
    Columns {
        /// Columns per block, a multiple of 16.
        width: usize,
    },
    /// Two halves of the inner dimension at `at`, summed after: for a batch times a
    /// first-layer kernel, a long inner dimension and a small output. Each core then reads
    /// only its half of the kernel rows and of the batch columns.
    Inner {
        /// Where the second half starts.
        at: usize,
    },
    /// Two halves of the rows at `at`: for products too narrow for column blocks, whose
    /// column halves would share every cache line of the output between two cores.
    Rows {
        /// Where the second half starts.
        at: usize,
    },
}

/// The cut of an `[m, k] @ [k, n]` product: serial below [`PRODUCT_MIN_MACS`] or when it
/// has fewer than 256 columns and 32 rows; column blocks from 256 columns; else halves of
/// the inner dimension when it is at least four times the rows, or halves of the rows.
///
/// ```
/// use keel_runtime::plan::{product, ProductCut};
/// assert_eq!(product(32, 32, 10), ProductCut::Serial);
/// assert_eq!(product(32, 784, 32), ProductCut::Inner { at: 392 });
/// assert_eq!(product(128, 784, 512), ProductCut::Columns { width: 128 });
/// ```
pub fn product(m: usize, k: usize, n: usize) -> ProductCut {
    let macs = m.saturating_mul(k).saturating_mul(n);
    if macs < PRODUCT_MIN_MACS {
        ProductCut::Serial
    } else if n >= 2 * MIN_BLOCK_COLS {
        ProductCut::Columns {
            width: block_width(m * k, n),
        }
    } else if m < 2 * ALIGN {
        ProductCut::Serial
    } else if cuts_inner(m, k) {
        ProductCut::Inner { at: k / 2 }
    } else {
        ProductCut::Rows { at: m.div_ceil(2) }
    }
}

/// Whether a product of `m` rows over an inner dimension `k` is cut along `k`.
fn cuts_inner(m: usize, k: usize) -> bool {
    k >= 4 * m
}

/// The width of column blocks for an `[m, k] @ [k, n]` product (`lhs_len = m·k`): half the
/// columns at most, [`MIN_BLOCK_COLS`] at least, doubled until a block holds
/// [`MIN_BLOCK_MACS`], and no more than [`MAX_PIECES`] blocks.
fn block_width(lhs_len: usize, n: usize) -> usize {
    let half = (n / 2).next_multiple_of(ALIGN);
    let mut width = MIN_BLOCK_COLS;
    while width < half && lhs_len * width < MIN_BLOCK_MACS {
        width *= 2;
    }
    let fewest = n.div_ceil(MAX_PIECES).next_multiple_of(ALIGN);
    width.max(fewest).min(half)
}

/// How [`batch`] cuts the gathering of `rows` samples of `sample_len` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchCut {
    /// One thread gathers the batch.
    Serial,
    /// Two halves of every sample, the second starting at value `at`.
    Columns {
        /// Where the second half of each sample starts.
        at: usize,
    },
    /// Two halves of the rows, the second starting at row `at`.
    Rows {
        /// Where the second half starts.
        at: usize,
    },
}

/// Batches with fewer rows are gathered on one thread (the first product of such a batch
/// is not cut in halves either).
const BATCH_MIN_ROWS: usize = 2 * ALIGN;

/// The cut of a batch gather: the halves that the first layer's product of this batch
/// reads ([`product`]'s inner-dimension or row halves), so each core multiplies what it
/// wrote while it is still in its cache.
///
/// ```
/// use keel_runtime::plan::{batch, BatchCut};
/// assert_eq!(batch(32, 784), BatchCut::Columns { at: 392 });
/// assert_eq!(batch(1024, 784), BatchCut::Rows { at: 512 });
/// assert_eq!(batch(8, 784), BatchCut::Serial);
/// ```
pub fn batch(rows: usize, sample_len: usize) -> BatchCut {
    if rows < BATCH_MIN_ROWS || sample_len < 2 {
        BatchCut::Serial
    } else if cuts_inner(rows, sample_len) {
        BatchCut::Columns { at: sample_len / 2 }
    } else {
        BatchCut::Rows {
            at: rows.div_ceil(2),
        }
    }
}

/// Element-wise passes over fewer elements run on the calling thread: at a few elements a
/// nanosecond, 16K elements are a few microseconds, the least worth a hand-over.
pub const ELEMENTWISE_MIN_LEN: usize = 1 << 14;
/// Passes up to twice this long are cut in two halves; longer ones in runs of at least this
/// many elements (128 KiB of `f32`, ~10 µs), so a faster core takes more of them.
const LONG_RUN: usize = 1 << 15;

/// The run length that an element-wise pass over `len` elements is cut into: the whole
/// pass below [`ELEMENTWISE_MIN_LEN`]; two halves up to `2^16` elements (the halves a
/// caller and one helper keep from one step to the next); else runs of `2^15` elements or
/// more, at most [`MAX_PIECES`] of them. Used alike for parameter updates, their gradients'
/// sums of squares and activation passes, so a core sums and updates the half it computed.
///
/// ```
/// use keel_runtime::plan::runs;
/// assert_eq!(runs(1000), 1000);
/// assert_eq!(runs(784 * 32), 784 * 16);
/// assert_eq!(runs(784 * 512), 1 << 15);
/// ```
pub fn runs(len: usize) -> usize {
    if len < ELEMENTWISE_MIN_LEN {
        len.max(1)
    } else if len <= 2 * LONG_RUN {
        len.div_ceil(2)
    } else {
        len.div_ceil(MAX_PIECES).max(LONG_RUN)
    }
}

/// Like [`runs`], rounded up to whole rows of `row_len` elements, for passes that work row
/// by row.
///
/// ```
/// assert_eq!(keel_runtime::plan::row_runs(784 * 40, 784), 784 * 20); // halves
/// assert_eq!(keel_runtime::plan::row_runs(784 * 100, 784), 784 * 42); // 2^15 and up
/// ```
pub fn row_runs(len: usize, row_len: usize) -> usize {
    let row_len = row_len.max(1);
    runs(len).div_ceil(row_len) * row_len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_split_where_the_docs_say() {
        assert_eq!(product(32, 256, 32), ProductCut::Inner { at: 128 });
        assert_eq!(product(64, 200, 32), ProductCut::Rows { at: 32 });
        assert_eq!(product(32, 256, 31), ProductCut::Serial); // below 256K multiply-adds
        assert_eq!(product(16, 1 << 20, 128), ProductCut::Serial); // too few rows and columns
        assert!(matches!(
            product(16, 1 << 20, 256),
            ProductCut::Columns { .. }
        ));
        assert_eq!(product(300, 33, 32), ProductCut::Rows { at: 150 });
        assert_eq!(product(33, 784, 32), ProductCut::Inner { at: 392 });
    }

    #[test]
    fn blocks_are_halves_of_narrow_products_and_128_columns_of_wide_ones() {
        assert_eq!(block_width(32 * 784, 32), 16);
        assert_eq!(block_width(128 * 784, 512), 128);
        assert_eq!(block_width(128 * 10, 784), 400);
        assert_eq!(block_width(1 << 20, 64 * 512), 512); // at most 64 blocks
    }

    #[test]
    fn a_gather_is_cut_like_the_first_product_of_its_batch() {
        for (rows, len) in [(32, 784), (128, 784), (1024, 784), (64, 200)] {
            let gather = batch(rows, len);
            match product(rows, len, 32) {
                ProductCut::Inner { at } => assert_eq!(gather, BatchCut::Columns { at }),
                ProductCut::Rows { at } => assert_eq!(gather, BatchCut::Rows { at }),
                other => panic!("{rows}x{len}: {other:?}"),
            }
        }
    }

    #[test]
    fn runs_cover_the_pass_in_at_most_max_pieces() {
        for len in [0, 1, 5000, 1 << 14, 70_000, 784 * 512, 10_000_000] {
            let run = runs(len);
            assert!(run >= 1);
            assert!(len.div_ceil(run) <= MAX_PIECES, "{len}");
        }
        assert_eq!(row_runs(10, 0), 10);
    }
}
